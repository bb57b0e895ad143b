"""The DataModule: MNIST (or Fashion-MNIST) read through torchvision once, kept as uint8
pixels in memory, split into training, validation and test images."""

from dataclasses import asdict
from pathlib import Path

import lightning as L
import torch
from torch import Tensor
from torchvision import datasets

from src.config.schema import TRAIN_IMAGES, DataConfig, Dataset, plain
from src.data.batches import TensorBatches
from src.data.labels import balanced_subset, corrupt_labels
from src.data.pixels import PixelScale, pixel_scale
from src.run.failures import ProjectError

SOURCES = {Dataset.mnist: datasets.MNIST, Dataset.fashion_mnist: datasets.FashionMNIST}
RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


class DataError(ProjectError):
    """A data problem the user can fix; its message is one line."""


def raw_dir(config: DataConfig) -> Path:
    """Where torchvision keeps the dataset's files: <data_dir>/<MNIST|FashionMNIST>/raw."""
    return Path(config.data_dir) / SOURCES[config.dataset].__name__ / "raw"


def missing_files(config: DataConfig) -> str | None:
    """What is missing from the data folder, or None when every raw file is there."""
    if all((raw_dir(config) / name).is_file() for name in RAW_FILES):
        return None
    return f"dataset not found: put {', '.join(RAW_FILES)} in {raw_dir(config)}"


def require_files(config: DataConfig) -> None:
    """Refuses a dataset that is missing when it may not be downloaded."""
    if not config.download and (missing := missing_files(config)):
        raise DataError(f"{missing} (or set data.download=true)")


def training_images(config: DataConfig) -> int:
    """How many images the training split holds: data.train_size, or all the labels file
    holds (its IDX header says) less data.val_size."""
    if config.train_size is not None:
        return config.train_size
    labels = raw_dir(config) / RAW_FILES[1]
    total = int.from_bytes(labels.read_bytes()[4:8], "big") if labels.is_file() else TRAIN_IMAGES
    return total - config.val_size


