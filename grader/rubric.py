"""YAML -> validated Rubric. The only place points, tolerances, seeds and keywords live.

Every setting is declared once here with its type and meaning; unknown keys are errors.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator

from .errors import RubricError
from .model import LEVELS, QUESTION_IDS, TARGET_RANGES, TARGETS, Level


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LevelPoints(_Strict):
    """Points of a question or an item, per level."""

    undergrad: float = Field(ge=0)
    grad: float = Field(ge=0)

    def of(self, level: str) -> float:
        return getattr(self, level)


class Question(_Strict):
    title: str
    task: str
    """Notebook task that answers it (H3P1, H3P2T1, H3P2T2); bonus_frameworks uses its own rule."""
    points: LevelPoints
    bonus_for: tuple[Level, ...] = ()
    """Levels for which the question is a bonus on top of max_total."""
    items: dict[str, LevelPoints]
    """Item id (the contract's answer name where one exists) -> points; must add up to points."""

    @model_validator(mode="after")
    def _items_add_up(self):
        for level in LEVELS:
            total = sum(item.of(level) for item in self.items.values())
            if abs(total - self.points.of(level)) > 1e-9:
                raise ValueError(
                    f"items add up to {total:g} {level} points but the question has "
                    f"{self.points.of(level):g}; change an item or the question's points"
                )
        return self


class Q1Params(_Strict):
    points: int = Field(200, ge=200, description="random points per derivative")
    activations: tuple[Literal["sigmoid", "tanh", "softplus", "sin", "identity"], ...]
    loss: Literal["bce", "mse"] = "bce"
    low: float = -2.0
    high: float = 2.0
    rtol: float = 1e-6
    atol: float = 1e-9


class Q4Params(_Strict):
    samples: int = Field(500, ge=10)
    max_scale_ratio: float = Field(10.0, gt=1, description="largest allowed ratio of column spreads")
    rtol: float = 1e-6
    atol: float = 1e-6


class Q5Params(_Strict):
    z: tuple[float, ...]
    """Points every Q5 function is called at (the report quotes the failing one)."""
    bounds: tuple[tuple[float, float], ...]
    """(a, b) pairs for f_bounded."""
    reach_high: float = Field(1000.0, description="a non-negative f must exceed this somewhere")
    reach_low: float = Field(1.0, description="...and come below this somewhere")
    cover: float = Field(0.98, gt=0, le=1, description="share of [a, b] f_bounded must cover")


class FrameworksBonus(_Strict):
    task: str = "H3P2T2"
    frameworks: tuple[str, ...] = ("torch", "keras")


# Part 2 (`part2:`): bars calibrated on the reference solutions, and the probes' settings.


class Bar(_Strict):
    """Linear partial credit: full marks at `full` or better, none at `zero` or worse."""

    full: float
    zero: float

    def fraction(self, value: float) -> float:
        if not math.isfinite(value):
            return 0.0
        share = (value - self.zero) / (self.full - self.zero)
        return round(min(1.0, max(0.0, share)), 4)


class AccuracyBar(Bar):
    full: float = Field(ge=0, le=1)
    zero: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _order(self):
        if not self.full > self.zero:
            raise ValueError(f"full ({self.full:g}) must be above zero ({self.zero:g}) for an accuracy")
        return self


class ErrorBar(Bar):
    full: float = Field(ge=0)
    zero: float = Field(ge=0)

    @model_validator(mode="after")
    def _order(self):
        if not self.full < self.zero:
            raise ValueError(f"full ({self.full:g}) must be below zero ({self.zero:g}) for an error")
        return self


class AccuracyBars(_Strict):
    net1: AccuracyBar = AccuracyBar(full=0.88, zero=0.55)
    net2: AccuracyBar = AccuracyBar(full=0.88, zero=0.55)


class MaeBars(_Strict):
    income: ErrorBar = ErrorBar(full=400, zero=2500)
    age: ErrorBar = ErrorBar(full=4, zero=25)


class Ranges(_Strict):
    income: tuple[float, float] = TARGET_RANGES["income"]
    age: tuple[float, float] = TARGET_RANGES["age"]

    @model_validator(mode="after")
    def _order(self):
        for name in TARGETS:
            lo, hi = getattr(self, name)
            if not lo < hi:
                raise ValueError(f"{name}: the low end ({lo:g}) must be below the high end ({hi:g})")
        return self

    def of(self, j: int) -> tuple[float, float]:
        return getattr(self, TARGETS[j])


class T1Params(_Strict):
    accuracy: AccuracyBars = AccuracyBars()
    """Hidden-set accuracy bars per net."""
    max_std_ratio: float = Field(10.0, gt=1)
    """preprocess(X_train): the largest column std may be at most this many times the smallest."""
    train_rows: int = Field(500, ge=10)
    """Training rows sent into the kernel to observe preprocess: a sample drawn with the rubric's seed
    from the grader's own copy of the training CSV (500 of 2000 keep the request small)."""
    probe_scales: tuple[float, ...] = (1.0, 10.0, 100.0, 1000.0, -1000.0)
    """Preprocessed rows are multiplied by these to tell logits from bounded outputs."""
    probe_rows: int = Field(64, ge=1)
    prob_tol: float = Field(1e-4, ge=0)
    """Slack around [0, 1] for 'probability' outputs (float32 rounding)."""
    sum_tol: float = Field(1e-3, ge=0)
    """Slack on 'rows sum to 1' (softmax) and 'logsumexp is 0' (log-softmax)."""


class T2Params(_Strict):
    mae: MaeBars = MaeBars()
    """Hidden-set mean absolute error bars per output."""
    ranges: Ranges = Ranges()
    range_tol: float = Field(1e-4, ge=0)
    """Slack on the ranges, as a share of each range's width."""
    extreme_scales: tuple[float, ...] = (1e3, -1e3, 1e6, -1e6, -1.0)
    """The hidden features are multiplied by these; predictions must stay in range for each."""
    normalized_max_abs: float = Field(10.0, gt=0)
    """The model's raw outputs count as normalized when no |value| exceeds this."""
    match_rtol: float = Field(1e-3, ge=0)
    match_atol: float = Field(1e-4, ge=0)
    """predict(X) vs denormalize_output(outputs): absolute slack as a share of each range's width."""
    roundtrip_rows: int = Field(50, ge=2)


class Part2Params(_Strict):
    """The rubric's `part2:` section. Every key has a default; unknown keys are errors."""

    seconds_per_call: float = Field(30.0, gt=0)
    """Limit on each call of the student's code made by the probes."""
    budget: float = Field(240.0, gt=0)
    """Limit on all the probes of one notebook together."""
    unknown_loss_fraction: float = Field(0.5, ge=0, le=1)
    """Provisional share for a loss the grader does not recognise (the item goes to review)."""
    H3P2T1: T1Params = T1Params()
    H3P2T2: T2Params = T2Params()


class Checks(_Strict):
    Q1: Q1Params
    Q4: Q4Params
    Q5: Q5Params


class Rubric(_Strict):
    seed: int
    """Seeds the grader's random points (same rubric -> same points -> same grades)."""
    max_total: LevelPoints
    questions: dict[str, Question]
    checks: Checks
    keywords: dict[str, tuple[tuple[str, ...], ...]]
    """Free-text answer -> groups of synonyms; the share of groups mentioned gives provisional points."""
    gradescope: Annotated[GradescopeSettings, AfterValidator(_known_gradescope_keys)] | None = None
    """When students see each test of Gradescope's results.json (see GradescopeSettings)."""
    frameworks_bonus: FrameworksBonus = FrameworksBonus()
    part2: Part2Params = Part2Params()
    """Part 2 settings (bars, probes)."""

    @model_validator(mode="after")
    def _known_questions(self):
        unknown = sorted(set(self.questions) - set(QUESTION_IDS))
        if unknown:
            raise ValueError(f"unknown question id(s) {unknown}; use one of {list(QUESTION_IDS)}")
        for level in LEVELS:
            base = sum(q.points.of(level) for q in self.questions.values() if level not in q.bonus_for)
            if abs(base - self.max_total.of(level)) > 1e-9:
                raise ValueError(
                    f"non-bonus questions add up to {base:g} {level} points but max_total is "
                    f"{self.max_total.of(level):g}"
                )
        return self


def load_rubric(path: str | Path) -> Rubric:
    """Read and validate a rubric; any problem is a RubricError naming the file and the key."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RubricError(path, "", "file not found", "pass --rubric with the path of a rubric YAML")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise RubricError(path, where, f"not valid YAML ({getattr(exc, 'problem', exc)})",
                          "correct the YAML syntax at that place")
    if not isinstance(data, dict):
        raise RubricError(path, "", "the top level is not a mapping", "start from rubrics/hw3.yaml")
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as exc:
        raise _first_problem(path, exc.errors())
    return rubric


def _first_problem(path: Path, errors: list[dict]) -> RubricError:
    """One actionable line: an unknown key (a typo) explains the 'missing' error that comes with it."""
    errors = sorted(errors, key=lambda e: e["type"] != "extra_forbidden")
    err = errors[0]
    key = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-")) or "(top level)"
    msg = err["msg"].removeprefix("Value error, ")
    fix = {"missing": "add this key"}.get(err["type"], "correct this value")
    if err["type"] == "extra_forbidden":
        msg = f"unknown key '{err['loc'][-1]}'"
        siblings = [".".join(map(str, e["loc"][:-1] + (e["loc"][-1],))) for e in errors if e["type"] == "missing"
                    and e["loc"][:-1] == err["loc"][:-1]]
        fix = f"correct the typo (expected {siblings[0]})" if siblings else "remove this key (typo?)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return RubricError(path, f"key {key}", msg + more, fix)


# Gradescope ------------------------------------------------------------------------------------

GradescopeVisibility = Literal["visible", "hidden", "after_due_date", "after_published"]
"""Gradescope's values for a test's "visibility" (its autograder specification)."""


class GradescopeSettings(_Strict):
    """`gradescope:` in the rubric: when students see each test (one test per rubric item)."""

    visibility: dict[str, GradescopeVisibility] = {"default": "visible"}
    """"default", a question id or QUESTION.item -> visibility; the most specific key wins."""

    def visibility_of(self, question: str, item: str) -> str:
        for key in (f"{question}.{item}", question, "default"):
            if key in self.visibility:
                return self.visibility[key]
        return "visible"


def _known_gradescope_keys(settings: GradescopeSettings, info: ValidationInfo) -> GradescopeSettings:
    """Every visibility key names a question or QUESTION.item of this rubric (a typo would show a test)."""
    questions = info.data.get("questions") or {}
    known = {"default", *questions, *(f"{q}.{i}" for q, spec in questions.items() for i in spec.items)}
    for key in settings.visibility:
        if key not in known:
            raise ValueError(f"visibility key '{key}' is neither 'default', a question id ({', '.join(questions)}) "
                             f"nor QUESTION.item of this rubric (e.g. H3P2T1.net1_accuracy)")
    return settings
