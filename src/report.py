"""Summarise a sweep: `python -m src.report outputs/multirun/<date>/<time>`.

Writes into the sweep folder summary.csv, summary_by_setting.csv, summary.md and the figures
that suit the sweep (src/study/report.py says which), each drawing the seeds' mean with its
95% band; and explorer.html, the sweep to explore in a browser, offline (plotly.min.js beside
it). No torch here, so it takes a moment.
"""

import argparse
from pathlib import Path

from src.run import failures
from src.study.report import write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="outputs/multirun/<date>/<time>")
    args = parser.parse_args()
    for path in write_report(args.sweep_dir):
        print(f"wrote {path}")


if __name__ == "__main__":
    with failures.entry_point():
        main()
