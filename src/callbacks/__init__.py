"""Callbacks: what a run does beside training, one module each.

A callback that measures something for metrics.json has `recorded()`, which `src.train`
collects from every callback of the run (the `Records` protocol): adding a measurement is
adding a callback, and src/train.py does not change.
"""

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Records(Protocol):
    def recorded(self) -> dict[str, Any]:
        """What the callback measured, as metrics.json keys: nothing when it has nothing."""
        ...
