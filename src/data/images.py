"""A user's image made MNIST-like: any photo, scan or drawing of one digit -> the 28x28 the
model reads (white ink on black, the ink's box scaled to fit 20x20, centred by mass).

Photos and scans are not clean drawings: light falls off across the page, shadows and tinted
or textured paper lie under the ink, the digit may be small, off-centre, faint, thick or a
hairline. Each step below is a standard operation of scikit-image or SciPy's ndimage
(background estimation, thresholds, morphology, connected components), and its docstring
says why it is there.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy.ndimage import grey_opening, median_filter
from skimage.filters import apply_hysteresis_threshold, gaussian, threshold_otsu
from skimage.measure import label
from skimage.morphology import dilation, disk, skeletonize
from skimage.transform import downscale_local_mean, resize
from torch import Tensor

from src.data.pixels import SYMMETRIC, PixelScale, normalise
from src.run.failures import ProjectError

SIDE = 28  # MNIST's canvas
BOX = 20  # MNIST scaled every digit to fit this box, keeping its aspect ratio
# The bounding box only counts ink at least this fraction of the strongest, so faint edge
# pixels do not widen it; fainter ink inside the box is kept, which leaves an image already
# in MNIST's form as it was.
INK_FLOOR = 0.05
WORK = 512  # a larger image is averaged down to about this long side before any filtering
COARSE = 32  # the long side the ink's polarity is judged at
FAINTEST = 0.02  # the least ink a digit can have, as a fraction of the image's range
SHADE = 0.05  # paper lit at less than this fraction of the brightest is lifted no further
DENOISE = 3  # the side of the median filter the paper's level is estimated from
SMOOTH = 1.0  # sigma in pixels of the blur that evens out noise for the thresholds
PAPER = 0.5  # the background window's side, as a fraction of the image's shorter side
NOISE = 0.999  # ink joined to the digit must be stronger than this fraction of the paper
KEEP = 0.05  # a blob of ink is part of the digit if it is at least this fraction of the largest
# Strokes thinner than THINNEST of the digit's size (no MNIST digit's are) are widened to
# STROKE of it, a thin MNIST stroke (their median is about 0.13).
THINNEST, STROKE = 0.05, 0.1


class ImageError(ProjectError):
    """An image argument that cannot be used; the message is one line naming it."""


@dataclass(frozen=True)
class Prepared:
    pixels: np.ndarray  # uint8 [SIDE, SIDE], white ink on black: what the model is shown
    inverted: bool  # the image had dark ink on a light background

    def tensor(self, scale: PixelScale = SYMMETRIC) -> Tensor:
        """The model's input: float32 [784] on its pixel scale."""
        return normalise(torch.from_numpy(self.pixels)[None], scale)[0]


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


