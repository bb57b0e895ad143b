"""Test a saved checkpoint on the official test set: `python -m src.eval ckpt_path=...`."""

from pathlib import Path

import hydra
import lightning as L
from omegaconf import DictConfig, MissingMandatoryValue

from src.config.trainer_arguments import check_trainer
from src.data.datamodule import MNISTDataModule
from src.model.classifier import Classifier
from src.run import failures
from src.run.checkpoint import (
    checkpoint_file,
    data_config,
    load_weights,
    model_config,
    network_weights,
    pixel_scale_of,
    read_checkpoint,
)
from src.run.console import exit_now, quiet

USAGE = "python -m src.eval ckpt_path=outputs/<date>/<time> (a run folder, or a .ckpt file)"


def evaluate(ckpt_path: str, data_dir: str = "data", accelerator: str = "auto") -> dict[str, float]:
    """Loss and accuracy of the checkpoint's model on its dataset's test set and training split."""
    check_trainer({"accelerator": accelerator})
    ckpt = read_checkpoint(ckpt_path)
    model = Classifier(model_config(ckpt))
    load_weights(model.net, network_weights(ckpt), ckpt_path)
    data, seed = data_config(ckpt)
    data.data_dir = data_dir
    trainer = L.Trainer(
        accelerator=accelerator,
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    datamodule = MNISTDataModule(data, seed=seed, scale=pixel_scale_of(ckpt))
    trainer.test(model, datamodule=datamodule, verbose=False)
    return {k: float(v) for k, v in trainer.callback_metrics.items()}


@hydra.main(version_base="1.3", config_path="../conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    quiet()
    try:
        ckpt_path = cfg.ckpt_path
    except MissingMandatoryValue:
        raise failures.ProjectError(f"ckpt_path is missing: {USAGE}") from None
    if (found := checkpoint_file(ckpt_path)) != Path(ckpt_path):
        print(f"testing {found}, the run folder's best weights")
    metrics = evaluate(str(found), cfg.data_dir, cfg.accelerator)
    for name, value in metrics.items():
        print(f"{name}: {value:.4f}")
    exit_now()


if __name__ == "__main__":
    with failures.entry_point("eval"):
        main()
