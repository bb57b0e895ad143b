"""The sweep's explorer page and the claims page (src/study/explorer.py, the experiments'
`views`): their HTML on synthetic sweep folders, and in a real headless Chromium from disk
with the network off (marked browser and slow)."""

import base64
import json
import math
import os
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import src.claims
from src.study import experiments
from src.study.claims import Claim
from src.study.experiments import regularization
from src.study.explorer import (
    PAGE,
    PLOTLY_JS,
    View,
    write_claims_page,
    write_explorer,
    write_page,
)
from src.study.report import described, write_report
from src.study.table import load_sweep
from tests.conftest import ROOT

WIDTHS = (4, 7, 11, 18, 30, 50, 82, 136, 225, 372, 1024)  # a double-descent sweep's
CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
# Chromium's background connections (updates, sync, metrics) fail noisily on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",  # as root
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def write_job(
    sweep: Path,
    num: int,
    width: int,
    seed: int,
    epochs: int = 600,
    every: int = 10,
    noise: float = 0.2,
    cure: dict | None = None,
    images: int = 4000,
    experiment: str = "double_descent",
) -> None:
    """A finished job of a one-hidden-layer width sweep as src.train writes it, its history
    shaped like double_descent.yaml's (an entry per epoch from 1, validation every `every`)."""
    job = sweep / f"{num:02d}"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(f"- model.hidden=[{width}]\n- seed={seed}\n")
    rng = np.random.default_rng(1000 * num + seed)
    params = 795 * width + 10
    cure = cure or {}
    peak = math.exp(-((math.log(width / 4)) ** 2))  # the worst width: 4 units, n·K's
    history = []
    for epoch in range(1, epochs + 1):
        fitted = min(1.0, epoch / epochs * width / 50)
        entry = {
            "epoch": epoch,
            "step": 32 * epoch,
            "train_running_loss": float(2.3 * (1 - 0.95 * fitted) + 0.01 * rng.random()),
            "train_running_acc": float(0.8 + 0.2 * fitted - 0.01 * rng.random()),
            "train_running_acc_clean": float(0.9 + 0.1 * fitted),
            "train_running_acc_corrupted": float(0.1 + 0.9 * fitted**2),
        }
        if epoch % every == 0:
            error = 0.1 + 0.15 * peak * fitted + 0.03 * rng.random()
            entry.update(val_acc=1 - error, val_loss=0.3 + error, val_best_acc=0.9)
        history.append(entry)
    data = {
        "dataset": "mnist",
        "batch_size": 128,
        "train_size": images,
        "label_noise": noise,
        "augment": {"shift": cure.get("shift", 0.0)},
    }
    model = {
        "hidden": [width],
        "activation": "relu",
        "optimizer": "adam",
        "lr": 0.001,
        "weight_decay": cure.get("weight_decay", 0.0),
        "dropout": cure.get("dropout", 0.0),
    }
    test_acc = 0.85 - 0.1 * peak + 0.01 * rng.random() + cure.get("gain", 0)
    config = {"seed": seed, "experiment": experiment, "test_weights": "last"}
    metrics = {
        "config": {**config, "data": data, "model": model},
        "parameters": params,
        "train_images": images,
        "val_acc": 0.8 + cure.get("gain", 0),  # the cure that validates best is the best
        "val_loss": 0.4,
        "test_acc": test_acc,
        "test_loss": 0.5,
        "train_set_acc": min(1.0, 0.8 + params / 20_000),
        "train_set_acc_clean": 1.0,
        "train_set_acc_corrupted": min(1.0, params / 40_000),
        "epochs": epochs,
        "fit_seconds": 60.0,
        "seconds_per_epoch": 0.1,
        "history": history,
    }
    (job / "metrics.json").write_text(json.dumps(metrics))
    (job / "pictures").mkdir()
    for name in ("confusion", "weights"):
        Image.new("RGB", (40, 30), (200, 30 * seed, 90)).save(job / "pictures" / f"{name}.png")


