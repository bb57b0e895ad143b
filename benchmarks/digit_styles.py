"""Accuracy per image style: MNIST test digits rendered as users' images, read by a trained
model through the old preparation of `python -m src.predict` and through the current one.

    python -m benchmarks.digit_styles --ckpt outputs/<date>/<time> [--per-style 300]
        [--seed 0] [--old 783a517] [--styles clean photo ...] [--keep DIR]
        [--data data] [--fonts FILE ...]

The same MNIST test digits (a seeded draw) are rendered in each style into image files:
- mnist: the 28x28 test image itself, as a PNG (the control: both should read it as `eval`);
- clean: the digit drawn, dark ink on white paper, upscaled 8x;
- photo: a phone photo of the digit on paper: tinted paper with grain, coloured ink, light
  falling off across the page, a soft shadow, sensor noise, JPEG;
- scan: a flatbed scan: grey paper with fibres and dust, slight blur and tilt, the digit
  small and off-centre in the frame;
- thick: drawn with a marker, strokes about twice MNIST's;
- thin: drawn with a ballpoint, strokes a few pixels wide on the large drawing;
- faint: a light pencil: little contrast, paper noise;
- font: the digit typed in a handwriting-style font (those that `fc-list` finds among
  FONT_FAMILIES, or --fonts), on paper with light noise; skipped if there is none.
File names start with the digit, so `python -m src.predict ... image=<style folder>`
reports the same accuracy; --keep DIR keeps the folders to look at or to run it on.
The old preparation is `prepare` and its helpers read from `git show <old>:src/predict.py`.
"""

import argparse
import ast
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from scipy.ndimage import gaussian_filter, grey_dilation, rotate
from skimage.morphology import disk, skeletonize
from torchvision import datasets

from src.data import images
from src.data.images import open_image, prepare
from src.data.pixels import PixelScale
from src.run.checkpoint import checkpoint_file, load_network

ROOT = Path(__file__).resolve().parents[1]
OLD = "783a517"  # the last commit whose src/predict.py prepared images itself
# Handwriting-style families (Debian: fonts-dkg-handwriting fonts-breip fonts-bwht
# fonts-femkeklaver fonts-humor-sans fonts-comic-neue fonts-rufscript).
FONT_FAMILIES = (
    "DkgHandwriting",
    "Humor Sans",
    "Breip",
    "femkeklaver",
    "Rufscript",
    "Because We",
    "Comic Neue",
    "Comic Sans",
    "Kristi",
    "Dancing Script",
    "Patrick Hand",
    "Indie Flower",
    "Caveat",
    "Kalam",
)
UP = 8  # a drawn digit is the MNIST digit upscaled this much: 224 x 224


def upscaled(digit: np.ndarray, factor: float) -> np.ndarray:
    """The MNIST digit as ink coverage in [0, 1], `factor` times as large, smooth edges."""
    side = max(4, round(28 * factor))
    big = Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC)
    ink = np.asarray(big, dtype=np.float64) / 255
    # Sharpen the blurry upscale into a drawn stroke with soft edges.
    return np.clip((ink - 0.5) * 3 + 0.5, 0, 1)


