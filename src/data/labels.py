"""Which training images a run gets, and which of their labels are wrong: seeded subsets
balanced over the classes, and label noise that always moves a label to another class."""

import torch
from torch import Tensor

from src.config.schema import CLASSES


def balanced_subset(
    labels: Tensor, size: int, generator: torch.Generator, part: int = 0, parts: int = 1
) -> Tensor:
    """Indices of `size` examples with the classes as equal as the data allows: the `part`-th
    of `parts` such subsets, which share no example (part 0 of 1 is the one there is)."""
    order = torch.randperm(len(labels), generator=generator)
    shuffled = labels[order]
    # Rank each example within its class; taking the lowest ranks first balances classes.
    rank_in_class = torch.empty_like(order)
    for c in shuffled.unique():
        members = (shuffled == c).nonzero().squeeze(1)
        rank_in_class[members] = torch.arange(len(members))
    by_rank = torch.argsort(rank_in_class * len(labels) + torch.arange(len(labels)))
    return order[by_rank[part * size : (part + 1) * size]].sort().values


def corrupt_labels(
    labels: Tensor, fraction: float, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """(labels with round(fraction * N) of them changed to another class, which ones changed).

    Each chosen label moves by 1 to 9 classes (mod 10), so the wrong class is uniform over
    the other nine and never the true one.
    """
    n = len(labels)
    chosen = torch.randperm(n, generator=generator)[: round(fraction * n)]
    shifts = torch.randint(1, CLASSES, (len(chosen),), generator=generator)
    noisy, corrupted = labels.clone(), torch.zeros(n, dtype=torch.bool)
    noisy[chosen] = (labels[chosen] + shifts) % CLASSES
    corrupted[chosen] = True
    return noisy, corrupted
