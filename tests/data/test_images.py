"""src/data/images.py: a digit photographed, scanned or drawn comes out as the same MNIST-like
28x28 as the clean drawing of it; the paper, its lighting and texture come out black.

Every image here is drawn by the test: a digit of strokes on white paper, then shaded,
textured, tinted, shrunk, faded, thickened, compressed or given an alpha channel.
"""

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw
from scipy.ndimage import binary_dilation, gaussian_filter

from src.data.images import ImageError, grey, prepare, read_image
from tests.conftest import run_module

pytestmark = pytest.mark.smoke  # make smoke: the edit loop's check

SIZE = 200  # the drawn page's side
SUPERSAMPLE = 4  # strokes are drawn this much larger and averaged down: soft edges
# Two 28x28 images show the same digit if their strokes (ink above half strength) overlap
# with an intersection over union of at least SAME. MNIST centres each digit by its mass to
# a whole pixel, so the overlap is the best over shifts of up to a pixel. The yardsticks:
# the clean 3 scores above 0.9 against a clean 3 drawn 30% smaller, below 0.25 against the
# clean 7 or 4; a 3 whose shaded paper came out as ink scores below 0.5.
SAME = 0.6
# Pixels more than two pixels from the clean digit's strokes are background: none may hold
# more ink than STRAY. A grey rectangle of shaded paper fails this by far.
STRAY = 0.2

# Strokes in the unit square of the digit's box: lines through points, or ellipse arcs
# (box, start and end angles in degrees, clockwise from 3 o'clock, as Pillow draws them).
DIGITS = {
    "3": [("arc", (0.15, 0.0, 0.85, 0.52), 200, 90), ("arc", (0.1, 0.48, 0.9, 1.0), 270, 160)],
    "7": [("line", [(0.1, 0.05), (0.9, 0.05), (0.4, 0.97)])],
    "4": [("line", [(0.65, 1.0), (0.65, 0.0), (0.05, 0.7), (0.95, 0.7)])],
}


def drawn(
    digit: str = "3",
    box: tuple[float, float, float, float] = (55, 25, 145, 175),
    width: float = 14,
    size: tuple[int, int] = (SIZE, SIZE),
) -> np.ndarray:
    """The digit's ink coverage in [0, 1] on a page of `size`, its strokes `width` wide."""
    s = SUPERSAMPLE
    page = Image.new("L", (size[0] * s, size[1] * s), 0)
    draw = ImageDraw.Draw(page)
    x0, y0, x1, y1 = (v * s for v in box)

    def at(px: float, py: float) -> tuple[float, float]:
        return x0 + px * (x1 - x0), y0 + py * (y1 - y0)

    for kind, *stroke in DIGITS[digit]:
        if kind == "line":
            draw.line([at(*p) for p in stroke[0]], fill=255, width=round(width * s), joint="curve")
        else:
            (a, b, c, d), start, end = stroke
            draw.arc([*at(a, b), *at(c, d)], start, end, fill=255, width=round(width * s))
    small = page.resize(size, Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float64) / 255


def paper(ink: np.ndarray, paper: float = 0.95, pen: float = 0.08) -> np.ndarray:
    """Reflectance: dark pen on light paper."""
    return paper + (pen - paper) * ink


def image(values: np.ndarray) -> Image.Image:
    """Values in [0, 1], grey [H, W] or colour [H, W, 3], as an 8-bit Pillow image."""
    return Image.fromarray(np.rint(np.clip(values, 0, 1) * 255).astype(np.uint8))


def falloff(shape: tuple[int, int], darkest: float, angle: float = 0.0) -> np.ndarray:
    """Light falling off linearly across the page, from 1 to `darkest`, towards `angle`."""
    ys, xs = np.indices(shape) / max(shape)
    along = np.cos(angle) * xs + np.sin(angle) * ys
    return 1 - (1 - darkest) * (along - along.min()) / np.ptp(along)


def shadow(shape: tuple[int, int], depth: float = 0.5, softness: float = 12) -> np.ndarray:
    """A soft-edged shadow over the lower right of the page, cut across the digit."""
    ys, xs = np.indices(shape)
    edge = (xs - 0.55 * shape[1]) + 0.5 * (ys - 0.5 * shape[0])
    return 1 - depth / (1 + np.exp(-edge / softness))


