"""experiment=batch_size: mlp3 from one image a step to the whole training split in one
batch, for the same epochs and for the same seconds of training, each size at the learning
rate that validates best. Speed and test accuracy by batch size (summary.md, batch_size.png),
and the handout's claims on batching."""

from dataclasses import replace
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from src.study.claims import NOT_HERE, Claim, Part, anchor, gap, judged, measured_on, unjudged
from src.study.figures import log_x_axes, plain_log_y, plot_band, save_figure, seed_count
from src.study.stats import intervals, mean_ci, percent
from src.study.table import best_on_validation, over_seeds

SECTION = "Batch size"  # the heading of its section in summary.md


def fits(jobs: pd.DataFrame) -> bool:
    """The jobs try three batch sizes or more."""
    return "data.batch_size" in jobs and jobs["data.batch_size"].nunique() >= 3


def figures(jobs: pd.DataFrame, folder: Path) -> list[Path]:
    return [plot_batch_size(jobs, folder / "batch_size.png")]


def with_budget(jobs: pd.DataFrame) -> pd.DataFrame:
    """The jobs with `budget`: "time" for those that trained for trainer.max_time, else
    "epochs"."""
    limit = jobs.get("trainer.max_time", pd.Series(None, index=jobs.index, dtype=object))
    return jobs.assign(budget=limit.notna().map({True: "time", False: "epochs"}))


