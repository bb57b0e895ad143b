"""Reading checkpoints safely (weights_only) with one-line errors."""

from pathlib import Path

import torch

from src.classifier import Classifier


class CheckpointError(RuntimeError):
    """A checkpoint path that cannot be used; the message says why."""


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint dict, loaded with torch's default weights_only=True."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint not found: {path} (runs keep them in outputs/<date>/<time>/checkpoints/)"
        )
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(e).__name__}): "
            "pass a .ckpt file written by src.train"
        ) from None
    if not isinstance(ckpt, dict) or not {"state_dict", "hyper_parameters"} <= ckpt.keys():
        raise CheckpointError(f"{path} is not a checkpoint written by src.train")
    return ckpt


def load_checkpoint(path: str | Path) -> tuple[Classifier, dict]:
    """The trained Classifier and the data module's hyperparameters it was trained with."""
    ckpt = read_checkpoint(path)
    model = Classifier(**ckpt["hyper_parameters"])
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), ckpt.get("datamodule_hyper_parameters", {})


def check_resumable(path: str | Path, model: Classifier) -> int:
    """The epoch a resumed run starts at; refuses a checkpoint of another architecture."""
    ckpt = read_checkpoint(path)
    if "optimizer_states" not in ckpt:
        raise CheckpointError(
            f"{path} holds weights only (best.ckpt does): resume from last.ckpt beside it"
        )
    saved = {k: ckpt["hyper_parameters"].get(k) for k in ("hidden", "activation", "loss")}
    wanted = {k: model.hparams[k] for k in saved}
    if saved != wanted:
        raise CheckpointError(
            f"{path} holds a model with {saved}, but the config asks for {wanted}: "
            "resume with the same model settings"
        )
    return ckpt["epoch"] + 1
