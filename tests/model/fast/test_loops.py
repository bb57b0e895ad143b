"""The loops that train a run: the block loop trains exactly the steps of Lightning's own loop,
is taken only where nothing counts batches, says why not, and resumes only on itself; CUDA
graphs replay the eager step."""

import lightning as L
import pytest
from hydra.utils import instantiate

from src.config.schema import ConfigError, TrainConfig
from src.model.fast import training_loop
from src.model.fast.cuda_graphs import GraphedClassifier
from src.train import build, train
from tests.conftest import stable, tiny_config
from tests.faults import inject
from tests.test_train import SMALL, run


def loop_of(config: TrainConfig):
    """The loop a run of `config` trains on, as src.train chooses it."""
    return training_loop(config, {n: instantiate(c) for n, c in config.callbacks.items()})


CURED = [
    "model.dropout=0.3",
    "data/augment=elastic",
    "trainer.max_epochs=6",
    "+callbacks.stop._target_=lightning.pytorch.callbacks.EarlyStopping",
    "+callbacks.stop.monitor=val/acc",
    "+callbacks.stop.patience=1",
]


@pytest.mark.parametrize("recipe", [[], CURED], ids=["defaults", "dropout, elastic, early stop"])
def test_the_fast_path_trains_exactly_as_one_batch_a_step(tiny_data, tmp_path, recipe):
    one = run(tiny_data, tmp_path / "one", "block_steps=1", *recipe)
    if recipe:
        assert one["epochs"] < 6  # it stopped early
    assert stable(run(tiny_data, tmp_path / "three", "block_steps=3", *recipe)) == stable(one)
    assert stable(run(tiny_data, tmp_path / "all", "block_steps=100", *recipe)) == stable(one)


def test_on_the_fast_path_a_checkpoint_callback_names_its_files_as_on_lightnings_loop(
    tiny_data, tmp_path
):
    every_epoch = [
        "+callbacks.every._target_=lightning.pytorch.callbacks.ModelCheckpoint",
        "+callbacks.every.save_top_k=-1",
        "+callbacks.every.every_n_epochs=2",  # unlike last.ckpt's every epoch: its own state
    ]
    names = {}
    for blocks in (1, 5):
        folder = tmp_path / str(blocks)
        config = tiny_config(
            tiny_data,
            folder,
            *SMALL,
            *every_epoch,
            f"block_steps={blocks}",
            f"+callbacks.every.dirpath={folder / 'every'}",
        )
        assert loop_of(config).block_steps == blocks
        train(config)
        names[blocks] = sorted(p.name for p in (folder / "every").iterdir())
    assert names[5] == names[1] == ["epoch=1-step=14.ckpt", "epoch=3-step=28.ckpt"]


@pytest.mark.parametrize(
    ("overrides", "blocks"),
    [
        ([], 20),
        (["trainer=ddp_cpu", "trainer.check_val_every_n_epoch=2"], 20),
        (["trainer.limit_val_batches=1", "trainer.num_sanity_val_steps=2"], 20),
        (["trainer.gradient_clip_val=1"], 1),
        (["trainer.max_steps=5", "test_weights=last"], 1),
        (["+callbacks.lr._target_=lightning.pytorch.callbacks.LearningRateMonitor"], 1),
        (
            [
                "+callbacks.stop._target_=lightning.pytorch.callbacks.EarlyStopping",
                "+callbacks.stop.monitor=val/acc",
            ],
            20,
        ),
        (
            [
                "+callbacks.last_checkpoint.every_n_train_steps=5",
                "callbacks.last_checkpoint.every_n_epochs=null",
            ],
            1,
        ),
        (inject("FailAt", where="callback", epoch=2), 1),
    ],
    ids=[
        "defaults",
        "epochs and devices",
        "evaluation batches",
        "clipping",
        "max_steps",
        "another callback",
        "early stopping",
        "steps checkpoint",
        "a test's callback",
    ],
)
def test_only_a_run_in_which_nothing_counts_batches_takes_the_fast_path(
    tiny_data, tmp_path, overrides, blocks
):
    assert loop_of(tiny_config(tiny_data, tmp_path, *SMALL, *overrides)).block_steps == blocks


def test_a_fast_path_checkpoint_resumes_on_the_fast_path_only(tiny_data, tmp_path):
    run(tiny_data, tmp_path, "trainer.max_epochs=2", "model.scheduler=none")
    last = f"ckpt_path={tmp_path}/checkpoints/last.ckpt"
    with pytest.raises(ConfigError, match="was trained 20 batches a Lightning step"):
        tiny_config(
            tiny_data, tmp_path, *SMALL, "model.scheduler=none", "trainer.max_steps=50", last
        )
    resumed = tiny_config(
        tiny_data, tmp_path, *SMALL, "model.scheduler=none", "block_steps=5", last
    )
    assert loop_of(resumed).block_steps == 20


def test_graphed_steps_replay_the_eager_step(tiny_data, tmp_path):
    """On a CPU the graphed module runs its capturable step eagerly: the same numbers."""
    config = tiny_config(tiny_data, tmp_path / "graphed", *SMALL, "block_steps=1")
    datamodule, _, trainer = build(config)
    L.seed_everything(config.seed, verbose=False)  # as build() did before making its model
    model = GraphedClassifier(config.model)
    trainer.fit(model, datamodule=datamodule)
    graphed = trainer.callbacks[0].history
    assert graphed == run(tiny_data, tmp_path / "eager")["history"]


def test_gradient_norms_are_the_same_on_the_fast_path_and_lightnings_loop(tiny_data, tmp_path):
    asked = "+callbacks.gradient_norms._target_=src.callbacks.gradient_norms.GradientNorms"
    norms = [
        run(tiny_data, tmp_path / str(b), asked, f"block_steps={b}")["gradient_norms"]
        for b in (20, 1)
    ]
    assert norms[0] == pytest.approx(norms[1], rel=1e-5)
