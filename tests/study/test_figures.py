"""The figures' shared helpers: log axes that label enough values to read, whatever they span,
and curves.png's caption saying what its two losses measure."""

import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from src.study.figures import curves_figure, log_x_axes, plain_log_y
from src.study.table import load_sweep
from tests.study.sweeps import write_run

pytestmark = pytest.mark.smoke  # make smoke: the edit loop's check


def labelled_ticks(axis) -> list[str]:
    """The labels of the ticks in view, major and minor, as drawn."""
    low, high = sorted(axis.get_view_interval())
    labels = []
    for ticks, formatter in (
        (axis.get_majorticklocs(), axis.get_major_formatter()),
        (axis.get_minorticklocs(), axis.get_minor_formatter()),
    ):
        inside = [t for t in ticks if low <= t <= high]
        labels += [label for label in formatter.format_ticks(inside) if label]
    return labels


@pytest.mark.parametrize(
    "span",
    [(0.3, 0.9), (0.11, 0.19), (0.05, 2.0), (1.0, 1e15), (7850.0, 30000.0), (1.0, 10000.0)],
)
@pytest.mark.parametrize("which", ["x", "y"])
def test_a_log_axis_labels_three_values_or_more_whatever_it_spans(span, which):
    fig = Figure()
    ax = fig.subplots()
    ax.plot(span, span)
    if which == "y":
        plain_log_y(ax)
        ax.set_ylim(*span)
    else:
        log_x_axes((ax,), "steps")
        ax.set_xlim(*span)
    FigureCanvasAgg(fig).draw()
    labels = labelled_ticks(ax.yaxis if which == "y" else ax.xaxis)
    assert len(labels) >= 3, labels
    assert len(labels) == len(set(labels))


def caption_of(figure: Figure) -> str:
    return " ".join(text.get_text().replace("\n", " ") for text in figure.texts)


@pytest.mark.parametrize(
    ("model", "data", "said"),
    [
        ({}, {}, "the running mean over an epoch's batches, while the weights still change; "),
        ({"dropout": 0.5}, {}, "batches, under dropout, while the weights still change; "),
        (
            {"dropout": 0.5},
            {"augment": {"shift": 2}},
            "under dropout and augmentation, while the weights still change; validation loss: "
            "the epoch's final weights on held-out images, without either.",
        ),
    ],
)
def test_curves_png_says_why_training_loss_can_sit_above_validation_loss(
    tmp_path, model, data, said
):
    write_run(tmp_path, 0, hidden=[16], model=model, data=data)
    jobs = load_sweep(tmp_path)
    caption = caption_of(curves_figure(jobs, pd.Series("MLP 16", index=jobs.index)))
    assert said in caption
    assert caption.endswith("So early on training loss can sit above validation loss.")
