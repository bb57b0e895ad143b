"""Hydra's refusals of a command line come out as the project's one line: exit 1, no folder."""

import pytest

from tests.conftest import one_error_line, run_module

REFUSALS = [
    (
        ["model=mlp4"],
        "error: model=mlp4 is not a model option (linear, mlp, mlp2, mlp3): "
        "for 3 hidden layers write model=mlp model.depth=3",
    ),
    (["model=resnet"], "error: model=resnet is not a model option (linear, mlp, mlp2, mlp3)"),
    (
        ["model.widht=64"],
        "error: model.widht is not a setting (did you mean model.width?): model has hidden,",
    ),
    (["model.width=512"], "error: model.width=512 works with model=mlp only"),
    (["+cure=agment"], "error: cure=agment is not a cure option (augment, "),
    (["cure=augment"], "error: cure is a group the defaults leave out: add it with +cure=<option>"),
    (["modle=mlp"], "error: modle is not a setting (did you mean model?)"),
    (["epochs=5"], "error: epochs is not a setting (did you mean trainer.max_epochs?)"),
    (["lr=0.1"], "error: lr is not a setting (did you mean model.lr?)"),
    (["precision=32"], "error: precision is not a setting (did you mean trainer.precision?)"),
    (["model=[a"], "error: model=[a: no viable alternative at input '[a' (the syntax: https://"),
    (["-m", "model=mlp,mlp9"], "error: model=mlp9 is not a model option"),
]


@pytest.mark.parametrize(("overrides", "line"), REFUSALS)
def test_a_command_line_hydra_refuses_ends_in_one_line_and_makes_no_folder(
    overrides, line, tmp_path
):
    result = run_module(
        "src.train",
        *overrides,
        f"hydra.run.dir={tmp_path}/run",
        f"hydra.sweep.dir={tmp_path}/sweep",
        check=False,
    )
    assert result.returncode == 1
    assert one_error_line(result).startswith(line)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "+model.widht" not in result.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("module", "override", "line"),
    [
        ("src.eval", "ckpt_pth=x", "error: ckpt_pth is not a setting (did you mean ckpt_path?)"),
        ("src.predict", "imag=x", "error: imag is not a setting (did you mean image?)"),
    ],
)
def test_eval_and_predict_refuse_in_the_same_one_line(module, override, line):
    assert one_error_line(run_module(module, override, check=False)).startswith(line)
