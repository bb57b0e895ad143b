"""Predict the digits in your own images: `python -m src.predict ckpt_path=... image=...`.

The model only knows MNIST, so each image is first made to look like an MNIST digit
(src/data/images.py): the paper and its lighting taken away, white ink on black, cropped to the
digit, scaled to fit 20x20, centred by mass in 28x28.
"""

import csv
import math
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig, ListConfig, MissingMandatoryValue
from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

from src.config.schema import CLASSES
from src.data.images import ImageError, grey, open_image, read_image
from src.run import failures
from src.run.checkpoint import checkpoint_file, load_network
from src.run.console import exit_now

USAGE = "python -m src.predict ckpt_path=best.ckpt image=digit.png (or [a.png,b.jpg], or a folder)"
# A file or folder name that states its digit: 7, 7_001, 7-a, img_7, scan-7.
LABEL = re.compile(r"(\d)(?:[^A-Za-z0-9].*)?|.*[^A-Za-z0-9](\d)")
CLASS_COLUMNS = [f"p{d}" for d in range(CLASSES)]
ROWS_SHOWN = 20  # the printed table's rows; csv= writes them all
ZOOM = 8  # seen=: each 28x28 the model saw is written this many times larger
TILE = 112  # seen=: the contact sheet's side of an input and of what the model saw
SHEET_COLUMNS = 6  # seen=: inputs per row of the contact sheet
SHEET_MOST = 120  # seen=: the sheet shows at most this many inputs (the first ones)


@dataclass
class Prediction:
    path: Path
    probabilities: list[float]
    inverted: bool  # the image had dark ink on a light background
    label: int | None  # the digit its file name states, if any
    pixels: np.ndarray  # uint8 [28, 28]: the image the model was shown, white ink on black

    @property
    def digit(self) -> int:
        return max(range(CLASSES), key=self.probabilities.__getitem__)

    @property
    def confidence(self) -> float:
        return self.probabilities[self.digit]


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
    prepared = [read_image(p) for p in shown]
    with torch.inference_mode():
        probabilities = network(torch.stack([p.tensor(scale) for p in prepared])).softmax(dim=1)
    return [
        Prediction(path, probs.tolist(), p.inverted, label_from_name(path), p.pixels)
        for path, probs, p in zip(paths, probabilities, prepared, strict=True)
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


def seen_names(paths: list[Path]) -> list[str]:
    """A PNG name for each input: its path below the inputs' common folder with '/' as '_'
    (7/a.jpg -> 7_a.png, keeping the digit a folder states), its own extension kept where
    two names would clash (a.png, a.jpg -> a.png.png, a.jpg.png)."""
    resolved = [p.resolve() for p in paths]
    common = Path(os.path.commonpath([p.parent for p in resolved]))
    below = [p.relative_to(common) for p in resolved]
    names = ["_".join(b.with_suffix("").parts) for b in below]
    clashing = {n for n in names if names.count(n) > 1}
    return [
        ("_".join(b.parts) if n in clashing else n) + ".png"
        for n, b in zip(names, below, strict=True)
    ]


def viewable(path: Path) -> Image.Image:
    """The input as a person sees it, in RGB: transparency over white paper, and a 16-bit
    or float image stretched from its darkest to its brightest level."""
    image = open_image(path)
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        levels = grey(image)
        span = max(float(np.ptp(levels)), 1e-12)
        image = Image.fromarray(np.rint((levels - levels.min()) / span * 255).astype(np.uint8))
    elif image.has_transparency_data:
        page = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(page, image.convert("RGBA"))
    return image.convert("RGB")


def caption(p: Prediction) -> tuple[str, str]:
    """The sheet's text under an input, and its colour: green if the digit its name states
    was read, red if not, black if its name states none."""
    text = f"{p.digit}  {p.confidence:.0%}"
    if p.label is None:
        return text, "black"
    return (text, "green") if p.label == p.digit else (f"{text}  (is {p.label})", "red")


def contact_sheet(predictions: list[Prediction]) -> Image.Image:
    """Each input beside the 28x28 the model saw, under them its file name and the digit
    read with its confidence."""
    shown = predictions[:SHEET_MOST]
    cols = min(len(shown), SHEET_COLUMNS)
    rows = math.ceil(len(shown) / cols)
    gap, text = 12, 22
    cell_w, cell_h = 2 * TILE + gap, TILE + text + gap
    sheet = Image.new("RGB", (cols * cell_w + gap, rows * cell_h + gap), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=14)
    for i, p in enumerate(shown):
        row, col = divmod(i, cols)
        left, top = gap + col * cell_w, gap + row * cell_h
        thumbnail = viewable(p.path)
        thumbnail.thumbnail((TILE, TILE))
        at = (left + (TILE - thumbnail.width) // 2, top + (TILE - thumbnail.height) // 2)
        sheet.paste(thumbnail, at)
        model_view = Image.fromarray(p.pixels).resize((TILE, TILE), Image.Resampling.NEAREST)
        sheet.paste(model_view, (left + TILE, top))
        name = p.path.name if len(p.path.name) <= 18 else p.path.name[:17] + "…"
        draw.text((left + TILE / 2, top + TILE + 3), name, fill="grey", font=font, anchor="mt")
        words, colour = caption(p)
        draw.text((left + 1.5 * TILE, top + TILE + 3), words, fill=colour, font=font, anchor="mt")
    return sheet


def write_seen(predictions: list[Prediction], folder: Path) -> str:
    """Writes, for each input, the 28x28 the model saw (ZOOM times larger, nearest
    neighbour: its pixels as squares), and for several inputs sheet.png of them all;
    returns the line that says what was written."""
    folder.mkdir(parents=True, exist_ok=True)
    names = seen_names([p.path for p in predictions])
    for p, name in zip(predictions, names, strict=True):
        big = Image.fromarray(p.pixels).resize((28 * ZOOM, 28 * ZOOM), Image.Resampling.NEAREST)
        big.save(folder / name)
    if len(predictions) == 1:
        return f"the image the model saw written to {folder / names[0]}"
    written = f"the {len(predictions)} images the model saw written to {folder}/"
    contact_sheet(predictions).save(folder / "sheet.png")
    shown = "" if len(predictions) <= SHEET_MOST else f" (the first {SHEET_MOST})"
    return f"{written}; {folder / 'sheet.png'} shows them beside their inputs{shown}"


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    try:
        ckpt_path, image = cfg.ckpt_path, cfg.image
    except MissingMandatoryValue as e:
        raise failures.ProjectError(f"{e.full_key} is missing: {USAGE}") from None
    specs = [str(s) for s in image] if isinstance(image, ListConfig) else [str(image)]
    if (found := checkpoint_file(ckpt_path)) != Path(ckpt_path):
        print(f"predicting with {found}, the run folder's best weights")
    predictions = predict(str(found), specs)
    if cfg.csv:
        write_csv(predictions, Path(cfg.csv))
    seen = write_seen(predictions, Path(cfg.seen)) if cfg.seen else None
    print(report(predictions))
    if cfg.csv:
        print(f"predictions written to {cfg.csv}")
    if seen:
        print(seen)
    exit_now()


if __name__ == "__main__":
    with failures.entry_point("predict"):
        main()
