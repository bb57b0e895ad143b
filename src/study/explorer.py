"""The sweep's explorer page: explorer.html in the sweep folder, which opens from disk with no
server and no network, its Plotly JavaScript beside it as plotly.min.js; and the claims page.

The page's frame is common to every sweep: its title, how many jobs finished, failed or are
still running, the settings every job shares, the job table (each row linking the job's folder
and pictures) and links to the sweep's other files. Between them stand views: a `View` is a
title, a caption sentence and Plotly figures or an HTML fragment. The views here suit every
sweep: the swept setting against test and training accuracy, and every job's curves by epoch;
the experiments reporting the sweep add their own (their `views`, src/study/experiments/),
built from the helpers here. No torch here: the report runs without it.
"""

import base64
import html
import math
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import sample_colorscale
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from src.study.claims import RULES, Claim
from src.study.stats import half_width
from src.study.table import (
    DESCRIBED,
    formatted,
    setting_of,
    shared_settings,
    sweep_command,
    table_columns,
)

PAGE = "explorer.html"
PLOTLY_JS = "plotly.min.js"
CURVES_ID = "curves"  # the job table's checkboxes show and hide this figure's traces
COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
# Settings that are better plotted as the quantity they set: a model's size, a data set's.
AXIS_OF = {"model.hidden": "parameters", "data.train_size": "train_images"}
AXIS_TITLES = {"parameters": "parameters", "train_images": "training images"}
# Files of the sweep the page links when they exist, besides its figures (*.png).
FILES = ("summary.md", "summary.csv", "summary_by_setting.csv", "multirun.yaml")
RUNNING = "no metrics.json yet: still running, or stopped before it wrote one"


@dataclass
class View:
    """A section of the page: its title, a caption sentence saying what it shows, its Plotly
    figures and an HTML fragment shown under them. `ids` names the figures' elements (the
    tests and the page's script find them by it); unnamed ones are numbered in the section."""

    title: str
    caption: str
    figures: list[go.Figure | dict] = field(default_factory=list)  # a dict: a figure's JSON
    html: str = ""
    ids: list[str] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-") or "view"

    def figure_ids(self) -> list[str]:
        return [
            self.ids[i] if i < len(self.ids) else f"{self.anchor}-{i}"
            for i in range(len(self.figures))
        ]


# ---- figures


