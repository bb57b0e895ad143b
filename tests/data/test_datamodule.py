import pytest
import torch

from src.config.hydra import compose_train
from src.config.schema import ConfigError, typed
from src.data.batches import TensorBatches
from src.data.datamodule import DataError, MNISTDataModule
from src.data.labels import corrupt_labels
from src.data.pixels import normalise

pytestmark = pytest.mark.smoke  # make smoke: the edit loop's check


def data_config(data_dir, **overrides):
    values = {"data_dir": data_dir, "val_size": 20, "download": False, **overrides}
    return typed(compose_train(*(f"data.{k}={v}" for k, v in values.items()), "output_dir=.")).data


def setup_module_data(data_dir, stage="fit", **overrides) -> MNISTDataModule:
    dm = MNISTDataModule(data_config(data_dir, **overrides))
    dm.setup(stage)
    return dm


def test_normalise_maps_pixels_to_minus_one_one():
    images = torch.tensor([[[0, 255], [51, 204]]], dtype=torch.uint8)
    x = normalise(images)
    assert x.shape == (1, 4)
    assert x.dtype == torch.float32
    assert x[0, 0].item() == -1.0 and x[0, 1].item() == 1.0
    assert x[0, 2:].tolist() == pytest.approx([2 * 51 / 255 - 1, 2 * 204 / 255 - 1])


def test_data_is_served_normalised_as_2x_over_255_minus_1(tiny_data):
    dm = setup_module_data(tiny_data)
    assert dm.train.pixels.dtype == torch.uint8 and dm.train.pixels.shape == (100, 784)
    images, _ = dm._load(train=True)
    _, val_idx = dm.split(torch.arange(120) % 10)
    served = torch.cat([x for x, _ in dm.val_dataloader()])
    assert torch.equal(served, normalise(images[val_idx]))
    trained = [x.clone() for x, _ in dm.train]  # shuffled, each normalised into reused memory
    assert all(x.dtype == torch.float32 for x in trained)
    everything = torch.cat([served, *trained])
    assert everything.min() == -1.0 and everything.max() == 1.0


def test_normalise_refuses_floats_it_would_overwrite():
    with pytest.raises(TypeError, match="uint8"):
        normalise(torch.zeros(2, 784))


def test_split_sizes_no_overlap_and_stable(tiny_data):
    dm = setup_module_data(tiny_data)
    train_idx, val_idx = dm.split(torch.arange(120) % 10)
    assert len(val_idx) == 20 and len(train_idx) == 100
    assert set(train_idx.tolist()).isdisjoint(val_idx.tolist())
    assert sorted(train_idx.tolist() + val_idx.tolist()) == list(range(120))
    again = MNISTDataModule(data_config(tiny_data)).split(torch.arange(120) % 10)
    assert torch.equal(again[1], val_idx)
    assert len(dm.train.pixels) == 100 and len(dm.val.pixels) == 20


def test_test_stage_serves_the_official_test_set_the_training_split_then_validation(tiny_data):
    dm = setup_module_data(tiny_data, stage="test")
    test, train_set, val = dm.test_dataloader()
    assert len(test.pixels) == 30
    assert torch.equal(torch.cat([y for _, y in train_set]), dm.train.y)  # in order, as trained
    assert val is dm.val


def test_train_batches_cover_the_epoch_exactly_once():
    x = torch.zeros(103, 784, dtype=torch.uint8)
    batches = TensorBatches(x, torch.arange(103), batch_size=10, shuffle=True, seed=1)
    assert len(batches) == 11
    epochs = []
    for _ in range(2):
        seen = torch.cat([yb for _, yb in batches])
        assert sorted(seen.tolist()) == list(range(103))
        epochs.append(seen)
    assert not torch.equal(epochs[0], epochs[1]), "each epoch should reshuffle"


def test_no_two_seeds_share_an_epoch_order_over_their_first_dozen_epochs():
    """Seeding the order by seed + epoch gave seed 1 at epoch e seed 0's order at e + 1."""
    x = torch.zeros(200, 784, dtype=torch.uint8)
    orders = []
    for seed in (0, 1, 2):
        batches = TensorBatches(x, torch.arange(200), batch_size=50, shuffle=True, seed=seed)
        orders += [tuple(torch.cat(batches.epoch_batches()).tolist()) for _ in range(12)]
    assert len(set(orders)) == len(orders) == 36


