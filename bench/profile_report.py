"""Where a notebook's seconds go: one floor run and one `grader run --jobs 1`, each with timestamps
at the kernel's spawn, ready, each cell and shutdown (bench/drivers.py), split into phases per
notebook and averaged by kind (Part 1, PyTorch, Keras)."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

PHASES = ("prepare", "spawn", "kernel ready", "setup", "cells", "between cells", "extraction", "teardown")
PHASE_NOTES = {
    "prepare": "notebook read, scratch folder, sandbox arguments, until the kernel is spawned",
    "spawn": "start_kernel (bubblewrap and the kernel process launched)",
    "kernel ready": "until the kernel answers (interpreter and ipykernel start)",
    "setup": "kernel ready -> first student cell (the grader's guard code and key)",
    "between cells": "time between cells (the grader's per-cell checks)",
    "extraction": "last cell -> kernel stopped (the grader's answer request)",
    "teardown": "kernel shutdown, scratch folder removed",
}


def kind_of(name: str) -> str:
    if name.split("/")[-1].upper().startswith("H3P1"):
        return "Part 1"
    return "Keras" if "keras" in name.lower() else "PyTorch"


def windows(marks: list) -> list[tuple[str, list]]:
    """Events grouped per notebook (notebook:start .. notebook:end, in order)."""
    found, current, label = [], None, ""
    for name, t, what in marks:
        if name == "notebook:start":
            current, label = [(name, t, what)], what
        elif current is not None:
            current.append((name, t, what))
            if name == "notebook:end":
                found.append((label, current))
                current = None
    return found


def _spans(events: list, name: str) -> list[tuple[float, float]]:
    starts, spans = [], []
    for event, t, _ in events:
        if event == f"{name}:start":
            starts.append(t)
        elif event == f"{name}:end" and starts:
            begin = starts.pop()
            if not starts:  # nested calls (a wrapper calling the wrapped) count once
                spans.append((begin, t))
    return spans


def phases(events: list) -> dict[str, float]:
    """One notebook's events -> seconds per phase (they add up to the notebook's time)."""
    t0, t1 = events[0][1], events[-1][1]
    spawn, ready, cells = _spans(events, "spawn"), _spans(events, "ready"), _spans(events, "cell")
    if not spawn or not ready or not cells:
        return {"prepare": t1 - t0}
    last_cell = cells[-1][1]
    stops = [t for e, t, _ in events if e in ("kill:start", "shutdown:start") and t >= last_cell]
    stop = min(stops) if stops else t1
    in_cells = sum(b - a for a, b in cells)
    return {
        "prepare": spawn[0][0] - t0,
        "spawn": sum(b - a for a, b in spawn),
        "kernel ready": ready[-1][1] - spawn[-1][1] if len(spawn) == 1 else sum(b - a for a, b in ready),
        "setup": cells[0][0] - ready[0][1],
        "cells": in_cells,
        "between cells": (last_cell - cells[0][0]) - in_cells,
        "extraction": stop - last_cell,
        "teardown": t1 - stop,
    }


def by_kind(marks: list) -> dict[str, dict[str, float]]:
    """Mean seconds per phase for each kind of notebook (and 'count')."""
    groups: dict[str, list[dict]] = {}
    for label, events in windows(marks):
        groups.setdefault(kind_of(label), []).append(phases(events))
    return {kind: {"count": len(rows), **{p: statistics.mean(r.get(p, 0.0) for r in rows) for p in PHASES}}
            for kind, rows in groups.items()}


def outside_notebooks(marks: list, wall: float) -> str:
    """The grader process's time outside any notebook, by step."""
    inside = sum(events[-1][1] - events[0][1] for _, events in windows(marks))
    main = [t for e, t, _ in marks if e in ("main:start", "main:end")]
    steps = []
    for name in ("plan", "environment", "judge", "student_report", "class_reports"):
        spans = _spans([m for m in marks if m[0].startswith(name + ":")], name)
        if spans:
            steps.append(f"{name} {sum(b - a for a, b in spans):.2f}")
    startup = wall - (main[-1] - main[0]) if len(main) == 2 else 0.0
    in_process = (main[-1] - main[0]) - inside if len(main) == 2 else 0.0
    return (f"grader process outside notebooks: {startup + in_process:.2f} s = interpreter start and exit {startup:.2f} + "
            f"{in_process:.2f} in the process (imports, discovery, cache keys, scoring, reports; of which "
            f"{', '.join(steps) or 'no step recorded'}; judge and student_report overlap)")


def table(floor: dict, grader: dict) -> list[str]:
    kinds = [k for k in ("Part 1", "PyTorch", "Keras") if k in floor or k in grader]
    head = "  phase (s per notebook) " + "".join(f"| {k} floor | {k} grader " for k in kinds)
    rows = [head]
    for phase in (*PHASES, "total"):
        cells = ""
        for kind in kinds:
            for side in (floor, grader):
                values = side.get(kind, {})
                value = sum(values.get(p, 0.0) for p in PHASES) if phase == "total" else values.get(phase)
                cells += f"| {value:8.2f} " if value is not None else "|      n/a "
        rows.append(f"  {phase:<23}{cells}")
    counts = ", ".join(f"{k}: {grader.get(k, floor.get(k, {})).get('count', 0):g}" for k in kinds)
    rows.append(f"  notebooks per kind: {counts}")
    return rows


def profile(bench) -> str:
    """Runs the profiled floor and grader --jobs 1 once each -> the report's text."""
    folder = bench.ws.fresh("profile")
    driver = str(Path(__file__).resolve().parent / "drivers.py")
    manifest = bench.ws.stage(folder / "floor", bench.notebooks, "floor")
    floor_events, grader_events = folder / "floor-events.json", folder / "grader-events.json"
    done = bench_run(bench, [bench.python, driver, "profile-floor", str(manifest), str(floor_events)])
    if done is None or not floor_events.exists():
        return "profile: the floor's profiled run failed"
    argv = ["run", str(bench.args.submissions), "--out", str(folder / "out"), "--cache", str(folder / "cache"),
            "--quiet", "--jobs", "1", *[a for s in bench.args.students for a in ("--student", s)]]
    started = time.perf_counter()
    done = bench_run(bench, [bench.python, driver, "profile-grader", str(grader_events), "--", *argv])
    wall = time.perf_counter() - started
    if done is None or not grader_events.exists():
        return "profile: the grader's profiled run failed"
    floor, grader = json.loads(floor_events.read_text()), json.loads(grader_events.read_text())
    lines = ["profile (one run each, --jobs 1; phases: " + "; ".join(f"{k}: {v}" for k, v in PHASE_NOTES.items()) + ")"]
    lines += table(by_kind(floor), by_kind(grader))
    lines.append("  " + outside_notebooks(grader, wall))
    return "\n".join(lines)


def bench_run(bench, cmd: list[str]):
    import subprocess

    done = subprocess.run(cmd, env=bench.env(), capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    return done if done.returncode == 0 else None
