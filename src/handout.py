"""The handout's claims, measured: the tables of the input-scale, batch-size and activation
sweeps (experiment=input_scale, batch_size, activation), over seeds, from the table of
`src.results`. summary.md shows them and `src.claims` reads them. No torch here."""

import pandas as pd

from src.results import half_width

SCALES = ("raw", "unit", "symmetric", "standard")  # data.input_scale; the handout's: symmetric
HANDOUT_SCALE = "symmetric"


def is_input_scale_sweep(jobs: pd.DataFrame) -> bool:
    """The jobs vary data.input_scale (experiment=input_scale)."""
    return "data.input_scale" in jobs and jobs["data.input_scale"].nunique() > 1


def is_batch_size_sweep(jobs: pd.DataFrame) -> bool:
    """The jobs try three batch sizes or more (experiment=batch_size)."""
    return "data.batch_size" in jobs and jobs["data.batch_size"].nunique() >= 3


def has_gradient_norms(jobs: pd.DataFrame) -> bool:
    """Every job recorded its layers' gradient norms (experiment=activation)."""
    return "grad_norm_input" in jobs and jobs["grad_norm_input"].notna().all()


def mean_ci(values: pd.Series) -> tuple[float, float]:
    """The mean of the non-missing values and the half-width of its 95% t-interval."""
    values = values.dropna()
    return float(values.mean()), half_width(values.std(ddof=1), len(values))


def diverged(jobs: pd.DataFrame) -> pd.Series:
    """Which jobs ended on a non-finite training loss (divergence=record)."""
    if "diverged" not in jobs:
        return pd.Series(False, index=jobs.index)
    return jobs["diverged"].astype("boolean").fillna(False).astype(bool)


def over_seeds(jobs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per value of `keys`: `seeds`, `diverged` (runs), `reached` (runs that reached 90%
    training accuracy), and the mean and 95% half-width (`_ci95`) of validation and test
    accuracy and of the steps to 90% (over the runs that reached it)."""
    rows = []
    for values, members in jobs.assign(diverged=diverged(jobs)).groupby(keys, sort=False):
        row = dict(zip(keys, values, strict=True))
        row["seeds"], row["diverged"] = len(members), int(members["diverged"].sum())
        row["reached"] = int(members["steps_to_90"].notna().sum())
        for column in ("val_acc", "test_acc", "steps_to_90"):
            row[column], row[f"{column}_ci95"] = mean_ci(members[column])
        rows.append(row)
    return pd.DataFrame(rows)


def best_on_validation(settings: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """For each value of `keys`, the row with the best mean validation accuracy."""
    return settings.loc[settings.groupby(keys, sort=False)["val_acc"].idxmax()]


def differences(jobs: pd.DataFrame, a: pd.Series, b: pd.Series, column: str) -> pd.Series:
    """Per seed, `column` in the jobs `a` minus in the jobs `b` (boolean masks, one job per
    seed each)."""
    by_seed = [jobs[mask].set_index("seed")[column] for mask in (a, b)]
    return (by_seed[0] - by_seed[1]).dropna()


# ---- experiment=input_scale


def with_recipe(jobs: pd.DataFrame) -> pd.DataFrame:
    """The jobs with `recipe`: the optimiser they trained with, sgd (the handout's gradient
    descent, +recipe=sgd) or adamw (the default recipe)."""
    return jobs.assign(recipe=jobs["model.optimizer"])


INPUT_KEYS = ["model", "recipe", "data.input_scale"]


def input_scale_settings(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per model, recipe, input scale and learning rate, over seeds (`over_seeds`)."""
    return over_seeds(with_recipe(jobs), [*INPUT_KEYS, "model.lr"])


def input_scale_table(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per model, recipe and input scale: its figures at the learning rate that suits the
    handout's [-1, 1] best (`same_` columns) and at its own best learning rate (`own_`),
    each chosen on the mean validation accuracy over seeds."""
    settings = input_scale_settings(jobs)
    own = best_on_validation(settings, INPUT_KEYS).set_index(INPUT_KEYS)
    handout = own.xs(HANDOUT_SCALE, level="data.input_scale")["model.lr"]
    at_handout_lr = [
        handout.get((model, recipe)) == lr
        for model, recipe, lr in settings[["model", "recipe", "model.lr"]].itertuples(index=False)
    ]
    same = settings[at_handout_lr].set_index(INPUT_KEYS)
    table = same.add_prefix("same_").join(own.add_prefix("own_")).reset_index()
    order = {scale: i for i, scale in enumerate(SCALES)}
    table["order"] = table["data.input_scale"].map(order)
    return table.sort_values(["model", "recipe", "order"]).drop(columns="order")


def chosen_runs(jobs: pd.DataFrame, table: pd.DataFrame, which: str) -> pd.DataFrame:
    """The jobs of each row of `input_scale_table` at its `which` ("same" or "own") learning
    rate."""
    jobs = with_recipe(jobs)
    keys = [*INPUT_KEYS, "model.lr"]
    chosen = table[[*INPUT_KEYS, f"{which}_model.lr"]].set_axis(keys, axis=1)
    return jobs.merge(chosen, on=keys)


# ---- experiment=batch_size


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


# ---- experiment=activation


def activation_table(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per activation and depth: test accuracy, and the first epoch's mean weight-gradient
    norm of the input and the output layer and their ratio, each over seeds."""
    rows = []
    for (activation, depth), members in jobs.groupby(["model.activation", "depth"], sort=False):
        row = {"activation": activation, "depth": depth, "seeds": len(members)}
        for column in ("test_acc", "grad_norm_input", "grad_norm_output", "grad_norm_ratio"):
            row[column], row[f"{column}_ci95"] = mean_ci(members[column])
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["depth", "activation"]).reset_index(drop=True)
