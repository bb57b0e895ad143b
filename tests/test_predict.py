"""`python -m src.predict`: preparing any image like MNIST, the printed predictions, the errors."""

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageOps
from torchvision import datasets

from src.data.images import ImageError, prepare, read_image
from src.data.pixels import normalise
from src.model.classifier import Classifier
from src.predict import ROWS_SHOWN, label_from_name, predict, report
from src.run.checkpoint import CheckpointError, checkpoint_file, load_network
from tests.conftest import one_error_line, run_module

LEVEL = 2 / 255  # one grey level after normalisation
N_ROUND_TRIP = 200
MODES = ("L", "LA", "RGB", "RGBA", "P", "1", "I;16", "I", "F", "CMYK")


def grid(tensor: torch.Tensor) -> np.ndarray:
    """Prepared [784] in [-1, 1] -> [28, 28] ink in [0, 1]."""
    return (tensor.reshape(28, 28).numpy() + 1) / 2


def random_image(mode: str, width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    if mode == "F":
        return Image.fromarray(rng.normal(0, 1000, (height, width)).astype(np.float32))
    bits = {"1": 1, "L": 8, "P": 8, "LA": 16, "I;16": 16, "RGB": 24}.get(mode, 32)
    row = -(-width * bits // 8)
    image = Image.frombytes(mode, (width, height), rng.bytes(row * height))
    if mode == "P":
        image.putpalette(rng.bytes(768))
        image.info["transparency"] = int(rng.integers(256))
    return image


def draw_digit(
    size: tuple[int, int],
    box: tuple[float, float, float, float],
    points: list[tuple[float, float]],
    width: int,
    colours: tuple[int, int],
) -> Image.Image:
    """A grey polyline 'digit': `points` in [0, 1]^2 span `box`; colours = (background, ink)."""
    background, ink = colours
    image = Image.new("L", size, background)
    x0, y0, x1, y1 = box
    xy = [(x0 + px * (x1 - x0), y0 + py * (y1 - y0)) for px, py in points]
    ImageDraw.Draw(image).line(xy, fill=ink, width=width, joint="curve")
    return image


unit = st.floats(0, 1)
strokes = st.lists(st.tuples(unit, unit), min_size=2, max_size=6)


@pytest.fixture
def untrained_ckpt(tmp_path: Path, recipe) -> Path:
    """A checkpoint as src.train writes it, of an untrained linear model: no training needed."""
    model = Classifier(replace(recipe, hidden=[]))
    path = tmp_path / "untrained.ckpt"
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}, path)
    return path


@settings(max_examples=60, deadline=None)
@given(
    mode=st.sampled_from(MODES),
    width=st.integers(1, 200),
    height=st.integers(1, 200),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_size_and_mode_gives_784_values_in_range(mode, width, height, seed):
    x, inverted = prepare(random_image(mode, width, height, seed))
    assert x.shape == (784,)
    assert x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    assert isinstance(inverted, bool)


@pytest.mark.parametrize("mode", MODES)
def test_a_blank_image_is_all_background(mode):
    x, inverted = prepare(Image.new(mode, (37, 23), 1))
    assert torch.equal(x, torch.full((784,), -1.0))
    assert not inverted


def test_transparent_pixels_are_white_paper():
    image = Image.new("RGBA", (60, 60), (0, 0, 0, 0))  # transparent black: white once composited
    ImageDraw.Draw(image).line([(30, 10), (30, 50)], fill=(0, 0, 0, 255), width=5)
    x, inverted = prepare(image)
    assert inverted
    assert (grid(x) > 0.5).sum() > 20


@settings(max_examples=60, deadline=None)
@given(
    side=st.integers(28, 120),
    points=strokes,
    width=st.integers(1, 6),
    dark=st.integers(0, 175),
    contrast=st.integers(80, 255),
    dark_ink=st.booleans(),
)
def test_dark_ink_on_light_paper_is_inverted(side, points, width, dark, contrast, dark_ink):
    light = min(dark + contrast, 255)
    colours = (light, dark) if dark_ink else (dark, light)
    margin = side // 5
    image = draw_digit(
        (side, side), (margin, margin, side - margin, side - margin), points, width, colours
    )
    x, inverted = prepare(image)
    x_negative, inverted_negative = prepare(ImageOps.invert(image))
    assert inverted == dark_ink
    assert inverted_negative != inverted
    assert (x - x_negative).abs().max() <= LEVEL + 1e-6  # the same digit either way round


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.tuples(st.integers(40, 200), st.integers(40, 200)),
    box=st.tuples(unit, unit, st.floats(0.1, 0.5), st.floats(0.1, 0.5)),
    points=strokes,
    width=st.integers(2, 8),
)
def test_an_off_centre_digit_is_scaled_and_centred_by_mass(size, box, points, width):
    w, h = size
    left, top, box_w, box_h = box
    x0, y0 = left * (1 - box_w) * w, top * (1 - box_h) * h
    image = draw_digit(size, (x0, y0, x0 + box_w * w, y0 + box_h * h), points, width, (0, 255))
    assume(np.asarray(image).any())  # a zero-length stroke on the far edge draws nothing
    ink = grid(prepare(image)[0])
    rows, cols = np.nonzero(ink)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 <= 20
    ys, xs = np.indices(ink.shape)
    mass = ink.sum()
    assert abs((ys * ink).sum() / mass - 14) <= 1
    assert abs((xs * ink).sum() / mass - 14) <= 1