class MNISTDataModule(L.LightningDataModule):
    """MNIST (or Fashion-MNIST) decoded once into uint8 tensors of flattened images.

    The validation split is carved from the 60,000 training images with a fixed seed, and
    only the training split's labels are ever corrupted; the official 10,000 test images
    are only used by `test`, which also measures the training split as trained on. Every
    split is served mapped by one pixel scale: `scale` where given (a trained model's),
    else data.input_scale's for the training split, which checkpoints then keep.
    """

    def __init__(self, config: DataConfig, seed: int = 0, scale: PixelScale | None = None) -> None:
        super().__init__()
        self.config, self.seed, self.scale = config, seed, scale
        # Kept in checkpoints, not logged: the trackers get only what a run changed.
        self.save_hyperparameters({**plain(config), "seed": seed}, logger=False)
        self.source = SOURCES[config.dataset]
        self.train: TensorBatches | None = None
        self.val: TensorBatches | None = None
        self.test: TensorBatches | None = None
        self.train_set: TensorBatches | None = None  # the training split in order, for `test`

    @property
    def raw_dir(self) -> Path:
        return raw_dir(self.config)

    def _load(self, train: bool) -> tuple[Tensor, Tensor]:
        try:
            ds = self.source(self.config.data_dir, train=train, download=False)
        except RuntimeError as e:
            if "not found" in str(e):
                raise DataError(missing_files(self.config)) from None
            raise DataError(f"cannot read {self.raw_dir}: {e}") from None
        except (AssertionError, ValueError, EOFError, OSError) as e:
            detail = str(e) or type(e).__name__
            raise DataError(
                f"corrupt data in {self.raw_dir} ({detail}): delete the folder and run again"
            ) from None
        return ds.data, ds.targets

    def prepare_data(self) -> None:
        require_files(self.config)
        missing = missing_files(self.config)
        if missing is None:
            return
        for train in (True, False):
            try:
                # torchvision extracts the .gz files it finds, or downloads them.
                self.source(self.config.data_dir, train=train, download=True)
            except RuntimeError as e:
                tried = " ".join(str(e).split())  # torchvision's message spans lines: one line
                raise DataError(
                    f"{missing}; download failed ({tried}); "
                    "a .gz there that fails its checksum is corrupt: delete it"
                ) from None
            except OSError as e:
                raise DataError(f"{missing}; {e}") from None

    def setup(self, stage: str) -> None:
        device = torch.device("cpu")
        rank, world_size = 0, 1
        if self.trainer is not None:
            rank, world_size = self.trainer.global_rank, self.trainer.world_size
            if self.config.on_device:
                device = self.trainer.strategy.root_device
        shard = dict(rank=rank, world_size=world_size)
        train, evaluate = self.config.batch_size, self.config.eval_batch_size

        if self.train is None:  # every stage: the scale comes from the training split
            images, labels = self._load(train=True)
            train_idx, val_idx = self.split(labels)
            pixels, clean = images[train_idx].flatten(1).to(device), labels[train_idx]
            if self.scale is None:
                self.scale = pixel_scale(self.config.input_scale, pixels)
            self.hparams["pixel_scale"] = asdict(self.scale)  # what src.predict maps images by
            # Each disjoint training subset has wrong labels of its own.
            noise_seed = self.config.split_seed + 1 + self.config.train_subset
            generator = torch.Generator().manual_seed(noise_seed)
            y, corrupted = corrupt_labels(clean, self.config.label_noise, generator)
            y, corrupted = y.to(device), corrupted.to(device)
            wrong = corrupted if self.config.label_noise > 0 else None
            self.train = TensorBatches(
                pixels,
                y,
                train,
                shuffle=True,
                seed=self.seed,
                corrupted=wrong,
                augment=self.config.augment,
                scale=self.scale,
                **shard,
            )
            self.train_set = TensorBatches(
                pixels, y, evaluate, corrupted=wrong, scale=self.scale, **shard
            )
            val_pixels = images[val_idx].flatten(1).to(device)
            val_y = labels[val_idx].to(device)
            self.val = TensorBatches(val_pixels, val_y, evaluate, scale=self.scale, **shard)
        if stage in ("test", "predict") and self.test is None:
            images, labels = self._load(train=False)
            test_pixels, test_y = images.flatten(1).to(device), labels.to(device)
            self.test = TensorBatches(test_pixels, test_y, evaluate, scale=self.scale, **shard)

    def split(self, labels: Tensor) -> tuple[Tensor, Tensor]:
        """Seeded train/val indices, then the optional class-balanced training subset: the
        data.train_subset-th of data.train_subsets disjoint ones."""
        config = self.config
        generator = torch.Generator().manual_seed(config.split_seed)
        order = torch.randperm(len(labels), generator=generator)
        val_idx = order[: config.val_size].sort().values
        train_idx = order[config.val_size :].sort().values
        if config.train_size is not None:
            if config.train_size * config.train_subsets > len(train_idx):
                asked = f"data.train_size={config.train_size}"
                if config.train_subsets > 1:
                    asked += f" x data.train_subsets={config.train_subsets}"
                raise DataError(
                    f"{asked} is more than the {len(train_idx)} training images "
                    f"{self.raw_dir} holds after data.val_size={config.val_size}"
                )
            part, parts = config.train_subset, config.train_subsets
            subset = balanced_subset(labels[train_idx], config.train_size, generator, part, parts)
            train_idx = train_idx[subset]
        return train_idx, val_idx

    def train_dataloader(self) -> TensorBatches:
        if self.trainer is not None and self.trainer.overfit_batches:
            # Lightning overfits on the same first batches every epoch, unshuffled.
            shard = dict(rank=self.train.rank, world_size=self.train.world_size)
            return TensorBatches(
                self.train.pixels, self.train.y, self.config.batch_size, scale=self.scale, **shard
            )
        return self.train

    def val_dataloader(self) -> TensorBatches:
        return self.val

    def test_dataloader(self) -> list[TensorBatches]:
        """The official test set, then the training split with the labels it was trained on,
        then the validation split: all three measured with the same (tested) weights."""
        return [self.test, self.train_set, self.val]

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.train.epoch} if self.train is not None else {}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        # Lightning restores after `setup`, so the training batches already exist.
        if self.train is not None and "epoch" in state_dict:
            self.train.epoch = state_dict["epoch"]