def double_descent_sweep(sweep: Path, seeds: int = 3, epochs: int = 600) -> Path:
    """The 3-seed double-descent sweep's shape: 11 widths x `seeds`, 60 validations each."""
    (sweep / "multirun.yaml").write_text(
        "hydra:\n  overrides:\n    task: [experiment=double_descent, 'seed=0,1,2']\n"
        "  sweeper:\n    params:\n      model.hidden: '[1024],[4]'\n"
    )
    for i, (width, seed) in enumerate((w, s) for w in reversed(WIDTHS) for s in range(seeds)):
        write_job(sweep, i, width, seed, epochs=epochs)
    return sweep


CURES = {
    "none": {},
    "weight decay 0.01": {"weight_decay": 0.01, "gain": 0.01},
    "dropout 0.5": {"dropout": 0.5, "gain": 0.02},
    "augmentation": {"shift": 2.0, "gain": 0.03},
}


def cure_sweep(sweep: Path, seeds: int = 2) -> Path:
    """The regularization experiment's shape: 4 widths, once per cure, short histories."""
    num = 0
    for cure in CURES.values():
        for width in (11, 30, 50, 136):
            for seed in range(seeds):
                write_job(
                    sweep, num, width, seed, epochs=20, cure=cure, experiment="regularization"
                )
                num += 1
    return sweep


def write_failed(sweep: Path, num: int) -> None:
    job = sweep / f"{num:02d}"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("- model.lr=1e6\n")
    (job / "error.txt").write_text("training diverged at epoch 1: loss is nan\n")


def write_running(sweep: Path, num: int) -> None:
    """A job folder as a running job leaves it: .hydra/, no metrics.json, no error.txt."""
    job = sweep / f"{num:02d}"
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("- model.hidden=[64]\n")


def explore(sweep: Path, jobs: pd.DataFrame | None = None) -> Path:
    """The sweep's explorer.html alone, as write_report writes it."""
    jobs = described(load_sweep(sweep)) if jobs is None else jobs
    return write_explorer(sweep, jobs, experiments.reporting(jobs[jobs["status"] == "ok"]))


class Resources(HTMLParser):
    """What a page loads (script and img src, link href) and where its anchors go."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []
        self.anchors: list[str] = []
        self.headers: list[str] = []
        self.in_header = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.in_header = tag == "th"
        if tag == "a" and found.get("href"):
            self.anchors.append(found["href"])
        for name in ("src", "srcset", "poster", "data"):
            if found.get(name):
                self.loaded.append(found[name])
        if tag == "link" and found.get("href"):
            self.loaded.append(found["href"])

    def handle_data(self, data: str) -> None:
        if self.in_header:
            self.headers.append(data)
            self.in_header = False


def resources(path: Path) -> Resources:
    parser = Resources()
    parser.feed(path.read_text())
    return parser


def is_remote(url: str) -> bool:
    return url.startswith(("http:", "https:", "//")) or ":" in url.split("/")[0]


def plot_specs(path: Path) -> dict[str, dict]:
    """Each figure's JSON on the page, by its element's id."""
    text = path.read_text()
    specs = {}
    for chunk in text.split('<script type="application/json" id="')[1:]:
        element, _, rest = chunk.partition('">')
        specs[element.removesuffix("-spec")] = json.loads(rest.partition("</script>")[0])
    return specs


def numbers(array: list | dict) -> np.ndarray:
    """A trace's numbers, from a list or from plotly's typed-array JSON (base64 bytes)."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return np.asarray(array)


# ---- the HTML


@pytest.fixture(scope="module")
def dd_page(tmp_path_factory) -> tuple[Path, float, float]:
    """The 3-seed double-descent sweep's report (33 jobs, 60 validations each), its page
    included; the seconds the report took, and the seconds its page takes alone."""
    sweep = double_descent_sweep(tmp_path_factory.mktemp("dd"))
    started = time.perf_counter()
    written = write_report(sweep)
    report = time.perf_counter() - started
    jobs = load_sweep(sweep)
    started = time.perf_counter()
    explore(sweep, jobs)
    page = time.perf_counter() - started
    assert sweep / PAGE in written
    return sweep / PAGE, report, page