def seven(folder: Path) -> list[Path]:
    """A drawn 7 as a white-on-black PNG and a black-on-white JPEG."""
    image = draw_digit((50, 40), (15, 5, 35, 35), [(0, 0), (1, 0), (0.3, 1)], 4, (0, 255))
    image.save(folder / "seven.png")
    ImageOps.invert(image).convert("RGB").save(folder / "seven.jpg", quality=95)
    return [folder / "seven.png", folder / "seven.jpg"]


def test_each_image_gets_a_digit_its_probabilities_and_whether_it_was_inverted(
    tmp_path, untrained_ckpt
):
    predictions = predict(str(untrained_ckpt), map(str, seven(tmp_path)))
    assert [p.path.name for p in predictions] == ["seven.png", "seven.jpg"]
    for p in predictions:
        assert len(p.probabilities) == 10 and sum(p.probabilities) == pytest.approx(1)
        assert p.confidence == max(p.probabilities) == p.probabilities[p.digit]
    assert [p.inverted for p in predictions] == [False, True]


@pytest.mark.parametrize(
    ("name", "label"),
    [("7.png", 7), ("7_001.png", 7), ("img_3.jpg", 3), ("scan-0.png", 0), ("5/a.png", 5)]
    + [("017.png", None), ("seven.png", None), ("a/12.png", None), ("img3.png", None)],
)
def test_a_digit_stated_in_the_file_or_folder_name_is_the_label(name, label):
    assert label_from_name(Path(name)) == label


def test_a_labelled_folder_gets_counts_and_accuracy(tmp_path, untrained_ckpt):
    for name, path in zip(("7_a", "7_b"), seven(tmp_path), strict=True):
        path.rename(tmp_path / f"{name}{path.suffix}")
    printed = report(predict(str(untrained_ckpt), [str(tmp_path)]))
    lines = printed.splitlines()
    assert lines[0].split() == ["file", "digit", "confidence"]
    assert lines[3].startswith("2 images, predicted: 0: ")
    right = sum(line.split()[1] == "7" for line in lines[1:3])
    assert (
        lines[4] == f"accuracy against the digits in the file names: {right / 2:.1%} ({right} of 2)"
    )
    assert lines[5:7] == ["accuracy per digit:", f"  7: {right / 2:6.1%} ({right} of 2)"]


def test_files_that_state_no_digit_are_counted_and_left_out_of_the_accuracy(
    tmp_path, untrained_ckpt
):
    first, second = seven(tmp_path)
    first.rename(tmp_path / f"7_a{first.suffix}")
    second.rename(tmp_path / f"scan{second.suffix}")
    printed = report(predict(str(untrained_ckpt), [str(tmp_path)])).splitlines()
    assert "1 of the 2 files state no digit in their name or folder" in printed[4]
    assert printed[5].endswith("(1 of 1)") or printed[5].endswith("(0 of 1)")


