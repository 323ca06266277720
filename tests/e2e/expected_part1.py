"""Expected Part 1 points (Q1..Q5) for the sample class in submissions/, WRITTEN BY HAND.

Every number below was worked out from rubrics/hw3.yaml and CONTRACT.md, never copied from the
grader's output. The notebooks come from reference/build_notebooks.py (one function per student, its
docstring names the mistake); change both files together.

Item points from rubrics/hw3.yaml (undergrad / grad where they differ):
    Q1  8 derivatives x 1.25
    Q2  graph_edges 7   (partial: max(0, (right - wrong extra) / 3) of 7, edges among x h z y
                         after contracting the other nodes; the right ones are x->h, x->z, h->y)
        dy_dz 3         (must be 0)
    Q3  net1_output_units 2, net1_output_activation 2, net2_output_units 2, net2_output_activation 2,
        q3_explanation 2 x share of its 4 keyword groups (provisional, status review)
    Q4  output_normalization_needed 2, normalize_output 3 (columns on comparable scales),
        denormalize_output 3 (round trip), q4_explanation 2 x share of 3 groups (review)
    Q5  grad:      f_nonneg 2.5,  f_nonpos 2.5,  f_bounded 3,   q5_4_answer 1,   q5_4_explanation 1
        undergrad: f_nonneg 1.25, f_nonpos 1.25, f_bounded 1.5, q5_4_answer 0.5, q5_4_explanation 0.5
        (a bonus for undergraduates: skipping it costs nothing). q5_4_answer True -> review, half
        the item provisionally; q5_4_explanation 1 (0.5) x share of 3 groups (review).

Keyword groups (a group counts when any of its words occurs as a case-insensitive substring):
    q3:   [sigmoid, logistic] [softmax, soft-max, soft max] [one, 1, single] [two, 2]
    q4:   [scale, range, magnitude, larger, dominate] [normaliz, standardiz, min-max, minmax,
           divide, rescal] [loss, gradient, mse]
    q5_4: [train, fitted, learned, weights] [change, different, shift, distort, mismatch]
          [loss, prediction, output]
The hit lists are written out in the comments of the students who miss a group. Beware of substrings:
"network" contains "two" and "Net-2" contains "2", which is why the explanations that miss the
[two, 2] group never name Net-2.

Each entry:
    level      the roster's level
    Q1..Q5     expected points of the question (Q5 is the undergraduates' bonus)
    items      expected points of every item that does NOT get full marks (all others get full marks)
    review     items whose status should be "review" (free text present, q5_4_answer True)
    missing    items that should be reported missing, naming the answer
    ignored    files in the student's folder that the report should list as ignored
    cell_errors  0-based indices of cells that raise (the notebook goes on after them)
Compare points with a tolerance (abs 1e-6): some values are thirds.
"""

from __future__ import annotations

Q1_ITEMS = ("dL_dw1", "dL_dw2", "dL_dw3", "dL_dw4", "dL_db1", "dL_db2", "dL_db3", "dL_dx")
Q3_ITEMS = ("net1_output_units", "net1_output_activation", "net2_output_units",
            "net2_output_activation", "q3_explanation")
Q5_ITEMS = ("f_nonneg", "f_nonpos", "f_bounded", "q5_4_answer", "q5_4_explanation")
FREE_TEXT = ["q3_explanation", "q4_explanation", "q5_4_explanation"]

