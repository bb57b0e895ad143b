"""experiment=loss: cross-entropy against squared error on the softmax, for mlp3, and the
handout's claim that cross-entropy is the loss for classification."""

import pandas as pd

from src.study.claims import Claim, Part, anchor, gap, judged, unjudged

SECTION = "Over seeds"  # summary.md's section with each loss's results (every sweep has it)


def fits(jobs: pd.DataFrame) -> bool:
    """The jobs compare losses."""
    return "model.loss" in jobs and jobs["model.loss"].nunique() > 1


def claims(sweeps: dict[str, pd.DataFrame]) -> list[Claim]:
    """Cross-entropy against mean squared error on the softmax."""
    jobs = sweeps["loss"]
    loss = jobs["model.loss"]
    difference = gap(jobs, loss == "cross_entropy", loss == "mse")
    return judged(
        unjudged(
            "Cross-entropy is the loss for classification (not squared error on one-hot labels)",
            ("loss",),
            f"loss/summary.md#{anchor(SECTION)}",
            "loss.png",
        ),
        [Part("cross-entropy", "squared error on the softmax", difference)],
        lead=f"On {jobs['model'].iloc[0]},",
    )