def on_page(ink: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """The ink pasted at a random place of a blank page of `size` (h, w)."""
    page = np.zeros(size)
    top = int(rng.integers(0, size[0] - ink.shape[0] + 1))
    left = int(rng.integers(0, size[1] - ink.shape[1] + 1))
    page[top : top + ink.shape[0], left : left + ink.shape[1]] = ink
    return page


def grain(shape: tuple[int, int], scale: float, amount: float, rng) -> np.ndarray:
    """Paper texture: smooth noise of spatial `scale` pixels, standard deviation `amount`."""
    noise = gaussian_filter(rng.normal(size=shape), scale)
    return amount * noise / noise.std()


def to_file(values: np.ndarray, path: Path, quality: int | None = None) -> Path:
    """Reflectance-like values in [0, 1] (grey [H, W] or colour [H, W, 3]) saved as 8-bit,
    as JPEG at `quality` if given, else PNG."""
    image = Image.fromarray(np.rint(np.clip(values, 0, 1) * 255).astype(np.uint8))
    if quality is None:
        image.save(path.with_suffix(".png"))
        return path.with_suffix(".png")
    image.save(path.with_suffix(".jpg"), quality=quality)
    return path.with_suffix(".jpg")


def render_mnist(digit, label, path, rng) -> Path:
    return to_file(digit / 255, path)


def render_clean(digit, label, path, rng) -> Path:
    ink = upscaled(digit, UP)
    margin = rng.integers(8, 48, size=2)
    page = on_page(ink, (ink.shape[0] + margin[0], ink.shape[1] + margin[1]), rng)
    return to_file(1 - 0.95 * page, path)


def light(shape: tuple[int, int], rng) -> np.ndarray:
    """Light falling off across the page in a random direction, and a soft shadow."""
    h, w = shape
    ys, xs = np.indices(shape) / max(h, w)
    angle = rng.uniform(0, 2 * np.pi)
    along = np.cos(angle) * xs + np.sin(angle) * ys
    along = (along - along.min()) / np.ptp(along)
    falloff = 1 - rng.uniform(0.3, 0.6) * along
    angle = rng.uniform(0, 2 * np.pi)
    across = np.cos(angle) * (xs - rng.uniform(0.3, 0.7)) + np.sin(angle) * (ys - 0.5)
    softness = rng.uniform(0.02, 0.12)
    shadow = 1 - rng.uniform(0.25, 0.5) / (1 + np.exp(-across / softness))
    return falloff * shadow


def render_photo(digit, label, path, rng) -> Path:
    ink = upscaled(digit, rng.uniform(5, 9))
    side = int(rng.integers(280, 360))
    page = on_page(ink, (side, int(side * rng.uniform(1.0, 1.33))), rng)
    paper = np.array([1.0, rng.uniform(0.88, 1.0), rng.uniform(0.7, 0.95)]) * rng.uniform(0.85, 1)
    pen = rng.choice([[0.08, 0.08, 0.1], [0.1, 0.12, 0.35], [0.15, 0.15, 0.15]])
    pen = np.array(pen) * rng.uniform(0.8, 1.5)
    reflectance = paper + (pen - paper) * page[..., None]
    reflectance *= 1 + grain(page.shape, 1.5, 0.03, rng)[..., None]
    photo = reflectance * light(page.shape, rng)[..., None]
    photo += rng.normal(0, rng.uniform(0.01, 0.025), photo.shape)
    return to_file(photo, path, quality=int(rng.integers(55, 86)))


def render_scan(digit, label, path, rng) -> Path:
    ink = upscaled(digit, rng.uniform(3, 5))
    ink = np.clip(rotate(ink, rng.uniform(-5, 5), reshape=True, order=1), 0, 1)
    size = (int(rng.integers(280, 360)), int(rng.integers(360, 480)))
    page = gaussian_filter(on_page(ink, size, rng), rng.uniform(0.6, 1.4))
    paper = rng.uniform(0.85, 0.97) + grain(size, 0.8, 0.015, rng) + grain(size, 6, 0.01, rng)
    dust = gaussian_filter((rng.random(size) < 0.0004).astype(float), 0.7) * 4
    scan = paper * (1 - 0.75 * page) - 0.4 * np.clip(dust, 0, 1)
    return to_file(scan + rng.normal(0, 0.008, size), path)


def render_thick(digit, label, path, rng) -> Path:
    ink = upscaled(digit, UP)
    ink = grey_dilation(ink, footprint=disk(int(rng.integers(6, 10))))
    margin = rng.integers(30, 70, size=2)
    page = on_page(ink, (ink.shape[0] + margin[0], ink.shape[1] + margin[1]), rng)
    return to_file(1 - 0.9 * gaussian_filter(page, 1), path)


def render_thin(digit, label, path, rng) -> Path:
    ink = upscaled(digit, UP)
    line = grey_dilation(skeletonize(ink > 0.5).astype(float), footprint=disk(1))
    margin = rng.integers(8, 48, size=2)
    page = on_page(gaussian_filter(line, 0.7), (224 + margin[0], 224 + margin[1]), rng)
    paper = 0.95 + rng.normal(0, 0.01, page.shape)
    return to_file(paper - 0.8 * page, path, quality=90)


def render_faint(digit, label, path, rng) -> Path:
    ink = upscaled(digit, UP)
    margin = rng.integers(8, 48, size=2)
    page = on_page(ink, (ink.shape[0] + margin[0], ink.shape[1] + margin[1]), rng)
    paper = rng.uniform(0.88, 0.98) + grain(page.shape, 1, 0.015, rng)
    return to_file(paper - rng.uniform(0.12, 0.25) * page, path)


def handwriting_fonts() -> list[Path]:
    """The font files of handwriting-style families that fontconfig knows of."""
    try:
        listed = subprocess.run(
            ["fc-list", ":", "family", "file"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    found = set()
    for line in listed.splitlines():
        file, _, family = line.partition(":")
        if any(name.lower() in family.lower() for name in FONT_FAMILIES):
            found.add(Path(file.strip()))
    return sorted(found)


def font_renderer(fonts: list[Path]) -> Callable:
    def render_font(digit, label, path, rng) -> Path:
        font = ImageFont.truetype(str(fonts[rng.integers(len(fonts))]), int(rng.integers(120, 220)))
        page = Image.new("L", (320, 320), 0)
        draw = ImageDraw.Draw(page)
        left, top, right, bottom = draw.textbbox((0, 0), str(label), font=font)
        x = rng.integers(10, max(11, 310 - (right - left))) - left
        y = rng.integers(10, max(11, 310 - (bottom - top))) - top
        draw.text((x, y), str(label), fill=255, font=font)
        tilted = page.rotate(rng.uniform(-8, 8), resample=Image.Resampling.BILINEAR)
        ink = np.asarray(tilted, dtype=np.float64) / 255
        return to_file(0.96 - 0.85 * ink + rng.normal(0, 0.01, ink.shape), path)

    return render_font


def old_prepare(revision: str) -> Callable:
    """`prepare` as `git show <revision>:src/predict.py` defined it, with its helpers and
    constants, run against today's numpy, Pillow and pixel scale."""
    shown = subprocess.run(
        ["git", "show", f"{revision}:src/predict.py"], cwd=ROOT, capture_output=True, text=True
    )
    if shown.returncode != 0:
        sys.exit(f"cannot read the old preparation: git show {revision}:src/predict.py failed")
    source = shown.stdout
    tree = ast.parse(source)
    wanted = {"SIDE", "BOX", "INK_FLOOR", "grey", "ink", "centre", "prepare"}
    body = []
    for node in tree.body:
        names = (
            {node.name}
            if isinstance(node, ast.FunctionDef)
            else {t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)}
        )
        if names & wanted:
            body.append(node)
    namespace = {
        "np": np,
        "torch": torch,
        "Image": Image,
        "Tensor": torch.Tensor,
        "PixelScale": PixelScale,
        "SYMMETRIC": images.SYMMETRIC,
        "normalise": images.normalise,
    }
    exec(
        compile(ast.Module(body, type_ignores=[]), f"{revision}:src/predict.py", "exec"), namespace
    )
    return namespace["prepare"]


def accuracy(files, labels, network, scale, prepare_one) -> float:
    inputs = []
    for path in files:
        inputs.append(prepare_one(open_image(path), scale)[0])
    with torch.inference_mode():
        predicted = network(torch.stack(inputs)).argmax(dim=1)
    return float((predicted == torch.tensor(labels)).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", required=True, help="a checkpoint or a run folder")
    parser.add_argument("--per-style", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--old", default=OLD, help="the commit whose src/predict.py is 'old'")
    parser.add_argument("--styles", nargs="*", help="a subset of the styles, in their order")
    parser.add_argument("--keep", type=Path, help="write the images here and keep them")
    parser.add_argument("--data", type=Path, default=ROOT / "data", help="holds MNIST/raw")
    parser.add_argument("--fonts", nargs="*", type=Path, help="font files for the font style")
    args = parser.parse_args()

    renderers = {
        "mnist": render_mnist,
        "clean": render_clean,
        "photo": render_photo,
        "scan": render_scan,
        "thick": render_thick,
        "thin": render_thin,
        "faint": render_faint,
    }
    fonts = args.fonts if args.fonts is not None else handwriting_fonts()
    if fonts:
        renderers["font"] = font_renderer(fonts)
        print(f"font style: {len(fonts)} fonts: " + ", ".join(f.stem for f in fonts))
    else:
        print("font style skipped: no handwriting-style font found (fc-list), none given")
    styles = args.styles or list(renderers)
    unknown = sorted(set(styles) - set(renderers))
    if unknown:
        sys.exit(f"unknown or unavailable styles: {', '.join(unknown)}")

    test = datasets.MNIST(args.data, train=False, download=False)
    chosen = np.random.default_rng(args.seed).choice(len(test), args.per_style, replace=False)
    digits = test.data.numpy()[chosen]
    labels = test.targets.numpy()[chosen].tolist()
    network, scale = load_network(checkpoint_file(args.ckpt))
    old = old_prepare(args.old)

    folder = args.keep or Path(tempfile.mkdtemp(prefix="digit_styles_"))
    rows = []
    for style in styles:
        where = folder / style
        where.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng([args.seed, list(renderers).index(style)])
        files = [
            renderers[style](digit, label, where / f"{label}_{i:04d}", rng)
            for i, (digit, label) in enumerate(zip(digits, labels, strict=True))
        ]
        started = time.perf_counter()
        before = accuracy(files, labels, network, scale, old)
        middle = time.perf_counter()
        after = accuracy(files, labels, network, scale, prepare)
        took = ((middle - started) / len(files), (time.perf_counter() - middle) / len(files))
        rows.append((style, before, after, took))
        print(f"{style}: old {before:.1%}, new {after:.1%}", flush=True)

    print(f"\n{args.per_style} MNIST test digits per style (seed {args.seed}), {args.ckpt}")
    print("| style | old preparation | new preparation | ms per image (old / new) |")
    print("|---|---:|---:|---:|")
    for style, before, after, (t_old, t_new) in rows:
        print(f"| {style} | {before:.1%} | {after:.1%} | {t_old * 1e3:.0f} / {t_new * 1e3:.0f} |")
    if args.keep:
        print(f"images kept in {folder}/<style>/")
    else:
        for style in styles:
            for path in (folder / style).iterdir():
                path.unlink()
            (folder / style).rmdir()
        folder.rmdir()


if __name__ == "__main__":
    main()
