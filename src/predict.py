"""Predict the digits in your own images: `python -m src.predict ckpt_path=... image=...`.

The model only knows MNIST, so each image is first made to look like an MNIST digit:
white ink on black, cropped to the ink, scaled to fit 20x20, centred by mass in 28x28.
"""

import csv
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig, ListConfig, MissingMandatoryValue
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor
from tqdm import tqdm

from src.checkpoint import CheckpointError, checkpoint_file, load_network
from src.command_line import one_line_refusals
from src.console import exit_now, exit_with
from src.pixels import SYMMETRIC, PixelScale, normalise
from src.schema import CLASSES

USAGE = "python -m src.predict ckpt_path=best.ckpt image=digit.png (or [a.png,b.jpg], or a folder)"
SIDE = 28  # MNIST's canvas
BOX = 20  # MNIST scaled every digit to fit this box, keeping its aspect ratio
# The bounding box only counts ink at least this fraction of the strongest, so JPEG
# ringing and paper texture do not widen it; fainter ink inside the box is kept, which
# leaves an image already in MNIST's form as it was.
INK_FLOOR = 0.05
# A file or folder name that states its digit: 7, 7_001, 7-a, img_7, scan-7.
LABEL = re.compile(r"(\d)(?:[^A-Za-z0-9].*)?|.*[^A-Za-z0-9](\d)")
CLASS_COLUMNS = [f"p{d}" for d in range(CLASSES)]
ROWS_SHOWN = 20  # the printed table's rows; csv= writes them all


class ImageError(RuntimeError):
    """An image argument that cannot be used; the message is one line naming it."""


@dataclass
class Prediction:
    path: Path
    probabilities: list[float]
    inverted: bool  # the image had dark ink on a light background
    label: int | None  # the digit its file name states, if any

    @property
    def digit(self) -> int:
        return max(range(CLASSES), key=self.probabilities.__getitem__)

    @property
    def confidence(self) -> float:
        return self.probabilities[self.digit]


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


def image_paths(specs: Iterable[str]) -> list[Path]:
    """The files named, a folder standing for every file in it or its subfolders (one per
    digit, as torchvision's ImageFolder reads them) that Pillow can open, sorted."""
    paths = []
    for spec in filter(None, specs):  # image= gives "", which must not mean the current folder
        path = Path(spec)
        if path.is_dir():
            found = [p for p in sorted(path.rglob("*")) if p.is_file() and is_image(p)]
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


def label_from_name(path: Path) -> int | None:
    """The true digit a file name states: 7.png, 7_001.png, img_7.png, or a folder 7/."""
    for text in (path.stem, path.parent.name):
        if match := LABEL.fullmatch(text):
            return int(next(group for group in match.groups() if group is not None))
    return None


def predict(ckpt_path: str, specs: Iterable[str]) -> list[Prediction]:
    """Each image's predicted digit with the softmax of the logits, in the order given."""
    network, scale = load_network(ckpt_path)
    paths = image_paths(specs)
    shown = tqdm(paths, desc="reading images", disable=len(paths) < 100)
    prepared = [read_image(p, scale) for p in shown]
    with torch.inference_mode():
        probabilities = network(torch.stack([x for x, _ in prepared])).softmax(dim=1)
    return [
        Prediction(path, probs.tolist(), inverted, label_from_name(path))
        for path, probs, (_, inverted) in zip(paths, probabilities, prepared, strict=True)
    ]


def report(predictions: list[Prediction]) -> str:
    """A table of file, digit and confidence (its first ROWS_SHOWN rows); with several
    images, how many of each digit and, over those whose file or folder name states their
    digit, the accuracy, per digit, and the confusion table."""
    shown = predictions[:ROWS_SHOWN]
    width = max(len(str(p.path)) for p in shown)
    lines = [f"{'file':<{width}}  digit  confidence"]
    for p in shown:
        note = "  (inverted: dark ink on a light background)" if p.inverted else ""
        lines.append(f"{str(p.path):<{width}}  {p.digit:>5}  {p.confidence:>10.2f}{note}")
    if len(predictions) > len(shown):
        lines.append(f"... and {len(predictions) - len(shown)} more (csv=<file> writes them all)")
    if len(predictions) == 1:
        spread = "  ".join(f"{d}: {q:.2f}" for d, q in enumerate(predictions[0].probabilities))
        return "\n".join([*lines, f"probabilities: {spread}"])
    counts = Counter(p.digit for p in predictions)
    lines.append(
        f"{len(predictions)} images, predicted: "
        + "  ".join(f"{d}: {counts[d]}" for d in range(CLASSES))
    )
    labelled = [p for p in predictions if p.label is not None]
    if not labelled:
        return "\n".join(lines)
    unlabelled = len(predictions) - len(labelled)
    if unlabelled:
        lines.append(
            f"{unlabelled} of the {len(predictions)} files state no digit in their name or "
            f"folder: the accuracy is over the other {len(labelled)}"
        )
    right = sum(p.digit == p.label for p in labelled)
    lines.append(
        f"accuracy against the digits in the file names: {right / len(labelled):.1%} "
        f"({right} of {len(labelled)})"
    )
    return "\n".join([*lines, *per_digit(labelled)])


def per_digit(labelled: list[Prediction]) -> list[str]:
    """Each stated digit's accuracy, then the confusion table (rows: stated, columns:
    predicted)."""
    pairs = Counter((p.label, p.digit) for p in labelled)
    digits = sorted({p.label for p in labelled})
    lines = ["accuracy per digit:"]
    for d in digits:
        total = sum(n for (label, _), n in pairs.items() if label == d)
        lines.append(f"  {d}: {pairs[d, d] / total:6.1%} ({pairs[d, d]} of {total})")
    lines.append("confusion (rows: the digit in the name, columns: the digit predicted):")
    lines.append("     " + "".join(f"{d:>5}" for d in range(CLASSES)))
    for d in digits:
        lines.append(f"{d:>5}" + "".join(f"{pairs[d, c]:>5}" for c in range(CLASSES)))
    return lines


def write_csv(predictions: list[Prediction], path: Path) -> None:
    """One row per image: file, digit, confidence, label (if named), inverted, p0..p9."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "digit", "confidence", "label", "inverted", *CLASS_COLUMNS])
        for p in predictions:
            label = "" if p.label is None else p.label
            probabilities = [f"{q:.4f}" for q in p.probabilities]
            writer.writerow(
                [p.path, p.digit, f"{p.confidence:.4f}", label, p.inverted, *probabilities]
            )


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    try:
        ckpt_path, image = cfg.ckpt_path, cfg.image
    except MissingMandatoryValue as e:
        exit_with(f"{e.full_key} is missing: {USAGE}")
    specs = [str(s) for s in image] if isinstance(image, ListConfig) else [str(image)]
    try:
        if (found := checkpoint_file(ckpt_path)) != Path(ckpt_path):
            print(f"predicting with {found}, the run folder's best weights")
        predictions = predict(str(found), specs)
    except (CheckpointError, ImageError) as e:
        exit_with(str(e))
    if cfg.csv:
        try:
            write_csv(predictions, Path(cfg.csv))
        except OSError as e:
            exit_with(f"cannot write {cfg.csv}: {e.strerror}")
    print(report(predictions))
    if cfg.csv:
        print(f"predictions written to {cfg.csv}")
    exit_now()


if __name__ == "__main__":
    with one_line_refusals("predict"):
        main()
