"""overrides.yaml -> the instructor's points per student and item, checked against the rubric.

An override replaces the checker's points for one item and carries the instructor's comment, which
the student's report shows next to what the checker gave.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import OverridesError
from .model import LEVELS
from .rubric import Rubric


class Override(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    points: float = Field(ge=0)
    comment: str


def load_overrides(path: Path | None, rubric: Rubric) -> dict[str, dict[str, Override]]:
    """overrides.yaml: {student: {item or QUESTION.item: {points, comment}}}; checked against the rubric."""
    if path is None or not Path(path).exists():
        return {}
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise OverridesError(path, "", f"not valid YAML ({exc})", "correct the YAML syntax")
    if not isinstance(data, dict):
        raise OverridesError(path, "", "the top level is not a mapping", "write student: {item: {points, comment}}")
    result: dict[str, dict[str, Override]] = {}
    for student, items in data.items():
        if not isinstance(items, dict):
            raise OverridesError(path, f"key {student}", "not a mapping of items", "write item: {points: N, comment: why}")
        result[str(student)] = {}
        for key, raw in items.items():
            question, item = _locate(rubric, str(key), path, student)
            try:
                override = Override.model_validate(raw)
            except ValidationError as exc:
                err = exc.errors()[0]
                raise OverridesError(path, f"key {student}.{key}.{'.'.join(map(str, err['loc']))}", err["msg"],
                                     "give points (a number) and a comment")
            top = max(rubric.questions[question].items[item].of(lv) for lv in LEVELS)
            if override.points > top:
                raise OverridesError(path, f"key {student}.{key}", f"{override.points:g} points is more than the item's {top:g}",
                                     "lower the points")
            result[str(student)][f"{question}.{item}"] = override
    return result


def _locate(rubric: Rubric, key: str, path, student) -> tuple[str, str]:
    if "." in key:
        question, item = key.split(".", 1)
        if question in rubric.questions and item in rubric.questions[question].items:
            return question, item
    matches = [(q, key) for q, spec in rubric.questions.items() if key in spec.items]
    if len(matches) == 1:
        return matches[0]
    fix = f"write it as QUESTION.item, one of {', '.join(q + '.' + key for q, _ in matches)}" if matches \
        else "use an item id from the rubric"
    raise OverridesError(path, f"key {student}.{key}", "unknown or ambiguous item", fix)
