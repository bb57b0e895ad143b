"""What TensorBoard shows of a run: its curves first, and its HPARAMS row.

Both of TensorBoard's scalar pages (Time Series, which it opens on, and Scalars) sort the tags,
group them into sections by what comes before the first "/", and open only the first two
sections. So `TensorBoard` names each curve by what it measures first (`acc/train`, `acc/val`,
`loss/train`, `loss/val`): the accuracy and loss sections open, train beside validation, and
the final figures (`test/`, `train_set/`, logged once after training) and the pictures follow
them, closed. The other trackers keep Lightning's names (`val/acc`, as in metrics.json).

The HPARAMS tab is written by hand rather than with Lightning's `log_hyperparams(params,
metrics)`, which logs every metric a second time as a one-point scalar and leaves TensorBoard
to show the first five settings by name. Here each setting is flagged as one that differs
between runs, so the table opens on them, and each metric column reads the last value of a tag
the run logged anyway (acc/val, test/acc, ...). (tensorboard's own `hparams.summary` helpers
import TensorFlow; torch's `hparams()` cannot flag a setting as differing.) The three summaries
go into an event file of their own in the run's folder, through torch's public `FileWriter`:
TensorBoard reads every event file of a folder as one run.
"""

import re
import time
from collections.abc import Mapping
from pathlib import Path

from lightning.pytorch.loggers import TensorBoardLogger
from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
from torch.utils.tensorboard import FileWriter

METRICS = ("val/acc", "val/best_acc", "test/acc", "train_set/acc")
# The curves' names in TensorBoard, by their names in the module (src/model/metrics.py).
CURVES = {
    "train/acc": "acc/train",
    "train/acc_clean": "acc/train_clean",
    "train/acc_corrupted": "acc/train_corrupted",
    "val/acc": "acc/val",
    "val/best_acc": "acc/val_best",
    "train/loss": "loss/train",
    "val/loss": "loss/val",
}
YEAR = re.compile(r"\d{4}-(?=\d\d-\d\d$)")  # the year of a folder named by Hydra's date


def tensorboard_tag(name: str) -> str:
    """A logged figure's tag in TensorBoard: a curve's by what it measures, the others' as
    logged."""
    return CURVES.get(name, name)


class TensorBoard(TensorBoardLogger):
    """Lightning's TensorBoard logger, which names the curves so that TensorBoard opens on
    them, and leaves out the `epoch` Lightning logs beside them (a staircase against the
    step, and a section of its own)."""

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        shown = {tensorboard_tag(k): v for k, v in metrics.items() if k != "epoch"}
        super().log_metrics(shown, step)


def trial_name(run_dir: Path) -> str:
    """A run's Trial ID in HPARAMS, whose column shows some 14 characters: the last two parts
    of its folder, a date without its year (outputs/2026-12-02/07-12-33: 12-02/07-12-33; a
    sweep's job outputs/multirun/2026-12-02/07-30-05/03: 07-30-05/03). The run selector's
    filter finds the run by it. (TensorBoard's own, the folder relative to --logdir, is cut.)"""
    return "/".join(YEAR.sub("", part) for part in run_dir.parts[-2:])


def _summary(tag: str, data: plugin_data_pb2.HParamsPluginData) -> Summary:
    data.version = metadata.PLUGIN_DATA_VERSION
    plugin = SummaryMetadata.PluginData(
        plugin_name=metadata.PLUGIN_NAME, content=data.SerializeToString()
    )
    return Summary(value=[Summary.Value(tag=tag, metadata=SummaryMetadata(plugin_data=plugin))])


def log_hparams(
    logger: TensorBoardLogger,
    settings: dict[str, str | float],
    metrics: tuple[str, ...] = METRICS,
    *,
    trial: str,
) -> None:
    """One HPARAMS row named `trial`: `settings` (strings shown as typed, numbers as numbers)
    and `metrics`, by their names in the module.

    TensorBoard shows five settings and five metrics without a click: pass what was swept.
    """
    # A session's group name is what the table shows as its Trial ID; each run is its own group.
    start = plugin_data_pb2.SessionStartInfo(start_time_secs=time.time(), group_name=trial)
    infos = []
    for name, value in settings.items():
        if isinstance(value, str):
            start.hparams[name].string_value, kind = value, api_pb2.DATA_TYPE_STRING
        else:
            start.hparams[name].number_value, kind = float(value), api_pb2.DATA_TYPE_FLOAT64
        infos.append(api_pb2.HParamInfo(name=name, type=kind, differs=True))
    experiment = api_pb2.Experiment(
        hparam_infos=infos,
        metric_infos=[
            api_pb2.MetricInfo(name=api_pb2.MetricName(tag=tensorboard_tag(t))) for t in metrics
        ],
    )
    end = plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_SUCCESS, end_time_secs=time.time())
    writer = FileWriter(logger.experiment.get_logdir(), filename_suffix=".hparams")
    for tag, data in (
        (metadata.EXPERIMENT_TAG, plugin_data_pb2.HParamsPluginData(experiment=experiment)),
        (
            metadata.SESSION_START_INFO_TAG,
            plugin_data_pb2.HParamsPluginData(session_start_info=start),
        ),
        (metadata.SESSION_END_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_end_info=end)),
    ):
        writer.add_summary(_summary(tag, data))
    writer.close()
