"""Batches served from in-memory uint8 pixels: a fresh seeded order each epoch, each batch
normalised (and distorted, with data.augment) as it is served."""

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from src.config.schema import AugmentConfig
from src.data.augment import distort
from src.data.pixels import SYMMETRIC, PixelScale, normalise


def epoch_generator(*keys: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator seeded by all of `keys` at once (NumPy's SeedSequence hashes them), so
    (seed, epoch) and (seed + 1, epoch - 1) draw unrelated streams."""
    state = np.random.SeedSequence(list(keys)).generate_state(1)
    return torch.Generator(device).manual_seed(int(state[0]))


class TensorBatches:
    """Batches of in-memory uint8 `pixels` [N, 784], mapped by `scale` as they are served; a
    fresh seeded order each epoch. Pixels kept as bytes take a quarter of the memory of floats,
    for two more passes over each batch. Given `corrupted` (which labels are wrong),
    batches carry its slice too; given `augment`, shuffled batches are distorted where they
    are (src/data/augment.py), each image by its own draw, seeded by (seed, epoch, rank).

    The permutation is drawn from (seed, epoch) jointly (`epoch_generator`), so no two
    seeds share an epoch's order, and a run resumed at an epoch boundary sees exactly the
    batches an uninterrupted run would. Under DDP each
    rank takes a disjoint strided shard, padded like DistributedSampler when
    training so every rank runs the same number of steps.
    """

    def __init__(
        self,
        pixels: Tensor,
        y: Tensor,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        corrupted: Tensor | None = None,
        augment: AugmentConfig | None = None,
        scale: PixelScale = SYMMETRIC,
    ) -> None:
        self.pixels, self.y, self.corrupted, self.scale = pixels, y, corrupted, scale
        self.augment = augment if augment is not None and augment.any else None
        self.draws: torch.Generator | None = None  # this epoch's distortions
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self.gathered: Tensor | None = None  # uint8 rows of a batch, for gather
        self.buffers: list[Tensor] | None = None  # its normalised images, three in turn

    def indices(self) -> Tensor:
        n = len(self.pixels)
        if self.shuffle:
            order = torch.randperm(n, generator=epoch_generator(self.seed, self.epoch))
            padded = -(-n // self.world_size) * self.world_size
            order = torch.cat([order, order[: padded - n]])
        else:
            order = torch.arange(n)
        return order[self.rank :: self.world_size].to(self.pixels.device)

    def __len__(self) -> int:
        shard = len(self.pixels) // self.world_size
        if self.shuffle:
            shard = -(-len(self.pixels) // self.world_size)
        elif self.rank < len(self.pixels) % self.world_size:
            shard += 1
        return -(-shard // self.batch_size)

    def epoch_batches(self) -> tuple[Tensor, ...]:
        """This epoch's batches as index tensors; the next call gives the next epoch's."""
        order = self.indices()
        if self.augment is not None:
            device = self.pixels.device
            self.draws = epoch_generator(self.seed, self.epoch, self.rank, device=device)
        if self.shuffle:
            self.epoch += 1
        return order.split(self.batch_size)

    def gather(self, batch: Tensor) -> tuple[Tensor, ...]:
        """The images and labels (and which labels are wrong) at the indices `batch`.

        The images are normalised into three buffers in turn (a fresh allocation per batch
        costs page faults), so each stays valid while Lightning trains on it and prefetches
        the next.
        """
        if self.buffers is None:
            shape = (self.batch_size, self.pixels.shape[1])
            self.gathered = self.pixels.new_empty(shape)
            self.buffers = [torch.empty(shape, device=self.pixels.device) for _ in "abc"]
        self.buffers.append(self.buffers.pop(0))
        pixels = torch.index_select(self.pixels, 0, batch, out=self.gathered[: len(batch)])
        x = normalise(pixels, self.scale, out=self.buffers[-1][: len(batch)])
        if self.augment is not None:
            x = distort(x, self.augment, self.draws, self.scale.background)
        y = self.y.index_select(0, batch)
        return (x, y) if self.corrupted is None else (x, y, self.corrupted[batch])

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        if self.shuffle:
            for batch in self.epoch_batches():
                yield self.gather(batch)
            return
        # In order: the rank's rows are a strided view, its batches slices of it.
        shard = (self.pixels, self.y, *([] if self.corrupted is None else [self.corrupted]))
        pixels, *labels = [t[self.rank :: self.world_size] for t in shard]
        for start in range(0, len(pixels), self.batch_size):
            rows = slice(start, start + self.batch_size)
            yield normalise(pixels[rows], self.scale), *(t[rows] for t in labels)
