"""Opt-in (cuda_graph_steps=N): the training step captured once as a CUDA graph, replayed for
N batches per Lightning step, so a small model's GPU no longer waits on Python.

Forward, loss and backward are captured (one graph per batch size: the epoch's last batch is
smaller); the optimiser and the learning-rate schedule run as usual between replays, so the
recipe is exactly the eager one. Lightning sees one step per block of N batches: its step
count, progress bar and val_check_interval count blocks; the metrics and metrics.json count
optimiser steps. On a CPU the same blocks run eagerly (how the tests check them).
"""

from collections.abc import Iterator

import torch
from torch import Tensor

from src.classifier import Classifier
from src.data import TensorBatches
from src.schema import ModelConfig, Scheduler


class Blocks:
    """`batches` grouped into lists of up to `size` consecutive batches."""

    def __init__(self, batches: TensorBatches, size: int) -> None:
        self.batches, self.size = batches, size

    def __len__(self) -> int:
        return -(-len(self.batches) // self.size)

    def __iter__(self) -> Iterator[list[tuple[Tensor, ...]]]:
        block = []
        for batch in self.batches:
            block.append(batch)
            if len(block) == self.size:
                yield block
                block = []
        if block:
            yield block


class CapturedStep:
    """Forward, loss and backward of one batch size, captured; `run` replays it on (x, y)."""

    def __init__(self, module: Classifier, x: Tensor, y: Tensor) -> None:
        self.module, self.x, self.y = module, x.clone(), y.clone()
        self.grads = module.gradients()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up: cuBLAS handles and workspaces, outside capture
            for _ in range(3):
                module.forward_backward(self.x, self.y)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.loss, self.preds = module.forward_backward(self.x, self.y)

    def run(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        self.x.copy_(x)
        self.y.copy_(y)
        self.graph.replay()
        return self.loss.clone(), self.preds.clone()


class GraphedClassifier(Classifier):
    """A `Classifier` whose Lightning step trains on a block of batches, each a graph replay."""

    def __init__(self, config: ModelConfig, capture: bool = True) -> None:
        super().__init__(config)
        self.capture = capture
        self.captured: dict[int, CapturedStep] = {}

    def gradients(self) -> list[Tensor]:
        """Every parameter's gradient buffer, allocated once: the graphs write into them."""
        for p in self.net.parameters():
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        return [p.grad for p in self.net.parameters()]

    def forward_backward(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        torch._foreach_zero_(self.gradients())
        logits = self(x)
        loss = self.loss(logits, y)
        loss.backward()
        return loss.detach(), logits.detach().argmax(dim=1)

    def training_step(self, block: list[tuple[Tensor, ...]], block_idx: int) -> dict:
        optimizer = self.optimizers().optimizer  # the bare optimiser: no hooks per step
        schedule = self.lr_schedulers() if self.config.scheduler is not Scheduler.none else None
        losses, preds = [], []
        for x, y, *_ in block:
            loss, predicted = self.step_on(x, y)
            optimizer.step()
            if schedule is not None:
                schedule.step()
            losses.append(loss)
            preds.append(predicted)
        return {
            "losses": torch.stack(losses),
            "sizes": [len(batch[1]) for batch in block],
            "preds": torch.cat(preds),
            "targets": torch.cat([batch[1] for batch in block]),
        }

    def step_on(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Loss and predictions of (x, y), gradients left in the parameters' buffers."""
        if not self.capture:
            return self.forward_backward(x, y)
        if len(x) not in self.captured:
            self.captured[len(x)] = CapturedStep(self, x, y)
        return self.captured[len(x)].run(x, y)

    def schedule_steps(self) -> int:
        """Optimiser steps in the whole run: Lightning counts blocks, the schedule batches."""
        return self.trainer.max_epochs * len(self.trainer.datamodule.train)