def test_a_long_table_shows_its_first_rows_and_counts_every_image(tmp_path, untrained_ckpt):
    for i in range(ROWS_SHOWN + 5):
        Image.new("L", (28, 28)).save(tmp_path / f"{i:02d}.png")
    lines = report(predict(str(untrained_ckpt), [str(tmp_path)])).splitlines()
    assert lines[ROWS_SHOWN].startswith(f"{tmp_path}/{ROWS_SHOWN - 1:02d}.png")
    assert lines[ROWS_SHOWN + 1] == "... and 5 more (csv=<file> writes them all)"
    assert lines[ROWS_SHOWN + 2].startswith(f"{ROWS_SHOWN + 5} images, predicted: ")


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A folder of one good image, an empty file, a text file, and a folder without images."""
    Image.new("L", (28, 28)).save(tmp_path / "good.png")
    (tmp_path / "empty.png").touch()
    (tmp_path / "notes.txt").write_text("not a picture\n")
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "notes.txt").write_text("not a picture\n")
    return tmp_path


@pytest.mark.parametrize(
    ("ckpt", "images", "message"),
    [
        ("good", ["missing.png"], "image not found: {}/missing.png"),
        ("good", ["empty.png"], "{}/empty.png is an empty file"),
        ("good", ["notes.txt"], "{}/notes.txt is not an image"),
        ("good", ["texts"], "no images Pillow can open in folder {}/texts"),
        ("good", ["good.png", "notes.txt"], "{}/notes.txt is not an image"),
        ("good.png", ["good.png"], "{}/good.png is not a readable checkpoint"),
        ("missing.ckpt", ["good.png"], "checkpoint not found: {}/missing.ckpt"),
    ],
    ids=["missing", "empty", "not-image", "no-images", "one-bad-of-two", "bad-ckpt", "no-ckpt"],
)
def test_bad_input_is_refused_in_one_line(files, untrained_ckpt, ckpt, images, message):
    ckpt_path = untrained_ckpt if ckpt == "good" else files / ckpt
    with pytest.raises((ImageError, CheckpointError)) as refused:
        predict(str(ckpt_path), [str(files / name) for name in images])
    assert str(refused.value).startswith(message.format(files))
    assert "\n" not in str(refused.value)


def test_the_command_prints_a_table_writes_a_csv_and_fails_in_one_line(tmp_path, untrained_ckpt):
    images = seven(tmp_path)
    table = tmp_path / "predictions.csv"
    listed = ",".join(map(str, images))
    result = run_module(
        "src.predict", f"ckpt_path={untrained_ckpt}", f"image=[{listed}]", f"csv={table}"
    )
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["file", "digit", "confidence"]
    assert lines[1].startswith(str(images[0])) and "(inverted" in lines[2]
    assert lines[-1] == f"predictions written to {table}"
    with table.open() as f:
        rows = list(csv.DictReader(f))
    assert [r["file"] for r in rows] == list(map(str, images))
    assert sum(float(r[f"p{d}"]) for d in range(10) for r in rows[:1]) == pytest.approx(1, abs=1e-3)
    missing = run_module("src.predict", f"ckpt_path={untrained_ckpt}", check=False)
    assert one_error_line(missing).startswith("error: image is missing: python -m src.predict")
    assert missing.stdout == ""


def test_seen_writes_what_the_model_saw_beside_each_input_and_a_sheet(tmp_path, untrained_ckpt):
    """seen=<folder>: each input's 28x28 as the model got it, 8x larger, named after the
    input; for several inputs, sheet.png with each input beside it."""
    inputs = tmp_path / "inputs"
    (inputs / "4").mkdir(parents=True)
    images = seven(inputs)
    four = draw_digit(
        (90, 90), (25, 10, 65, 80), [(0.7, 1), (0.7, 0), (0, 0.7), (1, 0.7)], 6, (250, 20)
    )
    shaded = np.asarray(four, dtype=np.float64) * np.linspace(1, 0.4, 90)  # light falls off
    Image.fromarray(shaded.astype(np.uint8)).save(inputs / "4" / "a.png")
    images.append(inputs / "4" / "a.png")
    seen = tmp_path / "seen"
    result = run_module(
        "src.predict", f"ckpt_path={untrained_ckpt}", f"image={inputs}", f"seen={seen}"
    )
    assert result.stdout.splitlines()[-1] == (
        f"the 3 images the model saw written to {seen}/; "
        f"{seen / 'sheet.png'} shows them beside their inputs"
    )
    names = {"4/a.png": "4_a.png", "seven.jpg": "seven.jpg.png", "seven.png": "seven.png.png"}
    assert sorted(p.name for p in seen.iterdir()) == sorted([*names.values(), "sheet.png"])
    sheet = np.asarray(Image.open(seen / "sheet.png").convert("L"))
    for i, (name, written) in enumerate(sorted(names.items())):
        pixels = read_image(inputs / name).pixels
        big = np.asarray(Image.open(seen / written))
        assert big.shape == (28 * 8, 28 * 8)
        assert np.array_equal(big[::8, ::8], pixels)
        # On the sheet, beside its input: 4x as large, one cell of 2x112 + 12 pixels each.
        left = 12 + i * (2 * 112 + 12) + 112
        assert np.array_equal(sheet[12 : 12 + 112 : 4, left : left + 112 : 4], pixels)
    # The shaded page's 4 is seen as the evenly lit one is: the paper is black, not grey.
    evenly_lit = grid(prepare(four)[0]) > 0.5
    shaded_seen = read_image(inputs / "4" / "a.png").pixels > 127
    assert (shaded_seen & evenly_lit).sum() >= 0.9 * (shaded_seen | evenly_lit).sum()

    alone = run_module(
        "src.predict",
        f"ckpt_path={untrained_ckpt}",
        f"image={images[0]}",
        f"seen={tmp_path / 'one'}",
    )
    assert alone.stdout.splitlines()[-1] == (
        f"the image the model saw written to {tmp_path / 'one' / 'seven.png'}"
    )
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["seven.png"]


@pytest.fixture(scope="module")
def mnist_test(mnist_dir: Path) -> torch.Tensor:
    """The first N_ROUND_TRIP official test images, uint8 [N, 28, 28]."""
    return datasets.MNIST(mnist_dir, train=False, download=False).data[:N_ROUND_TRIP]


@pytest.mark.slow
def test_mnist_images_come_back_nearly_unchanged(mnist_test):
    prepared = torch.stack([prepare(Image.fromarray(x.numpy()))[0] for x in mnist_test])
    off_by = (prepared - normalise(mnist_test)).abs()
    # Measured: 93% within one grey level; the rest lose faint (<5%) edge pixels just
    # outside the box of clear ink. A digit moved by a pixel would add ~0.2 level on average.
    assert (off_by.amax(dim=1) <= LEVEL + 1e-6).float().mean() >= 0.9
    assert off_by.mean() <= 0.05 * LEVEL


@pytest.mark.slow
def test_a_folder_of_digit_folders_gets_the_accuracy_per_digit_and_the_confusion_table(
    tmp_path, linear_checkpoint, mnist_dir, mnist_test
):
    """DIR/<digit>/*.png, as torchvision's ImageFolder reads it: each label from its folder."""
    labels = datasets.MNIST(mnist_dir, train=False, download=False).targets[:N_ROUND_TRIP]
    for i, (x, label) in enumerate(zip(mnist_test.numpy(), labels.tolist(), strict=True)):
        (tmp_path / str(label)).mkdir(exist_ok=True)
        Image.fromarray(x).save(tmp_path / str(label) / f"{i:03d}.png")
    printed = report(predict(str(linear_checkpoint), [str(tmp_path)])).splitlines()
    network, scale = load_network(linear_checkpoint)
    with torch.inference_mode():
        expected = network(normalise(mnist_test, scale)).argmax(dim=1)
    right = int((expected == labels).sum())
    assert f"({right} of {N_ROUND_TRIP})" in printed[printed.index("accuracy per digit:") - 1]
    table = printed.index("accuracy per digit:")
    for row, digit in enumerate(sorted(set(labels.tolist()))):
        ours = labels == digit
        hits, total = int((expected[ours] == digit).sum()), int(ours.sum())
        assert printed[table + 1 + row] == f"  {digit}: {hits / total:6.1%} ({hits} of {total})"
        confusion = printed[table + 1 + len(set(labels.tolist())) + 2 + row].split()
        predicted = [int((expected[ours] == c).sum()) for c in range(10)]
        assert confusion == [str(digit), *map(str, predicted)]


@pytest.mark.slow
def test_round_trip_through_png_and_jpeg_files(tmp_path_factory, linear_checkpoint, mnist_test):
    ckpt = linear_checkpoint
    folder = tmp_path_factory.mktemp("digits")
    for i, x in enumerate(mnist_test.numpy()):
        Image.fromarray(x).save(folder / f"{i:03d}.png")
        Image.fromarray(255 - x).convert("RGB").save(folder / f"{i:03d}.jpg", quality=95)

    csv_file = folder / "predictions.csv"
    run_module("src.predict", f"ckpt_path={ckpt}", f"image={folder}", f"csv={csv_file}")
    with csv_file.open() as f:
        printed = {Path(r["file"]).name: r for r in csv.DictReader(f)}
    network, scale = load_network(ckpt)
    with torch.inference_mode():
        expected = network(normalise(mnist_test, scale)).softmax(dim=1)

    assert len(printed) == 2 * N_ROUND_TRIP
    for ext, min_agreeing in (("png", N_ROUND_TRIP), ("jpg", N_ROUND_TRIP - 3)):
        found = [printed[f"{i:03d}.{ext}"] for i in range(N_ROUND_TRIP)]
        digits = torch.tensor([int(row["digit"]) for row in found])
        agreeing = int((digits == expected.argmax(dim=1)).sum())
        assert agreeing >= min_agreeing, f"{ext}: {agreeing}/{N_ROUND_TRIP} agree"
        assert all(row["inverted"] == str(ext == "jpg") for row in found)
    png = torch.tensor(
        [[float(printed[f"{i:03d}.png"][f"p{d}"]) for d in range(10)] for i in range(N_ROUND_TRIP)]
    )
    # Written to 4 decimals; the rest is the ~6% of images a grey level off.
    assert (png - expected).abs().max() <= 0.01


def test_a_run_folder_stands_for_its_best_checkpoint(tmp_path, untrained_ckpt):
    with pytest.raises(CheckpointError, match="is a folder with no checkpoints/best.ckpt"):
        checkpoint_file(tmp_path)
    (tmp_path / "checkpoints").mkdir()
    best = tmp_path / "checkpoints" / "best.ckpt"
    untrained_ckpt.rename(best)
    assert checkpoint_file(tmp_path) == checkpoint_file(tmp_path / "checkpoints") == best
    assert checkpoint_file(best) == best


@pytest.mark.slow
@pytest.mark.parametrize("scale", ["raw", "unit", "standard"])
def test_a_model_of_any_input_scale_is_tested_and_predicts_on_that_scale(
    tmp_path, mnist_dir, mnist_test, scale
):
    """src.eval re-tests the checkpoint to its run's own test_acc, and src.predict, on test
    digits saved as PNG files, predicts what the model says of them on its own scale."""
    run = tmp_path / "run"
    run_module(
        "src.train",
        "model=linear",
        "trainer.max_epochs=1",
        "data.train_size=2000",
        f"data.input_scale={scale}",
        "model.lr=1e-4" if scale == "raw" else "model.lr=3e-3",
        f"data.data_dir={mnist_dir}",
        f"hydra.run.dir={run}",
    )
    tested = json.loads((run / "metrics.json").read_text())["test_acc"]
    printed = run_module("src.eval", f"ckpt_path={run}", f"data_dir={mnist_dir}").stdout
    assert f"test/acc: {tested:.4f}" in printed
    digits = tmp_path / "digits"
    digits.mkdir()
    for i, x in enumerate(mnist_test.numpy()):
        Image.fromarray(x).save(digits / f"{i:03d}.png")
    predicted = [p.digit for p in predict(str(run / "checkpoints" / "best.ckpt"), [str(digits)])]
    network, pixels = load_network(run / "checkpoints" / "best.ckpt")
    assert pixels.multiplier != 2 / 255  # not the default scale
    with torch.inference_mode():
        expected = network(normalise(mnist_test, pixels)).argmax(dim=1).tolist()
    agreeing = sum(a == b for a, b in zip(predicted, expected, strict=True))
    assert agreeing >= N_ROUND_TRIP - 2  # a few images come back a grey level off
