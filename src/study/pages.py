"""The study's pages, written from its results: `python -m src.study.pages [--check]`.

The canonical runs live in results/<name>/: runs.tar.gz (each job's metrics.json and .hydra/,
the sweep's multirun.yaml; polynomial keeps its fits.csv.gz instead) and what the report wrote
from them (summary.md, the CSVs, ensembles.csv, the figures); results/claims.md is the claims
table. This command writes each summary.md again from the runs, then copies what the pages
quote into them: in README.md and docs/, a block between

    <!-- results/<name>/summary.md: <section title> -->
    <!-- end -->

holds that section of that file ("table": its first table; where results/<name> is not
committed, a line saying how to make it), `<!-- benchmarks/<file>.md: ... -->` the same of
what a benchmark wrote, and `<!-- results: wall times -->` a table of every result's wall
time, as its summary says. It also writes the study's interactive pages,
docs/explorer/<name>.html (one plotly.min.js beside them all) and the claims page. With
--check it writes nothing and fails, naming them, where a summary or a page differs from
what it would write: the tests run it so.

    python -m src.study.pages                               the summaries and pages again
    python -m src.study.pages --check                       fail where they would change
    python -m src.study.pages --keep <sweep folder> <name>  keep a sweep as results/<name>
    python -m src.study.pages --keep <claims folder> claims keep src.claims' sweeps and table
"""

import argparse
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from src.run import failures
from src.study import experiments
from src.study.experiments import polynomial
from src.study.explorer import write_explorer
from src.study.report import described, summary_text
from src.study.table import load_sweep

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"
EXPLORER = ROOT / "docs" / "explorer"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(
    r"(<!-- ((?:results|benchmarks)[\w/.-]*): (.+?) -->\n)(.*?)(<!-- end -->)", re.DOTALL
)
RUNS = "runs.tar.gz"
CLAIMS = RESULTS / "claims.md"
WALL = re.compile(r"^Wall time: ([\d.]+ min)", re.MULTILINE)


class PageError(failures.ProjectError):
    """A page quotes what the results do not hold, or differs from them."""


# What a result keeps of a sweep's jobs: what the report reads (no checkpoints, pictures,
# logs or test predictions: the report keeps what it measured of those in ensembles.csv).
KEPT = (
    "metrics.json",
    "error.txt",
    ".hydra/config.yaml",
    ".hydra/hydra.yaml",
    ".hydra/overrides.yaml",
)
REPORTED = ("summary.md", "summary.csv", "summary_by_setting.csv", "ensembles.csv", "*.png")


def keep(sweep: Path, name: str) -> list[Path]:
    """The sweep (its report written) as results/<name>: its jobs' runs.tar.gz and what the
    report wrote; src.claims' folder as results/claims.md and .html beside its sweeps'."""
    if name == "claims":
        kept = [shutil.copy(sweep / f, RESULTS / f) for f in ("claims.md", "claims.html")]
        sweeps = [p for p in sweep.iterdir() if p.is_dir()]
        return [*map(Path, kept), *(path for s in sweeps for path in keep(s, s.name))]
    result = RESULTS / name
    shutil.rmtree(result, ignore_errors=True)
    result.mkdir(parents=True)
    if (fits := sweep / polynomial.FILE).is_file():
        return [
            Path(shutil.copy(f, result)) for f in (fits, sweep / "summary.md", *sweep.glob("*.png"))
        ]
    with tarfile.open(result / RUNS, "w:gz") as archive:
        if (sweep / "multirun.yaml").is_file():
            archive.add(sweep / "multirun.yaml", "multirun.yaml")
        for job in sorted(p for p in sweep.iterdir() if (p / ".hydra").is_dir()):
            for part in KEPT:
                if (job / part).is_file():
                    archive.add(job / part, f"{job.name}/{part}")
    reported = [f for pattern in REPORTED for f in sweep.glob(pattern)]
    return [result / RUNS, *(Path(shutil.copy(f, result)) for f in reported)]


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@contextmanager
def unpacked(result: Path) -> Iterator[Path]:
    """The result's runs unpacked beside copies of what the report wrote from them, in a
    folder named as the result: the report reads it as it read the sweep."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / result.name
        with tarfile.open(result / RUNS) as archive:
            archive.extractall(folder, filter="data")
        for kept in result.iterdir():
            if kept.is_file() and kept.name != RUNS:
                shutil.copy(kept, folder / kept.name)
        yield folder


def summaries(explore: bool) -> dict[Path, str]:
    """Each result's summary.md as the report writes it now from its runs (with `explore`,
    its page in docs/explorer written too)."""
    written = {}
    if explore:
        EXPLORER.mkdir(parents=True, exist_ok=True)
    for result in sorted(p for p in RESULTS.iterdir() if p.is_dir()):
        if (fits := result / polynomial.FILE).is_file():
            written[result / "summary.md"] = polynomial.summary_md(pd.read_csv(fits))
            continue
        if not (result / RUNS).is_file():
            continue
        with unpacked(result) as folder:
            # The report names the folder it read: name the result's instead.
            written[result / "summary.md"] = summary_text(folder).replace(str(folder), rel(result))
            if explore:
                jobs = described(load_sweep(folder))
                reporting = experiments.reporting(jobs[jobs["status"] == "ok"])
                page = EXPLORER / f"{result.name}.html"
                write_explorer(folder, jobs, reporting, page, f"../../results/{result.name}/")
    return written


def claims_page() -> str:
    """The claims page, its rows linking the study's pages: results/claims.html, whose links
    to each sweep's explorer.html beside it lead to docs/explorer/<sweep>.html."""
    page = (RESULTS / "claims.html").read_text()
    return re.sub(r'href="([\w-]+)/explorer\.html"', r'href="\1.html"', page)


