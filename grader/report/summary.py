"""summary.md: the class at a glance for the instructor."""

from __future__ import annotations

import statistics

from ..model import QUESTION_IDS
from .csv import fmt


def render(results: list[dict], run_log: list[str]) -> str:
    lines = ["# HW3 class summary", "", f"Students graded: {len(results)}", "",
             "| question | mean | min | median | max | max points |", "|---|---|---|---|---|---|"]
    for qid in QUESTION_IDS:
        got = [q for r in results for q in r["questions"] if q["id"] == qid]
        if not got:
            continue
        pts = [q["points"] for q in got]
        lines.append(f"| {qid} | {fmt(round(statistics.mean(pts), 2))} | {fmt(min(pts))} | {fmt(round(statistics.median(pts), 2))} "
                     f"| {fmt(max(pts))} | {fmt(max(q['max_points'] for q in got))} |")
    totals = [r["total"] for r in results]
    if totals:
        lines += ["", f"Totals: mean {fmt(round(statistics.mean(totals), 2))}, min {fmt(min(totals))}, "
                      f"max {fmt(max(totals))}.", "", "| total | students |", "|---|---|"]
        for low in range(0, 110, 10):
            count = sum(1 for t in totals if low <= t < low + 10 or (low == 100 and t >= 100))
            if low <= 100:
                lines.append(f"| {low}{'+' if low == 100 else f'-{low + 9}'} | {count} |")
    lines += ["", "## Needs attention", "",
              "A crash, a limit, a missing notebook or package, signs of tampering, a grader error:", ""]
    lines += [f"- {r['student']}: " + "; ".join(r["attention"])
              for r in sorted(results, key=lambda r: r["student"]) if r.get("attention")] or ["Nobody."]
    review = sorted(r["student"] for r in results if r["needs_review"])
    lines += ["", "## Needs review", "", "Provisional points (free text and the like) to confirm:", ""]
    lines += [f"- {s}: {', '.join(i['id'] for q in r['questions'] for i in q['items'] if i['status'] == 'review')}"
              for s in review for r in results if r["student"] == s] or ["Nobody."]
    if run_log:
        lines += ["", "## Run log", ""] + [f"- {line}" for line in run_log]
    return "\n".join(lines) + "\n"
