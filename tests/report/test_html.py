"""HTML reports: the student page, the class dashboard, the instructor page and the run log."""

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from grader import report
from grader.model import CellFailure, HiddenSet, ItemScore, NotebookRun, RunInfo
from grader.report import dashboard, html, plots, runlog
from grader.report import json as json_report


@dataclass(frozen=True)
class MeasuredRun(NotebookRun):
    """A NotebookRun with the peak memory another helper is adding to the model."""

    peak_memory: int = 0


def _run_info(records=(), graded=("ann",), skipped=()):
    return RunInfo("1.2.3", "full: bubblewrap", 2, tuple(graded), tuple(skipped), (), 12.5, tuple(records))


def _class(tmp_path, graded_result, students=("ann", "bo"), run_info=None, hidden=None):
    records = []
    for name in students:
        result = graded_result(name, "grad" if name == "ann" else "undergrad")
        report.write_student(result, tmp_path, "fp")
        records += runlog.records_of(result)
    info = run_info or _run_info(records, graded=students)
    report.write_class(tmp_path, report.read_results(tmp_path, list(students)), [], info, hidden)
    return tmp_path


def _images(page: str) -> list[str]:
    return re.findall(r'<img src="(data:image/[^"]+)"', page)


def _hidden():
    truth = np.array([[1234.5678, 33.25], [8765.4321, 71.5], [4321.125, 50.75]])
    return {"H3P2T2": HiddenSet("H3P2T2", np.zeros((3, 5)), truth)}


ANN_PREDICTS = [[1200.0, 30.0], [8000.0, 70.0], [4000.0, 50.0]]


@pytest.fixture(scope="module")
def built(tmp_path_factory, graded_result):
    """A class of two (ann, grad; bo, undergrad) written once: student pages, dashboard, run log and
    the instructor page with ann's stored predictions."""
    out = tmp_path_factory.mktemp("reports")
    report.write_predictions(out, "ann", "H3P2T2", ANN_PREDICTS)
    return _class(out, graded_result, hidden=_hidden())


@pytest.fixture(scope="module")
def page(graded_result):
    """ann's report.html text."""
    return html.render_student(graded_result())


@pytest.fixture(scope="module")
def index(built):
    return (built / "index.html").read_text()


def test_the_student_page_is_written_next_to_report_md(built):
    assert (built / "ann" / "report.html").read_text().startswith("<!DOCTYPE html>")


def test_the_student_page_needs_no_script_and_no_network(page):
    assert "<script" not in page and not re.search(r'(src|href)="(https?:)?//', page)
    assert "Content-Security-Policy" in page and "<style>" in page


def test_the_student_page_shows_the_total_and_each_questions_points(page, graded_result):
    result = graded_result()
    assert f'<span class="total" id="total">{result.total:g}</span>' in page
    for q in result.questions:
        assert f'id="points-{q.id}">{q.points:g} / {q.max_points:g}<' in page


def test_a_lost_item_shows_its_counterexample_as_a_table(page):
    table = page.split('<table class="ce">')[1].split("</table>")[0]
    assert '<code>w1</code></td><td class="num">-1.25<' in table
    assert 'expected</th><td class="num">0.123456<' in table and 'your answer</th><td class="num">0.654321<' in table


def test_the_chain_rule_diagnosis_is_in_the_item_message(page):
    assert "misses the factor df1(z1)" in page


def test_a_lost_part2_item_shows_no_table_of_what_its_message_says(page):
    net1 = page.split("net1_<wbr>accuracy")[1].split("</tr>")[0]
    assert 'class="ce"' not in net1


def test_an_item_that_kept_its_points_shows_no_counterexample():
    kept = ItemScore("Q1", "dL_dw1", 1.25, 1.25, "pass", counterexample={"expected": 1.0, "given": 1.0})
    assert html.counterexample(kept) is None


def test_an_override_shows_the_instructors_comment(page):
    assert "instructor: drawn on paper, correct (checker gave 0)" in page


