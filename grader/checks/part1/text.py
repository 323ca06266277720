"""Free-text answers (q3/q4/q5_4 explanations): keyword groups give provisional points for review."""

from __future__ import annotations

import functools
import re


from ...model import Answers, Finding, Value
from ...rubric import Rubric
from .common import Verdict, kind_words


# Endings a keyword may take and still be the same word ("scale" -> "scales", "normaliz" -> "normalized");
# a keyword ending in e may drop it ("scale" -> "scaling", "dominate" -> "dominating").
_ENDINGS = "s|es|d|ed|ing|e|er|ers|ion|ions|ation|ations|al|ally|ly|able"


_AFTER_E = "ing|ion|ions|ation|ations|al|able"


@functools.lru_cache(maxsize=256)
def _keyword_pattern(keyword: str) -> re.Pattern:
    words = keyword.lower().split()
    phrase = r"[\s\-]+".join(re.escape(w) for w in words)
    ends = f"(?:{_ENDINGS})?"
    if words[-1][-1].isalpha() and words[-1].endswith("e"):
        stem = r"[\s\-]+".join(re.escape(w) for w in words[:-1] + [words[-1][:-1]])
        phrase = f"(?:{phrase}{ends}|{stem}(?:{_AFTER_E}))"
    elif words[-1][-1].isalpha():
        phrase = f"{phrase}{ends}"
    return re.compile(rf"(?<!\w){phrase}(?!\w)", re.IGNORECASE)


def keyword_in(keyword: str, text: str) -> bool:
    """Whether `text` mentions `keyword` as a whole word or phrase ("none" does not mention "one", nor
    "networks" "two"), in any case, with the usual English endings ("normaliz" matches "normalized")."""
    return bool(keyword.strip()) and _keyword_pattern(keyword.strip()).search(text) is not None


def free_text_item(name: str, value: Value, answers: Answers, rubric: Rubric) -> Finding:
    if value.kind != "str":
        raise Verdict("fail", f"`{name}` must be text (a string), but it is of type {kind_words(value)}.")
    text = value.value.lower()
    if not text.strip():
        return Finding(name, "missing", 0.0, f"`{name}` is empty.")
    groups = rubric.keywords.get(name, ())
    if not groups:
        return Finding(name, "review", 0.0, "An instructor will read and score this explanation.")
    found = [g for g in groups if any(keyword_in(word, text) for word in g)]
    absent = [g for g in groups if g not in found]
    listed = lambda gs: "; ".join(" / ".join(g) for g in gs) or "none"  # noqa: E731
    return Finding(name, "review", len(found) / len(groups),
                   f"Provisional score from key ideas: found {len(found)} of {len(groups)} "
                   f"(found: {listed(found)}; not found: {listed(absent)}). "
                   "An instructor will read the explanation and may change the score.")
