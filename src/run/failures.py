"""How a failure reaches the user: the one place that decides it.

A failure with a known cause (a `ProjectError`, or one of the few of Lightning's, torch's and
the OS's that have a known fix) ends in one line, `error: <the problem and the fix>`, exit code
1; a bug shows its traceback. Every entry point runs under `entry_point`; a training job, a
single run or one of a sweep's, runs through `run_job`: interrupted, it prints the command that
resumes it; in a sweep its failure goes into the job's error.txt and the other jobs go on.
No torch here: the report and the claims reach the user through it too.
"""

import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class ProjectError(RuntimeError):
    """A failure with a known cause: its message is one line naming the problem and the fix."""


class Interrupted(ProjectError):
    """A sweep's main process stopped by Ctrl-C or SIGTERM (its jobs stop with it)."""


def first_line(e: BaseException) -> str:
    """An exception's message as one line: its first, or its type's name."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def explain(e: BaseException) -> str | None:
    """One line for a failure with a known cause and fix; None for a bug (show its traceback).
    Torch and Lightning are looked up only where a process has loaded them."""
    if isinstance(e, ProjectError):
        return str(e)
    lightning = sys.modules.get("lightning.fabric.utilities.exceptions")
    if lightning is not None and isinstance(e, lightning.MisconfigurationException):
        return f"lightning: {first_line(e)}"  # a setting Lightning refused once it ran
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(e, torch.OutOfMemoryError):
        return "out of GPU memory: try a smaller data.batch_size, or data.on_device=false"
    if isinstance(e, OSError) and e.strerror:
        return f"cannot write {e.filename or 'a file'}: {e.strerror}"
    return None


def exit_with(message: str) -> NoReturn:
    """Ends the process with `error: <message>` on stderr and exit code 1."""
    logging.shutdown()
    sys.exit(f"error: {message}")


@contextmanager
def entry_point(config_name: str | None = None) -> Iterator[None]:
    """Runs an entry point: a known failure, or Hydra's refusal of the command line for
    conf/<config_name>.yaml, ends in one line, exit 1; a bug shows its traceback. Hydra raises
    rather than prints what fails (HYDRA_FULL_ERROR, its documented switch)."""
    from hydra.errors import ConfigCompositionException, OverrideParseException

    before = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        yield
    except (ConfigCompositionException, OverrideParseException) as e:
        from src.config.command_line import refusal

        exit_with(refusal(e, config_name or ""))
    except Exception as e:
        if (message := explain(e)) is None:
            raise
        exit_with(message)
    finally:
        if before is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = before


@contextmanager
def refusing(what: str, config_name: str | None = None) -> Iterator[None]:
    """For a Hydra callback, which Hydra would only warn about and then run anyway: any failure
    in the block ends the process in one line; an unexpected one says `what` failed."""
    try:
        with entry_point(config_name):
            yield
    except Exception as e:
        exit_with(f"{what} failed ({type(e).__name__}: {first_line(e)})")


def run_job(
    work: Callable[[], T], folder: Path, sweep: bool, resume: Callable[[], str]
) -> T | None:
    """Runs a training job and routes its failure. Ctrl-C or SIGTERM: the line `resume()` says
    (Lightning turns them into SystemExit). A single run raises on to `entry_point`. A sweep's
    job writes its failure into `folder`/error.txt and returns None, so the other jobs go on
    (and the Optuna sweeper records a failed trial)."""
    try:
        return work()
    except (KeyboardInterrupt, SystemExit):
        sys.exit(f"interrupted: {resume()}")
    except Exception as e:
        if not sweep or isinstance(e, Interrupted):  # a stopped sweep stops with this job
            raise
        message = explain(e)
        log.error("job failed: %s", message or f"{type(e).__name__}: {e}", exc_info=not message)
        (folder / "error.txt").write_text((message or f"{type(e).__name__}: {e}") + "\n")
        return None


def stop_with_its_jobs(sweep_dir: Path, command: str) -> None:
    """Ctrl-C or SIGTERM of a sweep's main process raises `Interrupted` where it waits for its
    jobs, so the launcher stops its workers too (each leaves its last.ckpt to resume from)
    instead of leaving them training with no one to collect them."""

    def interrupt(signum: int, _: object) -> NoReturn:
        raise Interrupted(
            f"the sweep stopped ({signal.Signals(signum).name}) with its jobs: {command} "
            f"hydra.sweep.dir={sweep_dir} continues it"
        )

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, interrupt)
