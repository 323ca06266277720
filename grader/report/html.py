"""report.html: a student's report as one self-contained page (CSS inline, plots as data URIs, no
script, no network), readable on a phone and printable.

Every string a student controls (answers quoted in messages, printed output, tracebacks, notebook
and folder names) reaches the page through Jinja2's autoescaping; the page's Content-Security-Policy
forbids scripts as a second line of defence. Nothing shown here lets a student rebuild the hidden
set: plots get summaries only (ItemScore.chart).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from ..model import ItemScore, NotebookRun, QuestionScore, StudentResult
from . import plots
from .csv import fmt
from .markdown import MARK
from .runlog import framework_of, mib

TRACEBACK_LINES = 60
"""A traceback longer than this shows its last lines (where the error is)."""


def code_spans(text: Any) -> Markup:
    """Escape text, then show `quoted` names as code (escaping first keeps this safe)."""
    return Markup(re.sub(r"`([^`\n]{1,200})`", r"<code>\1</code>", str(escape(text))))


def breakable(text: Any) -> Markup:
    """Escape an identifier and let it wrap after underscores only (net1_output_units on a phone)."""
    return Markup(str(escape(text)).replace("_", "_<wbr>"))


def url_part(name: Any) -> str:
    """A student or file name as one relative URL segment: no scheme, no slash, nothing to run."""
    return quote(str(name), safe="")


def percent(points: float, max_points: float) -> float:
    return round(max(0.0, min(100.0, 100.0 * points / max_points)), 1) if max_points else 0.0


ENV = Environment(loader=PackageLoader("grader.report", "templates"), autoescape=True,
                  undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
ENV.filters.update(code=code_spans, pts=fmt, url=url_part, mib=mib, id=breakable)


def value_text(value: Any) -> str:
    """A number or small structure from a counterexample, printed briefly."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (int, str)):
        return str(value)[:200]
    return json.dumps(value, default=str)[:200]


def counterexample(item: ItemScore) -> dict | None:
    """Where a lost item was tried: {"point": [(name, value)], "rows": [(name, value)], "expected",
    "given"}; None for an item that kept its points, or whose data is only a measurement the
    message already gives (a Part 2 accuracy, the loss it saw)."""
    ce = item.counterexample
    if not isinstance(ce, dict) or item.points >= item.max_points or not {"point", "expected", "given"} & set(ce):
        return None
    point = ce.get("point") if isinstance(ce.get("point"), dict) else {}
    rows = [(str(k), value_text(v)) for k, v in ce.items() if k not in ("point", "expected", "given")]
    return {"point": [(str(k), value_text(v)) for k, v in point.items()], "rows": rows,
            "expected": value_text(ce["expected"]) if "expected" in ce else None,
            "given": value_text(ce["given"]) if "given" in ce else None}


def _item(item: ItemScore) -> dict:
    return {"id": item.item, "status": item.status, "mark": MARK.get(item.status, item.status),
            "points": item.points, "max_points": item.max_points, "message": item.message,
            "override": item.override, "provisional": item.status == "review" and not item.override,
            "counter": counterexample(item)}


def question_plots(q: QuestionScore) -> list[dict]:
    """The question's figures: accuracy per net, or the absolute-error spread per output."""
    charts = [i.chart for i in q.items if plots.usable(i.chart)]
    found = []
    accuracy = [c for c in charts if c["kind"] == "accuracy"]
    if accuracy:
        found.append({"uri": plots.accuracy(accuracy),
                      "alt": "; ".join(f"{c.get('label')}: accuracy {c['value']:.3f} (full marks at {c['full']:g}, "
                                       f"none at {c['zero']:g})" for c in accuracy),
                      "caption": "Accuracy on the hidden test rows against the rubric's bars."})
    errors = [c for c in charts if c["kind"] == "abs_error"]
    if errors:
        found.append({"uri": plots.abs_error(errors),
                      "alt": "; ".join(f"{c.get('label')}: mean absolute error {c['mae']:.4g} (full marks at "
                                       f"{c['full']:g}, none at {c['zero']:g})" for c in errors),
                      "caption": "How far your predictions are from the truth on the hidden test rows; the "
                                 "bars apply to the mean (the diamond)."})
    return found


def _question(q: QuestionScore) -> dict:
    share = percent(q.points, q.max_points)
    return {"id": q.id, "anchor": f"q-{q.id}", "points": q.points, "max_points": q.max_points, "bonus": q.bonus,
            "pct": share, "tone": "full" if share >= 100 else ("low" if share < 50 else ""),
            "item_rows": [_item(i) for i in q.items], "plots": question_plots(q)}


def trimmed(traceback: str) -> str:
    lines = traceback.splitlines()
    if len(lines) <= TRACEBACK_LINES:
        return traceback
    return f"... ({len(lines) - TRACEBACK_LINES} lines cut) ...\n" + "\n".join(lines[-TRACEBACK_LINES:])


def notebook(run: NotebookRun) -> dict:
    return {"name": run.path.name, "task": run.task, "framework": framework_of(run), "seconds": run.seconds,
            "status": run.status, "ok": run.ok, "reason": run.reason, "sandbox": run.sandbox,
            "peak_memory": int(getattr(run, "peak_memory", 0) or 0), "notes": list(run.notes), "rerun": run.rerun,
            "tampering": list(run.tampering),
            "failures": [{"number": f.number, "kind": f.kind, "ename": f.ename, "evalue": f.evalue, "hint": f.hint,
                          "traceback": trimmed(f.traceback)} for f in run.failures]}


def render_student(result: StudentResult) -> str:
    """StudentResult -> the whole report.html text."""
    return ENV.get_template("report.html.j2").render(
        r=result, bonus=any(q.bonus for q in result.questions), total_pct=percent(result.total, result.max_total),
        questions=[_question(q) for q in result.questions], runs=[notebook(run) for run in result.runs])