EXPECTED: dict[str, dict] = {
    # Perfect undergraduate, every expression a string written out in full (f1(w1*x + b1) instead of
    # h1, df3(w3*f1(...) + ...) instead of df3(z3)), dL_dx distributed over the two paths, edges as
    # lists, standardization with fixed mean/std, Q5 as strings ("z**2", "-z**2", a + (b-a)*sigmoid).
    # Also hands in notes.txt: the report lists it as ignored.
    "alice": {
        "level": "undergrad",
        "Q1": 10, "Q2": 10, "Q3": 10, "Q4": 10, "Q5": 5,
        "items": {},
        "review": FREE_TEXT,
        "ignored": ["notes.txt"],
    },
    # Perfect graduate, everything callable: Q1 functions take **kwargs and recompute z1, z2, z3 from
    # x, w, b, f1, f2; the graph has operation nodes AND constant nodes ("2" feeds both mul and pow,
    # "1" feeds add), which contract to x->h, x->z, h->y; dy_dz is the int 0; Q3 says "logistic" and
    # "Softmax"; Q5 are scalar math-module functions (max(), math.tanh) that fail on arrays, so the
    # grader must fall back to element-by-element calls; the softplus is written without overflow.
    "bob": {
        "level": "grad",
        "Q1": 10, "Q2": 10, "Q3": 10, "Q4": 10, "Q5": 10,
        "items": {},
        "review": FREE_TEXT,
    },
    # Missing chain factor: dL_dw1 = dL_dy_hat*df3(z3)*w3*x and dL_db1 = dL_dy_hat*df3(z3)*w3, i.e.
    # no df1(z1). Message: the value differs from autograd, with a counterexample point.
    "carol": {
        "level": "undergrad",
        "Q1": 10 - 2 * 1.25, "Q2": 10, "Q3": 10, "Q4": 10, "Q5": 5,
        "items": {"dL_dw1": 0, "dL_db1": 0},
        "review": FREE_TEXT,
    },
    # Swapped weights on the h1 path: w4 instead of w3 in dL_dw1 and dL_db1 (dL_dw2, dL_db2 and
    # dL_dx are right). Message: mismatch with a counterexample.
    # q3_explanation "BCE: sigmoid on a single output. CE: softmax over both class outputs.":
    # sigmoid yes, softmax yes, single yes, [two, 2] NO -> 3/4 of 2 = 1.5.
    "dave": {
        "level": "grad",
        "Q1": 10 - 2 * 1.25, "Q2": 10, "Q3": 8 + 2 * 3 / 4, "Q4": 10, "Q5": 10,
        "items": {"dL_dw1": 0, "dL_db1": 0, "q3_explanation": 2 * 3 / 4},
        "review": FREE_TEXT,
    },
    # Q1 as def-functions with named parameters; dL_dx only follows the path through h1:
    # dL_dy_hat*df3(z3)*w3*df1(z1)*w1 (the w4*df2(z2)*w2 term is missing). Message: mismatch.
    # q4_explanation "Yes because age and income have very different ranges. Normalize by dividing
    # by 10000 and 100.": range yes, normaliz yes, [loss, gradient, mse] NO -> 2/3 of 2.
    "erin": {
        "level": "undergrad",
        "Q1": 10 - 1.25, "Q2": 10, "Q3": 10, "Q4": 8 + 2 * 2 / 3, "Q5": 5,
        "items": {"dL_dx": 0, "q4_explanation": 2 * 2 / 3},
        "review": FREE_TEXT,
    },
    # Wrong graph edge: x->h, x->z, z->y (z->y instead of h->y), and consistently dy_dz = "y*(1 - y)".
    # Graph: right 2 (x->h, x->z), wrong extra 1 (z->y), missing h->y -> (2 - 1)/3 of 7 = 7/3.
    # Messages: extra edge z->y, missing h->y; dy_dz is not 0.
    "frank": {
        "level": "grad",
        "Q1": 10, "Q2": 7 / 3, "Q3": 10, "Q4": 10, "Q5": 10,
        "items": {"graph_edges": 7 / 3, "dy_dz": 0},
        "review": FREE_TEXT,
    },
    # Q1 as lambdas (callables instead of strings, right); graph with operation nodes "*2", "+1",
    # "square", "sigmoid" (right); dy_dz = 0.0. Answers q5_4 True, arguing that a ReLU clip after
    # training only moves predictions towards the range: review, half of 0.5 provisionally. Her
    # explanation has all three groups (trained/weights, change, predictions/loss/outputs).
    "grace": {
        "level": "undergrad",
        "Q1": 10, "Q2": 10, "Q3": 10, "Q4": 10, "Q5": 1.25 + 1.25 + 1.5 + 0.5 * 0.5 + 0.5,
        "items": {"q5_4_answer": 0.25},
        "review": FREE_TEXT + ["q5_4_answer"],
    },
    # Right graph, but dy_dz = "y*(1-y)" (that is dy/dh). Message: dy_dz should be 0.
    "heidi": {
        "level": "grad",
        "Q1": 10, "Q2": 7, "Q3": 10, "Q4": 10, "Q5": 10,
        "items": {"dy_dz": 0},
        "review": FREE_TEXT,
    },
    # Softmax on ONE unit for Net-2 (net2_output_units = 1; activation "softmax" is right).
    # q3_explanation "BCE needs a sigmoid on a single logit; CE needs softmax over the class logits.":
    # sigmoid yes, softmax yes, single yes, [two, 2] NO -> 3/4 of 2 = 1.5.
    # Deleted the Q5 cells (the bonus): every Q5 item missing, 0 bonus points, no penalty.
    "ivan": {
        "level": "undergrad",
        "Q1": 10, "Q2": 10, "Q3": 2 + 2 + 0 + 2 + 2 * 3 / 4, "Q4": 10, "Q5": 0,
        "items": {"net2_output_units": 0, "q3_explanation": 2 * 3 / 4,
                  **{item: 0 for item in Q5_ITEMS}},
        "review": ["q3_explanation", "q4_explanation"],
        "missing": list(Q5_ITEMS),
    },
    # No output normalization: output_normalization_needed = False, normalize_output and
    # denormalize_output are the identity. normalize fails the comparable-scales check (spreads
    # differ by ~100x > 10; message names the ratio); denormalize_output has no normalization to
    # undo, so it loses its points too (the issue: identity "loses the points with a reason").
    # q4_explanation "Not necessary: the last layer is linear, so the network can output values of
    # any magnitude; it just learns bigger weights for the income unit.": magnitude yes,
    # [normaliz, standardiz, ...] NO, [loss, gradient, mse] NO -> 1/3 of 2.
    "judy": {
        "level": "grad",
        "Q1": 10, "Q2": 10, "Q3": 10, "Q4": 0 + 0 + 0 + 2 * 1 / 3, "Q5": 10,
        "items": {"output_normalization_needed": 0, "normalize_output": 0, "denormalize_output": 0,
                  "q4_explanation": 2 / 3},
        "review": FREE_TEXT,
    },
    # Plain sigmoid as the non-negative activation: >= 0 but never exceeds 1 (reach_high 1000).
    # Message: counterexample, e.g. z = 1e6 -> 1.0. (f_bounded is np.clip(z, a, b): right.)
    "ken": {
        "level": "grad",
        "Q1": 10, "Q2": 10, "Q3": 10, "Q4": 10, "Q5": 10 - 2.5,
        "items": {"f_nonneg": 0},
        "review": FREE_TEXT,
    },
    # net1_output_activation = "softmax" on Net-1's single unit (wrong: a one-unit softmax is
    # constant 1). q3_explanation "Net-1: one unit; Net-2: two units with softmax so the class
    # probabilities sum to 1.": [sigmoid, logistic] NO, softmax yes, one yes, two yes -> 3/4.
    # f_nonneg = np.exp, which is RIGHT (+inf only at z = 1e3, 1e6, which the rubric tolerates).
    "liam": {
        "level": "grad",
        "Q1": 10, "Q2": 10, "Q3": 2 + 0 + 2 + 2 + 2 * 3 / 4, "Q4": 10, "Q5": 10,
        "items": {"net1_output_activation": 0, "q3_explanation": 2 * 3 / 4},
        "review": FREE_TEXT,
    },
    # Her Q3 cell raises NameError on its first line (net1_output_activation = sigmoid, unquoted),
    # so none of the five Q3 names exist: each is missing and the message names it. The cells after
    # it run, so Q4 and Q5 are graded normally.
    "mallory": {
        "level": "undergrad",
        "Q1": 10, "Q2": 10, "Q3": 0, "Q4": 10, "Q5": 5,
        "items": {item: 0 for item in Q3_ITEMS},
        "review": ["q4_explanation", "q5_4_explanation"],
        "missing": list(Q3_ITEMS),
        "cell_errors": [6],
    },
    # All strings; f_nonneg = "z^2" and f_nonpos = "-z^2". The contract says SymPy syntax, where ^ is
    # a power (parse_expr's convert_xor), so both are right: a grader never wrong in her disfavour.
    "nina": {
        "level": "grad",
        "Q1": 10, "Q2": 10, "Q3": 10, "Q4": 10, "Q5": 10,
        "items": {},
        "review": FREE_TEXT,
    },
    # Everything right (strings with the factors in another order), but skipped the Q5 bonus: the
    # template's None values are still there, so every Q5 item gets 0 (status fail or missing, not
    # review), with no penalty.
    "oscar": {
        "level": "undergrad",
        "Q1": 10, "Q2": 10, "Q3": 10, "Q4": 10, "Q5": 0,
        "items": {item: 0 for item in Q5_ITEMS},
        "review": ["q3_explanation", "q4_explanation"],
    },
    # On the roster, no folder under submissions/: nothing handed in, every item 0 and missing.
    "zoe": {
        "level": "undergrad",
        "Q1": 0, "Q2": 0, "Q3": 0, "Q4": 0, "Q5": 0,
        "items": {},
        "review": [],
        "no_submission": True,
    },
}

QUESTIONS = ("Q1", "Q2", "Q3", "Q4", "Q5")


def part1_points(student: str) -> float:
    """Q1..Q4 plus the Q5 points (a bonus on top for undergraduates)."""
    return sum(EXPECTED[student][q] for q in QUESTIONS)
