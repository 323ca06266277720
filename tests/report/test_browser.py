"""The HTML reports in a real browser: headless Chromium renders the class dashboard and a student
page offline to PNG (not blank, plots drawn) and dumps their DOM (the numbers of report.json are in
it; a hostile page runs nothing). Skipped, saying why, where Chromium cannot run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from grader import report
from grader.report import html, runlog

pytestmark = pytest.mark.slow

NAMES = ("chromium", "chromium-browser", "google-chrome")
PLOT_GREEN = (0xCF, 0xE8, 0xC8)
"""The full-marks band of the Part 2 plots (grader/report/plots.py GOOD): used by no CSS rule."""


def _command(profile: Path) -> list[str]:
    binary = next(path for path in map(shutil.which, NAMES) if path)
    root = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium's own sandbox refuses root
    return [binary, "--headless", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--hide-scrollbars", "--allow-file-access-from-files", f"--user-data-dir={profile}", *root]


def _run(profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(_command(profile) + list(args), capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    """A function (args...) -> CompletedProcess; skips the module when Chromium cannot run here."""
    if not any(map(shutil.which, NAMES)):
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; make install does it as root)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    try:
        probe = _run(profile, "--dump-dom", "data:text/html,<p>chromium-works</p>")
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"Chromium cannot start here ({type(exc).__name__}: {exc})")
    if "chromium-works" not in probe.stdout:
        pytest.skip(f"Chromium cannot render here (exit {probe.returncode}): {probe.stderr.strip()[-300:]}")
    return lambda *args: _run(profile, *args)


@pytest.fixture(scope="module")
def reports(tmp_path_factory, graded_result):
    """A class of two written with the run log; ann's page has both Part 2 plots."""
    out = tmp_path_factory.mktemp("reports")
    records = []
    for name, level in (("ann", "grad"), ("bo", "undergrad")):
        result = graded_result(name, level)
        report.write_student(result, out, "fp")
        records += runlog.records_of(result)
    from grader.model import RunInfo

    report.write_class(out, report.read_results(out, ["ann", "bo"]), [],
                       RunInfo("1.0", "full: bubblewrap", 1, ("ann", "bo"), (), (), 3.0, tuple(records)))
    return out


def _screenshot(chromium, page: Path, png: Path) -> Image.Image:
    done = chromium(f"--screenshot={png}", "--window-size=1000,7000", page.as_uri())
    assert png.exists(), done.stderr[-500:]
    return Image.open(png).convert("RGB")


def _colours(image: Image.Image) -> set[tuple[int, int, int]]:
    return {colour for _, colour in image.getcolors(maxcolors=1 << 20)}


def _dom(chromium, page: Path) -> str:
    done = chromium("--dump-dom", page.as_uri())
    assert "</html>" in done.stdout, done.stderr[-500:]
    return done.stdout


def test_the_dashboard_is_not_blank_in_chromium(chromium, reports, tmp_path):
    assert len(_colours(_screenshot(chromium, reports / "index.html", tmp_path / "index.png"))) > 1


def test_a_student_page_shows_its_plots_in_chromium(chromium, reports, tmp_path):
    colours = _colours(_screenshot(chromium, reports / "ann" / "report.html", tmp_path / "ann.png"))
    assert len(colours) > 1 and PLOT_GREEN in colours


def test_the_dashboards_dom_holds_every_students_total(chromium, reports):
    dom = _dom(chromium, reports / "index.html")
    for name in ("ann", "bo"):
        data = json.loads((reports / name / "report.json").read_text())
        assert f'id="total-{name}"><b>{data["total"]:g}</b> / {data["max_total"]:g}</td>' in dom


def test_a_student_pages_dom_holds_the_numbers_of_report_json(chromium, reports):
    dom = _dom(chromium, reports / "ann" / "report.html")
    data = json.loads((reports / "ann" / "report.json").read_text())
    assert f'<span class="total" id="total">{data["total"]:g}</span>' in dom
    for q in data["questions"]:
        assert f'id="points-{q["id"]}">{q["points"]:g} / {q["max_points"]:g}</td>' in dom


def test_a_hostile_page_runs_nothing_in_chromium(chromium, graded_result, tmp_path):
    attack = "<script>document.body.setAttribute('data-pwned', '1')</script><img src=x onerror=\"document.body.setAttribute('data-pwned', '2')\">"
    result = graded_result("ann")
    first = result.questions[0]
    hostile = first.items[0].__class__(**{**first.items[0].__dict__, "message": attack})
    result = result.__class__(**{**result.__dict__, "questions": (
        first.__class__(**{**first.__dict__, "items": (hostile,) + first.items[1:]}),) + result.questions[1:]})
    page = tmp_path / "report.html"
    page.write_text(html.render_student(result), encoding="utf-8")
    dom = _dom(chromium, page)
    assert "data-pwned" in dom and not re.search(r"<body[^>]*data-pwned", dom)
    assert not re.search(r"<script\b", dom) and not re.search(r"<[a-z][^>]*\sonerror\s*=", dom)