def rgba(colour: str, alpha: float) -> str:
    """'#1f77b4' -> 'rgba(31,119,180,0.2)'."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def log_axis(values: Sequence[float] | np.ndarray | pd.Series) -> dict:
    """A log axis over `values` with ticks at 1, 2 and 5 of each decade (plotly's own label
    every digit there, which crowd; finer within one decade), labelled briefly by plotly.js:
    20, 10k, 1.5M; 0.1 below 1 (its SI prefixes would write 100m)."""
    numbers = pd.to_numeric(pd.Series(np.ravel(values)), errors="coerce")
    numbers = numbers[numbers > 0]
    if numbers.empty:
        return {"type": "log"}
    low, high = numbers.min(), numbers.max()
    steps = (1, 2, 5) if high / low > 10 else (1, 1.5, 2, 3, 4, 5, 6, 8)
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    ticks = [m * 10**e for e in decades for m in steps if low / 1.5 <= m * 10**e <= high * 1.5]
    return {"type": "log", "tickvals": ticks, "tickformat": "~s" if low >= 1 else "~g"}


def typed(values: np.ndarray | pd.Series) -> dict:
    """Numbers as plotly.js's typed-array JSON, base64 of their bytes (as plotly's own checks
    write them, which cost milliseconds a trace)."""
    array = np.ascontiguousarray(values)
    code = {"int16": "i2", "int32": "i4", "float32": "f4", "float64": "f8"}[array.dtype.name]
    return {"dtype": code, "bdata": base64.b64encode(array.tobytes()).decode("ascii")}


def styled(fig: go.Figure, height: int = 420) -> go.Figure:
    """The page's look, set on each figure: no template (it would be embedded in every
    figure), light grids, hover labels that keep their line breaks."""
    fig.update_layout(
        template="none",
        height=height,
        font={"family": "system-ui, sans-serif", "size": 12},
        margin={"l": 60, "r": 20, "t": 40, "b": 50},
        hovermode="closest",
        hoverlabel={"align": "left"},
        legend={"groupclick": "togglegroup"},
    )
    axes = {"showgrid": True, "gridcolor": "#e6e6e6", "showline": True, "linecolor": "#999"}
    fig.update_xaxes(zeroline=False, ticks="outside", **axes)
    fig.update_yaxes(zeroline=False, ticks="outside", **axes)
    return fig


@lru_cache(maxsize=256)
def t_factor(n: int) -> float:
    """The 95% half-width of a mean of `n` values per unit of their standard deviation."""
    return half_width(1.0, n)


def half_widths(std: pd.Series, n: pd.Series) -> pd.Series:
    """Each 95% t half-width (NaN below two values), for many means at once."""
    return std * n.astype(int).map(t_factor)


def spans_decades(values: pd.Series, ratio: float = 100) -> bool:
    """Positive numbers whose largest is `ratio` times their smallest or more: a log axis."""
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    return len(numbers) > 1 and (numbers > 0).all() and numbers.max() / numbers.min() >= ratio


def numeric(values: pd.Series) -> bool:
    """Numbers (not flags, not text): plotted on a continuous axis."""
    values = values.dropna()
    return len(values) > 0 and all(
        isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
        for v in values
    )


def over_seeds(
    jobs: pd.DataFrame,
    x: str | None,
    column: str,
    label: str,
    scale: float = 100,
    unit: str = " %",
    note: str | None = None,
) -> pd.DataFrame:
    """`column` (times `scale`) at each value of `x` over the jobs there, the seeds of one
    setting: a row per value, in order, with `x`, `mean`, `half` (the half-width of the mean's
    95% t-interval, NaN with one seed), `seeds` and `hover`, the point's label: mean ± half-
    width, each seed's value and job folder (and its `note` column), model and parameters."""
    values = scale * pd.to_numeric(jobs[column], errors="coerce").to_numpy(dtype=float)
    keys = jobs[x].map(repr) if x else pd.Series("", index=jobs.index)  # tuples group as text
    codes, _ = pd.factorize(keys, sort=False)
    # plain lists: a frame per epoch calls this hundreds of times, pandas rows are slow
    xs = jobs[x].tolist() if x else None
    seeds, names = jobs["seed"].tolist(), jobs["job"].tolist()
    notes = jobs[note].tolist() if note and note in jobs else [None] * len(jobs)
    sized = "model" in jobs and "parameters" in jobs
    models = jobs["model"].tolist() if sized else None
    sizes = jobs["parameters"].tolist() if sized else None
    rows = []
    for code in range(codes.max() + 1 if len(codes) else 0):
        members = np.flatnonzero(codes == code)
        finite = values[members][np.isfinite(values[members])]
        n = len(finite)
        mean = float(finite.mean()) if n else math.nan
        half = t_factor(n) * float(finite.std(ddof=1)) if n > 1 else math.nan
        first = members[0]
        if n > 1:
            head = f"<b>{label}: {mean:.2f} ± {half:.2f}{unit}</b> (95% interval, {n} seeds)"
        elif n == 1:
            head = f"<b>{label}: {mean:.2f}{unit}</b> (one seed: no interval)"
        else:
            head = f"<b>{label}: no value</b>"
        lines = [head]
        if sized:
            lines.append(f"{models[first]} · {int(sizes[first]):,} parameters")
        if x and x not in ("parameters", "model"):
            lines.append(f"{AXIS_TITLES.get(x, x)}: {formatted(x, xs[first])}")
        for i in members:
            shown = "no value" if math.isnan(values[i]) else f"{values[i]:.2f}{unit}"
            extra = f" · {notes[i]}" if isinstance(notes[i], str) else ""
            lines.append(f"seed {seeds[i]}: {shown} · job {names[i]}/{extra}")
        rows.append(
            {
                "x": xs[first] if x else label,
                "mean": mean,
                "half": half,
                "seeds": n,
                "hover": "<br>".join(lines),
            }
        )
    table = pd.DataFrame(rows, columns=["x", "mean", "half", "seeds", "hover"])
    if x and numeric(table["x"]):
        table = table.sort_values("x", kind="stable")
    return table.reset_index(drop=True)


