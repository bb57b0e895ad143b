"""How pixels become the model's input (data.input_scale): x = pixels * multiplier + offset,
flattened to 784 features. The handout's and the default scale is 2*x/255 - 1."""

from dataclasses import dataclass

import torch
from torch import Tensor

from src.config.schema import InputScale


@dataclass(frozen=True)
class PixelScale:
    """An affine map of uint8 pixels onto the model's input; a checkpoint keeps it."""

    multiplier: float
    offset: float

    @property
    def background(self) -> float:
        """The input a black pixel (0) becomes."""
        return self.offset


SYMMETRIC = PixelScale(2 / 255, -1.0)
FIXED = {
    InputScale.raw: PixelScale(1.0, 0.0),
    InputScale.unit: PixelScale(1 / 255, 0.0),
    InputScale.symmetric: SYMMETRIC,
}


def pixel_scale(scale: InputScale, training_pixels: Tensor) -> PixelScale:
    """The map for `scale`; `standard` centres and scales by the mean and standard deviation
    of every pixel of the training split (one number each, as torchvision's
    Normalize((0.1307,), (0.3081,)) for MNIST), counted exactly from its histogram."""
    if scale in FIXED:
        return FIXED[scale]
    counts = torch.bincount(training_pixels.flatten().cpu(), minlength=256).double()
    levels = torch.arange(256, dtype=torch.float64) / 255
    mean = float((counts * levels).sum() / counts.sum())
    std = float(((counts * (levels - mean) ** 2).sum() / counts.sum()).sqrt())
    return PixelScale(1 / (255 * std), -mean / std)


def normalise(images: Tensor, scale: PixelScale = SYMMETRIC, out: Tensor | None = None) -> Tensor:
    """uint8 images [N, 28, 28] or [N, 784] -> float32 [N, 784], each pixel mapped by
    `scale` (by default into [-1, 1], as 2*x/255 - 1); into `out` when given."""
    if images.dtype != torch.uint8:  # .float() of a float tensor is itself: mul_ would change it
        raise TypeError(f"normalise takes uint8 pixels, not {images.dtype}")
    flat = images.flatten(1)
    x = flat.float() if out is None else out.copy_(flat)
    return x.mul_(scale.multiplier).add_(scale.offset)