def test_provisional_points_are_marked_as_such(page):
    row = page.split("q3_<wbr>explanation")[1].split("</tr>")[0]
    assert "Provisional: an instructor will review these points." in row


def test_a_failing_cell_shows_its_traceback_trimmed_to_the_end(page):
    assert "Cell 7 failed" in page and "(41 lines cut)" in page
    assert "frame 99\nNameError: name &#39;q&#39; is not defined</pre>" in page and "frame 5\n" not in page


def test_the_notebooks_show_framework_time_outcome_and_sandbox(page):
    row = page.split("<code>H3P2T1_<wbr>torch.ipynb</code>")[1].split("</tr>")[0]
    assert "torch" in row and "8.2 s" in row and "ok" in row and "full: bubblewrap" in row


def test_part2_questions_draw_one_figure_each_from_their_charts(page):
    for qid in ("H3P2T1", "H3P2T2"):
        section = page.split(f'<section id="q-{qid}">')[1].split("</section>")[0]
        assert len(_images(section)) == 1 and _images(section)[0].startswith("data:image/svg+xml;base64,")


def test_questions_without_charts_draw_nothing(page):
    assert len(_images(page)) == 2


def test_a_chart_with_a_non_finite_number_draws_nothing():
    assert plots.accuracy([{"kind": "accuracy", "label": "net1", "value": float("nan"), "full": 0.88, "zero": 0.55}]) == ""
    assert plots.abs_error([{"kind": "abs_error", "label": "age", "quantiles": [1.0] * 20, "mae": 1, "full": 4,
                             "zero": 25}]) == ""


def test_the_same_result_gives_the_same_page_bytes(page, graded_result):
    assert html.render_student(graded_result()) == page


def test_the_dashboard_links_every_students_page(index):
    assert '<a href="./ann/report.html">ann</a>' in index and '<a href="./bo/report.html">bo</a>' in index


def test_the_dashboard_shows_the_score_distribution_by_level(index):
    table = index.split("Score distribution by level")[1].split("</table>")[0]
    assert '<th class="num">undergrad</th><th class="num">grad</th>' in table and len(_images(table)) == 1


def test_the_dashboard_gives_each_items_mean(index):
    row = re.sub(r">\s+<", "><", index.split("<code>dL_<wbr>dw1</code>")[1].split("</tr>")[0])
    assert '<td class="num">0</td><td class="num">1.25</td><td class="num">0 / 2</td>' in row


def test_the_items_most_often_lost_come_first_with_their_most_common_message():
    def student(name, message):
        return {"student": name, "questions": [{"id": "Q1", "items": [
            {"id": "dL_dw1", "points": 0, "max_points": 1.25, "message": message},
            {"id": "dL_dw2", "points": 1.25 if name != "cy" else 0, "max_points": 1.25, "message": "other"}]}]}

    rows = dashboard.most_lost([student("ann", "off by 0.5 at x=1"), student("bo", "off by 2 at x=3"),
                                student("cy", "not defined"), student("di", "not graded: no H3P1 notebook was handed in")])
    assert [(r["item"], r["students"], r["message"], r["same"]) for r in rows] == \
        [("dL_dw1", 3, "off by 0.5 at x=1", 2), ("dL_dw2", 1, "other", 1)]


def test_the_dashboard_lists_a_notebook_stopped_by_a_limit_with_the_limit_and_cell(index):
    crashed = index.split("Notebooks that crashed or hit a limit")[1].split("</table>")[0]
    assert "<td>memory limit</td><td class=\"num\">5</td>" in crashed


def test_the_dashboard_lists_the_slowest_notebooks_first(index):
    slowest = index.split("Slowest notebooks")[1].split("</table>")[0]
    assert slowest.index("30.5") < slowest.index("8.2") < slowest.index("1.5")


def test_the_dashboard_shows_the_sandbox_of_the_run(index):
    assert "Sandbox: <b>full: bubblewrap</b>" in index