def test_the_double_descent_page_is_small_offline_and_holds_every_view(dd_page):
    page, _, _ = dd_page
    size = page.stat().st_size
    print(f"explorer.html: {size / 1e6:.2f} MB")
    assert size < 5e6
    assert (page.parent / PLOTLY_JS).stat().st_size > 1e6  # beside it, not inlined
    found = resources(page)
    assert [url for url in found.loaded if is_remote(url)] == []
    assert found.loaded[0] == PLOTLY_JS
    assert "cdn.plot.ly" not in page.read_text()
    specs = plot_specs(page)
    assert set(specs) == {"setting", "dd-heatmap", "dd-epochs", "dd-memorised", "curves"}
    heat = specs["dd-heatmap"]["data"][0]
    assert heat["type"] == "heatmap" and heat["y"] == [str(w) for w in WIDTHS]
    assert specs["dd-epochs"]["layout"]["sliders"][0]["active"] == 59
    assert len(specs["dd-epochs"]["frames"]) == 60
    curves = specs["curves"]["data"]
    assert len({t["legendgroup"] for t in curves}) == 33
    assert sum(t.get("visible") is True for t in curves) == 3 * 4  # three jobs' four curves
    # the job table: a row per job, each linking its folder and pictures by relative paths
    assert sum(f'id="job-{n:02d}"' in page.read_text() for n in range(33)) == 33
    assert "00/" in found.anchors and "00/pictures/weights.png" in found.anchors
    assert "00/pictures/confusion.png" in found.loaded
    # and the sweep's other files
    assert {"summary.md", "double_descent.png", "curves.png"} <= set(found.anchors)


def test_the_page_shows_epochs_as_the_history_counts_them_from_one(dd_page):
    page, _, _ = dd_page
    specs = plot_specs(page)
    steps = specs["dd-epochs"]["layout"]["sliders"][0]["steps"]
    assert [s["label"] for s in steps] == [str(e) for e in range(10, 601, 10)]
    assert numbers(specs["dd-heatmap"]["data"][0]["x"]).tolist() == list(range(10, 601, 10))
    first = specs["dd-epochs"]["frames"][0]["data"]
    assert any("validation error at epoch 10" in t.get("text", [""])[0] for t in first)
    training = next(
        t for t in specs["curves"]["data"] if "training batches acc" in t["hovertemplate"]
    )
    assert numbers(training["x"])[[0, -1]].tolist() == [1, 600]


def test_the_setting_plot_labels_each_point_with_its_interval_seeds_and_jobs(dd_page):
    page, _, _ = dd_page
    test = next(t for t in plot_specs(page)["setting"]["data"] if t.get("name") == "test accuracy")
    # the widest model is the last point; its jobs are 00, 01 and 02
    label = test["text"][-1]
    assert "± " in label and "(95% interval, 3 seeds)" in label
    assert "MLP 1024 · 814,090 parameters" in label
    for seed, job in ((0, "00"), (1, "01"), (2, "02")):
        assert f"seed {seed}: " in label and f"job {job}/" in label
    assert plot_specs(page)["setting"]["layout"]["xaxis"]["type"] == "log"


def test_the_n_k_line_and_the_memorised_labels_are_there(dd_page):
    page, _, _ = dd_page
    specs = plot_specs(page)
    names = [t.get("name", "") for t in specs["dd-epochs"]["data"]]
    assert "n·K = 40,000 (training images x 10 classes)" in names
    shapes = specs["dd-heatmap"]["layout"]["shapes"]
    # n·K = 40,000 parameters: 50.3 units, between the rows of 50 and 82 units (5 and 6)
    assert 5 < shapes[0]["y0"] < 6
    assert specs["dd-memorised"]["data"][0]["colorbar"]["title"]["text"].startswith("wrong")


def test_writing_the_page_adds_less_than_the_rest_of_the_report(dd_page):
    """The page alone against the whole report (tables, figures, page) of the same sweep."""
    _, report, page = dd_page
    print(f"write_report {report:.2f} s, of which explorer.html about {page:.2f} s")
    assert page < report - page


