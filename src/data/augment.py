"""Random distortions of training images, drawn per image on the batch's own device: an
affine map (rotation, scale, shift) and a smooth elastic distortion in the spirit of Simard,
Steinkraus and Platt (2003), both applied by one bilinear resampling of the 28x28 image."""

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from src.config.schema import AugmentConfig

SIDE = 28
CENTRES = (torch.arange(SIDE) * 2 + 1) / SIDE - 1  # pixel centres in grid units


def affine_grid(angle: Tensor, zoom: Tensor, shift: Tensor) -> Tensor:
    """F.affine_grid (align_corners=False) of the maps turning each image by `angle` [N],
    zooming it by `zoom` [N] and shifting it by `shift` [N, 2] (grid units), computed
    elementwise: its batched 3x2 matmul is most of the distortion's time on a CPU."""
    n = len(angle)
    cos, sin = (t.view(n, 1, 1) / zoom.view(n, 1, 1) for t in (torch.cos(angle), torch.sin(angle)))
    u, v = CENTRES.to(angle.device).view(1, 1, SIDE), CENTRES.to(angle.device).view(1, SIDE, 1)
    dx, dy = shift[:, 0].view(n, 1, 1), shift[:, 1].view(n, 1, 1)
    return torch.stack([cos * u - sin * v + dx, sin * u + cos * v + dy], -1)


def distort(
    x: Tensor, config: AugmentConfig, generator: torch.Generator, background: float = -1.0
) -> Tensor:
    """Flattened images [N, 784] whose black pixels are `background` (-1 in [-1, 1]), each
    moved by its own random draw from `generator` (on x's device); the background stays."""
    n, device = len(x), x.device

    def uniform(*shape: int) -> Tensor:  # in [-1, 1)
        return torch.rand(n, *shape, generator=generator, device=device).mul_(2).sub_(1)

    angle = uniform() * math.radians(config.rotation)
    zoom = 1 + uniform() * config.scale
    shift = uniform(2) * (2 * config.shift / SIDE)  # grid units: the image spans [-1, 1]
    grid = affine_grid(angle, zoom, shift)
    if config.elastic > 0:
        # Random displacements every elastic_spacing pixels, smoothly interpolated between
        # (Simard et al. smooth a per-pixel field with a Gaussian: a large kernel on a CPU).
        knots = max(2, round(SIDE / config.elastic_spacing) + 1)
        coarse = uniform(2, knots, knots) * (2 * config.elastic / SIDE)
        field = F.interpolate(coarse, size=(SIDE, SIDE), mode="bicubic", align_corners=True)
        grid = grid + field.permute(0, 2, 3, 1)
    # 0 where the background is: what grid_sample pads with
    ink = x.view(n, 1, SIDE, SIDE) - background
    moved = F.grid_sample(ink, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return moved.view(n, SIDE * SIDE) + background