def mean_and_band(
    points: pd.DataFrame,
    name: str,
    colour: str,
    dash: str = "solid",
    symbol: str = "circle",
    group: str | None = None,
    bounds: tuple[float, float] | None = (0, 100),
    always_band: bool = False,
) -> list[dict]:
    """The mean of `points` (from `over_seeds`) as a line with markers whose hover label
    is the point's, after its 95% band, clipped to `bounds`; one legend entry (`group`)
    shows and hides both. On a categorical axis the interval is an error bar instead.
    `always_band` gives the band's traces even without intervals (an animation's frames
    replace traces by index). Plain trace dicts: plotly's checks of each cost milliseconds."""
    group = group or name
    x = points["x"].tolist()
    continuous = numeric(points["x"])
    has_band = bool(points["half"].notna().any())
    traces = []
    if continuous and (has_band or always_band):
        mean, half = points["mean"].to_numpy(), points["half"].to_numpy()
        low, high = mean - half, mean + half
        if bounds is not None:
            low, high = np.clip(low, bounds[0], None), np.clip(high, None, bounds[1])
        edge = {"type": "scatter", "mode": "lines", "line": {"width": 0}, "x": x}
        edge.update(hoverinfo="skip", showlegend=False, legendgroup=group)
        traces.append({**edge, "y": high.tolist()})
        traces.append({**edge, "y": low.tolist(), "fill": "tonexty"})
        traces[-1]["fillcolor"] = rgba(colour, 0.18) if colour.startswith("#") else colour
    mean = {
        "type": "scatter",
        "x": x,
        "y": points["mean"].tolist(),
        "name": name,
        "legendgroup": group,
        "mode": "lines+markers",
        "line": {"color": colour, "dash": dash},
        "marker": {"symbol": symbol, "size": 7},
        "text": points["hover"].tolist(),
        "hovertemplate": "%{text}<extra></extra>",
    }
    if has_band and not continuous:
        mean["error_y"] = {"type": "data", "array": points["half"].fillna(0).tolist()}
    return [*traces, mean]


def add_mean_and_band(fig: go.Figure, points: pd.DataFrame, *args: Any, **style: Any) -> None:
    """`mean_and_band`'s traces added to `fig` (same arguments)."""
    fig.add_traces(mean_and_band(points, *args, **style))


def swept_axes(ok: pd.DataFrame, swept: list[str]) -> tuple[str | None, list[str]]:
    """What the setting plot puts on its x axis (a `swept` column, or the quantity it sets),
    and the other swept columns, each combination a curve (seeds are not: they make bands)."""
    swept = [AXIS_OF.get(c, c) for c in swept if c != "seed"]
    swept = [c for c in dict.fromkeys(swept) if c in ok]
    if not swept:
        return None, []
    continuous = [c for c in swept if numeric(ok[c])]
    # a size of data against a curve per model, as data_size.png; else the model's size
    preferred = [c for c in ("train_images", "parameters") if c in continuous]
    x = (preferred or continuous or swept)[0]
    return x, [c for c in swept if c != x]


def value_label(job: Mapping[str, Any], column: str) -> str:
    """'lr 0.01' for a setting; a description alone: 'dropout 0.5' for a cure, the model
    ('MLP 50') for its parameters."""
    if column == "parameters":
        return str(job["model"])
    if column in DESCRIBED and isinstance(job[column], str):
        return job[column]
    return f"{AXIS_TITLES.get(column, column).rpartition('.')[2]} {formatted(column, job[column])}"


def group_label(job: pd.Series, columns: list[str]) -> str:
    """'dropout 0.5, lr 0.01': a curve's values of the swept columns that are not on x."""
    return ", ".join(value_label(job, c) for c in columns)


def setting_view(ok: pd.DataFrame, swept: list[str]) -> View | None:
    """The swept setting against test and training accuracy: the mean over seeds with its
    95% band, a curve per combination of the other `swept` columns. `ok`: the finished jobs."""
    if ok.empty:
        return None
    x, others = swept_axes(ok, swept)
    groups = ok.apply(lambda job: group_label(job, others), axis=1) if others else None
    fig = go.Figure()
    metrics = (
        ("test_acc", "test accuracy", "solid", "square"),
        ("train_set_acc", "training accuracy", "dash", "circle"),
    )
    names = [""] if groups is None else list(dict.fromkeys(groups))
    for i, name in enumerate(names):
        members = ok if groups is None else ok[groups == name]
        colour = COLOURS[i % len(COLOURS)] if others else None
        for j, (column, label, dash, symbol) in enumerate(metrics):
            if column not in members or members[column].isna().all():
                continue
            points = over_seeds(members, x, column, label)
            shown = f"{label} · {name}" if name else label
            add_mean_and_band(fig, points, shown, colour or COLOURS[j], dash, symbol, group=shown)
    seeds = ok.groupby(ok["seed"]).ngroups
    log = x is not None and numeric(ok[x]) and spans_decades(ok[x])
    x_title = "" if x is None else AXIS_TITLES.get(x, x) + (" (log scale)" if log else "")
    fig.update_xaxes(title=x_title, **(log_axis(ok[x]) if log else {}))
    fig.update_yaxes(title="accuracy (%)")
    across = f"against {AXIS_TITLES.get(x, x)}" if x else "of the one setting"
    caption = (
        f"Test accuracy (solid) and accuracy on the training set as trained on (dashed) {across}"
        + (f", a colour per {', '.join(others)}" if others else "")
        + (
            f": the mean over {seeds} seeds with its 95% t-interval as a band. "
            if seeds > 1
            else ": one seed, so no interval. "
        )
        + "Hover a point for its interval, each seed's value and job folder."
    )
    return View("Accuracy by setting", caption, [styled(fig)], ids=["setting"])


