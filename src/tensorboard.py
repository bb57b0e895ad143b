"""TensorBoard's HPARAMS tab: a run's changed settings beside metrics it already logged.

Written by hand rather than with Lightning's `log_hyperparams(params, metrics)`, which logs
every metric a second time as a one-point scalar and leaves TensorBoard to show the first
five settings by name. Here each setting is flagged as one that differs between runs, so the
table opens on them, and each metric column reads the last value of a tag the run logged
anyway (val/acc, test/acc, ...). (tensorboard's own `hparams.summary` helpers import
TensorFlow; torch's `hparams()` cannot flag a setting as differing.) The three summaries go
into an event file of their own in the run's folder, through torch's public `FileWriter`:
TensorBoard reads every event file of a folder as one run.
"""

import time

from lightning.pytorch.loggers import TensorBoardLogger
from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
from torch.utils.tensorboard import FileWriter

METRICS = ("val/acc", "val/best_acc", "test/acc", "train_set/acc")


def _summary(tag: str, data: plugin_data_pb2.HParamsPluginData) -> Summary:
    data.version = metadata.PLUGIN_DATA_VERSION
    plugin = SummaryMetadata.PluginData(
        plugin_name=metadata.PLUGIN_NAME, content=data.SerializeToString()
    )
    return Summary(value=[Summary.Value(tag=tag, metadata=SummaryMetadata(plugin_data=plugin))])


def log_hparams(
    logger: TensorBoardLogger, settings: dict[str, str | float], metrics: tuple[str, ...] = METRICS
) -> None:
    """One HPARAMS row: `settings` (strings shown as typed, numbers as numbers) and `metrics`.

    TensorBoard shows five settings and five metrics without a click: pass what was swept.
    """
    start = plugin_data_pb2.SessionStartInfo(start_time_secs=time.time())
    infos = []
    for name, value in settings.items():
        if isinstance(value, str):
            start.hparams[name].string_value, kind = value, api_pb2.DATA_TYPE_STRING
        else:
            start.hparams[name].number_value, kind = float(value), api_pb2.DATA_TYPE_FLOAT64
        infos.append(api_pb2.HParamInfo(name=name, type=kind, differs=True))
    experiment = api_pb2.Experiment(
        hparam_infos=infos,
        metric_infos=[api_pb2.MetricInfo(name=api_pb2.MetricName(tag=t)) for t in metrics],
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