def batch_size_settings(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per batch size and budget, the learning rate that validates best (`over_seeds`)."""
    keys = ["data.batch_size", "budget"]
    return best_on_validation(over_seeds(with_budget(jobs), [*keys, "model.lr"]), keys)


def batch_size_runs(jobs: pd.DataFrame, budget: str) -> pd.DataFrame:
    """The runs of `budget` ("epochs" or "time") at each batch size's chosen learning rate."""
    chosen = batch_size_settings(jobs)
    chosen = chosen[chosen["budget"] == budget][["data.batch_size", "budget", "model.lr"]]
    return with_budget(jobs).merge(chosen, on=["data.batch_size", "budget", "model.lr"])


def epoch_budget_runs(jobs: pd.DataFrame) -> pd.DataFrame:
    """Every run of the epoch budget, with the training images it took in a second."""
    runs = with_budget(jobs)
    runs = runs[runs["budget"] == "epochs"]
    return runs.assign(images_per_second=runs["train_images"] / runs["seconds_per_epoch"])


def batch_size_table(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per batch size: for each budget the learning rate chosen on validation and its test
    accuracy (`<budget>_` columns); the speed of an epoch (seconds, images per second) over
    every run of the epoch budget; the epochs the time budget held at its chosen rate."""
    table = batch_size_settings(jobs).set_index(["data.batch_size", "budget"]).unstack("budget")
    table.columns = [f"{budget}_{column}" for column, budget in table.columns]
    epochs = epoch_budget_runs(jobs)
    for name, source, column in (
        ("seconds_per_epoch", epochs, "seconds_per_epoch"),
        ("images_per_second", epochs, "images_per_second"),
        ("time_epochs", batch_size_runs(jobs, "time"), "epochs"),
    ):
        stats = source.groupby("data.batch_size")[column].apply(mean_ci)
        table[name] = stats.map(lambda m: m[0])
        table[f"{name}_ci95"] = stats.map(lambda m: m[1])
    return table.sort_index().reset_index()


def seconds(max_time: str) -> float:
    """Lightning's max_time "DD:HH:MM:SS" in seconds."""
    days, hours, minutes, secs = (float(part) for part in str(max_time).split(":"))
    return ((days * 24 + hours) * 60 + minutes) * 60 + secs


def budget_label(jobs: pd.DataFrame, budget: str) -> str:
    """What `budget` gave the jobs: '5 epochs' or '10 s of training'."""
    if budget == "time":
        return f"{seconds(jobs['trainer.max_time'].iloc[0]):g} s of training"
    return f"{int(jobs['trainer.max_epochs'].iloc[0])} epochs"


def sections(jobs: pd.DataFrame) -> list[str]:
    table = batch_size_table(jobs)
    timed = with_budget(jobs)
    amounts = {b: budget_label(m, b) for b, m in timed.groupby("budget")}
    shown = {
        "batch size": table["data.batch_size"].map("{:,}".format),
        "s/epoch": intervals(table, "seconds_per_epoch"),
        "images/s": table["images_per_second"].map("{:,.0f}".format),
    }
    for budget, amount in amounts.items():
        shown[f"lr ({amount})"] = table[f"{budget}_model.lr"].map("{:g}".format)
        shown[f"test % after {amount}"] = intervals(table, f"{budget}_test_acc", in_percent=True)
    if "time" in amounts:
        shown[f"epochs in {amounts['time']}"] = intervals(table, "time_epochs")
    return [
        "",
        f"## {SECTION}",
        "",
        "Seconds per epoch and images per second: every run of the epoch budget, one torch "
        "thread a job. The learning rate of each size and budget is chosen on the mean "
        "validation accuracy over seeds; test accuracy: mean ± half-width of the 95% t-interval.",
        "",
        pd.DataFrame(shown).to_markdown(index=False, disable_numparse=True),
    ]


def plot_batch_size(jobs: pd.DataFrame, path: Path) -> Path:
    """Images per second, and test accuracy after the same epochs and after the same time,
    against the batch size."""
    jobs = with_budget(jobs)
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    speed_ax, acc_ax = fig.subplots(1, 2)
    speeds = epoch_budget_runs(jobs)
    plot_band(speed_ax, speeds, "data.batch_size", "images_per_second", marker="o", color="C0")
    plain_log_y(speed_ax)
    speed_ax.set(ylabel="training images per second (log scale)", title="Speed of an epoch")
    for i, budget in enumerate(sorted(jobs["budget"].unique())):
        runs = batch_size_runs(jobs, budget)
        style = dict(marker="os"[i], color=f"C{i + 1}", label=f"after {budget_label(runs, budget)}")
        plot_band(acc_ax, runs, "data.batch_size", "test_acc", 100, **style)
    acc_ax.set(ylabel="test accuracy (%)", title="Test accuracy, lr chosen per size on validation")
    acc_ax.legend(fontsize=8)
    log_x_axes((speed_ax, acc_ax), "batch size")
    images = int(jobs["train_images"].iloc[0])
    fig.suptitle(
        f"Batch size: {jobs['model'].iloc[0]} on {images:,} training images, "
        f"{seed_count(jobs.groupby(['data.batch_size', 'budget', 'model.lr']).size())} seeds"
    )
    return save_figure(fig, path)


def claims(sweeps: dict[str, pd.DataFrame]) -> list[Claim]:
    """One image a step against the handout's 512; the whole split in one batch against it."""
    jobs = sweeps["batch_size"]
    table = batch_size_table(jobs).set_index("data.batch_size")
    one, whole, middle = table.index.min(), table.index.max(), 512
    timed, epochs = (batch_size_runs(jobs, b) for b in ("time", "epochs"))
    amount = {b: budget_label(r, b) for b, r in (("time", timed), ("epochs", epochs))}
    speed = table["images_per_second"]
    batches = f"batches of {middle}"
    single = "one image a step" if one == 1 else f"batches of {one}"
    size = timed["data.batch_size"]
    after_time = Part(batches, single, gap(timed, size == middle, size == one))
    size = epochs["data.batch_size"]
    after_epochs = Part(
        batches, f"one batch of all {whole:,} images", gap(epochs, size == middle, size == whole)
    )
    summary = f"batch_size/summary.md#{anchor(SECTION)}"

    faster = speed[middle] / speed[one]
    template = unjudged(
        "One image a step (forgetting .batch()) is slow: train on batches of 512",
        ("batch_size",),
        summary,
        "batch_size.png",
        f"Images a second: {speed[middle]:,.0f} in batches of {middle} against {speed[one]:,.0f} "
        f"in batches of {one}",
    )
    if faster > 1:
        rows = judged(
            template,
            [after_time],
            lead=f"Batches of {middle} took in {faster:.0f}x as many images a second as "
            f"{single}, and after the same {amount['time']}",
            conditions=lambda parts: measured_on(parts, amount["time"], chosen=True),
        )
    else:
        rows = [
            replace(
                template,
                finding=f"{single.capitalize()} took in as many images a second as {batches}.",
                verdict=NOT_HERE,
                conditions=measured_on([after_time], amount["time"], chosen=True),
            )
        ]

    return rows + judged(
        unjudged(
            "The whole training set in one batch learns little per epoch",
            ("batch_size",),
            summary,
            "batch_size.png",
            f"Test accuracy after {amount['epochs']}: {tested(table, middle)}% in batches of "
            f"{middle}, {tested(table, whole)}% in one batch",
        ),
        [after_epochs],
        lead=f"After the same {amount['epochs']},",
        conditions=lambda parts: measured_on(parts, chosen=True),
    )


def tested(table: pd.DataFrame, size: int) -> str:
    """Test accuracy after the epoch budget at batch size `size`, in percent ± its interval."""
    return percent(table.at[size, "epochs_test_acc"], table.at[size, "epochs_test_acc_ci95"])