def test_an_epochs_order_depends_on_the_seed_and_epoch_alone():
    """What exact resume rests on: epoch e's order is the same however the run got there."""
    x = torch.zeros(64, 784, dtype=torch.uint8)
    walked = TensorBatches(x, torch.arange(64), batch_size=8, shuffle=True, seed=3)
    for _ in range(5):
        walked.epoch_batches()
    jumped = TensorBatches(x, torch.arange(64), batch_size=8, shuffle=True, seed=3)
    jumped.epoch = 5
    assert torch.equal(torch.cat(walked.epoch_batches()), torch.cat(jumped.epoch_batches()))


def test_a_batchs_images_stay_right_while_lightning_trains_on_it_and_prefetches_the_next():
    """They are normalised into reused memory: the batch in training and the one prefetched."""
    pixels = torch.randint(0, 256, (103, 784), dtype=torch.uint8)
    batches = TensorBatches(pixels, torch.arange(103), batch_size=10, shuffle=True)
    held = []
    for x, y in batches:
        held = [*held[-1:], (x, y)]
        assert all(torch.equal(x, normalise(pixels[y])) for x, y in held)


def test_shards_are_disjoint_and_cover_eval_data():
    x = torch.zeros(11, 784, dtype=torch.uint8)
    shards = [TensorBatches(x, torch.arange(11), 4, rank=r, world_size=2) for r in (0, 1)]
    seen = [torch.cat([yb for _, yb in s]).tolist() for s in shards]
    assert sorted(seen[0] + seen[1]) == list(range(11))
    assert [len(s) for s in shards] == [2, 2]


def test_train_subset_is_class_balanced(tiny_data):
    dm = setup_module_data(tiny_data, train_size=50)
    counts = torch.bincount(dm.train.y.long(), minlength=10)
    assert counts.tolist() == [5] * 10


def test_disjoint_training_subsets_are_balanced_and_share_no_image(tiny_data):
    subsets = [
        setup_module_data(tiny_data, train_size=20, train_subsets=3, train_subset=i)
        for i in range(3)
    ]
    rows = [{tuple(p.tolist()) for p in dm.train.pixels} for dm in subsets]
    assert [len(r) for r in rows] == [20, 20, 20]
    assert not (rows[0] & rows[1] or rows[0] & rows[2] or rows[1] & rows[2])
    for dm in subsets:
        assert torch.bincount(dm.train.y.long(), minlength=10).tolist() == [2] * 10
    default = setup_module_data(tiny_data, train_size=20)
    assert torch.equal(default.train.pixels, subsets[0].train.pixels)  # part 0 of 3 is the one


def test_each_training_subset_has_wrong_labels_of_its_own(tiny_data):
    wrong = [
        setup_module_data(
            tiny_data, train_size=20, train_subsets=3, train_subset=i, label_noise=0.5
        )
        .train.corrupted.nonzero()
        .squeeze(1)
        .tolist()
        for i in range(3)
    ]
    assert wrong[0] != wrong[1] and wrong[1] != wrong[2] and wrong[0] != wrong[2]


def test_training_subsets_beyond_the_images_there_are_are_refused(tiny_data):
    with pytest.raises(ConfigError, match="data.train_size=20000 x data.train_subsets=3 is"):
        data_config(tiny_data, train_size=20000, train_subsets=3)
    with pytest.raises(DataError, match="data.train_size=30 x data.train_subsets=4 is more"):
        setup_module_data(tiny_data, train_size=30, train_subsets=4)
    with pytest.raises(ConfigError, match="data.train_subset=3 must be one of the"):
        data_config(tiny_data, train_size=20, train_subsets=3, train_subset=3)
    with pytest.raises(ConfigError, match="set data.train_size"):
        data_config(tiny_data, train_subsets=2)


def test_train_size_larger_than_the_files_hold_is_a_data_error(tiny_data):
    with pytest.raises(DataError, match="data.train_size=101 is more than the 100 training"):
        setup_module_data(tiny_data, train_size=101)


