"""data.augment: seeded random distortions of the training images only, on the batch's device."""

import pytest
import torch
import torch.nn.functional as F

from src.config.hydra import compose_train
from src.config.schema import AugmentConfig, ConfigError, typed
from src.data.augment import affine_grid, distort
from src.data.datamodule import MNISTDataModule, TensorBatches
from src.data.pixels import normalise

pytestmark = pytest.mark.smoke  # make smoke: the edit loop's check

AFFINE = AugmentConfig(rotation=12.0, scale=0.1, shift=2.5, elastic=0.0, elastic_spacing=4.0)
DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


def augmented_module(data_dir, seed: int = 0, preset: str = "affine") -> MNISTDataModule:
    cfg = compose_train(
        f"data.data_dir={data_dir}",
        "data.val_size=20",
        "data.download=false",
        "data.batch_size=16",
        f"data/augment={preset}",
        "output_dir=.",
    )
    dm = MNISTDataModule(typed(cfg).data, seed=seed)
    dm.setup("test")
    return dm


def epoch(batches: TensorBatches) -> list[tuple[torch.Tensor, ...]]:
    return [tuple(t.clone() for t in batch) for batch in batches]


def square(n: int = 4) -> torch.Tensor:
    """n flattened 28x28 images in [-1, 1]: background -1, a bright square in the middle."""
    images = torch.zeros(n, 28, 28, dtype=torch.uint8)
    images[:, 10:18, 10:18] = 255
    return normalise(images)


def test_the_presets_are_typed_and_none_is_the_default(tiny_data):
    assert not typed(compose_train("output_dir=.")).data.augment.any
    affine = typed(compose_train("data/augment=affine", "output_dir=.")).data.augment
    assert affine == AFFINE
    elastic = typed(compose_train("data/augment=elastic", "output_dir=.")).data.augment
    assert elastic.rotation == AFFINE.rotation and elastic.elastic > 0


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.augment.rotation=-5", "data.augment.rotation=-5.0 must be >= 0"),
        ("data.augment.scale=1.5", "data.augment.scale=1.5 must be < 1"),
        ("data.augment.elastic_spacing=0", "data.augment.elastic_spacing=0.0 must be > 0"),
    ],
)
def test_impossible_distortions_are_refused_in_one_line(override, message):
    with pytest.raises(ConfigError, match=message):
        typed(compose_train(override, "output_dir=."))


def test_no_distortion_leaves_the_image_as_it_was():
    none = AugmentConfig(rotation=0.0, scale=0.0, shift=0.0, elastic=0.0, elastic_spacing=4.0)
    x = square()
    assert torch.allclose(distort(x, none, torch.Generator().manual_seed(0)), x, atol=1e-6)


def test_the_elementwise_affine_grid_equals_torchs():
    g = torch.Generator().manual_seed(0)
    angle, zoom, shift = (
        torch.rand(64, generator=g),
        1 + torch.rand(64, generator=g) / 10,
        torch.rand(64, 2, generator=g),
    )
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    expected = F.affine_grid(theta, [64, 1, 28, 28], align_corners=False)
    assert torch.allclose(affine_grid(angle, zoom, shift), expected, atol=1e-6)


def test_a_shift_moves_the_ink_by_at_most_its_pixels_and_keeps_the_background():
    shift = AugmentConfig(rotation=0.0, scale=0.0, shift=2.0, elastic=0.0, elastic_spacing=4.0)
    x = square(64)
    moved = distort(x, shift, torch.Generator().manual_seed(0)).view(-1, 28, 28)
    ink = (moved + 1) / 2
    rows, cols = torch.arange(28.0).view(1, 28, 1), torch.arange(28.0).view(1, 1, 28)
    centre_row = (ink * rows).sum((1, 2)) / ink.sum((1, 2))
    centre_col = (ink * cols).sum((1, 2)) / ink.sum((1, 2))
    offsets = torch.stack([centre_row - 13.5, centre_col - 13.5], 1)
    assert offsets.abs().max() <= 2.0 + 1e-4
    assert offsets.abs().max() > 1.0  # 64 draws: some move far
    assert ink.sum((1, 2)).sub(64).abs().max() < 1e-3  # a shift keeps all the ink
    assert (moved[:, 0, :] == -1).all() and (moved[:, :, 0] == -1).all()


def test_distortions_are_seeded_per_run_and_epoch(tiny_data):
    first, again = (
        epoch(augmented_module(tiny_data).train),
        epoch(augmented_module(tiny_data).train),
    )
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first, again, strict=True))
    other_seed = epoch(augmented_module(tiny_data, seed=1).train)
    assert not torch.equal(torch.cat([b[0] for b in first]), torch.cat([b[0] for b in other_seed]))
    dm = augmented_module(tiny_data)
    one, two = epoch(dm.train), epoch(dm.train)
    # The second epoch redraws: the same images, in another order, distorted anew.
    assert not torch.equal(torch.cat([b[0] for b in one]), torch.cat([b[0] for b in two]))


def test_only_training_batches_are_distorted_and_labels_are_kept(tiny_data):
    dm = augmented_module(tiny_data)
    plain = TensorBatches(dm.train.pixels, dm.train.y, 16, shuffle=True, seed=0)
    for (x, y), (clean, clean_y) in zip(epoch(dm.train), epoch(plain), strict=True):
        assert torch.equal(y, clean_y)  # the same images in the same order, labels untouched
        assert not torch.allclose(x, clean)
        assert x.min() >= -1 and x.max() <= 1
    evaluated = {"val": dm.val, "test": dm.test, "train_set": dm.train_set}
    for name, batches in evaluated.items():
        served = torch.cat([b[0] for b in batches])
        assert torch.equal(served, normalise(batches.pixels)), name


@pytest.mark.parametrize("preset", ["affine", "elastic"])
@pytest.mark.parametrize("device", DEVICES)
def test_distortions_run_on_the_device_of_the_batch(preset, device):
    config = typed(compose_train(f"data/augment={preset}", "output_dir=.")).data.augment
    x = square(8).to(device)
    generator = torch.Generator(device).manual_seed(0)
    moved = distort(x, config, generator)
    assert moved.device == x.device and moved.shape == x.shape
    assert not torch.allclose(moved, x)
