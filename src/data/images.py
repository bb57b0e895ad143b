"""A user's image made MNIST-like: white ink on black, cropped to the ink, scaled to fit
20x20, centred by mass in 28x28, mapped by the model's pixel scale."""

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from src.data.pixels import SYMMETRIC, PixelScale, normalise
from src.run.failures import ProjectError

SIDE = 28  # MNIST's canvas
BOX = 20  # MNIST scaled every digit to fit this box, keeping its aspect ratio
# The bounding box only counts ink at least this fraction of the strongest, so JPEG
# ringing and paper texture do not widen it; fainter ink inside the box is kept, which
# leaves an image already in MNIST's form as it was.
INK_FLOOR = 0.05


class ImageError(ProjectError):
    """An image argument that cannot be used; the message is one line naming it."""


def grey(image: Image.Image) -> np.ndarray:
    """The image as a float array [H, W], brighter = larger, in whatever scale it came in.

    Only relative levels matter afterwards, so 16-bit and float images keep their
    precision instead of being clipped to 8 bits by Pillow's conversions.
    """
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        return np.asarray(image, dtype=np.float64)
    if image.has_transparency_data:
        # Transparent pixels show the page behind them, which is white.
        page = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(page, image.convert("RGBA"))
    elif image.mode == "LAB":
        image = image.getchannel("L")  # Pillow cannot convert LAB; L is its lightness
    return np.asarray(image.convert("L"), dtype=np.float64)


def ink(levels: np.ndarray) -> tuple[np.ndarray, bool]:
    """Ink strength in [0, 1] (background 0, strongest ink 1) and whether it was inverted.

    The background is the median of the border; a background brighter than the middle
    of the image's range means dark ink on a light page, which is inverted.
    """
    lo, hi = levels.min(), levels.max()
    if lo == hi:
        return np.zeros_like(levels), False
    border = np.concatenate([levels[0], levels[-1], levels[1:-1, 0], levels[1:-1, -1]])
    background = np.median(border)
    inverted = bool(background > (lo + hi) / 2)
    strongest = lo if inverted else hi
    strength = np.clip((levels - background) / (strongest - background), 0, 1)
    return strength, inverted


def centre(strength: np.ndarray) -> np.ndarray:
    """MNIST's layout: the ink's box scaled to fit BOX x BOX, centred by mass in SIDE x SIDE.

    MNIST's own centres of mass lie within half a pixel of pixel (14, 14), so a whole-pixel
    shift to there leaves its digits where they were.
    """
    canvas = np.zeros((SIDE, SIDE))
    rows, cols = np.nonzero(strength >= INK_FLOOR)
    if len(rows) == 0:
        return canvas
    digit = strength[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    h, w = digit.shape
    size = (max(1, round(w * BOX / max(h, w))), max(1, round(h * BOX / max(h, w))))
    scaled = Image.fromarray(digit.astype(np.float32)).resize(size, Image.Resampling.LANCZOS)
    digit = np.clip(np.asarray(scaled, dtype=np.float64), 0, None)
    peak = digit.max()
    if peak == 0:
        return canvas
    # MNIST strokes all reach full strength; thin strokes scaled down from a large image
    # would otherwise come out faint.
    digit /= peak
    mass = digit.sum()
    ys, xs = np.indices(digit.shape)
    top = round(SIDE // 2 - (ys * digit).sum() / mass)
    left = round(SIDE // 2 - (xs * digit).sum() / mass)
    # Paste with clipping: a lopsided digit may reach past the canvas, as in MNIST.
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + digit.shape[0], SIDE), min(left + digit.shape[1], SIDE)
    canvas[y0:y1, x0:x1] = digit[y0 - top : y1 - top, x0 - left : x1 - left]
    return canvas


def prepare(image: Image.Image, scale: PixelScale = SYMMETRIC) -> tuple[Tensor, bool]:
    """Any Pillow image -> (float32 [784] mapped by the model's pixel scale, inverted?)."""
    strength, inverted = ink(grey(image))
    pixels = torch.from_numpy(np.rint(centre(strength) * 255).astype(np.uint8))
    return normalise(pixels[None], scale)[0], inverted


def is_image(path: Path) -> bool:
    try:
        with Image.open(path):
            return True
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def read_image(path: Path, scale: PixelScale) -> tuple[Tensor, bool]:
    """`prepare` of the image file, its problems raised as one-line ImageErrors."""
    if path.stat().st_size == 0:
        raise ImageError(f"{path} is an empty file")
    try:
        with Image.open(path) as image:
            return prepare(ImageOps.exif_transpose(image), scale)
    except UnidentifiedImageError:
        raise ImageError(f"{path} is not an image Pillow can read") from None
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise ImageError(f"{path} cannot be read as an image: {e}") from None