def initially_shown(ok: pd.DataFrame, most: int = 3) -> set[str]:
    """The jobs whose curves show when the page opens: the first seed of up to `most`
    settings spread over the sweep (the first, the last, between)."""
    firsts = ok[~setting_of(ok).duplicated()]
    if "parameters" in firsts:
        firsts = firsts.sort_values("parameters", kind="stable")
    picks = np.unique(np.linspace(0, len(firsts) - 1, min(most, len(firsts))).round().astype(int))
    return set(firsts["job"].iloc[picks])


def job_label(job: Mapping[str, Any], swept: list[str]) -> str:
    """'MLP 50, dropout 0.5, seed 1': the job's model, its other swept columns, its seed."""
    parts = [str(job.get("model", ""))]
    parts += [value_label(job, c) for c in swept if c not in ("parameters", "model") and c in job]
    return ", ".join([*filter(None, parts), f"seed {job['seed']}"])


def job_colours(n: int) -> list[str]:
    """A colour per job, all different: the qualitative ten, or a rainbow past ten."""
    if n <= len(COLOURS):
        return list(COLOURS[:n])
    return sample_colorscale("Turbo", [0.05 + 0.9 * i / (n - 1) for i in range(n)])


def curves_view(ok: pd.DataFrame, swept: list[str]) -> View | None:
    """Every finished job's training and validation accuracy and loss by epoch; a legend
    entry per job shows and hides its four curves (so do the job table's checkboxes)."""
    if "history" not in ok:  # no job finished
        return None
    ok = ok[ok["history"].map(lambda h: isinstance(h, list) and len(h) > 0)]
    if ok.empty:
        return None
    x, others = swept_axes(ok, swept)
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("accuracy (%)", "loss (log scale)"),
        horizontal_spacing=0.08,
    )
    shown = initially_shown(ok)
    colours = job_colours(len(ok))
    last = max((e["epoch"] for h in ok["history"] for e in h), default=0)
    epoch_type = np.int16 if last < 2**15 else np.int32  # a quarter less page than int32
    traces, losses = [], []
    for job, colour in zip(ok.to_dict("records"), colours, strict=True):
        history = pd.DataFrame(job["history"])
        group = f"job {job['job']}"
        name = f"{job['job']}: {job_label(job, [c for c in [x, *others] if c])}"
        visible = True if job["job"] in shown else "legendonly"
        stages = (
            ("train_running", "training batches", "dash", "lines"),
            ("val", "validation", "solid", "lines+markers"),
        )
        for stage, what, dash, mode in stages:
            for axis, metric, scale in (("", "acc", 100), ("2", "loss", 1)):
                key = f"{stage}_{metric}"
                if key not in history:
                    continue
                points = history[np.isfinite(history[key].astype(float))]
                y = (scale * points[key]).to_numpy(dtype=np.float32)
                if metric == "loss":
                    losses.append(y)
                digits = 3 if metric == "loss" else 2
                traces.append(
                    {
                        "type": "scatter",
                        "x": typed(points["epoch"].to_numpy(dtype=epoch_type)),
                        "y": typed(y),
                        "xaxis": f"x{axis}",
                        "yaxis": f"y{axis}",
                        "name": name,
                        "legendgroup": group,
                        "showlegend": not traces or traces[-1]["legendgroup"] != group,
                        "visible": visible,
                        "mode": mode,
                        "line": {"color": colour, "dash": dash, "width": 1.5},
                        "marker": {"size": 4},
                        "hovertemplate": f"job {job['job']}/ · {what} {metric}<br>"
                        f"epoch %{{x}}: %{{y:.{digits}f}}<extra></extra>",
                    }
                )
    fig.update_xaxes(title="epoch")
    loss_axis = log_axis(np.concatenate(losses)) if losses else {"type": "log"}
    fig.update_yaxes(row=1, col=2, **loss_axis)
    fig.update_layout(legend={"title": {"text": "job (click to show or hide)"}})
    spec = styled(fig, height=460).to_dict()
    spec["data"] = traces  # plain dicts: plotly's checks of 132 traces take a second
    caption = (
        "Each job's accuracy and loss by epoch: dashed, the training batches' running figures "
        "(on the labels as trained on); solid with dots, validation. Click jobs in the legend, "
        "or tick them in the job table, to compare several at once."
    )
    return View("Curves by epoch", caption, [spec], ids=[CURVES_ID])


