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
import torch
from omegaconf import DictConfig, ListConfig, MissingMandatoryValue
from tqdm import tqdm

from src.config.schema import CLASSES
from src.data.images import ImageError, is_image, read_image
from src.run import failures
from src.run.checkpoint import checkpoint_file, load_network
from src.run.console import exit_now

USAGE = "python -m src.predict ckpt_path=best.ckpt image=digit.png (or [a.png,b.jpg], or a folder)"
# A file or folder name that states its digit: 7, 7_001, 7-a, img_7, scan-7.
LABEL = re.compile(r"(\d)(?:[^A-Za-z0-9].*)?|.*[^A-Za-z0-9](\d)")
CLASS_COLUMNS = [f"p{d}" for d in range(CLASSES)]
ROWS_SHOWN = 20  # the printed table's rows; csv= writes them all


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
        raise failures.ProjectError(f"{e.full_key} is missing: {USAGE}") from None
    specs = [str(s) for s in image] if isinstance(image, ListConfig) else [str(image)]
    if (found := checkpoint_file(ckpt_path)) != Path(ckpt_path):
        print(f"predicting with {found}, the run folder's best weights")
    predictions = predict(str(found), specs)
    if cfg.csv:
        write_csv(predictions, Path(cfg.csv))
    print(report(predictions))
    if cfg.csv:
        print(f"predictions written to {cfg.csv}")
    exit_now()


if __name__ == "__main__":
    with failures.entry_point("predict"):
        main()