def wall_times(sources: dict[Path, str], page: Path) -> str:
    """A table of each result's jobs and wall time, as its summary says them, linked from
    `page`."""
    rows = ["| result | jobs | wall time |", "|---|---|---|"]
    for path, text in sorted(sources.items()):
        if found := WALL.search(text):
            jobs = re.search(r"^(\d+) jobs:", text, re.MULTILINE)
            name = path.parent.name
            link = f"[{name}]({os.path.relpath(path, page.parent)})"
            rows.append(f"| {link} | {jobs.group(1) if jobs else ''} | {found.group(1)} |")
    return "\n".join(rows) + "\n"


def section(text: str, title: str) -> str:
    """The section of markdown `text` under the heading `title`, to the next heading of
    its level or higher (without the heading itself); "table" is the text's first table."""
    lines = text.splitlines()
    if title == "table":
        rows = [i for i, line in enumerate(lines) if line.startswith("|")]
        if not rows:
            raise PageError("no table to quote")
        end = next((i for i in range(rows[0], len(lines)) if not lines[i].startswith("|")), None)
        return "\n".join(lines[rows[0] : end]) + "\n"
    for i, line in enumerate(lines):
        heading = re.match(r"(#+) (.*)", line)
        if heading and heading.group(2).strip() == title:
            level = len(heading.group(1))
            body = []
            for later in lines[i + 1 :]:
                above = re.match(r"(#+) ", later)
                if above and len(above.group(1)) <= level:
                    break
                body.append(later)
            return "\n".join(body).strip("\n") + "\n"
    raise PageError(f"no section '{title}'")


LINK = re.compile(r"\]\((?![a-z]+:)([^)#\s]*)(#[^)\s]*)?\)")


def relinked(body: str, source: Path, page: Path) -> str:
    """Markdown quoted from `source` into `page`, its relative links (and its links to its
    own anchors) pointing where they pointed from `source`."""

    def moved(link: re.Match) -> str:
        target = source.parent / link.group(1) if link.group(1) else source
        return f"]({os.path.relpath(target, page.parent)}{link.group(2) or ''})"

    return LINK.sub(moved, body)


# What a block holds while its experiment has no canonical run in results/.
NOT_KEPT = (
    "*Not measured in this repository yet: run this page's command, then*\n"
    "`python -m src.study.pages --keep <its sweep folder> {name}`.\n"
)


def not_kept(quoted: str) -> str | None:
    """The name of the result a block quotes (results/<name>/... or results/<name>.md), when
    nothing of it is committed."""
    parts = Path(quoted).parts
    name = Path(parts[1]).stem if len(parts) > 1 else None
    kept = name and ((RESULTS / name).exists() or (RESULTS / f"{name}.md").exists())
    return name if parts[0] == "results" and name and not kept else None


def filled(page: Path, sources: dict[Path, str]) -> str:
    """The page with each of its blocks holding what it quotes now."""

    def quote(found: re.Match) -> str:
        if found.group(2) == "results" and found.group(3) == "wall times":
            return f"{found.group(1)}{wall_times(sources, page)}{found.group(5)}"
        source = ROOT / found.group(2)
        text = sources.get(source) or (source.read_text() if source.is_file() else None)
        if text is None and not_kept(found.group(2)):
            return (
                f"{found.group(1)}{NOT_KEPT.format(name=not_kept(found.group(2)))}{found.group(5)}"
            )
        if text is None:
            raise PageError(f"{rel(page)} quotes {found.group(2)}, which does not exist")
        try:
            body = section(text, found.group(3))
        except PageError as e:
            raise PageError(f"{rel(page)} quotes {found.group(2)}: {e}") from None
        return f"{found.group(1)}{relinked(body, source, page)}{found.group(5)}"

    return BLOCK.sub(quote, page.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; fail on a difference")
    parser.add_argument("--keep", nargs=2, metavar=("FOLDER", "NAME"), help="keep a sweep")
    args = parser.parse_args()
    if args.keep:
        for path in keep(Path(args.keep[0]), args.keep[1]):
            print(f"kept {rel(path)}")
    sources = summaries(explore=not args.check)
    written = {**sources, **{page: filled(page, sources) for page in PAGES if page.is_file()}}
    if CLAIMS.with_suffix(".html").is_file():
        written[EXPLORER / "claims.html"] = claims_page()
    stale = [p for p, text in written.items() if not p.is_file() or p.read_text() != text]
    if args.check:
        if stale:
            names = ", ".join(rel(p) for p in stale)
            rewrite = "python -m src.study.pages rewrites them"
            raise PageError(f"{names} differ from the results: {rewrite}")
        return
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(written[path])
        print(f"wrote {rel(path)}")


if __name__ == "__main__":
    with failures.entry_point():
        main()
