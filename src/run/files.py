"""Files and folders that survive a kill: files written whole or not at all (a kill during a
write leaves the old file, never half of a new one: checkpoints through Lightning's
CheckpointIO, and metrics.json), and one writer per folder.

A run, a sweep and each sweep job hold an exclusive lock on their folder's `.lock` while they
write there (filelock: flock on Unix, its Windows lock elsewhere). The OS releases it when its
holder ends, however it ends (kill -9 included), so a killed sweep or a requeued Slurm task
can take its folder back. Under DDP the run's rank 0 holds it for all its ranks (Lightning
starts them with the same command, or Slurm does), which is why `hold` reads the rank
Lightning reads from the environment.
"""

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import torch
from filelock import FileLock, Timeout
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.utilities import rank_zero_only

from src.run.failures import ProjectError

LOCK = ".lock"
held: dict[Path, FileLock] = {}  # this process's locks by folder


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


class FolderInUse(ProjectError):
    """Another process writes in the folder; the message names it and its holder."""


def hold(folder: Path, setting: str) -> None:
    """Make `folder` and lock it for the rest of this process, or raise FolderInUse naming the
    holder and `setting`, the key that chooses another folder."""
    folder = folder.resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ProjectError(
            f"cannot create the folder {folder} ({e.strerror}): "
            f"choose a writable one with {setting}=..."
        ) from None
    if folder in held or rank_zero_only.rank != 0:
        return
    lock = FileLock(folder / LOCK, blocking=False)
    try:
        lock.acquire()
    except Timeout:
        holder = (folder / LOCK).read_text(errors="replace").strip() or "another process"
        raise FolderInUse(
            f"{folder} is in use by {holder}: wait for it to end, or choose another {setting}"
        ) from None
    # filelock leaves the file's content to its holder: who holds it, for the refusal above.
    (folder / LOCK).write_text(f"host {socket.gethostname()}, pid {os.getpid()}\n")
    held[folder] = lock


def release(folder: Path) -> None:
    lock = held.pop(folder.resolve(), None)
    if lock is not None:
        lock.release()


@contextmanager
def holding(folder: Path, setting: str) -> Iterator[None]:
    """The lock of `folder` while the block runs: a sweep's worker process runs many jobs."""
    mine = folder.resolve() not in held and rank_zero_only.rank == 0
    hold(folder, setting)
    try:
        yield
    finally:
        if mine:
            release(folder)
