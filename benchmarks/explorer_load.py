"""How heavy the study's interactive pages are and how fast they open, in headless Chromium:
`python -m benchmarks.explorer_load [pages...]` (by default the committed docs/explorer/
pages). Per page: its size without plotly.min.js, and the best and median of `--runs` loads of
the time from navigation until the page has opened (its script ran) and until every plot is
drawn, as the page itself records them. Run it on a quiet machine."""

import argparse
import shutil
import statistics
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def times(seconds: list[float]) -> str:
    """best / median, or "-" where the page recorded none."""
    if not any(seconds):
        return "-"
    return f"{min(seconds):.2f} / {statistics.median(seconds):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    pages = args.pages or sorted((ROOT / "docs" / "explorer").glob("*.html"))
    print("| page | size (MB, without plotly.min.js) | opened (s, best / median) | drawn (s) |")
    print("|---|---|---|---|")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for page_path in pages:
            opened, drawn = [], []
            for _ in range(args.runs):
                context = browser.new_context(viewport={"width": 1300, "height": 900})
                page = context.new_page()
                page.goto(page_path.resolve().as_uri())
                page.wait_for_function("document.body.dataset.ready !== 'no'", timeout=60_000)
                # A sweep's page records both; the claims page, plain HTML, neither.
                opened.append((page.evaluate("window.explorerOpenMs") or 0) / 1000)
                drawn.append((page.evaluate("window.explorerDrawnMs") or 0) / 1000)
                context.close()
            size = page_path.stat().st_size / 1e6
            print(f"| {page_path.name} | {size:.2f} | {times(opened)} | {times(drawn)} |")
        browser.close()


if __name__ == "__main__":
    main()
