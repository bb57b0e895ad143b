"""The rules that keep the design visible: the study runs without torch, the training loop's
speed-ups stay in their own package, and every package mirrors what it holds."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.smoke  # make smoke: the edit loop's check

SRC = ROOT / "src"
FAST = SRC / "model" / "fast"
# What speaks of blocks of batches: a name `block`, `blocks`, `block_...`, or a `Block...` class.
BLOCKY = re.compile(r"(^|_)blocks?($|_)|Block")


def modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def dotted(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def names(path: Path) -> set[str]:
    """Every name a module defines, reads or imports."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            found.add(node.name)
        elif isinstance(node, ast.alias):
            found.add(node.asname or node.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_study_and_the_report_import_no_torch_or_lightning():
    study = [dotted(p) for p in modules(SRC / "study")] + [
        "src.report",
        "src.claims",
        "src.polynomial",
    ]
    imports = "; ".join(f"import {m}" for m in study)
    loaded = "print(sorted(m for m in ('torch', 'lightning') if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", f"import sys; {imports}; {loaded}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    "path", [p for p in modules(SRC) if FAST not in p.parents], ids=lambda p: dotted(p)
)
def test_nothing_outside_the_speed_package_knows_about_blocks(path):
    """Only the setting that sizes them is declared outside it (config/schema.py)."""
    allowed = {"block_steps"} if path == SRC / "config" / "schema.py" else set()
    assert {n for n in names(path) if BLOCKY.search(n)} <= allowed


def test_only_the_run_builder_and_the_gate_choose_the_training_loop():
    choosing = {
        dotted(p)
        for p in modules(SRC)
        if FAST not in p.parents and any(n.startswith("src.model.fast") for n in names(p))
    }
    assert choosing == {"src.train", "src.config.gate"}


def test_the_entry_points_stay_at_the_top_beside_one_package_per_concept():
    top = {p.name for p in SRC.iterdir() if p.name != "__pycache__"}
    entries = {"train.py", "eval.py", "predict.py", "report.py", "claims.py", "polynomial.py"}
    packages = {"config", "data", "model", "callbacks", "tracking", "run", "study"}
    assert top == {"__init__.py", *entries, *packages}
    for package in packages:
        assert (SRC / package / "__init__.py").is_file(), package