def test_a_data_size_sweep_puts_the_images_on_x_and_a_curve_per_model(tmp_path):
    num = 0
    for width in (11, 136):
        for images in (100, 1000, 10_000):
            write_job(tmp_path, num, width, 0, epochs=5, images=images, experiment="data_size")
            num += 1
    spec = plot_specs(explore(tmp_path))["setting"]
    names = [t["name"] for t in spec["data"] if "name" in t]
    assert names == [
        "test accuracy · MLP 11",
        "training accuracy · MLP 11",
        "test accuracy · MLP 136",
        "training accuracy · MLP 136",
    ]
    assert spec["layout"]["xaxis"]["title"]["text"] == "training images (log scale)"
    assert "training images: 100" in spec["data"][0]["text"][0]


def test_one_job_gets_a_page_that_says_so(tmp_path):
    write_job(tmp_path, 0, 50, 0, epochs=20)
    write_report(tmp_path)
    page = tmp_path / PAGE
    text = page.read_text()
    assert "1 job: 1 finished." in text
    assert "One finished job: no interval over seeds." in text
    assert set(plot_specs(page)) == {"setting", "curves"}
    label = plot_specs(page)["setting"]["data"][0]["text"][0]
    assert "(one seed: no interval)" in label


def test_failed_and_running_jobs_are_named_not_errors(tmp_path):
    for num, width in enumerate((11, 30, 50, 136)):
        write_job(tmp_path, num, width, 0, epochs=20)
    write_failed(tmp_path, 4)
    write_running(tmp_path, 5)
    write_report(tmp_path)
    text = (tmp_path / PAGE).read_text()
    assert "6 jobs: 4 finished, 1 failed (the job table says why), 1 still running" in text
    assert "training diverged at epoch 1: loss is nan (overrides: model.lr=1e6)" in text
    assert "no metrics.json yet: still running, or stopped before it wrote one" in text
    assert "python -m src.report" in text  # how to redraw when they end
    assert 'class="failed" id="job-04"' in text and 'class="running" id="job-05"' in text


def test_a_sweep_with_no_finished_job_gets_a_page_without_plots(tmp_path):
    write_failed(tmp_path, 0)
    write_running(tmp_path, 1)
    write_report(tmp_path)
    page = tmp_path / PAGE
    text = page.read_text()
    assert "2 jobs: 0 finished, 1 failed" in text
    assert "No job has finished, so there is nothing to plot yet" in text
    assert plot_specs(page) == {}


def test_cures_get_a_curve_each_and_the_choice_per_width(tmp_path):
    jobs = described(load_sweep(cure_sweep(tmp_path)))
    ok = jobs[jobs["status"] == "ok"]
    assert experiments.reporting(ok) == [regularization]  # not double descent's one curve
    (view,) = regularization.views(ok)
    test = view.figures[0]
    named = [t.name for t in test.data if t.showlegend is not False]
    assert named == [
        *CURES,
        "tuned per width on validation",
        "n·K = 40,000 (training images x 10 classes)",
    ]
    # a cure's band hides and shows with its curve: one legend group
    none = [t for t in test.data if t.legendgroup == "none"]
    assert [t.fill for t in none] == [None, "tonexty", None]
    tuned = next(t for t in test.data if t.name == "tuned per width on validation")
    assert "augmentation" in tuned.text[0]  # which cure each seed chose
    assert view.figures[1].layout.yaxis.title.text == "wrong labels fitted (%)"
    assert [f.layout.xaxis.type for f in view.figures] == ["log", "log"]  # as its figure


def test_the_page_names_each_jobs_cure_as_the_experiment_does(tmp_path):
    """regularization's `columns`: the cure, not the settings that make it."""
    page = explore(cure_sweep(tmp_path))
    headers = resources(page).headers
    assert "cure" in headers
    assert not {"model.weight_decay", "model.dropout", "data.augment.shift"} & set(headers)
    names = [t["name"] for t in plot_specs(page)["setting"]["data"] if "name" in t]
    assert names[:2] == ["test accuracy · none", "training accuracy · none"]


