"""Trainer arguments checked against lightning.Trainer's own signature: every key one of its
arguments, every value of a type its annotation admits, the accelerator present."""

import typing
from difflib import get_close_matches
from types import NoneType, UnionType
from typing import Any

import lightning as L
import torch

from src.config.schema import ConfigError


def check_trainer(trainer: dict[str, Any]) -> None:
    """Every key a lightning.Trainer argument of a fitting type, the accelerator present."""
    hints = typing.get_type_hints(L.Trainer.__init__)
    for key, value in trainer.items():
        if key in ("logger", "callbacks") or key not in hints:
            close = get_close_matches(key, hints, n=1)
            hint = f" (did you mean trainer.{close[0]}?)" if close else ""
            raise ConfigError(f"trainer.{key} is not an argument of lightning.Trainer{hint}")
        if not fits(value, hints[key]):
            raise ConfigError(f"trainer.{key}={value!r} must be {type_name(hints[key])}")
    epochs, steps = trainer.get("max_epochs"), trainer.get("max_steps", -1)
    if steps != -1 and steps < 1:
        raise ConfigError(f"trainer.max_steps={steps} must be > 0, or -1 for no limit")
    limited = steps > 0 or trainer.get("max_time") is not None
    if epochs is not None and epochs < 1 and not (epochs == -1 and limited):
        raise ConfigError(
            f"trainer.max_epochs={epochs} must be >= 1 "
            "(or -1 with trainer.max_steps or trainer.max_time set)"
        )
    accelerator, devices = trainer.get("accelerator", "auto"), trainer.get("devices", "auto")
    if accelerator in ("gpu", "cuda"):
        visible = torch.cuda.device_count()
        if visible == 0:
            raise ConfigError(
                f"trainer.accelerator={accelerator} but no CUDA GPU is visible to torch; "
                "use trainer.accelerator=cpu or auto"
            )
        if isinstance(devices, int) and devices > visible:
            raise ConfigError(
                f"trainer.devices={devices} but torch sees {visible} CUDA GPU(s): "
                f"use trainer.devices={visible} or fewer"
            )
    if accelerator == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("trainer.accelerator=mps but MPS is not available; use cpu or auto")


def fits(value: Any, hint: Any) -> bool:
    """Whether a config value can be passed where `hint` is annotated."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, UnionType):
        return any(fits(value, arg) for arg in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    cls = origin or hint
    if cls is NoneType:
        return value is None
    if cls in (int, float) and isinstance(value, bool):
        return False
    if cls is float:
        return isinstance(value, int | float)
    return isinstance(value, cls) if isinstance(cls, type) else True


def type_name(hint: Any) -> str:
    """`Optional[int]` -> 'int or null', as a config reader would say it."""
    args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, UnionType) else ()
    names = [type_name(arg) for arg in args] if args else [_one_type_name(hint)]
    return " or ".join(dict.fromkeys(names))


def _one_type_name(hint: Any) -> str:
    if hint is NoneType:
        return "null"
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(hint)))
    return getattr(typing.get_origin(hint) or hint, "__name__", str(hint))
