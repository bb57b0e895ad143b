"""Reading checkpoints safely (weights_only) with one-line errors; no Lightning needed."""

from pathlib import Path

import torch

from src.model import MLP
from src.schema import DataConfig, ModelConfig


class CheckpointError(RuntimeError):
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
    return _settings(DataConfig, data), seed


def _settings(schema: type, values: dict):
    try:
        return schema(**values)
    except (TypeError, ValueError) as e:
        raise CheckpointError(
            f"the checkpoint's settings do not fit this version of src.train ({e})"
        ) from None


def load_network(path: str | Path) -> MLP:
    """The trained network alone, in eval mode: what predicting needs."""
    ckpt = read_checkpoint(path)
    model = model_config(ckpt)
    network = MLP(model.hidden, model.activation, model.dropout)
    load_weights(network, network_weights(ckpt), path)
    return network.eval()


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
