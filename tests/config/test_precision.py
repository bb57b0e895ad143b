"""bfloat16 where the hardware computes it fast: best_mlp picks its precision by the CPU's
bfloat16 units, and a bf16 precision chosen on a CPU without them is warned of."""

import logging
from pathlib import Path

import pytest
import torch

from src.config import precision
from src.config.gate import gate
from src.config.hydra import compose_train


@pytest.fixture
def cpu(monkeypatch):
    """Sets which bfloat16 units torch reports the CPU to have."""

    def having(*flags: str) -> None:
        capabilities = {"avx2": True, "avx512_bf16": False, "amx_bf16": False}
        capabilities |= dict.fromkeys(flags, True)
        monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: capabilities)
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
        precision.precision_for.cache_clear()

    yield having
    precision.precision_for.cache_clear()


@pytest.mark.parametrize(
    ("flags", "chosen"),
    [((), "32-true"), (("avx512_bf16",), "bf16-mixed"), (("amx_bf16",), "bf16-mixed")],
)
def test_best_mlp_trains_in_bf16_only_on_a_cpu_with_bfloat16_units(
    flags, chosen, cpu, tmp_path, caplog
):
    cpu(*flags)
    best_mlp = ["experiment=best_mlp", "trainer.accelerator=cpu", f"output_dir={tmp_path}"]
    with caplog.at_level(logging.INFO, logger="src.config.precision"):
        config = gate(compose_train(*best_mlp))
    assert config.trainer["precision"] == chosen
    said = [r.getMessage() for r in caplog.records if r.name == "src.config.precision"]
    assert len(said) == 1 and said[0].startswith(f"trainer.precision={chosen}: this CPU")
    assert ("no bfloat16 units" in said[0]) == (not flags)


def test_the_choice_on_this_machine_follows_the_kernels_cpu_flags(tmp_path):
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        pytest.skip("no /proc/cpuinfo to read the CPU's flags from")
    flags = set(cpuinfo.read_text().split())
    precision.precision_for.cache_clear()
    config = gate(
        compose_train("experiment=best_mlp", "trainer.accelerator=cpu", f"output_dir={tmp_path}")
    )
    fast = bool(flags & {"avx512_bf16", "amx_bf16"})
    assert config.trainer["precision"] == ("bf16-mixed" if fast else "32-true")


@pytest.mark.parametrize(
    ("flags", "chosen", "warned"),
    [
        ((), "bf16-mixed", True),
        ((), "bf16-true", True),
        ((), "32-true", False),
        (("amx_bf16",), "bf16-mixed", False),
    ],
)
def test_the_gate_warns_of_bf16_chosen_on_a_cpu_without_bfloat16_units(
    flags, chosen, warned, cpu, tmp_path, caplog
):
    cpu(*flags)
    with caplog.at_level(logging.WARNING, logger="src.config.gate"):
        gate(
            compose_train(
                f"trainer.precision={chosen}", "trainer.accelerator=cpu", f"output_dir={tmp_path}"
            )
        )
    warnings = [r.getMessage() for r in caplog.records if r.name == "src.config.gate"]
    assert bool(warnings) == warned
    if warned:
        assert warnings == [
            f"trainer.precision={chosen} on this CPU (AVX2, no bfloat16 units) emulates "
            "bfloat16, many times slower than trainer.precision=32-true"
        ]