# ---- the page


def job_states(folder: Path, jobs: pd.DataFrame) -> pd.Series:
    """'ok', 'failed', or 'running': a job without metrics.json that wrote no error.txt."""
    states = jobs["status"].copy()
    for i, job in jobs.iterrows():
        where = folder / str(job["job"])
        unfinished = not (where / "metrics.json").exists()
        if job["status"] != "ok" and unfinished and not (where / "error.txt").exists():
            states[i] = "running"
    return states


def status_sentences(states: pd.Series, folder: Path) -> list[str]:
    """How many jobs finished, failed, still run, and what the page shows of them."""
    counts = states.value_counts()
    ok, failed, running = (int(counts.get(s, 0)) for s in ("ok", "failed", "running"))
    parts = [f"{ok} finished"]
    if failed:
        parts.append(f"{failed} failed (the job table says why)")
    if running:
        parts.append(f"{running} still running or stopped ({RUNNING.partition(': ')[0]})")
    total = len(states)
    lines = [f"{total} job{'s' if total != 1 else ''}: " + ", ".join(parts) + "."]
    rebuild = f"<code>python -m src.report {html.escape(str(folder))}</code>"
    if ok == 0:
        lines.append(f"No job has finished, so there is nothing to plot yet; {rebuild} redraws.")
    elif running:
        lines.append(f"The plots show the finished jobs; {rebuild} adds the rest when they end.")
    if ok == 1:
        lines.append("One finished job: no interval over seeds.")
    return lines


def write_plotly_js(folder: Path) -> Path:
    """plotly.min.js beside the page (as plotly's include_plotlyjs="directory" puts it),
    rewritten only when missing or of another version (its first line says which)."""
    path = folder / PLOTLY_JS
    script = get_plotlyjs()
    head = script[:200]
    if path.is_file():
        with path.open(encoding="utf-8", errors="replace") as f:
            if f.read(200) == head:
                return path
    path.write_text(script, encoding="utf-8")
    return path


def figure_html(fig: go.Figure | dict, element: str) -> str:
    """The figure's element and its JSON, which the page's script draws."""
    spec = fig.to_dict() if isinstance(fig, go.Figure) else fig  # numeric arrays as base64
    spec = pio.to_json(spec, validate=False).replace("</", "<\\/")  # no </script> inside
    height = spec_height(fig)  # its room kept before it is drawn: the page stays put
    return (
        f'<div class="plot" id="{element}" style="min-height: {height}px"></div>\n'
        f'<script type="application/json" id="{element}-spec">{spec}</script>'
    )


def spec_height(fig: go.Figure | dict) -> int:
    layout = fig.layout.to_plotly_json() if isinstance(fig, go.Figure) else fig.get("layout", {})
    return int(layout.get("height") or 450)


def link(href: str, text: str) -> str:
    return f'<a href="{html.escape(quote(href), quote=True)}">{html.escape(text)}</a>'


def pictures_cell(folder: Path, job: str) -> str:
    """Links to the job's pictures, and the pictures themselves under a click."""
    drawn = sorted((folder / job / "pictures").glob("*.png"))
    if not drawn:
        return ""
    links = " · ".join(link(f"{job}/pictures/{p.name}", p.stem) for p in drawn)
    images = "".join(
        f'<img loading="lazy" src="{html.escape(quote(f"{job}/pictures/{p.name}"))}" '
        f'alt="job {html.escape(job)}: {html.escape(p.stem)}">'
        for p in drawn
    )
    return f"{links}<details><summary>show</summary>{images}</details>"


