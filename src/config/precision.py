"""Which precision the hardware runs fast. bfloat16 mixed precision speeds a large MLP up on a
CUDA GPU that computes bfloat16, and on a CPU with bfloat16 units (AMX, or AVX512-BF16);
on a CPU without them torch emulates bfloat16 arithmetic, many times slower than 32-bit.
torch.cpu.get_capabilities() says which units the CPU has (from cpuinfo, the flags
/proc/cpuinfo lists as amx_bf16 and avx512_bf16); `${fast_precision:...}` picks with it
(conf/experiment/best_mlp.yaml), and the gate warns of a bf16 precision chosen on a CPU
without them."""

import logging
from functools import cache

import torch

log = logging.getLogger(__name__)

BF16_UNITS = {"amx_bf16": "AMX", "avx512_bf16": "AVX512-BF16"}


def cpu_bf16_units() -> list[str]:
    """The CPU's bfloat16 units, by their names in Intel's manuals; none on most CPUs."""
    capabilities = torch.cpu.get_capabilities()
    return [name for flag, name in BF16_UNITS.items() if capabilities.get(flag)]


def cpu_description() -> str:
    """What the CPU computes with, as torch reports it: "AVX2, no bfloat16 units"."""
    units = cpu_bf16_units()
    vectors = torch.backends.cpu.get_cpu_capability()
    return f"{vectors}, with {' and '.join(units)}" if units else f"{vectors}, no bfloat16 units"


def on_gpu(accelerator: str) -> bool:
    """Whether Lightning's `accelerator` trains on a CUDA GPU here."""
    accelerator = str(accelerator).lower()
    return accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())


def is_bf16(precision: object) -> bool:
    return str(precision).startswith("bf16")


def fast_precision(accelerator: str) -> str:
    """bf16-mixed where the run's device computes bfloat16 fast, else 32-true."""
    return precision_for(str(accelerator).lower())[0]


@cache  # said once per process, however often the config is resolved
def precision_for(accelerator: str) -> tuple[str, str]:
    """The precision for `accelerator` and why, which the run logs."""
    if on_gpu(accelerator):
        fast = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        why = "this GPU computes bfloat16" if fast else "this GPU does not compute bfloat16"
    else:
        units = cpu_bf16_units()
        fast = bool(units)
        why = (
            f"this CPU has {' and '.join(units)}"
            if fast
            else f"this CPU ({torch.backends.cpu.get_cpu_capability()}) has no bfloat16 units "
            "(AMX or AVX512-BF16), and would emulate bf16-mixed many times slower"
        )
    precision = "bf16-mixed" if fast else "32-true"
    log.info("trainer.precision=%s: %s", precision, why)
    return precision, why


def slow_bf16_warning(trainer: dict) -> str | None:
    """A warning for a bf16 precision on a CPU without bfloat16 units, or None."""
    precision = trainer.get("precision", "32-true")
    if not is_bf16(precision) or on_gpu(trainer.get("accelerator", "auto")) or cpu_bf16_units():
        return None
    return (
        f"trainer.precision={precision} on this CPU ({cpu_description()}) emulates bfloat16, "
        "many times slower than trainer.precision=32-true"
    )
