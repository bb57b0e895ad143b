"""Reading checkpoints safely (weights_only) with one-line errors; no Lightning needed."""

from pathlib import Path

import torch

from src.config.schema import DataConfig, InputScale, ModelConfig
from src.data.pixels import SYMMETRIC, PixelScale
from src.model.mlp import MLP
from src.run.failures import ProjectError


class CheckpointError(ProjectError):
    """A checkpoint path that cannot be used; the message says why."""


def checkpoint_file(path: str | Path) -> Path:
    """`path`, or for a run folder (or its checkpoints/) the best.ckpt in it."""
    path = Path(path)
    if not path.is_dir():
        return path
    for best in (path / "checkpoints" / "best.ckpt", path / "best.ckpt"):
        if best.is_file():
            return best
    raise CheckpointError(
        f"{path} is a folder with no checkpoints/best.ckpt: pass a .ckpt file or a run folder"
    )


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


def model_config(ckpt: dict) -> ModelConfig:
    """The model settings a checkpoint was trained with."""
    return _settings(ModelConfig, ckpt["hyper_parameters"])


def data_config(ckpt: dict) -> tuple[DataConfig, int]:
    """The data settings a checkpoint was trained with, and the run's seed."""
    data = dict(ckpt.get("datamodule_hyper_parameters", {}))
    seed = data.pop("seed", 0)
    data.pop("pixel_scale", None)
    data.setdefault("input_scale", InputScale.symmetric.value)  # the one scale there was
    data.setdefault("train_subsets", 1)  # before disjoint subsets, the one subset there was
    data.setdefault("train_subset", 0)
    return _settings(DataConfig, data), seed


def pixel_scale_of(ckpt: dict) -> PixelScale:
    """How the checkpoint's model maps pixels onto its inputs (src/data/pixels.py); for a
    checkpoint from before data.input_scale, the one scale there was."""
    scale = ckpt.get("datamodule_hyper_parameters", {}).get("pixel_scale")
    return SYMMETRIC if scale is None else _settings(PixelScale, scale)


def _settings(schema: type, values: dict):
    try:
        return schema(**values)
    except (TypeError, ValueError) as e:
        raise CheckpointError(
            f"the checkpoint's settings do not fit this version of src.train ({e})"
        ) from None


def load_network(path: str | Path) -> tuple[MLP, PixelScale]:
    """The trained network alone, in eval mode, and the pixel scale of its inputs: what
    predicting needs."""
    ckpt = read_checkpoint(path)
    model = model_config(ckpt)
    network = MLP(model.hidden, model.activation, model.dropout)
    load_weights(network, network_weights(ckpt), path)
    return network.eval(), pixel_scale_of(ckpt)


def network_weights(ckpt: dict) -> dict:
    """The MLP's weights of a checkpoint's state, without the metrics' state beside them."""
    state = ckpt["state_dict"]
    return {k.removeprefix("net."): v for k, v in state.items() if k.startswith("net.")}


def load_weights(module: torch.nn.Module, weights: dict, path: str | Path) -> None:
    """`module.load_state_dict(weights)`, a mismatch told in one line."""
    try:
        module.load_state_dict(weights)
    except RuntimeError as e:
        detail = str(e).splitlines()[0]
        raise CheckpointError(
            f"{path} holds weights that do not fit its settings ({detail})"
        ) from None
