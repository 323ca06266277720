"""report.md: what a student reads. Every lost point carries its reason."""

from __future__ import annotations

from ..model import StudentResult
from .csv import fmt

MARK = {"pass": "ok", "fail": "wrong", "missing": "missing", "error": "error", "review": "to review"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", "<br>")


def render(result: StudentResult) -> str:
    bonus = " (bonus on top)" if any(q.bonus for q in result.questions) else ""
    lines = [f"# HW3 report: {result.student} ({result.level})", "",
             f"**Total: {fmt(result.total)} / {fmt(result.max_total)}**{bonus}", ""]
    if result.attention:
        lines += ["An instructor will look at this submission:", ""] + [f"- {_cell(a)}" for a in result.attention] + [""]
    if result.needs_review:
        lines += ["Some free-text answers have provisional points: an instructor will review them.", ""]
    for note in result.notes:
        lines.append(f"> {note}")
    if result.notes:
        lines.append("")
    for q in result.questions:
        tag = " (bonus)" if q.bonus else ""
        lines += [f"## {q.id}{tag}: {fmt(q.points)} / {fmt(q.max_points)}", "",
                  "| item | points | status | why |", "|---|---|---|---|"]
        for i in q.items:
            why = i.message if (i.points < i.max_points or i.status == "review") else ""
            if i.override:
                why = f"{i.override}. {why}".strip()
            lines.append(f"| {i.item} | {fmt(i.points)} / {fmt(i.max_points)} | {MARK[i.status]} | {_cell(why)} |")
        lines.append("")
    if result.runs:
        lines += ["## Notebooks", ""]
        for run in result.runs:
            took = f", {run.seconds:.1f} s" if run.seconds else ""
            failed = sorted({f.index + 1 for f in run.failures})
            status = run.status + (f", {len(failed)} cell(s) failed (cell {', '.join(map(str, failed))})" if failed else "")
            lines.append(f"- `{run.path.name}` ({run.task}): {status}{took}"
                         + (f": {run.reason}" if run.reason else "")
                         + (f" [sandbox: {run.sandbox}]" if run.sandbox else ""))
            lines += [f"  - note: {note}" for note in run.notes]
            lines += [f"  - {run.rerun}"] if run.rerun else []
            for f in run.failures:
                lines += [f"  - cell {f.number} failed ({f.kind}): {f.ename}: {f.evalue}"]
                lines += [f"    {f.hint}"] if f.hint else []
                if f.traceback:
                    lines += ["", "    ```", *("    " + row for row in f.traceback.splitlines()), "    ```", ""]
        lines.append("")
    if result.ignored:
        lines += ["## Ignored files", "", "These files are not part of the contract and were not graded:", ""]
        lines += [f"- `{name}`" for name in result.ignored] + [""]
    return "\n".join(lines)
