"""experiment=loss: cross-entropy against squared error on the softmax, for mlp3, and the
handout's claim that cross-entropy is the loss for classification."""

import pandas as pd

from src.study.claims import Claim, better, gap


def fits(jobs: pd.DataFrame) -> bool:
    """The jobs compare losses."""
    return "model.loss" in jobs and jobs["model.loss"].nunique() > 1


def claims(sweeps: dict[str, pd.DataFrame]) -> list[Claim]:
    """Cross-entropy against mean squared error on the softmax."""
    jobs = sweeps["loss"]
    loss = jobs["model.loss"]
    difference = gap(jobs, loss == "cross_entropy", loss == "mse")
    claim = Claim(
        "Cross-entropy is the loss for classification (not squared error on one-hot labels)",
        ("loss",),
        f"mlp3, cross-entropy minus MSE on the softmax: {difference} points of test accuracy",
        better(difference, "cross-entropy and MSE"),
        "loss.png",
    )
    return [claim]
