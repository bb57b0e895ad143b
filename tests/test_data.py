import pytest
import torch

from src.data import DataError, MNISTDataModule, TensorBatches, normalise


def setup_module_data(data_dir, stage="fit", **kwargs) -> MNISTDataModule:
    dm = MNISTDataModule(data_dir=str(data_dir), download=False, **{"val_size": 20, **kwargs})
    dm.setup(stage)
    return dm


def test_normalise_maps_pixels_to_minus_one_one():
    images = torch.tensor([[[0, 255], [51, 204]]], dtype=torch.uint8)
    x = normalise(images)
    assert x.shape == (1, 4)
    assert x.dtype == torch.float32
    assert x[0, 0].item() == -1.0 and x[0, 1].item() == 1.0
    assert x[0, 2:].tolist() == pytest.approx([2 * 51 / 255 - 1, 2 * 204 / 255 - 1])


def test_data_is_stored_as_uint8_and_served_normalised(tiny_data):
    dm = setup_module_data(tiny_data)
    assert dm.train.x.dtype == torch.uint8 and dm.train.x.shape == (100, 784)
    served = torch.cat([x for x, _ in dm.val_dataloader()])
    assert served.dtype == torch.float32
    assert torch.equal(served, normalise(dm.val.x))
    everything = torch.cat([served, *(x for x, _ in dm.train_dataloader())])
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
    again = MNISTDataModule(data_dir=str(tiny_data), val_size=20).split(torch.arange(120) % 10)
    assert torch.equal(again[1], val_idx)
    assert len(dm.train.x) == 100 and len(dm.val.x) == 20


def test_test_split_is_the_official_test_set(tiny_data):
    dm = setup_module_data(tiny_data, stage="test")
    assert len(dm.test.x) == 30
    assert dm.train is None


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


def test_train_size_larger_than_split_is_refused(tiny_data):
    with pytest.raises(DataError, match="data.train_size=101 must be between 1 and 100"):
        setup_module_data(tiny_data, train_size=101)


def test_missing_files_name_the_folder_and_files(tmp_path):
    dm = MNISTDataModule(data_dir=str(tmp_path), download=False)
    with pytest.raises(DataError) as err:
        dm.prepare_data()
    message = str(err.value)
    assert "\n" not in message
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "train-images-idx3-ubyte" in message and "t10k-labels-idx1-ubyte" in message
