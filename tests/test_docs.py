"""What users read: the README stays a landing page, every link leads somewhere, no line
tells development history, and every table of results is what `python -m src.study.pages`
writes from the committed results, never typed."""

import os
import re
from pathlib import Path

import pytest

from src.study import pages
from tests.conftest import ROOT, run_module

READ = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\]\(([^)\s#]+)(#[^)\s]*)?\)")


def test_the_readme_is_a_landing_page_of_about_250_lines():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


@pytest.mark.parametrize("page", READ, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_of_a_page_leads_to_a_file_or_to_a_result_it_says_is_not_measured_yet(page):
    text = page.read_text()
    for target, _ in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or (page.parent / target).exists():
            continue
        name = unmeasured(page.parent / target)
        assert name and pages.NOT_KEPT.format(name=name) in text, f"{page.name} links {target}"


def unmeasured(target: Path) -> str | None:
    """The result a link leads into (results/<name>/... or its page docs/explorer/<name>.html),
    when that result is not committed."""
    path = Path(os.path.relpath(target.resolve(), ROOT))
    if path.parts[:2] == ("docs", "explorer"):
        path = Path("results", path.stem)
    return pages.not_kept(str(path)) if path.parts[0] == "results" else None


@pytest.mark.parametrize("page", READ, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_tells_development_history(page):
    history = re.compile(r"\b[Ii]ssue \d+|\bthis round\b|\b[Rr]ound \d+|\bseed fix\b|#\d{2,}\b")
    told = [line for line in page.read_text().splitlines() if history.search(line)]
    assert not told, told


def test_a_quoted_section_ends_at_the_next_heading_of_its_level():
    text = "# A\n\n## B\n\nb1\n\n### C\n\nc1\n\n## D\n\nd1\n"
    assert pages.section(text, "B") == "b1\n\n### C\n\nc1\n"
    assert pages.section("x\n\n| a |\n|---|\n| 1 |\n\ny", "table") == "| a |\n|---|\n| 1 |\n"
    with pytest.raises(pages.PageError, match="no section 'E'"):
        pages.section(text, "E")


def test_a_block_holds_its_source_s_section_with_its_links_pointing_as_they_did(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(pages, "ROOT", tmp_path)
    source = tmp_path / "results" / "a" / "summary.md"
    page = tmp_path / "docs" / "study" / "a.md"
    source.parent.mkdir(parents=True)
    page.parent.mkdir(parents=True)
    source.write_text("## Over seeds\n\nSee [the figure](a.png) and [row 1](#row-1).\n")
    page.write_text("Intro.\n<!-- results/a/summary.md: Over seeds -->\nold\n<!-- end -->\nEnd.\n")
    filled = pages.filled(page, {source: source.read_text()})
    assert filled == (
        "Intro.\n<!-- results/a/summary.md: Over seeds -->\nSee [the figure]"
        "(../../results/a/a.png) and [row 1](../../results/a/summary.md#row-1).\n"
        "<!-- end -->\nEnd.\n"
    )


def test_a_block_may_quote_what_a_benchmark_wrote(tmp_path, monkeypatch):
    monkeypatch.setattr(pages, "ROOT", tmp_path)
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "tour.md").write_text(
        "Times.\n\n| a | b |\n|---|---|\n| [x](../y.md) | 1 s |\n"
    )
    page = tmp_path / "README.md"
    page.write_text("<!-- benchmarks/tour.md: table -->\n<!-- end -->\n")
    assert pages.filled(page, {}) == (
        "<!-- benchmarks/tour.md: table -->\n"
        "| a | b |\n|---|---|\n| [x](y.md) | 1 s |\n<!-- end -->\n"
    )


@pytest.mark.slow
def test_the_committed_pages_and_summaries_are_what_the_results_give():
    run_module("src.study.pages", "--check")


def test_a_block_whose_result_is_not_committed_says_how_to_make_it(tmp_path, monkeypatch):
    monkeypatch.setattr(pages, "ROOT", tmp_path)
    monkeypatch.setattr(pages, "RESULTS", tmp_path / "results")
    page = tmp_path / "docs" / "study" / "a.md"
    page.parent.mkdir(parents=True)
    page.write_text("<!-- results/a/summary.md: Over seeds -->\n<!-- end -->\n")
    assert pages.filled(page, {}) == (
        "<!-- results/a/summary.md: Over seeds -->\n"
        f"{pages.NOT_KEPT.format(name='a')}<!-- end -->\n"
    )
    (tmp_path / "results" / "a").mkdir(parents=True)  # kept, but without the file quoted
    with pytest.raises(pages.PageError, match="which does not exist"):
        pages.filled(page, {})


def test_the_pages_quote_results_and_the_study_s_headline_results_are_committed():
    quoted = {
        source
        for page in READ
        for source, _ in re.findall(r"<!-- (results/[\w/.-]+): (.+?) -->", page.read_text())
    }
    assert quoted, "no page quotes the results"
    headline = [
        "results/claims.md",
        "results/double_descent",
        "results/bias_variance",
        "results/regularization",
    ]
    assert [h for h in headline if not (ROOT / h).exists()] == []


@pytest.mark.parametrize(
    "page",
    [
        ROOT / "docs" / "explorer" / f"{n}.html"
        for n in ("double_descent", "bias_variance", "regularization", "claims")
    ],
    ids=lambda p: p.stem,
)
def test_the_study_s_main_pages_are_committed_with_one_plotly(page: Path):
    assert page.is_file()
    assert (page.parent / "plotly.min.js").is_file()
