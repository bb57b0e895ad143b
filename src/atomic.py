"""Files written whole or not at all: a kill during a write leaves the old file, never half
of a new one (checkpoints through Lightning's CheckpointIO, and metrics.json)."""

import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO


def replace_whole(path: str | Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Writes `path` by `write` into a temporary file beside it, then renames that over `path`
    (atomic within one filesystem); a failed write removes the temporary file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # one writer per process
    try:
        with temporary.open("wb") as f:
            write(f)
        # No fsync: a killed process's writes survive in the page cache, only a crash loses them.
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_text_whole(path: str | Path, text: str) -> None:
    """`Path(path).write_text(text)`, atomically."""
    replace_whole(path, lambda f: f.write(text.encode()))


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's torch CheckpointIO, each checkpoint written by `replace_whole`."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:  # as TorchCheckpointIO refuses them
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        replace_whole(path, lambda f: torch.save(checkpoint, f))
