"""The study's pages, written from its results: `python -m src.study.pages [--check]`.

The canonical runs live in results/<name>/: runs.tar.gz (each job's metrics.json and .hydra/,
the sweep's multirun.yaml) and what the report writes from them (summary.md, the CSVs). This
command writes the report again from the runs, then copies each table a page quotes into that
page: in README.md and docs/, a block between

    <!-- results/<name>/summary.md: <section title> -->
    <!-- end -->

holds that section of that summary (a title of "claims" quotes results/claims/claims.md's
table). With --check it writes nothing and fails, naming the page, where a page or a
summary differs from what it would write: the tests run it so.
"""

import argparse
import re
import tarfile
import tempfile
from pathlib import Path

from src.run import failures
from src.study.report import summary_text

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"(<!-- (results/[\w/.-]+): (.+?) -->\n)(.*?)(<!-- end -->)", re.DOTALL)
RUNS = "runs.tar.gz"


class PageError(failures.ProjectError):
    """A page quotes what the results do not hold, or differs from them."""


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


def summaries() -> dict[Path, str]:
    """Each result's summary.md as the report writes it now from its runs."""
    written = {}
    for runs in sorted(RESULTS.glob(f"*/{RUNS}")):
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch) / runs.parent.name
            with tarfile.open(runs) as archive:
                archive.extractall(folder, filter="data")
            text = summary_text(folder)
        # The report names the folder it read: name the result's instead.
        written[runs.parent / "summary.md"] = text.replace(str(folder), rel(runs.parent))
    return written


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def filled(page: Path, sources: dict[Path, str]) -> str:
    """The page with each of its blocks holding what it quotes now."""

    def quote(found: re.Match) -> str:
        source = ROOT / found.group(2)
        text = sources.get(source) or (source.read_text() if source.is_file() else None)
        if text is None:
            raise PageError(f"{rel(page)} quotes {found.group(2)}, which does not exist")
        try:
            body = section(text, found.group(3))
        except PageError as e:
            raise PageError(f"{rel(page)} quotes {found.group(2)}: {e}") from None
        return f"{found.group(1)}{body}{found.group(5)}"

    return BLOCK.sub(quote, page.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; fail on a difference")
    args = parser.parse_args()
    sources = summaries()
    stale = [
        path for path, text in sources.items() if not path.is_file() or path.read_text() != text
    ]
    pages = {page: filled(page, sources) for page in PAGES if page.is_file()}
    stale += [page for page, text in pages.items() if page.read_text() != text]
    if args.check:
        if stale:
            names = ", ".join(rel(p) for p in stale)
            raise PageError(
                f"{names} differ from the results: python -m src.study.pages rewrites them"
            )
        return
    for path, text in {**sources, **pages}.items():
        if path in stale:
            path.write_text(text)
            print(f"wrote {rel(path)}")


if __name__ == "__main__":
    with failures.entry_point():
        main()