@pytest.mark.parametrize("fraction", [0.0, 0.05, 0.2, 0.5, 1.0])
def test_label_noise_flips_exactly_the_fraction_never_to_the_true_class(fraction):
    labels = torch.arange(4000) % 10
    noisy, corrupted = corrupt_labels(labels, fraction, torch.Generator().manual_seed(0))
    assert int(corrupted.sum()) == round(fraction * 4000)
    assert torch.equal(noisy != labels, corrupted)  # changed exactly where recorded
    assert torch.equal(noisy[~corrupted], labels[~corrupted])


def test_wrong_labels_are_spread_over_the_other_nine_classes():
    labels = torch.zeros(90_000, dtype=torch.long)
    noisy, _ = corrupt_labels(labels, 1.0, torch.Generator().manual_seed(0))
    counts = torch.bincount(noisy, minlength=10)
    assert counts[0] == 0
    assert (counts[1:] - 10_000).abs().max() < 400  # 4 standard deviations of a binomial


def test_label_noise_is_seeded_and_touches_only_the_training_split(tiny_data):
    clean = setup_module_data(tiny_data)
    noisy = setup_module_data(tiny_data, label_noise=0.3)
    again = setup_module_data(tiny_data, label_noise=0.3)
    assert torch.equal(noisy.train.y, again.train.y)
    assert int((noisy.train.y != clean.train.y).sum()) == 30
    assert torch.equal(noisy.train.pixels, clean.train.pixels)
    assert torch.equal(noisy.val.y, clean.val.y)
    noisy.setup("test")
    test, train_set, _ = noisy.test_dataloader()
    clean.setup("test")
    assert torch.equal(test.y, clean.test_dataloader()[0].y)
    marked = torch.cat([c for _, _, c in train_set])
    assert torch.equal(marked, noisy.train.y != clean.train.y)  # which labels are wrong, recorded


def test_missing_files_name_the_folder_and_files(tmp_path):
    dm = MNISTDataModule(data_config(tmp_path))
    with pytest.raises(DataError) as err:
        dm.prepare_data()
    message = str(err.value)
    assert "\n" not in message
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "train-images-idx3-ubyte" in message and "t10k-labels-idx1-ubyte" in message


def test_a_failed_download_is_one_line(tmp_path, monkeypatch):
    dm = MNISTDataModule(data_config(tmp_path, download=True))

    def offline(*args, **kwargs):  # as torchvision says it, over several lines
        raise RuntimeError("Error downloading x.gz:\nTried https://a/, got:\n<urlopen error>\n")

    monkeypatch.setattr(dm, "source", offline)
    with pytest.raises(DataError) as err:
        dm.prepare_data()
    assert "\n" not in str(err.value) and "Tried https://a/, got: <urlopen error>" in str(err.value)


@pytest.mark.parametrize(
    ("scale", "black", "white"),
    [("raw", 0.0, 255.0), ("unit", 0.0, 1.0), ("symmetric", -1.0, 1.0)],
)
def test_each_input_scale_maps_black_and_white_pixels_where_it_says(tiny_data, scale, black, white):
    dm = setup_module_data(tiny_data, input_scale=scale)
    images = torch.tensor([[0, 255]], dtype=torch.uint8)
    x = normalise(images, dm.scale)
    assert x.tolist() == [[black, pytest.approx(white)]]
    assert dm.hparams["pixel_scale"] == {"multiplier": dm.scale.multiplier, "offset": black}


def test_the_standard_scale_centres_the_training_split_on_its_own_mean_and_std(tiny_data):
    dm = setup_module_data(tiny_data, input_scale="standard")
    x = normalise(dm.train.pixels, dm.scale).double()
    assert x.mean().item() == pytest.approx(0, abs=1e-6)
    assert x.std(correction=0).item() == pytest.approx(1, abs=1e-6)
    served = torch.cat([x for x, _ in dm.val_dataloader()])
    assert torch.equal(served, normalise(dm.val.pixels, dm.scale))  # validation: the same map


def test_the_default_scale_serves_what_it_served_before_input_scale_existed(tiny_data):
    dm = setup_module_data(tiny_data)
    expected = dm.train.pixels.float().mul_(2 / 255).sub_(1)
    assert torch.equal(normalise(dm.train.pixels, dm.scale), expected)
