"""Predict the digits in your own images: `python -m src.predict ckpt_path=... image=...`.

The model only knows MNIST, so each image is first made to look like an MNIST digit:
white ink on black, cropped to the ink, scaled to fit 20x20, centred by mass in 28x28.
"""

import sys
from collections.abc import Iterable
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig, ListConfig, MissingMandatoryValue
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from src.checkpoint import CheckpointError, load_checkpoint
from src.data import normalise

USAGE = "python -m src.predict ckpt_path=best.ckpt image=digit.png (or [a.png,b.jpg], or a folder)"
SIDE = 28  # MNIST's canvas
BOX = 20  # MNIST scaled every digit to fit this box, keeping its aspect ratio
# The bounding box only counts ink at least this fraction of the strongest, so JPEG
# ringing and paper texture do not widen it; fainter ink inside the box is kept, which
# leaves an image already in MNIST's form as it was.
INK_FLOOR = 0.05


class ImageError(RuntimeError):
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


def prepare(image: Image.Image) -> tuple[Tensor, bool]:
    """Any Pillow image -> (float32 [784] in [-1, 1] as the model was trained on, inverted?)."""
    strength, inverted = ink(grey(image))
    pixels = torch.from_numpy(np.rint(centre(strength) * 255).astype(np.uint8))
    return normalise(pixels[None])[0], inverted


def image_paths(specs: Iterable[str]) -> list[Path]:
    """The files named, a folder standing for every file in it Pillow can open, sorted."""
    paths = []
    for spec in filter(None, specs):  # image= gives "", which must not mean the current folder
        path = Path(spec)
        if path.is_dir():
            found = [p for p in sorted(path.iterdir()) if p.is_file() and is_image(p)]
            if not found:
                raise ImageError(f"no images Pillow can open in folder {path}")
            paths += found
        elif path.exists():
            paths.append(path)
        else:
            raise ImageError(f"image not found: {path}")
    if not paths:
        raise ImageError(f"no image given: {USAGE}")
    return paths


def is_image(path: Path) -> bool:
    try:
        with Image.open(path):
            return True
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def read(path: Path) -> tuple[Tensor, bool]:
    """`prepare` of the image file, its problems raised as one-line ImageErrors."""
    if path.stat().st_size == 0:
        raise ImageError(f"{path} is an empty file")
    try:
        with Image.open(path) as image:
            return prepare(ImageOps.exif_transpose(image))
    except UnidentifiedImageError:
        raise ImageError(f"{path} is not an image Pillow can read") from None
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise ImageError(f"{path} cannot be read as an image: {e}") from None


def describe(name: str, probabilities: Tensor, inverted: bool) -> str:
    """`name: digit  (0: p0 ... 9: p9)`, plus a note when the image was inverted."""
    spread = " ".join(f"{d}: {p:.2f}" for d, p in enumerate(probabilities.tolist()))
    note = "  inverted: dark ink on a light background" if inverted else ""
    return f"{name}: {int(probabilities.argmax())}  ({spread}){note}"


def predict(ckpt_path: str, specs: Iterable[str]) -> list[str]:
    """One line per image: the predicted digit and the softmax of the logits."""
    model, _ = load_checkpoint(ckpt_path)
    paths = image_paths(specs)
    prepared = [read(p) for p in paths]
    with torch.inference_mode():
        probabilities = model(torch.stack([x for x, _ in prepared])).softmax(dim=1)
    return [
        describe(str(p), probs, inverted)
        for p, probs, (_, inverted) in zip(paths, probabilities, prepared, strict=True)
    ]


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    try:
        ckpt_path, image = cfg.ckpt_path, cfg.image
    except MissingMandatoryValue as e:
        sys.exit(f"error: {e.full_key} is missing: {USAGE}")
    specs = [str(s) for s in image] if isinstance(image, ListConfig) else [str(image)]
    try:
        lines = predict(ckpt_path, specs)
    except (CheckpointError, ImageError) as e:
        sys.exit(f"error: {e}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
