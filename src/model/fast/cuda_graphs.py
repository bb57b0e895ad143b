"""CUDA graphs (cuda_graphs=true): each batch's forward, loss and backward captured once as a
CUDA graph and replayed, so a small model's GPU no longer waits on Python and launches.

One graph per batch size (an epoch's last batch is smaller). Lightning runs the step as
usual around each replay (its optimiser step, schedule, clipping, hooks), so the recipe is the
eager one; the graph zeroes the gradients it writes, so it cannot accumulate them over
batches (the gate refuses that).
"""

import torch
from torch import Tensor

from src.model.classifier import Classifier


class CapturedStep:
    """Forward, loss and backward for one batch size, captured; `run` replays it on (x, y)."""

    def __init__(self, module: "GraphedClassifier", x: Tensor, y: Tensor) -> None:
        self.x, self.y = x.clone(), y.clone()
        self.params = list(module.net.parameters())
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up outside the capture: cuBLAS handles, workspaces
            for _ in range(3):
                module.forward_backward(self.x, self.y)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.loss, self.preds = module.forward_backward(self.x, self.y)
        self.grads = [p.grad for p in self.params]  # the buffers the graph writes

    def run(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        self.x.copy_(x)
        self.y.copy_(y)
        self.graph.replay()
        # Lightning sets every .grad to None before each validation: point them back at what
        # this graph just wrote, or the optimiser would step on nothing from then on.
        for p, grad in zip(self.params, self.grads, strict=True):
            p.grad = grad
        return self.loss.clone(), self.preds.clone()


class GraphedClassifier(Classifier):
    """A `Classifier` whose gradients come from replaying a captured graph."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.captured: dict[int, CapturedStep] = {}  # by batch size

    def forward_backward(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Zero the gradient buffers, then forward, loss, backward into them: capturable."""
        for p in self.net.parameters():
            if p.grad is None:  # allocated once, before capture: the graphs write into them
                p.grad = torch.zeros_like(p)
        self.net.zero_grad(set_to_none=False)
        logits = self(x)
        loss = self.loss(logits, y)
        loss.backward()
        return loss.detach(), logits.detach().argmax(dim=1)

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        loss, preds = self.gradients_of(batch[0], batch[1])
        self.train_metrics.update(loss, preds, *batch[1:])
        return loss

    def backward(self, *args, **kwargs) -> None:
        """Nothing left to do: the replay wrote the gradients."""

    def optimizer_zero_grad(self, *args, **kwargs) -> None:
        """Nothing to do: the replay zeroes the buffers it writes first."""

    def gradients_of(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Loss and predictions on (x, y), its gradients left in the parameters' .grad."""
        if not x.is_cuda:
            return self.forward_backward(x, y)  # the same steps, eagerly: how CPU tests run it
        if len(x) not in self.captured:
            self.captured[len(x)] = CapturedStep(self, x, y)
        return self.captured[len(x)].run(x, y)
