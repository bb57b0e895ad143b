"""Pictures of what a model learned: weights as images, the confusion matrix, worst mistakes."""

from dataclasses import replace

import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from src.callbacks.pictures import (
    CAPTION,
    GAP,
    LABEL,
    TILE,
    TITLE,
    augmented_figure,
    confusion_figure,
    curves_figure,
    mistakes_figure,
    weight_images,
)
from src.config.hydra import compose_train
from src.config.schema import typed
from src.data.datamodule import MNISTDataModule
from src.model.classifier import Classifier
from src.train import train
from tests.conftest import tiny_config

pytestmark = pytest.mark.smoke  # make smoke: the edit loop's check


def test_the_linear_model_shows_one_template_per_digit(recipe):
    picture = weight_images(Classifier(replace(recipe, hidden=[])).net)
    assert picture.labels == [f"digit {d}" for d in range(10)]
    height, width, colours = picture.pixels.shape
    assert colours == 3 and width > 5 * TILE
    assert height == TITLE + CAPTION + 2 * (LABEL + TILE + GAP)  # 2 rows of 5


def test_an_mlp_shows_a_sample_of_its_first_layer_units(recipe):
    assert len(weight_images(Classifier(replace(recipe, hidden=[64, 32])).net).labels) == 36
    assert len(weight_images(Classifier(replace(recipe, hidden=[8])).net).labels) == 8


def test_mistakes_are_the_most_confident_wrong_predictions():
    targets = torch.tensor([0, 1, 2, 3])
    probabilities = torch.full((4, 10), 0.01)
    probabilities[0, 0] = 0.9  # right
    probabilities[1, 5] = 0.6  # wrong, less sure
    probabilities[2, 7] = 0.8  # wrong, surest
    probabilities[3, 3] = 0.5  # right
    picture = mistakes_figure(torch.zeros(4, 784, dtype=torch.uint8), probabilities, targets)
    assert picture.labels == ["says 7 (80%), is 2", "says 5 (60%), is 1"]


def test_confusion_counts_every_test_digit():
    preds, targets = torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2])
    picture = confusion_figure(preds, targets)
    assert "75.00% on the diagonal" in picture.title
    assert picture.labels[:3] == ["1", "0", "0"]  # row 0: one 0 said 0
    assert picture.labels[20:23] == ["0", "1", "1"]  # row 2: one 2 said 1, one said 2


@pytest.mark.parametrize("precision", ["32-true", "64-true", "bf16-mixed"])
def test_a_run_saves_its_pictures_and_shows_them_in_tensorboard(tiny_data, tmp_path, precision):
    config = tiny_config(
        tiny_data,
        tmp_path,
        "model=linear",
        "trainer.max_epochs=1",
        f"trainer.precision={precision}",
    )
    config.callbacks["pictures"] = {
        "_target_": "src.callbacks.pictures.Pictures",
        "folder": str(tmp_path / "pictures"),
    }
    train(config)
    for name in ("learning_curves", "weights", "confusion", "mistakes"):
        with Image.open(tmp_path / "pictures" / f"{name}.png") as image:
            assert image.width > 300
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir() and list(p.glob("events.*"))]
    events = EventAccumulator(str(run), size_guidance={"images": 0})
    events.Reload()
    assert set(events.Tags()["images"]) == {
        "pictures/learning_curves",
        "pictures/weights",
        "pictures/confusion",
        "pictures/mistakes",
    }


def test_a_run_with_distorted_training_images_shows_a_sample_of_them(tiny_data, tmp_path):
    config = tiny_config(tiny_data, tmp_path, "model=linear", "trainer.max_epochs=1")
    config.data.augment.rotation = 20.0
    config.callbacks["pictures"] = {
        "_target_": "src.callbacks.pictures.Pictures",
        "folder": str(tmp_path / "pictures"),
    }
    train(config)
    with Image.open(tmp_path / "pictures" / "augmented.png") as image:
        assert image.width > 8 * TILE
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir() and list(p.glob("events.*"))]
    events = EventAccumulator(str(run), size_guidance={"images": 0})
    events.Reload()
    assert "pictures/augmented" in events.Tags()["images"]


def test_the_sample_of_distortions_shows_each_digit_then_its_draws(tiny_data):
    dm = MNISTDataModule(
        typed(
            compose_train(
                f"data.data_dir={tiny_data}",
                "data.val_size=20",
                "data/augment=affine",
                "output_dir=.",
            )
        ).data
    )
    dm.setup("fit")
    picture = augmented_figure(dm.train, seed=0, digits=2, draws=3)
    labels = [str(int(y)) for y in dm.train.y[:2]]
    assert picture.labels == [labels[0], *["distorted"] * 3, labels[1], *["distorted"] * 3]


def test_an_mlp_marks_its_dead_units_and_says_each_tile_has_its_own_scale(recipe):
    network = Classifier(replace(recipe, hidden=[8, 4])).net
    dead = torch.tensor([False, True, False, False, True, True, False, False])
    picture = weight_images(network, dead)
    assert picture.labels[:3] == ["unit 0", "unit 1 dead", "unit 2"]
    assert [label.endswith(" dead") for label in picture.labels] == dead.tolist()
    assert "own scale" in picture.caption
    assert "3 of 8 units are dead (0 on every training image)" in picture.caption
    # A dead unit's tile is drawn pale: no pixel of it far from white.
    top = TITLE + CAPTION + LABEL
    left = (picture.pixels.shape[1] - 9 * (TILE + GAP) + GAP) // 2  # rows of 9 tiles
    alive, pale = (
        picture.pixels[top : top + TILE, x : x + TILE] for x in (left, left + TILE + GAP)
    )
    assert pale.min() > 150 and alive.min() < 100


def test_the_linear_templates_say_each_has_its_own_scale(recipe):
    picture = weight_images(Classifier(replace(recipe, hidden=[])).net)
    assert "own scale" in picture.caption and "dead" not in picture.caption


def test_the_learning_curves_say_what_each_curve_measures():
    history = [
        {"epoch": 1, "step": 10, "train_running_loss": 1.2, "train_running_acc": 0.6},
        {"epoch": 2, "step": 20, "train_running_loss": 0.8, "train_running_acc": 0.7},
    ]
    history[1] |= {"val_loss": 0.7, "val_acc": 0.75}  # validated after the second epoch only
    picture = curves_figure(history, ["dropout 0.2", "distorted images"])
    assert picture.labels == ["training batches (running mean)", "validation (after the epoch)"]
    assert "mean over each epoch's batches" in picture.caption
    assert "with dropout 0.2 and distorted images" in picture.caption
    assert "measured after it, without them" in picture.caption
    assert "training loss can sit above the validation loss early on" in picture.caption
    assert picture.pixels.ndim == 3 and picture.pixels.shape[2] == 3
    plain = curves_figure(history, [])
    assert "with" not in plain.caption.split(".")[0] and "without them" not in plain.caption