def grain(shape: tuple[int, int], amount: float, seed: int = 0) -> np.ndarray:
    """Paper texture: smooth noise a pixel and a half across, plus fine noise."""
    rng = np.random.default_rng(seed)
    smooth = gaussian_filter(rng.normal(size=shape), 1.5)
    return amount * smooth / smooth.std() + rng.normal(0, amount / 3, shape)


def jpeg(picture: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue()))


def photo(ink: np.ndarray, seed: int = 0) -> np.ndarray:
    """A phone photo of the page: grey pen on grainy paper, light falling off to 40%
    across it, a soft shadow half deep, sensor noise."""
    reflectance = paper(ink, 0.9, 0.12) * (1 + grain(ink.shape, 0.03, seed))
    lit = reflectance * falloff(ink.shape, 0.4) * shadow(ink.shape)
    return lit + np.random.default_rng(seed + 1).normal(0, 0.015, ink.shape)


def seen(picture: Image.Image) -> np.ndarray:
    """The prepared 28x28 as ink in [0, 1]."""
    x, _ = prepare(picture)
    return (x.reshape(28, 28).numpy() + 1) / 2


def shifted(values: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(values)
    h, w = values.shape
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = values[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def overlap(a: np.ndarray, b: np.ndarray, reach: int = 2) -> tuple[float, float]:
    """(stroke IoU, the strongest stray ink of `a` more than `reach` pixels from `b`'s
    strokes), at the shift of up to a pixel that overlaps best."""
    best = (-1.0, 1.0)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            moved = shifted(a, dy, dx)
            strokes, reference = moved > 0.5, b > 0.5
            iou = (strokes & reference).sum() / max((strokes | reference).sum(), 1)
            near = binary_dilation(b > 0.05, iterations=reach)
            best = max(best, (float(iou), float(moved[~near].max(initial=0))))
    return best


@pytest.fixture(scope="module")
def clean() -> dict[str, np.ndarray]:
    """Each digit's clean drawing, prepared: what every variant should come back as."""
    return {d: seen(image(paper(drawn(d)))) for d in DIGITS}


def uneven_light(ink):
    return image(paper(ink) * falloff(ink.shape, 0.35))


def mild_shading(ink):
    return image(paper(ink) * falloff(ink.shape, 0.75, angle=2.5))


def soft_shadow(ink):
    return image(paper(ink) * shadow(ink.shape))


def paper_texture(ink):
    return image(paper(ink) + grain(ink.shape, 0.06))


def phone_photo(ink):
    return image(photo(ink))


def phone_photo_jpeg(ink):
    return jpeg(image(photo(ink)).convert("RGB"), quality=30)


def tinted_colour_photo(ink):
    """Blue ink on yellowish paper, the light falling off across it: an RGB photo."""
    pen, page = np.array([0.15, 0.2, 0.5]), np.array([0.98, 0.9, 0.65])
    colour = page + (pen - page) * ink[..., None]
    return image(
        colour * falloff(ink.shape, 0.5, angle=1.0)[..., None] * shadow(ink.shape)[..., None]
    )


def faint_pencil(ink):
    return image(paper(ink, 0.93, 0.78) + grain(ink.shape, 0.01))


def sixteen_bit_photo(ink):
    """The uneven-light photo as a 16-bit greyscale PNG's image, its light only 4% of the range."""
    values = paper(ink) * falloff(ink.shape, 0.35) * 0.04
    return Image.fromarray(np.rint(values * 65535).astype(np.uint16))


CASES = [
    uneven_light,
    mild_shading,
    soft_shadow,
    paper_texture,
    phone_photo,
    phone_photo_jpeg,
    tinted_colour_photo,
    faint_pencil,
    sixteen_bit_photo,
]


@pytest.mark.parametrize("digit", list(DIGITS))
@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_a_photographed_or_scanned_digit_comes_out_as_its_clean_drawing(clean, digit, case):
    iou, stray = overlap(seen(case(drawn(digit))), clean[digit])
    assert iou >= SAME, f"strokes overlap the clean drawing's by only {iou:.2f}"
    assert stray <= STRAY, f"ink {stray:.2f} away from the digit: the paper was taken for ink"


@pytest.mark.parametrize("digit", list(DIGITS))
def test_a_small_off_centre_digit_on_a_large_shaded_page_is_found_and_scaled_up(clean, digit):
    """A digit under a third of the page's height, near a corner of a 480x360 photo."""
    ink = drawn(digit, box=(40, 200, 100, 300), width=9, size=(480, 360))
    iou, stray = overlap(seen(image(photo(ink))), clean[digit])
    assert iou >= SAME and stray <= STRAY


@pytest.mark.parametrize("digit", list(DIGITS))
def test_a_ballpoints_hairline_is_widened_to_an_mnist_stroke(clean, digit):
    """Strokes a thirtieth of the digit's height, on a shaded page: scaled to 20x20 they
    would be a faint pixel wide; they come out as wide as the clean drawing's."""
    ink = drawn(digit, width=5)
    iou, stray = overlap(seen(image(paper(ink) * falloff(ink.shape, 0.5))), clean[digit])
    assert iou >= SAME and stray <= STRAY


@pytest.mark.parametrize("digit", list(DIGITS))
def test_a_markers_thick_strokes_give_the_same_digit(clean, digit):
    """Strokes a fifth of the digit's height, on a shaded page: as thick as MNIST's boldest,
    they are kept so, and the digit's shape comes through (a lower bar than for the same
    pen: the strokes are wider than the clean drawing's)."""
    ink = drawn(digit, width=30)
    prepared = seen(image(paper(ink) * falloff(ink.shape, 0.5)))
    assert np.corrcoef(prepared.ravel(), clean[digit].ravel())[0, 1] >= 0.6
    assert overlap(prepared, clean[digit], reach=3)[1] <= STRAY  # wider strokes reach further


def test_an_rgba_drawing_on_a_transparent_page_is_dark_ink_on_white(clean):
    """A drawing app's export: the strokes in the alpha channel, nothing behind them."""
    pixels = np.zeros((SIZE, SIZE, 4), np.uint8)
    pixels[..., :3] = (30, 30, 120)
    pixels[..., 3] = np.rint(drawn("3") * 255)
    x, inverted = prepare(Image.fromarray(pixels, "RGBA"))
    assert inverted
    iou, stray = overlap((x.reshape(28, 28).numpy() + 1) / 2, clean["3"])
    assert iou >= 0.9 and stray <= STRAY


@settings(max_examples=15, deadline=None)
@given(angle=st.floats(0, 2 * np.pi), darkest=st.floats(0.3, 1.0), digit=st.sampled_from("37"))
def test_light_falling_off_in_any_direction_leaves_the_digit_as_it_is(angle, darkest, digit):
    ink = drawn(digit)
    reference = seen(image(paper(ink)))
    iou, stray = overlap(seen(image(paper(ink) * falloff(ink.shape, darkest, angle))), reference)
    assert iou >= 0.8 and stray <= STRAY


def test_a_blank_shaded_page_stays_blank():
    x, _ = prepare(image(0.9 * falloff((120, 160), 0.4, angle=0.7)))
    assert (x == -1).all()


def test_a_photo_taken_sideways_is_turned_upright_by_its_exif_orientation(tmp_path, clean):
    """Phones store the sensor's pixels and an Orientation tag; 6 means turn 90 degrees."""
    upright = image(paper(drawn("7"))).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "sideways.jpg"
    upright.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif, quality=95)
    prepared = read_image(path).pixels / 255
    assert overlap(prepared, clean["7"])[0] >= 0.8


def test_a_large_photo_is_read_at_a_working_size():
    """A 12-megapixel photo is averaged down before filtering, and still read."""
    big = image(paper(drawn("7", box=(1200, 600, 2400, 2400), width=160, size=(4000, 3000))))
    assert grey(big).shape == (3000, 4000)
    strokes = seen(big) > 0.5
    assert 30 <= strokes.sum() <= 250


def test_a_truncated_file_is_refused_in_one_line(tmp_path):
    buffer = io.BytesIO()
    image(paper(drawn("3"))).save(buffer, "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buffer.getvalue()[:300])
    with pytest.raises(ImageError) as refused:
        read_image(path)
    assert str(refused.value).startswith(f"{path} cannot be read as an image")
    assert "\n" not in str(refused.value)


@pytest.mark.slow
def test_the_style_benchmark_runs_and_prints_its_table(linear_checkpoint, mnist_dir):
    """benchmarks/digit_styles.py end to end on a few digits; it asserts no accuracy."""
    printed = run_module(
        "benchmarks.digit_styles",
        f"--ckpt={linear_checkpoint}",
        "--per-style=6",
        "--styles",
        "mnist",
        "photo",
        "thin",
        f"--data={mnist_dir}",
    ).stdout.splitlines()
    table = printed[
        printed.index("| style | old preparation | new preparation | ms per image (old / new) |") :
    ]
    assert [row.split(" | ")[0] for row in table[2:5]] == ["| mnist", "| photo", "| thin"]
