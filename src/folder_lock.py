"""One writer per folder: a run, a sweep and each sweep job hold an exclusive lock on their
folder's `.lock` while they write there. The OS releases it when its holder ends, however it
ends (kill -9 included), so a killed sweep or a requeued Slurm task can take its folder back.
Under DDP the run's rank 0 holds it for all its ranks (Lightning starts them with the same
command, or Slurm does), which is why `hold` reads the rank Lightning reads from the
environment.
"""

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lightning.pytorch.utilities import rank_zero_only

LOCK = ".lock"
held: dict[Path, int] = {}  # this process's locks by folder: closing a descriptor releases it


class FolderInUse(RuntimeError):
    """Another process writes in the folder; the message is one line naming it and its holder."""


def hold(folder: Path, setting: str) -> None:
    """Lock `folder` for the rest of this process, or raise FolderInUse naming the holder and
    `setting`, the key that chooses another folder."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    if folder in held or rank_zero_only.rank != 0:
        return
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise FolderInUse(
            f"{folder} is in use by {holder}: wait for it to end, or choose another {setting}"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"host {socket.gethostname()}, pid {os.getpid()}\n".encode())
    held[folder] = fd


def release(folder: Path) -> None:
    fd = held.pop(folder.resolve(), None)
    if fd is not None:
        os.close(fd)


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
