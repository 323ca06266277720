"""reports/run.json and run.log: per notebook what happened (outcome, seconds, the limit that stopped
it and in which cell, peak memory); per run the grader version, sandbox, jobs and totals.

A run skips students whose reports are current, so their notebooks' records are carried over from
the previous run.json (merged by student): the log and the dashboard always cover the whole class.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from ..model import NotebookRecord, NotebookRun, RunInfo, StudentResult

SCHEMA = 1
RUN_JSON = "run.json"
RUN_LOG = "run.log"


def framework_of(run: NotebookRun) -> str:
    """What a Part 2 notebook's models are built with, as the checker saw it ("" if unknown)."""
    from ..checks.part2.observe import framework_of as framework_observed, observe

    extra = run.payload.get("extra") if isinstance(run.payload, dict) else None
    if run.task == "H3P1" or not isinstance(extra, dict):
        return ""
    return framework_observed(observe(run.task, extra.get("part2"), run)) or ""


def limit_of(run: NotebookRun) -> tuple[str, int]:
    """(which limit stopped the notebook, its 1-based cell) or ("", 0)."""
    for failure in run.failures:
        if failure.kind == "limit":
            return failure.ename, failure.number
        if failure.kind == "timeout":
            return "time limit", failure.number
    if run.status in ("timed_out", "limit_exceeded"):  # a limit hit outside the cells
        return ("time limit" if run.status == "timed_out" else "limit"), 0
    return "", 0


def records_of(result: StudentResult) -> tuple[NotebookRecord, ...]:
    """StudentResult -> one record per notebook run (what the pipeline hands back per student)."""
    out = []
    for run in result.runs:
        limit, cell = limit_of(run)
        out.append(NotebookRecord(
            student=result.student, notebook=run.path.name, task=run.task, status=run.status,
            reason=run.reason, seconds=round(run.seconds, 2), framework=framework_of(run), limit=limit,
            limit_cell=cell, failed_cells=tuple(sorted({f.number for f in run.failures})),
            peak_memory=int(getattr(run, "peak_memory", 0) or 0), sandbox=run.sandbox, rerun=bool(run.rerun),
            timings=dict(run.timings)))
    return tuple(out)


def load(out: Path) -> dict | None:
    """The previous run.json, or None (absent, unreadable or from another schema)."""
    try:
        data = json.loads((out / RUN_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("schema") == SCHEMA else None


def merged_records(previous: dict | None, run: RunInfo | None, students: list[str]) -> list[dict]:
    """This run's records, plus the previous run.json's for students this run did not grade,
    limited to the class (students) and sorted by student and notebook."""
    graded = set(run.graded) if run else set()
    keep = set(students)
    old = [dict(r, earlier=True) for r in (previous or {}).get("notebooks", [])
           if isinstance(r, dict) and r.get("student") in keep - graded]
    new = [dict(asdict(r), failed_cells=list(r.failed_cells), earlier=False)
           for r in (run.notebooks if run else ()) if r.student in keep]
    return sorted(old + new, key=lambda r: (str(r.get("student")), str(r.get("notebook"))))


def totals(records: list[dict], results: list[dict]) -> dict:
    """Counts over the whole class (this run's records and the carried-over ones)."""
    by_status: dict[str, int] = {}
    for r in records:
        by_status[r.get("status", "?")] = by_status.get(r.get("status", "?"), 0) + 1
    return {"students": len(results), "notebooks": len(records), "by_status": dict(sorted(by_status.items())),
            "limits_hit": sum(1 for r in records if r.get("limit")),
            "notebook_seconds": round(sum(float(r.get("seconds") or 0) for r in records), 1),
            "needs_review": sum(1 for r in results if r.get("needs_review")),
            "needs_attention": sum(1 for r in results if r.get("attention"))}


def to_json(run: RunInfo, records: list[dict], results: list[dict]) -> dict:
    return {"schema": SCHEMA,
            "run": {"version": run.version, "sandbox": run.sandbox, "jobs": run.jobs, "seconds": run.seconds,
                    "graded": list(run.graded), "skipped": list(run.skipped), "errors": list(run.errors),
                    "notebooks_run": len(run.notebooks), "notebooks_executed": run.executed},
            "totals": totals(records, results), "notebooks": records}


def plain(text) -> str:
    """One line of text: a notebook named with a newline cannot forge a line of the log."""
    return "".join(ch if ch.isprintable() else "?" for ch in str(text))


def mib(size: int | float) -> str:
    return f"{size / 2**20:.0f} MiB" if size else "-"


def render_log(data: dict) -> str:
    """run.json -> run.log, a text an instructor reads top to bottom."""
    run, tot = data["run"], data["totals"]
    lines = [f"grader {run['version']}: {len(run['graded'])} student(s) graded, {len(run['skipped'])} already "
             f"current, {len(run['errors'])} grader error(s); jobs {run['jobs']}; {run['seconds']:g} s",
             f"sandbox: {run['sandbox']}",
             f"class: {tot['students']} student(s), {tot['notebooks']} notebook(s) "
             f"({', '.join(f'{k} {v}' for k, v in tot['by_status'].items()) or 'none'}), "
             f"{tot['limits_hit']} limit(s) hit, {tot['notebook_seconds']:g} s in notebooks", ""]
    if run["errors"]:
        lines += [f"grader failed on: {', '.join(run['errors'])} (see grader-errors.log)", ""]
    width = max([len(plain(r["student"])) for r in data["notebooks"]] + [7])
    name_width = max([len(plain(r["notebook"])) for r in data["notebooks"]] + [8])
    for r in data["notebooks"]:
        limit = f"  {r['limit']}" + (f" in cell {r['limit_cell']}" if r.get("limit_cell") else "") if r.get("limit") else ""
        cells = f"  failed cells {', '.join(map(str, r['failed_cells']))}" if r.get("failed_cells") else ""
        lines.append(f"{plain(r['student']):<{width}}  {plain(r['notebook']):<{name_width}}  {r['status']:<14} "
                     f"{float(r.get('seconds') or 0):7.1f} s  peak {mib(r.get('peak_memory') or 0):>8}"
                     f"{limit}{cells}{'  (re-run)' if r.get('rerun') else ''}"
                     f"{'  (earlier run)' if r.get('earlier') else ''}"
                     + (f"\n{'':<{width}}  {plain(r['reason'])}" if r.get("reason") else ""))
    return "\n".join(lines) + "\n"