# Results the job table shows, and their headers.
TABLE_RESULTS = {
    "parameters": "params",
    "test_acc": "test %",
    "val_acc": "val %",
    "train_set_acc": "train %",
    "train_set_acc_corrupted": "wrong labels fitted %",
    "epochs": "epochs",
}


def job_table(
    folder: Path,
    jobs: pd.DataFrame,
    states: pd.Series,
    swept: list[str],
    with_curves: bool,
    files: str = "",
) -> str:
    """A row per job: its folder (linked where it lies beside the page: a study page's
    results keep no job folders), state, `swept` columns, results, pictures; why it failed."""
    ok = jobs[states == "ok"]
    shown = []
    if len(ok):
        x, others = swept_axes(ok, swept)
        shown = [c for c in ([x] if x else []) + others if c in jobs and c != "parameters"]
        shown += ["seed"] if "seed" in jobs and ok["seed"].nunique() > 1 else []
    columns = list(dict.fromkeys(["model", *shown] if "model" in jobs else shown))
    results = [c for c in TABLE_RESULTS if c in jobs and jobs[c].notna().any()]
    header = ["job", "state", *(AXIS_TITLES.get(c, c) for c in columns)]
    header += [TABLE_RESULTS[c] for c in results]
    header += ["curves"] if with_curves else []
    header += ["pictures", "note"]
    rows = []
    for (_, job), state in zip(jobs.iterrows(), states, strict=True):
        name = str(job["job"])
        cells = [html.escape(name) if files else link(f"{name}/", name), html.escape(state)]
        for column in [*columns, *results]:
            value = job.get(column)
            if column in DESCRIBED and isinstance(value, str):
                cells.append(html.escape(value))
            else:
                cells.append(html.escape(formatted(column, value)) if state == "ok" else "")
        if with_curves:
            box = (
                f'<input type="checkbox" class="curve" data-job="{html.escape(name)}" '
                f'aria-label="curves of job {html.escape(name)}">'
            )
            cells.append(box if state == "ok" else "")
        cells.append(pictures_cell(folder, name))
        note = ""
        if state == "failed":
            note = str(job.get("reason") or "failed")
            if job.get("overrides"):
                note += f" (overrides: {job['overrides']})"
        elif state == "running":
            note = RUNNING
        cells.append(html.escape(note))
        rows.append(
            f'<tr class="{state}" id="job-{html.escape(name)}">'
            + "".join(f"<td>{c}</td>" for c in cells)
            + "</tr>"
        )
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    return (
        f'<table class="jobs"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def files_list(folder: Path, files: str = "") -> str:
    """Links to the sweep's summaries and figures (where `files` says they are)."""
    names = [n for n in FILES if (folder / n).is_file()]
    names += sorted(p.name for p in folder.glob("*.png"))
    if not names:
        return "<p>No other files yet.</p>"
    return "<ul>" + "".join(f"<li>{link(files + n, n)}</li>" for n in names) + "</ul>"


def render(
    folder: Path,
    jobs: pd.DataFrame,
    views: Sequence[View],
    swept: list[str],
    title: str,
    files: str = "",
) -> str:
    """The page's HTML: the `views` in the frame; the job table shows the `swept` columns;
    links to the sweep's files start with `files` (its folder from the page's)."""
    states = job_states(folder, jobs)
    ok = jobs[states == "ok"]
    intro = status_sentences(states, folder)
    if command := sweep_command(folder):
        intro.append(f"Overrides: <code>{html.escape(command)}</code>.")
    if len(ok) and (shared := shared_settings(jobs)):
        intro.append("Every job: " + html.escape(", ".join(shared)) + ".")
    sections, contents = [], []
    anchors: set[str] = set()
    for view in views:
        anchor = view.anchor
        while anchor in anchors:
            anchor += "-"
        anchors.add(anchor)
        figures = "\n".join(
            figure_html(fig, element)
            for fig, element in zip(view.figures, view.figure_ids(), strict=True)
        )
        sections.append(
            f'<section id="{anchor}"><h2>{html.escape(view.title)}</h2>'
            f'<p class="caption">{html.escape(view.caption)}</p>{figures}{view.html}</section>'
        )
        contents.append(f'<li><a href="#{anchor}">{html.escape(view.title)}</a></li>')
    with_curves = any(CURVES_ID in v.figure_ids() for v in views)
    contents += ['<li><a href="#jobs">Jobs</a></li>', '<li><a href="#files">Files</a></li>']
    return PAGE_TEMPLATE.substitute(
        title=html.escape(title),
        plotly=PLOTLY_JS,
        intro="".join(f"<p>{line}</p>" for line in intro),
        contents="".join(contents),
        sections="\n".join(sections),
        jobs=job_table(folder, jobs, states, swept, with_curves, files),
        files=files_list(folder, files),
        script=SCRIPT,
    )


def write_page(
    folder: Path,
    jobs: pd.DataFrame,
    views: Sequence[View],
    swept: list[str],
    title: str,
    page: Path | None = None,
    files: str = "",
) -> Path:
    """Write the `views` in the page's frame to `page` (<folder>/explorer.html unless said),
    and plotly.min.js beside it; return the page's path. `jobs` is the sweep's table, failed
    jobs included; `files`, where the page finds the sweep's files (beside it unless said:
    the study's pages in docs/ link the results' own)."""
    page = page or folder / PAGE
    write_plotly_js(page.parent)
    page.write_text(render(folder, jobs, views, swept, title, files), encoding="utf-8")
    return page


def write_explorer(
    folder: Path,
    jobs: pd.DataFrame,
    reporting: Sequence[ModuleType],
    page: Path | None = None,
    files: str = "",
) -> Path:
    """Write the sweep's explorer.html from its table `jobs` (failed jobs included): accuracy
    by setting, the views of the experiments `reporting` it (their `views` of the finished
    jobs), every job's curves by epoch; plotly.min.js beside it. Returns the page's path;
    `page` and `files` as `write_page` takes them."""
    ok = jobs[jobs["status"] == "ok"]
    swept = table_columns(jobs, reporting)
    own = [view for e in reporting if hasattr(e, "views") for view in e.views(ok)]
    views = [setting_view(ok, swept), *own, curves_view(ok, swept)]
    shown = [view for view in views if view is not None]
    title = f"Sweep {files.rstrip('/').removeprefix('../../') or folder}"
    return write_page(folder, jobs, shown, swept, title, page, files)


def verdict_html(verdict: str) -> str:
    """'holds with a caveat: why' -> '<b>holds with a caveat</b>: why'."""
    word, colon, why = verdict.partition(":")
    return f"<b>{html.escape(word)}</b>{html.escape(colon + why)}"


def write_claims_page(claims: Sequence[Claim], path: Path, commands: Mapping[str, str]) -> Path:
    """Write the claims table to `path` in the claims folder (claims.html): a row per claim,
    what it measured and its verdict, linking the explorer page of each sweep that measured
    it (<sweep>/explorer.html beside the page), the sweep's command on hover. No plots, so
    no plotly.min.js. Returns `path`."""
    rows = []
    for claim in claims:
        pages = " · ".join(
            f'<a href="{html.escape(quote(f"{name}/{PAGE}"), quote=True)}" '
            f'title="{html.escape(commands[name], quote=True)}">{html.escape(name)}</a>'
            for name in claim.sweeps
        )
        # The numbers behind the sentence on hover, as claims.md gives them under its table.
        finding = (
            f'<span title="{html.escape(claim.measured, quote=True)}">'
            f"{html.escape(claim.finding)}</span>"
        )
        if claim.conditions and claim.verdict != "holds":
            finding += f"<br><small>Measured only on {html.escape(claim.conditions)}.</small>"
        cells = [
            html.escape(claim.claim),
            finding,
            verdict_html(claim.verdict),
            pages or "none: <code>python -m src.claims</code> measures it",
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    rules = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", html.escape(RULES))
    path.write_text(CLAIMS_TEMPLATE.substitute(rows="\n".join(rows), rules=rules), encoding="utf-8")
    return path


SCRIPT = """
(function () {
  "use strict";
  if (typeof Plotly === "undefined") {
    document.getElementById("no-plotly").hidden = false;
    document.body.dataset.ready = "no-plotly";
    return;
  }
  window.explorerStartMs = performance.now();  // plotly.min.js parsed and run by now
  window.explorerPlotMs = {};
  var config = {displaylogo: false, responsive: true};
  var plots = Array.prototype.slice.call(document.querySelectorAll("div.plot"));
  function draw(div) {
    var spec = JSON.parse(document.getElementById(div.id + "-spec").textContent);
    return Plotly.newPlot(div, {
      data: spec.data, layout: spec.layout, frames: spec.frames || [], config: config
    }).then(function () { window.explorerPlotMs[div.id] = performance.now(); });
  }
  function onScreen(div) {
    var box = div.getBoundingClientRect();
    return box.top < window.innerHeight && box.bottom > 0;
  }
  // The plots on screen first; then the others one at a time, the page answering between.
  var first = plots.filter(onScreen), later = plots.filter(function (d) { return !onScreen(d); });
  function drawLater() {
    var div = later.shift();
    if (!div) return null;
    return new Promise(function (go) { setTimeout(go, 0); })
      .then(function () { return draw(div); }).then(drawLater);
  }
  var curves = document.getElementById("curves");
  var boxes = document.querySelectorAll("input.curve");
  function sync() {  // the checkboxes follow the legend
    var shown = {};
    curves.data.forEach(function (t) {
      if (t.visible === undefined || t.visible === true) shown[t.legendgroup] = true;
    });
    boxes.forEach(function (box) { box.checked = !!shown["job " + box.dataset.job]; });
  }
  boxes.forEach(function (box) {
    box.addEventListener("change", function () {
      if (!curves.data) return;  // not drawn yet: drawing it ticks the boxes
      var group = "job " + box.dataset.job, traces = [];
      curves.data.forEach(function (t, i) { if (t.legendgroup === group) traces.push(i); });
      Plotly.restyle(curves, {visible: box.checked ? true : "legendonly"}, traces);
    });
  });
  window.explorerReady = Promise.all(first.map(draw)).then(function () {
    window.explorerOpenMs = performance.now();
    document.body.dataset.open = "yes";
    return drawLater();
  }).then(function () {
    if (curves) { curves.on("plotly_restyle", sync); sync(); }
    window.explorerDrawnMs = performance.now();
    document.body.dataset.ready = "yes";
  }, function (error) {
    document.body.dataset.ready = "error";
    console.error(error);
  });
})();
"""

PAGE_TEMPLATE = string.Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<script src="$plotly"></script>
<style>
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 0 1.5em 3em;
  color: #222; line-height: 1.45; }
h1 { margin-top: 1em; font-size: 1.6em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
.caption { color: #444; max-width: 60em; }
nav ul { display: flex; flex-wrap: wrap; gap: .4em 1.2em; padding: 0; list-style: none; }
code { background: #f3f3f3; padding: 0 .25em; }
.plot { width: 100%; }
#no-plotly { background: #fee; border: 1px solid #c66; padding: .5em 1em; }
table.jobs { border-collapse: collapse; font-size: .85em; }
table.jobs th, table.jobs td { border-bottom: 1px solid #e3e3e3; padding: .25em .6em;
  text-align: left; vertical-align: top; }
table.jobs th { position: sticky; top: 0; background: #fafafa; }
table.jobs td { white-space: nowrap; }
table.jobs td:last-child { white-space: normal; min-width: 16em; }
table.jobs tr.failed td { background: #fff1f0; }
table.jobs tr.running td { background: #fffbe6; }
table.jobs details img { display: block; max-width: 480px; margin: .3em 0; }
</style>
</head>
<body data-ready="no">
<h1>$title</h1>
<p id="no-plotly" hidden>plotly.min.js is missing beside this page, so it draws no plots:
<code>python -m src.report &lt;sweep folder&gt;</code> writes it again.</p>
$intro
<nav><ul>$contents</ul></nav>
$sections
<section id="jobs"><h2>Jobs</h2>
<p class="caption">Each job's folder, its settings that the sweep varies, its results in %
(measured once after training, with the tested weights), and the pictures it drew.</p>
$jobs
</section>
<section id="files"><h2>Files</h2>$files</section>
<script>$script</script>
</body>
</html>
"""
)

CLAIMS_TEMPLATE = string.Template(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>The handout's claims</title>
<style>
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 0 1.5em 3em;
  color: #222; line-height: 1.45; }
h1 { margin-top: 1em; font-size: 1.6em; }
code { background: #f3f3f3; padding: 0 .25em; }
table.claims { border-collapse: collapse; }
table.claims th, table.claims td { border-bottom: 1px solid #e3e3e3; padding: .4em .7em;
  text-align: left; vertical-align: top; }
.rules { color: #444; max-width: 60em; }
</style>
</head>
<body>
<h1>The handout's claims</h1>
<p>Each claim's sweeps open their explorer pages: every job, its curves and the figures.</p>
<table class="claims"><thead><tr><th>the handout's claim</th>
<th>what was compared, and what came out</th><th>verdict</th><th>sweeps</th></tr></thead>
<tbody>
$rows
</tbody></table>
<p class="rules">$rules</p>
</body>
</html>
"""
)
