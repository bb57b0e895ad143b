"""How pixels become the model's input: 2*x/255 - 1, flattened to 784 features."""

import torch
from torch import Tensor


def normalise(images: Tensor, out: Tensor | None = None) -> Tensor:
    """uint8 images [N, 28, 28] or [N, 784] -> float32 [N, 784] in [-1, 1], as 2*x/255 - 1;
    into `out` when given."""
    if images.dtype != torch.uint8:  # .float() of a float tensor is itself: mul_ would change it
        raise TypeError(f"normalise takes uint8 pixels, not {images.dtype}")
    flat = images.flatten(1)
    x = flat.float() if out is None else out.copy_(flat)
    return x.mul_(2 / 255).sub_(1)