def test_run_json_records_outcome_seconds_limit_and_peak_memory(tmp_path, graded_result):
    result = graded_result()
    run = MeasuredRun(Path("H3P1.ipynb"), "H3P1", "timed_out", (CellFailure(2, "timeout", "CellTimeoutError", "", ""),),
                      300.5, reason="cell 3 ran out of time", peak_memory=3 * 2**30)
    records = runlog.records_of(type(result)(**{**result.__dict__, "runs": (run,)}))
    report.write_class(tmp_path, [json_report.to_dict(result, "fp")], [], _run_info(records))
    (record,) = json.loads((tmp_path / "run.json").read_text())["notebooks"]
    assert (record["status"], record["seconds"], record["limit"], record["limit_cell"], record["peak_memory"]) == \
        ("timed_out", 300.5, "time limit", 3, 3 * 2**30)


def test_run_json_keeps_the_records_of_students_this_run_skipped(tmp_path, built):
    for name in ("run.json", "index.html"):
        (tmp_path / name).write_bytes((built / name).read_bytes())
    results = report.read_results(built, ["ann", "bo"])
    report.write_class(tmp_path, results, [], _run_info(graded=("bo",), skipped=("ann",)))
    data = json.loads((tmp_path / "run.json").read_text())
    assert {r["student"] for r in data["notebooks"]} == {"ann"} and all(r["earlier"] for r in data["notebooks"])


def test_run_log_has_a_line_per_notebook_naming_the_limit(built):
    text = (built / "run.log").read_text()
    assert text.startswith("grader 1.2.3: 2 student(s) graded")
    assert re.search(r"^ann +H3P2T2_keras.ipynb +limit_exceeded +30.5 s +peak +- +memory limit in cell 5", text, re.M)


def test_a_newline_in_a_notebook_name_cannot_forge_a_run_log_line():
    data = {"run": {"version": "1", "sandbox": "full", "jobs": 1, "seconds": 1, "graded": [], "skipped": [], "errors": []},
            "totals": runlog.totals([], []),
            "notebooks": [{"student": "ann", "notebook": "H3P1\nbo  H3P1.ipynb  ok.ipynb", "status": "ok", "seconds": 1}]}
    assert "\nbo " not in runlog.render_log(data)


def test_predictions_are_stored_outside_the_students_folder_as_numbers(tmp_path):
    report.write_predictions(tmp_path, "ann", "H3P2T2", np.array([[1000.5, 40.0], [np.nan, 20.0]]))
    stored = json.loads((tmp_path / ".instructor" / "ann.json").read_text())
    assert stored["predictions"] == {"H3P2T2": [[1000.5, 40.0], [None, 20.0]]} and not (tmp_path / "ann").exists()


def test_predictions_that_are_not_two_columns_of_numbers_drop_the_stored_ones(tmp_path):
    report.write_predictions(tmp_path, "ann", "H3P2T2", [[1.0, 2.0]])
    report.write_predictions(tmp_path, "ann", "H3P2T2", [["a", "b"]])
    assert not (tmp_path / ".instructor" / "ann.json").exists()


def test_the_instructor_page_draws_predicted_against_true_as_images_only(built):
    page = (built / "instructor.html").read_text()
    assert [uri[:22] for uri in _images(page)] == ["data:image/png;base64,"] * 2
    assert "1234.5678" not in page and "8765" not in page and "71.5" not in page


def test_the_instructor_page_gives_each_students_mean_absolute_error(built):
    page = (built / "instructor.html").read_text()
    income = np.mean(np.abs(np.array([r[0] for r in ANN_PREDICTS]) - _hidden()["H3P2T2"].y[:, 0]))
    assert f'<td class="num">{income:.4g}</td>' in page


def test_only_the_dashboard_links_the_instructor_page(built):
    assert 'href="instructor.html"' in (built / "index.html").read_text()
    assert "instructor.html" not in (built / "ann" / "report.html").read_text()


def test_markdown_and_json_reports_do_not_change_with_the_html_one(built, graded_result):
    from grader.report import markdown

    result = graded_result()
    assert (built / "ann" / "report.md").read_text() == markdown.render(result)
    assert json.loads((built / "ann" / "report.json").read_text()) == json_report.to_dict(result, "fp")
