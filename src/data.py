"""MNIST-style data held as uint8 tensors and served as shuffled, normalised slices."""

from collections.abc import Iterator
from pathlib import Path

import lightning as L
import torch
from torch import Tensor
from torchvision import datasets

DATASETS = {"mnist": datasets.MNIST, "fashion_mnist": datasets.FashionMNIST}
RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
TRAIN_IMAGES = 60_000


class DataError(RuntimeError):
    """A data problem the user can fix; its message is one line."""


def normalise(images: Tensor) -> Tensor:
    """uint8 images [N, 28, 28] or [N, 784] -> float32 [N, 784] in [-1, 1], as 2*x/255 - 1."""
    if images.dtype != torch.uint8:  # .float() of a float tensor is itself: mul_ would change it
        raise TypeError(f"normalise takes uint8 pixels, not {images.dtype}")
    return images.flatten(1).float().mul_(2 / 255).sub_(1)


class TensorBatches:
    """Normalised batches sliced from in-memory uint8 images; a fresh seeded order each epoch.

    Images stay uint8 [N, 784], a quarter of the memory of float32; gathering a
    uint8 batch with index_select and normalising it is as fast as slicing a
    float32 copy (mlp3 epoch times unchanged).

    The permutation depends only on (seed, epoch), so a run resumed at an epoch
    boundary sees exactly the batches an uninterrupted run would. Under DDP each
    rank takes a disjoint strided shard, padded like DistributedSampler when
    training so every rank runs the same number of steps.
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.x, self.y = x, y
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def indices(self) -> Tensor:
        n = len(self.x)
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(n, generator=generator)
            padded = -(-n // self.world_size) * self.world_size
            order = torch.cat([order, order[: padded - n]])
        else:
            order = torch.arange(n)
        return order[self.rank :: self.world_size].to(self.x.device)

    def __len__(self) -> int:
        shard = len(self.x) // self.world_size
        if self.shuffle:
            shard = -(-len(self.x) // self.world_size)
        elif self.rank < len(self.x) % self.world_size:
            shard += 1
        return -(-shard // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        order = self.indices()
        if self.shuffle:
            self.epoch += 1
        for batch in order.split(self.batch_size):
            yield normalise(self.x.index_select(0, batch)), self.y.index_select(0, batch)


def balanced_subset(labels: Tensor, size: int, generator: torch.Generator) -> Tensor:
    """Indices of `size` examples with the classes as equal as the data allows."""
    order = torch.randperm(len(labels), generator=generator)
    shuffled = labels[order]
    # Rank each example within its class; taking the lowest ranks first balances classes.
    rank_in_class = torch.empty_like(order)
    for c in shuffled.unique():
        members = (shuffled == c).nonzero().squeeze(1)
        rank_in_class[members] = torch.arange(len(members))
    by_rank = torch.argsort(rank_in_class * len(labels) + torch.arange(len(labels)))
    return order[by_rank[:size]].sort().values


class MNISTDataModule(L.LightningDataModule):
    """MNIST (or Fashion-MNIST) decoded once into uint8 tensors, normalised per batch.

    The validation split is carved from the 60,000 training images with a fixed
    seed; the official 10,000 test images are only used by `test`.
    """

    def __init__(
        self,
        data_dir: str = "data",
        dataset: str = "mnist",
        batch_size: int = 512,
        val_size: int = 5_000,
        train_size: int | None = None,
        split_seed: int = 12345,
        seed: int = 0,
        download: bool = True,
        on_device: bool = True,
    ) -> None:
        super().__init__()
        if dataset not in DATASETS:
            raise DataError(f"unknown dataset {dataset!r}: choose one of {sorted(DATASETS)}")
        self.save_hyperparameters()
        self.dataset_cls = DATASETS[dataset]
        self.train: TensorBatches | None = None
        self.val: TensorBatches | None = None
        self.test: TensorBatches | None = None

    @property
    def raw_dir(self) -> Path:
        return Path(self.hparams.data_dir) / self.dataset_cls.__name__ / "raw"

    def _load(self, train: bool) -> tuple[Tensor, Tensor]:
        try:
            ds = self.dataset_cls(self.hparams.data_dir, train=train, download=False)
        except RuntimeError as e:
            if "not found" in str(e):
                raise DataError(self._missing_message()) from None
            raise DataError(f"cannot read {self.raw_dir}: {e}") from None
        except (AssertionError, ValueError, EOFError, OSError) as e:
            detail = str(e) or type(e).__name__
            raise DataError(
                f"corrupt data in {self.raw_dir} ({detail}): delete the folder and run again"
            ) from None
        return ds.data, ds.targets

    def _missing_message(self) -> str:
        return f"dataset not found: put {', '.join(RAW_FILES)} in {self.raw_dir}"

    def prepare_data(self) -> None:
        if all((self.raw_dir / name).is_file() for name in RAW_FILES):
            return
        if not self.hparams.download:
            raise DataError(f"{self._missing_message()} (or set data.download=true)")
        for train in (True, False):
            try:
                # torchvision extracts the .gz files it finds, or downloads them.
                self.dataset_cls(self.hparams.data_dir, train=train, download=True)
            except RuntimeError as e:
                raise DataError(
                    f"{self._missing_message()}; download failed ({e}); "
                    "a .gz there that fails its checksum is corrupt: delete it"
                ) from None
            except OSError as e:
                raise DataError(f"{self._missing_message()}; {e}") from None

    def setup(self, stage: str) -> None:
        device = torch.device("cpu")
        rank, world_size = 0, 1
        if self.trainer is not None:
            rank, world_size = self.trainer.global_rank, self.trainer.world_size
            if self.hparams.on_device:
                device = self.trainer.strategy.root_device
        batches = dict(batch_size=self.hparams.batch_size, rank=rank, world_size=world_size)

        if stage in ("fit", "validate") and self.train is None:
            images, labels = self._load(train=True)
            train_idx, val_idx = self.split(labels)
            self.train = TensorBatches(
                images[train_idx].flatten(1).to(device),
                labels[train_idx].to(device),
                shuffle=True,
                seed=self.hparams.seed,
                **batches,
            )
            self.val = TensorBatches(
                images[val_idx].flatten(1).to(device), labels[val_idx].to(device), **batches
            )
        if stage in ("test", "predict") and self.test is None:
            images, labels = self._load(train=False)
            self.test = TensorBatches(images.flatten(1).to(device), labels.to(device), **batches)

    def split(self, labels: Tensor) -> tuple[Tensor, Tensor]:
        """Seeded train/val indices, then the optional class-balanced train subset."""
        n, val_size, train_size = len(labels), self.hparams.val_size, self.hparams.train_size
        if not 0 < val_size < n:
            raise DataError(f"data.val_size={val_size} must be between 1 and {n - 1}")
        generator = torch.Generator().manual_seed(self.hparams.split_seed)
        order = torch.randperm(n, generator=generator)
        val_idx, train_idx = order[:val_size].sort().values, order[val_size:].sort().values
        if train_size is not None:
            if not 0 < train_size <= len(train_idx):
                raise DataError(
                    f"data.train_size={train_size} must be between 1 and {len(train_idx)} "
                    f"(the training split left after data.val_size={val_size})"
                )
            train_idx = train_idx[balanced_subset(labels[train_idx], train_size, generator)]
        return train_idx, val_idx

    def train_dataloader(self) -> TensorBatches:
        return self.train

    def val_dataloader(self) -> TensorBatches:
        return self.val

    def test_dataloader(self) -> TensorBatches:
        return self.test

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.train.epoch} if self.train is not None else {}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        # Lightning restores after `setup`, so the training batches already exist.
        if self.train is not None and "epoch" in state_dict:
            self.train.epoch = state_dict["epoch"]