def test_a_view_can_be_a_fragment_and_text_is_escaped(tmp_path):
    write_job(tmp_path, 0, 50, 0, epochs=20)
    view = View("A <note>", "Says <b>why</b>.", html="<p id='fragment'>kept as is</p>")
    page = write_page(tmp_path, load_sweep(tmp_path), [view], [], "T <1>")
    text = page.read_text()
    assert "<title>T &lt;1&gt;</title>" in text
    assert "Says &lt;b&gt;why&lt;/b&gt;." in text and "<p id='fragment'>kept as is</p>" in text
    assert 'href="#a-note"' in text


CLAIMS = [
    Claim(
        "ReLU beats sigmoid",
        "relu tested 1.2 points higher",
        "holds",
        "",
        "+1.20 ± 0.30",
        ("activation", "linear"),
    ),
    Claim(
        "Inputs in [-1, 1] <train> faster",
        "the seeds disagree",
        "not shown",
        "mlp3 at one learning rate",
        "+0.12 ± 0.50",
        ("input_scale",),
    ),
    Claim("The gradients by hand", "they match", "holds with a caveat", "float32", "1e-7", ()),
]
COMMANDS = {
    "activation": "python -m src.train experiment=activation seed=0,1,2",
    "linear": "python -m src.train -m model=linear seed=0,1,2",
    "input_scale": "python -m src.train experiment=input_scale seed=0,1,2",
}


def test_the_claims_page_links_each_claim_to_its_sweeps_pages(tmp_path):
    page = write_claims_page(CLAIMS, tmp_path / "claims.html", COMMANDS)
    found = resources(page)
    assert found.anchors == [
        "activation/explorer.html",
        "linear/explorer.html",
        "input_scale/explorer.html",
    ]
    assert found.loaded == []
    text = page.read_text()
    assert "Inputs in [-1, 1] &lt;train&gt; faster" in text and 'title="+1.20 ± 0.30"' in text
    assert "<b>holds with a caveat</b>" in text and "Measured only on float32." in text
    assert "Measured only on" not in text.split("ReLU beats sigmoid")[1].split("</tr>")[0]
    assert f'title="{COMMANDS["linear"]}"' in text
    assert "<b>holds</b>: it lies on the claim" in text  # the rules, as in claims.md


