"""Test a saved checkpoint on the official test set: `python -m src.eval ckpt_path=...`."""

import sys

import hydra
import lightning as L
from omegaconf import DictConfig

from src.checkpoint import CheckpointError, load_checkpoint
from src.data import DataError, MNISTDataModule


def evaluate(ckpt_path: str, data_dir: str = "data", accelerator: str = "auto") -> dict[str, float]:
    """Test metrics of the checkpoint's model on its dataset's official test split."""
    model, data_hparams = load_checkpoint(ckpt_path)
    datamodule = MNISTDataModule(**{**data_hparams, "data_dir": data_dir})
    trainer = L.Trainer(accelerator=accelerator, devices=1, logger=False, enable_progress_bar=False)
    return {
        k: float(v) for k, v in trainer.test(model, datamodule=datamodule, verbose=False)[0].items()
    }


@hydra.main(version_base="1.3", config_path="../conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    try:
        metrics = evaluate(cfg.ckpt_path, cfg.data_dir, cfg.accelerator)
    except (CheckpointError, DataError) as e:
        sys.exit(f"error: {e}")
    for name, value in metrics.items():
        print(f"{name}: {value:.4f}")


if __name__ == "__main__":
    main()
