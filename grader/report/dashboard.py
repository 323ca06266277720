"""index.html, the class dashboard: from the report.json dicts of the whole class and the run log's
notebook records (run.json). For the instructor; student pages never link to it.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter

from ..model import QUESTION_IDS
from . import plots
from .csv import fmt
from .html import ENV, percent

TOP = 10
"""Rows in 'most often lost' and 'slowest notebooks'."""


def _mean(values: list[float]) -> float:
    return round(statistics.mean(values), 2) if values else 0.0


def distribution(results: list[dict]) -> dict:
    """Totals in bins of 10 points per level: {"levels": [...], "rows": [(label, [count per level])]}."""
    levels = sorted({r["level"] for r in results}, key=lambda lv: (lv != "undergrad", lv))
    top = max([100.0] + [float(r["total"]) for r in results])
    lows = list(range(0, int(top // 10) * 10 + 1, 10))
    rows = []
    for low in lows:
        last = low == lows[-1]
        label = f"{low}+" if last else f"{low}-{low + 9}"
        rows.append((label, [sum(1 for r in results if r["level"] == lv and (low <= r["total"] < low + 10 or
                                                                           (last and r["total"] >= low)))
                             for lv in levels]))
    return {"levels": levels, "rows": rows, "plot": plots.score_histogram(results)}


def maxima(values: list[float]) -> str:
    """The maximum points, or each level's when they differ (Q5 is a bonus worth less for undergraduates)."""
    return " or ".join(fmt(v) for v in sorted(set(values)))


def question_means(results: list[dict]) -> list[dict]:
    """Per question (in rubric order) and per item: mean points, maximum, share of the points earned
    and how many students got full marks."""
    out = []
    for qid in QUESTION_IDS:
        got = [q for r in results for q in r["questions"] if q["id"] == qid]
        if not got:
            continue
        items: dict[str, list[dict]] = {}
        for q in got:
            for item in q["items"]:
                items.setdefault(item["id"], []).append(item)
        out.append({"id": qid, "mean": _mean([q["points"] for q in got]), "max": maxima([q["max_points"] for q in got]),
                    "pct": percent(sum(q["points"] for q in got), sum(q["max_points"] for q in got)),
                    "bonus": any(q["bonus"] for q in got),
                    "item_rows": [{"id": iid, "mean": _mean([i["points"] for i in its]),
                               "max": maxima([i["max_points"] for i in its]),
                               "pct": percent(sum(i["points"] for i in its), sum(i["max_points"] for i in its)),
                               "full": sum(1 for i in its if i["points"] >= i["max_points"]), "of": len(its)}
                              for iid, its in items.items()]})
    return out


def _shape(message: str) -> str:
    """A message with its numbers blanked: how messages that differ only in numbers are grouped."""
    return re.sub(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", "#", message)


NOT_HANDED_IN = re.compile(r"not graded: no (submission folder|\S+ notebook was handed in)")
"""score.py's message for the items of a notebook (or folder) that is not there: the attention list
already names those students, and counting them would bury what students got wrong."""


def most_lost(results: list[dict]) -> list[dict]:
    """The items most students lost points on (in a notebook they handed in), with the most common
    message (messages that differ only in their numbers count as one)."""
    lost: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for r in sorted(results, key=lambda r: r["student"]):
        for q in r["questions"]:
            for i in q["items"]:
                if i["points"] < i["max_points"] and not NOT_HANDED_IN.fullmatch(i["message"]):
                    lost.setdefault((q["id"], i["id"]), []).append((i["max_points"] - i["points"], i["message"]))
    rows = []
    for (qid, iid), entries in lost.items():
        shapes = Counter(_shape(m) for _, m in entries)
        shape, count = shapes.most_common(1)[0]
        example = next(m for _, m in entries if _shape(m) == shape)
        rows.append({"question": qid, "item": iid, "students": len(entries), "points": round(sum(p for p, _ in entries), 2),
                     "message": example[:400], "same": count})
    rows.sort(key=lambda row: (-row["students"], -row["points"], row["question"], row["item"]))
    return rows[:TOP]


def review_list(results: list[dict]) -> list[dict]:
    return [{"student": r["student"], "item_rows": [i["id"] for q in r["questions"] for i in q["items"]
                                                 if i["status"] == "review" and not i.get("override")]}
            for r in sorted(results, key=lambda r: r["student"]) if r["needs_review"]]


def everyone(results: list[dict]) -> list[dict]:
    rows = []
    for r in sorted(results, key=lambda r: r["student"]):
        by_id = {q["id"]: q["points"] for q in r["questions"]}
        rows.append({"student": r["student"], "level": r["level"], "total": r["total"], "max_total": r["max_total"],
                     "points": [by_id.get(q) for q in QUESTION_IDS], "review": r["needs_review"],
                     "attention": len(r.get("attention", []))})
    return rows


def problems(records: list[dict]) -> list[dict]:
    """Notebooks that did not run to the end normally: crashed, timed out or stopped by a limit."""
    return [r for r in records if r.get("status") != "ok" or r.get("limit")]


def render_index(results: list[dict], records: list[dict], run: dict | None, has_instructor_page: bool) -> str:
    """The class dashboard page. run: run.json's "run" block (None when no run log exists yet)."""
    totals = [r["total"] for r in results]
    sandboxes = Counter(str(r.get("sandbox") or "not recorded").split(":")[0] for r in records)
    reduced = [r for r in records if str(r.get("sandbox", "")).startswith("reduced")]
    return ENV.get_template("index.html.j2").render(
        results=results, run=run, has_instructor_page=has_instructor_page, question_ids=QUESTION_IDS,
        mean_total=_mean(totals), median_total=round(statistics.median(totals), 2) if totals else 0.0,
        distribution=distribution(results), questions=question_means(results), lost=most_lost(results),
        review=review_list(results),
        attention=[r for r in sorted(results, key=lambda r: r["student"]) if r.get("attention")],
        problems=problems(records), records=records,
        slowest=sorted(records, key=lambda r: -float(r.get("seconds") or 0))[:TOP],
        sandboxes=sorted(sandboxes.items()), reduced=reduced, everyone=everyone(results))