def shrink(levels: np.ndarray) -> np.ndarray:
    """A phone photo averaged down by a whole factor to about WORK pixels on its long side:
    the filters below then take the same time on any photo, and the 20x20 box needs no more."""
    factor = -(-max(levels.shape) // WORK)
    if factor == 1:
        return levels
    h, w = (n // factor * factor for n in levels.shape)  # whole blocks only: no padded edge
    return downscale_local_mean(levels[:h, :w], (factor, factor))


def dark_ink(levels: np.ndarray) -> bool:
    """Whether the ink is darker than the paper: the paper is what most of each neighbourhood
    is, so the differences from the local median (taken at a coarse scale, where it is
    quick) are skewed towards the ink, whatever the lighting does across the page."""
    factor = -(-max(levels.shape) // COARSE)
    fy, fx = (min(factor, n) for n in levels.shape)
    h, w = levels.shape[0] // fy * fy, levels.shape[1] // fx * fx
    coarse = downscale_local_mean(levels[:h, :w], (fy, fx))
    side = max(3, round(min(coarse.shape) * PAPER))
    local = median_filter(coarse, size=side, mode="nearest")
    residual = levels[:h, :w] - resize(local, (h, w), order=1)
    return bool((residual**3).sum() < 0)


def continued(levels: np.ndarray, width: int) -> tuple[np.ndarray, tuple[slice, slice]]:
    """The page continued `width` pixels past each edge as its edge runs, and where the image
    lies in it: the background windows then reach past the frame, so light still falling off
    at the edge is followed there, not filled in. Each edge is first a running median along
    it, so a stroke that touches the frame is not drawn out beyond it."""
    edges = levels.copy()
    for index in ((0, slice(None)), (-1, slice(None)), (slice(None), 0), (slice(None), -1)):
        edges[index] = median_filter(levels[index], size=width, mode="nearest")
    page = np.pad(edges, width, mode="edge")
    inner = (slice(width, width + levels.shape[0]), slice(width, width + levels.shape[1]))
    page[inner] = levels
    return page, inner


def ink(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Ink strength in [0, 1] (paper 0, strongest ink 1), the same lightly smoothed, and
    whether the image was inverted (dark ink on a light page).

    - The image is first turned so the ink is bright, the same for dark ink on light paper
      as for light ink on dark: either way round, the same digit comes out.
    - Paper: a morphological opening with a window wider than any stroke wipes the ink out
      and keeps the light falling across the page, its shadows and tint: the background
      each pixel's ink is measured above. It is taken of a median-filtered copy, so that
      it follows the paper's middle level, not the lowest peaks of its noise and grain.
    - Light multiplies: on a lit page, the ink is measured against the paper's brightness
      where it lies, as the fraction of the light it takes away, which is the same in a
      shadow as in full light.
    - A light Gaussian blur of the strength evens out noise and grain for the thresholds
      that find the digit; the strength itself keeps every detail of a clean image.
    """
    lo, hi = levels.min(), levels.max()
    if lo == hi:
        return np.zeros_like(levels), np.zeros_like(levels), False
    inverted = dark_ink(levels)
    bright = hi - levels if inverted else levels - lo
    side = max(3, round(min(levels.shape) * PAPER))
    page, inner = continued(median_filter(bright, size=DENOISE, mode="nearest"), side)
    paper = grey_opening(page, size=(side, side))[inner]  # flat square: fast 1-D passes
    strength = np.clip(bright - paper, 0, None)
    if inverted:
        black = min(lo, 0.0)  # the scale's black: 0, unless the image has negative levels
        # Paper in all but no light shows no ink: the correction stops at SHADE.
        light = np.maximum(hi - black - paper, SHADE * (hi - black))
        strength *= light.max() / light  # 1 where the page is brightest
    smoothed = gaussian(strength, SMOOTH, preserve_range=True)
    # Ink this faint against the image's range is the 8-bit steps of shaded paper, not a digit.
    if smoothed.max() <= FAINTEST * (hi - lo):
        return np.zeros_like(levels), np.zeros_like(levels), inverted
    return strength / strength.max(), smoothed / smoothed.max(), inverted


def digit(strength: np.ndarray) -> np.ndarray:
    """The digit's pixels (bool): what is ink and belongs to the digit, not to the paper.

    - Otsu's threshold on the background-free strength picks the clear ink; hysteresis then
      adds the fainter pixels joined to it (stroke edges, a light stroke) as long as they
      are stronger than nearly all of the paper away from the clear ink (its noise, grain).
    - Connected components: blobs far smaller than the digit's largest are paper texture,
      specks and JPEG blocks, and are dropped.
    """
    if strength.max() <= 0:
        return np.zeros(strength.shape, bool)
    high = threshold_otsu(strength)
    clear = strength >= high
    paper = strength[~dilation(clear, disk(2))]
    low = min(high, max(np.quantile(paper, NOISE), 1e-3)) if paper.size else high
    mask = apply_hysteresis_threshold(strength, low, high)
    blobs = label(mask, connectivity=2)
    sizes = np.bincount(blobs.ravel())
    sizes[0] = 0
    if sizes.max() == 0:
        return mask
    return np.isin(blobs, np.flatnonzero(sizes >= KEEP * sizes.max()))


def thickened(strength: np.ndarray) -> np.ndarray:
    """A pen's hairline widened to a thin MNIST stroke by a grey dilation: MNIST's writers
    used pens whose strokes are a tenth of the digit or more, and a fine ballpoint's line
    scaled to 20x20 is a pixel wide and faint, a digit the model has never seen. The width
    is the ink's mass over its skeleton's length (scikit-image's skeletonize)."""
    peak = strength.max()
    rows, cols = np.nonzero(strength >= INK_FLOOR * peak) if peak > 0 else ([], [])
    if len(rows) == 0:
        return strength
    size = max(np.ptp(rows), np.ptp(cols)) + 1
    length = skeletonize(strength >= peak / 2).sum()
    width = strength.sum() / peak / max(length, 1)
    radius = round((STROKE * size - width) / 2)
    if width >= THINNEST * size or radius < 1:
        return strength
    return dilation(strength, disk(radius, decomposition="sequence"))


def centre(strength: np.ndarray) -> np.ndarray:
    """MNIST's layout: the ink's box scaled to fit BOX x BOX, centred by mass in SIDE x SIDE.

    MNIST's own centres of mass lie within half a pixel of pixel (14, 14), so a whole-pixel
    shift to there leaves its digits where they were.
    """
    canvas = np.zeros((SIDE, SIDE))
    rows, cols = np.nonzero(strength >= INK_FLOOR * strength.max()) if strength.any() else ([], [])
    if len(rows) == 0:
        return canvas
    box = strength[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    h, w = box.shape
    size = (max(1, round(w * BOX / max(h, w))), max(1, round(h * BOX / max(h, w))))
    scaled = Image.fromarray(box.astype(np.float32)).resize(size, Image.Resampling.LANCZOS)
    box = np.clip(np.asarray(scaled, dtype=np.float64), 0, None)
    peak = box.max()
    if peak == 0:
        return canvas
    # MNIST strokes all reach full strength; thin strokes scaled down from a large image
    # would otherwise come out faint.
    box /= peak
    mass = box.sum()
    ys, xs = np.indices(box.shape)
    top = round(SIDE // 2 - (ys * box).sum() / mass)
    left = round(SIDE // 2 - (xs * box).sum() / mass)
    # Paste with clipping: a lopsided digit may reach past the canvas, as in MNIST.
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + box.shape[0], SIDE), min(left + box.shape[1], SIDE)
    canvas[y0:y1, x0:x1] = box[y0 - top : y1 - top, x0 - left : x1 - left]
    return canvas


def mnist_like(image: Image.Image) -> Prepared:
    """Any Pillow image -> the uint8 28x28 digit the model is shown, and whether the image
    was inverted: grey levels, at a working size, the paper taken away, the digit's pixels
    kept, hairlines widened, MNIST's layout."""
    strength, smoothed, inverted = ink(shrink(grey(image)))
    pixels = np.rint(centre(thickened(strength * digit(smoothed))) * 255).astype(np.uint8)
    return Prepared(pixels, inverted)


def prepare(image: Image.Image, scale: PixelScale = SYMMETRIC) -> tuple[Tensor, bool]:
    """Any Pillow image -> (float32 [784] mapped by the model's pixel scale, inverted?)."""
    prepared = mnist_like(image)
    return prepared.tensor(scale), prepared.inverted


def open_image(path: Path) -> Image.Image:
    """The image file, turned upright as its EXIF orientation says (phones store photos
    sideways with a note), its problems raised as one-line ImageErrors."""
    if path.stat().st_size == 0:
        raise ImageError(f"{path} is an empty file")
    try:
        with Image.open(path) as image:
            upright = ImageOps.exif_transpose(image)
            upright.load()
            return upright
    except UnidentifiedImageError:
        raise ImageError(f"{path} is not an image Pillow can read") from None
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise ImageError(f"{path} cannot be read as an image: {e}") from None


def read_image(path: Path) -> Prepared:
    """`mnist_like` of the image file, its problems raised as one-line ImageErrors."""
    image = open_image(path)
    try:
        return mnist_like(image)
    except (OSError, ValueError) as e:
        raise ImageError(f"{path} cannot be read as an image: {e}") from None