def test_src_claims_writes_claims_html_beside_claims_md(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(src.claims, "run_sweeps", lambda folder: None)
    monkeypatch.setattr(src.claims, "claims", lambda folder, data_dir: CLAIMS)
    monkeypatch.setattr(src.claims, "command", COMMANDS.get)
    monkeypatch.setattr(sys, "argv", ["src.claims", "--from", str(tmp_path)])
    src.claims.main()
    assert (tmp_path / "claims.md").is_file()
    assert "activation/explorer.html" in resources(tmp_path / "claims.html").anchors
    assert (
        f"wrote {tmp_path / 'claims.md'} and {tmp_path / 'claims.html'}" in capsys.readouterr().out
    )


def test_the_report_writes_the_page_without_torch_or_lightning(tmp_path):
    """As where neither is installed: importing either fails."""
    write_job(tmp_path, 0, 50, 0, epochs=20)
    code = (
        "import sys, runpy, importlib.abc\n"
        "class Missing(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] in ('torch', 'lightning'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Missing())\n"
        "sys.argv = ['report', sys.argv[1]]\n"
        "runpy.run_module('src.report', run_name='__main__')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert f"wrote {tmp_path / PAGE}" in done.stdout
    assert (tmp_path / PLOTLY_JS).is_file()


def test_plotly_js_is_written_once_per_version(tmp_path):
    write_job(tmp_path, 0, 50, 0, epochs=20)
    jobs = load_sweep(tmp_path)
    explore(tmp_path, jobs)
    script = tmp_path / PLOTLY_JS
    stamp = script.stat().st_mtime_ns
    explore(tmp_path, jobs)
    assert script.stat().st_mtime_ns == stamp
    script.write_text("/* an older plotly */")
    explore(tmp_path, jobs)
    assert script.stat().st_size > 1e6


def test_the_page_leaves_the_sweep_table_as_it_was(tmp_path):
    """The page reads the table; it does not change it for the rest of the report."""
    sweep = double_descent_sweep(tmp_path, seeds=1, epochs=20)
    jobs = load_sweep(sweep)
    copy = jobs.copy()
    explore(sweep, jobs)
    pd.testing.assert_frame_equal(jobs, copy)


# ---- in the browser


def chromium_or_skip():
    """Playwright's Chromium driver launching Debian's chromium; skipped when there is none
    (REQUIRE_BROWSER=1, as in CI, fails instead)."""
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed: pip install '.[dev]'"
    if reason is None and not CHROMIUM.is_file():
        reason = f"no browser at {CHROMIUM}: apt-get install chromium"
    if reason is not None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    return sync_playwright


@pytest.fixture(scope="module")
def browser():
    sync_playwright = chromium_or_skip()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Visit:
    """A page opened from disk with every non-file request blocked and recorded, and the
    console's errors recorded."""

    def __init__(self, browser, path: Path) -> None:
        self.context = browser.new_context(viewport={"width": 1300, "height": 900})
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self.only_files)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("websocket", lambda w: self.blocked.append(w.url))  # not routed
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_function("document.body.dataset.ready !== 'no'", timeout=30_000)

    def only_files(self, route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def js(self, expression: str, arg=None):
        return self.page.evaluate(expression, arg)

    def close(self) -> None:
        self.context.close()
        assert self.blocked == [], f"the page asked the network for {self.blocked}"
        assert self.errors == [], f"console errors: {self.errors}"


def trace_index(visit: Visit, element: str, name: str) -> int:
    names = visit.js(f"document.getElementById('{element}').data.map(t => t.name)")
    return names.index(name)


@pytest.mark.slow
@pytest.mark.browser
def test_the_double_descent_page_works_in_a_browser_offline(browser, dd_page):
    page_path, _, _ = dd_page
    visit = Visit(browser, page_path)  # how fast it opens: benchmarks/explorer_load.py
    assert visit.js("document.body.dataset.ready") == "yes"
    # every plot drawn, with its traces
    for element in ("setting", "dd-heatmap", "dd-epochs", "dd-memorised", "curves"):
        assert visit.js(f"document.querySelector('#{element} .main-svg') !== null"), element
    assert visit.js("document.getElementById('dd-heatmap').data[0].type") == "heatmap"
    assert visit.js("document.getElementById('curves').data.length") == 33 * 4

    # hovering a point of the setting plot shows its interval and seeds
    test = trace_index(visit, "setting", "test accuracy")
    visit.js("([i]) => Plotly.Fx.hover('setting', [{curveNumber: i, pointNumber: 10}])", [test])
    label = visit.js("document.querySelector('#setting .hoverlayer .hovertext').textContent")
    assert "±" in label and "3 seeds" in label and "job 00/" in label

    # the mouse over the heatmap names the cell and its interval
    visit.page.locator("#dd-heatmap").scroll_into_view_if_needed()
    cells = visit.page.locator("#dd-heatmap .nsewdrag").first.bounding_box()
    visit.page.mouse.move(cells["x"] + 0.5 * cells["width"], cells["y"] + 0.5 * cells["height"])
    visit.page.wait_for_selector("#dd-heatmap .hoverlayer .hovertext")
    label = visit.js("document.querySelector('#dd-heatmap .hoverlayer .hovertext').textContent")
    assert "hidden units · epoch" in label and "validation error" in label and "±" in label

    # moving the epoch slider redraws the model-wise curve at that epoch
    val = trace_index(visit, "dd-epochs", "validation error")
    before = visit.js(f"Array.from(document.getElementById('dd-epochs')._fullData[{val}].y)")
    grip = visit.page.locator("#dd-epochs .slider-grip-rect")
    grip.scroll_into_view_if_needed()
    rail = visit.page.locator("#dd-epochs .slider-rail-rect").bounding_box()
    start = grip.bounding_box()
    visit.page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    visit.page.mouse.down()  # drags the grip from the last epoch to a tenth of the way
    visit.page.mouse.move(rail["x"] + 0.1 * rail["width"], start["y"], steps=5)
    visit.page.mouse.up()
    visit.page.wait_for_function(
        "document.getElementById('dd-epochs').layout.sliders[0].active < 20"
    )
    epoch = visit.js(
        "(() => { const s = document.getElementById('dd-epochs').layout.sliders[0];"
        " return s.steps[s.active].label; })()"
    )
    after = visit.js(f"Array.from(document.getElementById('dd-epochs')._fullData[{val}].y)")
    assert after != before
    visit.js("([i]) => Plotly.Fx.hover('dd-epochs', [{curveNumber: i, pointNumber: 0}])", [val])
    label = visit.js("document.querySelector('#dd-epochs .hoverlayer .hovertext').textContent")
    assert f"validation error at epoch {epoch}" in label and "±" in label

    # a job's checkbox shows its curves; the legend's click unticks it
    box = visit.page.locator('input.curve[data-job="01"]')
    assert not box.is_checked()
    box.check()
    shown = "document.getElementById('curves').data.filter(t => t.legendgroup === 'job 01')"
    assert visit.js(f"{shown}.every(t => t.visible === true)")
    visit.page.locator("#curves .legend .traces").nth(1).click()
    visit.page.wait_for_function(f"{shown}.every(t => t.visible === 'legendonly')")
    assert not box.is_checked()

    # a job's pictures open from its row
    visit.page.locator("#job-00 details summary").click()
    image = "document.querySelector('#job-00 details img')"
    visit.page.wait_for_function(f"{image}.complete")  # lazy: it loads once shown
    assert visit.js(f"{image}.naturalWidth") == 40
    visit.close()


@pytest.mark.slow
@pytest.mark.browser
def test_the_cure_failed_and_claims_pages_work_in_a_browser(browser, tmp_path):
    cures = cure_sweep(tmp_path / "regularization")
    write_failed(cures, 90)
    write_running(cures, 91)
    visit = Visit(browser, explore(cures))
    # per cure and the choice per width: a band (two traces) and the mean; and n·K
    assert visit.js("document.getElementById('cures').data.length") == 3 * (len(CURES) + 1) + 1
    # a cure's legend entry hides its curve and band
    visit.page.locator("#cures .legend .traces").nth(0).click()
    visit.page.wait_for_function(
        "document.getElementById('cures').data.filter(t => t.legendgroup === 'none')"
        ".every(t => t.visible === 'legendonly')"
    )
    assert visit.page.locator("#job-90").inner_text().count("training diverged") == 1
    visit.close()

    empty = tmp_path / "empty"
    write_running(empty, 0)
    visit = Visit(browser, explore(empty))
    assert "nothing to plot yet" in visit.page.locator("body").inner_text()
    visit.close()

    claim = Claim(
        "Wider cures overfitting",
        "wider tested 2 points higher",
        "holds",
        "",
        "+2.00 ± 0.50",
        ("regularization",),
    )
    commands = {"regularization": "python -m src.train experiment=regularization"}
    visit = Visit(browser, write_claims_page([claim], tmp_path / "claims.html", commands))
    visit.page.get_by_role("link", name="regularization").click()
    visit.page.wait_for_url("**/regularization/explorer.html")
    visit.page.wait_for_function("document.body.dataset.ready === 'yes'")
    visit.close()


@pytest.mark.slow
@pytest.mark.browser
def test_a_page_without_plotly_js_says_how_to_get_it(browser, tmp_path):
    write_job(tmp_path, 0, 50, 0, epochs=20)
    page = explore(tmp_path)
    (tmp_path / PLOTLY_JS).unlink()
    context = browser.new_context()
    context.route(
        "**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort()
    )
    tab = context.new_page()
    tab.goto(page.as_uri())
    tab.wait_for_function("document.body.dataset.ready === 'no-plotly'")
    assert tab.locator("#no-plotly").is_visible()
    context.close()
