"""Part 2 introspection (grader/kernel/part2.py) and checkers (grader/checks/part2/), on tiny models
built here, without a notebook or a kernel.

The kernel-side modules are loaded in-process by the loader the kernel's setup cell uses; their result
goes through json.dumps/loads (as it would through the answer channel) into Answers, is observed and
judged.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from grader import kernel
from grader.checks import part2 as P
from grader.checks.part2.observe import framework_of
from grader.errors import RubricError
from grader.model import Answers, CellFailure, Finding, HiddenSet, NotebookRun, TaskResult
from grader.rubric import Part2Params, Rubric, load_rubric

ROOT = Path(__file__).resolve().parents[2]
BASE = yaml.safe_load((ROOT / "rubrics" / "hw3.yaml").read_text(encoding="utf-8"))


def rubric_with(part2=None) -> Rubric:
    """The course rubric with a `part2:` section of defaults changed by `part2` (a dict), or a Rubric."""
    if isinstance(part2, Rubric):
        return part2
    data = copy.deepcopy(BASE)
    data["part2"] = Part2Params.model_validate(part2 or {}).model_dump()
    return Rubric.model_validate(data)


def check(task, answers, run, part2=None, hidden=None) -> list[Finding]:
    observed = P.observe_notebook(task, answers, run)
    return P.check_part2(task, observed, run, rubric_with(part2), hidden)


def framework(answers: Answers) -> str | None:
    return framework_of(P.observe_notebook(answers.task, answers, NotebookRun(Path("x.ipynb"), answers.task, "ok")).observation)


N = 200
_rng = np.random.default_rng(7)
# T1: three features on very different scales; the label is x0 > 0.5.
X1 = np.column_stack([_rng.uniform(0, 1, N), _rng.normal(0, 1e4, N), _rng.uniform(0, 1000, N)])
Y1 = (X1[:, 0] > 0.5).astype(np.int64)
X1_TRAIN = np.column_stack([_rng.uniform(0, 1, 300), _rng.normal(0, 1e4, 300), _rng.uniform(0, 1000, 300)])
MU1, SD1 = X1_TRAIN.mean(axis=0), X1_TRAIN.std(axis=0)
# T2: three features in 0..1; targets in range.
X2 = _rng.uniform(0, 1, (N, 3))
Y2 = np.column_stack([10000 * X2.mean(axis=1), 100 * X2[:, 0]])
LO, HI = np.array([0.0, 0.0]), np.array([10000.0, 100.0])

HIDDEN1 = HiddenSet("H3P2T1", X1, Y1)
HIDDEN2 = HiddenSet("H3P2T2", X2, Y2)
OK_RUN1 = NotebookRun(Path("H3P2T1_torch.ipynb"), "H3P2T1", "ok")
OK_RUN2 = NotebookRun(Path("H3P2T2_torch.ipynb"), "H3P2T2", "ok")


@pytest.fixture(scope="module")
def handler():
    return kernel.loaded(("part2",)).part2.handle


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def introspect(handler, task, user_ns, hidden, train=None, rubric=None) -> Answers:
    if isinstance(train, np.ndarray):
        train = HiddenSet(task, train, np.zeros(len(train)), hidden.features)
    spec = P.part2_request(task, rubric_with(rubric), hidden, train).extra["part2"]
    data = handler(user_ns, json.loads(json.dumps(spec)))
    data = json.loads(json.dumps(data, allow_nan=False))  # what the kernel can publish
    return Answers(task, observed={"part2": data})


def findings(handler, task, user_ns, train=X1_TRAIN, rubric=None, run=None) -> dict[str, Finding]:
    hidden = HIDDEN1 if task == "H3P2T1" else HIDDEN2
    answers = introspect(handler, task, user_ns, hidden, train if task == "H3P2T1" else None, rubric)
    run = run or (OK_RUN1 if task == "H3P2T1" else OK_RUN2)
    out = check(task, answers, run, rubric, hidden)
    assert [f.item for f in out] == list(P.ITEMS[task])
    return {f.item: f for f in out}


# ----------------------------------------------------------------------------- tiny models


def standardize(X):
    return (np.asarray(X, dtype=np.float64) - MU1) / SD1


def step_net(units, head=None, sign=1.0):
    """Linear(3 -> units) that separates x0 > 0.5 after standardize, then an optional head."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, units)
    with torch.no_grad():
        lin.weight.zero_()
        lin.bias.zero_()
        z_half = (0.5 - MU1[0]) / SD1[0]
        if units == 1:
            lin.weight[0, 0], lin.bias[0] = 8.0 * sign, -8.0 * sign * z_half
        else:
            lin.weight[1, 0], lin.bias[1] = 4.0 * sign, -4.0 * sign * z_half
            lin.weight[0, 0], lin.bias[0] = -4.0 * sign, 4.0 * sign * z_half
    return torch.nn.Sequential(lin, head) if head is not None else torch.nn.Sequential(lin)


class CustomNet(torch.nn.Module):
    """A hand-written forward with dropout (its train/eval state must be restored)."""

    def __init__(self):
        super().__init__()
        self.body = step_net(2)
        self.drop = torch.nn.Dropout(0.5)

    def forward(self, x):
        return torch.log_softmax(self.drop(self.body(x)), dim=1)


def t1_ns(net1=None, net2=None, loss1=None, loss2=None, preprocess=standardize):
    ns = {"preprocess": preprocess}
    ns.update({k: v for k, v in dict(net1=net1, net2=net2, loss1=loss1, loss2=loss2).items() if v is not None})
    return ns


GOOD_T1 = dict(net1=step_net(1, torch.nn.Sigmoid()), loss1=torch.nn.BCELoss(),
               net2=step_net(2), loss2=torch.nn.CrossEntropyLoss())


# ----------------------------------------------------------------------------- H3P2T1, PyTorch


def test_reference_like_torch_t1_gets_everything(handler):
    got = findings(handler, "H3P2T1", t1_ns(**GOOD_T1))
    assert {k: f.status for k, f in got.items()} == {k: "pass" for k in P.ITEMS["H3P2T1"]}
    assert got["net1_accuracy"].counterexample == {"accuracy": 1.0}


CASES = [
    pytest.param("net1", step_net(1, torch.nn.Sigmoid()), torch.nn.BCELoss(), "pass", "", id="sigmoid+BCELoss"),
    pytest.param("net1", step_net(1), torch.nn.BCEWithLogitsLoss(), "pass", "", id="logits+BCEWithLogits"),
    pytest.param("net1", step_net(1, torch.nn.Sigmoid()), torch.nn.BCEWithLogitsLoss(), "fail",
                 "net1 applies sigmoid before nn.BCEWithLogitsLoss, which applies it again", id="sigmoid+BCEWithLogits"),
    pytest.param("net1", step_net(1), torch.nn.BCELoss(), "fail",
                 "but nn.BCELoss expects probabilities", id="logits+BCELoss"),
    pytest.param("net1", step_net(1, torch.nn.Softmax(dim=1)), torch.nn.BCELoss(), "fail",
                 "softmax over its single output unit", id="one-unit-softmax+BCELoss"),
    pytest.param("net2", step_net(2, torch.nn.Softmax(dim=1)), torch.nn.CrossEntropyLoss(), "fail",
                 "net2 applies softmax before nn.CrossEntropyLoss, which applies log-softmax itself",
                 id="softmax+CrossEntropyLoss"),
    pytest.param("net2", step_net(2), torch.nn.CrossEntropyLoss(), "pass", "", id="logits+CrossEntropyLoss"),
    pytest.param("net2", step_net(2, torch.nn.LogSoftmax(dim=1)), torch.nn.NLLLoss(), "pass", "",
                 id="log_softmax+NLLLoss"),
    pytest.param("net2", step_net(2, torch.nn.Softmax(dim=1)), torch.nn.NLLLoss(), "fail",
                 "net2 applies softmax before nn.NLLLoss, which expects log-probabilities", id="softmax+NLLLoss"),
    pytest.param("net2", CustomNet(), torch.nn.NLLLoss(), "pass", "", id="custom-forward-log_softmax+NLLLoss"),
    pytest.param("net2", step_net(2), torch.nn.MSELoss(), "fail", "a regression loss", id="logits+MSELoss"),
    pytest.param("net1", step_net(1), torch.nn.CrossEntropyLoss(), "fail", "must use binary cross-entropy",
                 id="net1-with-CrossEntropyLoss"),
]


@pytest.mark.parametrize("name, net, loss, status, message", CASES)
def test_torch_activation_agrees_with_loss(handler, name, net, loss, status, message):
    ns = t1_ns(**{**GOOD_T1, name: net, "loss" + name[-1]: loss})
    got = findings(handler, "H3P2T1", ns)[f"{name}_loss"]
    assert got.status == status, got.message
    assert message in got.message


def test_custom_loss_function_goes_to_review(handler):
    def my_bce(p, y):
        return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()

    got = findings(handler, "H3P2T1", t1_ns(**{**GOOD_T1, "loss1": my_bce}))["net1_loss"]
    assert got.status == "review" and got.fraction == 0.5
    assert "my_bce" in got.message and "sigmoid-like" in got.message


def test_net2_with_one_unit_is_flagged(handler):
    ns = t1_ns(**{**GOOD_T1, "net2": step_net(1), "loss2": torch.nn.BCEWithLogitsLoss()})
    got = findings(handler, "H3P2T1", ns)
    assert got["net2_output_units"].status == "fail"
    assert got["net2_output_units"].message == "net2 has 1 output unit; cross-entropy over two classes needs two"
    assert "must use cross-entropy" in got["net2_loss"].message
    assert got["net2_accuracy"].status == "pass"  # still scored: thresholded at 0 (logits)


def test_net1_with_two_units_is_flagged(handler):
    ns = t1_ns(**{**GOOD_T1, "net1": step_net(2, torch.nn.Sigmoid())})
    got = findings(handler, "H3P2T1", ns)["net1_output_units"]
    assert got.status == "fail" and got.message.startswith("net1 has 2 output units")


def test_accuracy_partial_credit_follows_the_bars(handler):
    rubric = {"H3P2T1": {"accuracy": {"net1": {"full": 0.9, "zero": 0.5}, "net2": {"full": 0.9, "zero": 0.5}}}}
    flipped = step_net(1, torch.nn.Sigmoid(), sign=-1.0)  # predicts the wrong class everywhere
    noisy = np.where(np.arange(N) % 10 < 3, 1 - Y1, Y1)  # 70% right
    answers = introspect(handler, "H3P2T1", t1_ns(**{**GOOD_T1, "net1": flipped}), HIDDEN1, X1_TRAIN, rubric)
    got = {f.item: f for f in check("H3P2T1", answers, OK_RUN1, rubric, HiddenSet("H3P2T1", X1, noisy))}
    assert got["net1_accuracy"].fraction == 0.0 and "accuracy 0.300" in got["net1_accuracy"].message
    assert got["net2_accuracy"].status == "fail" and got["net2_accuracy"].fraction == pytest.approx(0.5)
    assert "full marks at >= 0.9, none at <= 0.5" in got["net2_accuracy"].message


def test_input_normalization_by_behaviour(handler):
    raw = findings(handler, "H3P2T1", t1_ns(**GOOD_T1, preprocess=lambda X: X))["input_normalization"]
    assert raw.status == "fail" and "very different scales" in raw.message and "ratio of" in raw.message
    minmax = findings(handler, "H3P2T1", t1_ns(**GOOD_T1, preprocess=lambda X: (X - X.min(0)) / np.ptp(X, 0)))
    assert minmax["input_normalization"].status == "pass"
    assert minmax["net1_accuracy"].status != "pass"  # the nets were built for standardized inputs


def test_preprocess_returning_a_tensor_and_a_float64_model(handler):
    net2 = step_net(2).double()
    ns = t1_ns(**{**GOOD_T1, "net2": net2}, preprocess=lambda X: torch.tensor(standardize(X), dtype=torch.float32))
    got = findings(handler, "H3P2T1", ns)
    assert {f.status for f in got.values()} == {"pass"}


def test_train_eval_modes_are_restored(handler):
    net = CustomNet()
    net.train()
    findings(handler, "H3P2T1", t1_ns(**{**GOOD_T1, "net2": net, "loss2": torch.nn.NLLLoss()}))
    assert net.training and net.drop.training
    net.eval()
    findings(handler, "H3P2T1", t1_ns(**{**GOOD_T1, "net2": net, "loss2": torch.nn.NLLLoss()}))
    assert not net.training and not net.drop.training


def test_missing_and_crashing_objects_are_data(handler):
    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    got = findings(handler, "H3P2T1", {"preprocess": standardize, "net1": Broken(), "loss1": torch.nn.BCELoss()})
    assert got["net1_output_units"].status == "fail"
    assert "mat1 and mat2 shapes cannot be multiplied" in got["net1_accuracy"].message
    assert got["net2_output_units"].status == "missing" and "`net2` is not defined" in got["net2_output_units"].message
    nothing = findings(handler, "H3P2T1", {})
    assert nothing["input_normalization"].status == "missing"
    assert nothing["net1_loss"].status == "missing"


def test_a_slow_model_is_cut_off(handler):
    class Slow(torch.nn.Module):
        def forward(self, x):
            time.sleep(5)
            return x

    rubric = {"seconds_per_call": 0.2, "budget": 2}
    start = time.monotonic()
    got = findings(handler, "H3P2T1", t1_ns(**{**GOOD_T1, "net1": Slow()}), rubric=rubric)
    assert time.monotonic() - start < 3
    assert "TimeoutError" in got["net1_output_units"].message
    assert got["net2_output_units"].status == "pass"


def test_a_torch_loss_module_left_undefined(handler):
    ns = t1_ns(**GOOD_T1)
    del ns["loss2"]
    got = findings(handler, "H3P2T1", ns)["net2_loss"]
    assert got.status == "missing" and "`loss2` is not defined" in got.message


# ----------------------------------------------------------------------------- H3P2T1, Keras


def keras_net(keras, units, activation, loss):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(units, activation=activation)])
    model.compile(optimizer="adam", loss=loss)
    return model


@pytest.mark.parametrize("units, activation, loss, status, message", [
    (2, "softmax", "sparse_categorical_crossentropy", "pass", ""),
    (2, None, "from_logits", "pass", ""),
    (2, "softmax", "from_logits", "fail",
     "net2 applies softmax before SparseCategoricalCrossentropy(from_logits=True), which applies softmax itself"),
    (2, None, "sparse_categorical_crossentropy", "fail", "expects probabilities: add a softmax or set from_logits=True"),
], ids=["softmax+scce", "logits+scce(from_logits)", "softmax+scce(from_logits)", "logits+scce"])
def test_keras_net2_loss(handler, keras, units, activation, loss, status, message):
    if loss == "from_logits":
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    net2 = keras_net(keras, units, activation, loss)
    net1 = keras_net(keras, 1, "sigmoid", "binary_crossentropy")
    got = findings(handler, "H3P2T1", t1_ns(net1=net1, net2=net2))
    assert got["net2_loss"].status == status, got["net2_loss"].message
    assert message in got["net2_loss"].message
    assert got["net1_loss"].status == "pass" and got["net1_output_units"].status == "pass"
    assert framework(introspect(handler, "H3P2T1", t1_ns(net1=net1, net2=net2), HIDDEN1)) == "keras"


def test_keras_from_logits_on_sigmoid_is_flagged(handler, keras):
    net1 = keras_net(keras, 1, "sigmoid", keras.losses.BinaryCrossentropy(from_logits=True))
    got = findings(handler, "H3P2T1", t1_ns(net1=net1))["net1_loss"]
    assert got.status == "fail"
    assert got.message.startswith(
        "net1 applies sigmoid before BinaryCrossentropy(from_logits=True), which applies it again")


def test_keras_net_without_compile(handler, keras):
    net1 = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    got = findings(handler, "H3P2T1", t1_ns(net1=net1))["net1_loss"]
    assert got.status == "missing" and "not compiled" in got.message


# ----------------------------------------------------------------------------- H3P2T2


def t2_ns(model, framework="torch", pred_fn=None):
    def normalize_output(Y):
        return (np.asarray(Y) - LO) / (HI - LO)

    def denormalize_output(Yn):
        return np.asarray(Yn) * (HI - LO) + LO

    def preprocess(X):
        return np.asarray(X, dtype=np.float64) / 3.0

    def predict(X):
        Z = preprocess(X)
        if framework == "torch":
            with torch.no_grad():
                out = model(torch.tensor(Z, dtype=torch.float32)).numpy()
        else:
            out = np.asarray(model(Z.astype(np.float32), training=False))
        return denormalize_output(out) if pred_fn is None else pred_fn(denormalize_output(out))

    return dict(model=model, preprocess=preprocess, predict=predict, normalize_output=normalize_output,
                denormalize_output=denormalize_output)


def sum_net(head=None, units=2):
    """Outputs sum(inputs) per unit: in [0, 1] for hidden rows (inputs in [0, 1/3]), unbounded beyond."""
    lin = torch.nn.Linear(3, units)
    with torch.no_grad():
        lin.weight.fill_(1.0)
        lin.bias.zero_()
    return torch.nn.Sequential(lin, head) if head is not None else torch.nn.Sequential(lin)


def test_range_guarded_model_passes_structure(handler):
    got = findings(handler, "H3P2T2", t2_ns(sum_net(torch.nn.Sigmoid())))
    for item in ("output_units", "output_normalization", "predict_shape", "output_range"):
        assert got[item].status == "pass", got[item].message
    assert "X*1e6" in got["output_range"].message and "-X" in got["output_range"].message
    assert got["income_error"].counterexample["mae"] > 0


def test_linear_output_without_range_guard_fails_output_range(handler):
    got = findings(handler, "H3P2T2", t2_ns(sum_net()))
    rng = got["output_range"]
    assert rng.status == "fail"
    # income = 10000 * sum(1e3 * x / 3) over hidden x in [0, 1]^3: up to about 1e7
    assert rng.message.startswith("predict(X*1e3) gave income 8.9e6, outside [0, 10000] × [0, 100]; also 9 more")
    assert "predict(X*-1e3) gave income -8.9e6" in rng.message
    assert "predict(X*1e6) gave income 8.9e9" in rng.counterexample["problems"]
    assert "predict(-X) gave age -89.2" in rng.counterexample["problems"]
    assert got["output_normalization"].status == "pass"  # normalized outputs, predict = denormalize_output(...)
    assert got["predict_shape"].status == "pass"


def test_clipping_predict_counts_as_range_guard(handler):
    got = findings(handler, "H3P2T2", t2_ns(sum_net(), pred_fn=lambda Y: np.clip(Y, LO, HI)))
    assert got["output_range"].status == "pass"
    assert got["output_normalization"].status == "pass"


def test_predict_returning_one_column_fails_predict_shape(handler):
    got = findings(handler, "H3P2T2", t2_ns(sum_net(torch.nn.Sigmoid()), pred_fn=lambda Y: Y[:, 0]))
    assert got["predict_shape"].status == "fail"
    assert got["predict_shape"].message == "predict returned shape (N,) — expected (N, 2): [income, age]"
    assert got["output_range"].status == "pass" and "judged on denormalize_output" in got["output_range"].message
    assert "scored on denormalize_output" in got["age_error"].message


def test_no_output_normalization_is_flagged(handler):
    unnormalized = sum_net()
    with torch.no_grad():
        unnormalized[0].bias.copy_(torch.tensor([5000.0, 50.0]))
    ns = t2_ns(unnormalized)
    ns["predict"] = lambda X: unnormalized(torch.tensor(np.asarray(X) / 3, dtype=torch.float32)).detach().numpy()
    got = findings(handler, "H3P2T2", ns)["output_normalization"]
    assert got.status == "fail" and "not on a normalized scale" in got.message and "(income column)" in got.message


def test_one_output_unit_and_crashing_predict(handler):
    ns = t2_ns(sum_net(torch.nn.Sigmoid(), units=1))

    def predict(X):
        raise ValueError("operands could not be broadcast together")

    ns["predict"] = predict
    got = findings(handler, "H3P2T2", ns)
    assert got["output_units"].status == "fail" and "expected 2: [income, age]" in got["output_units"].message
    assert "operands could not be broadcast" in got["predict_shape"].message
    assert got["output_range"].status == "fail" and got["income_error"].status == "fail"


def test_error_bars_give_partial_credit(handler):
    rubric = {"H3P2T2": {"mae": {"income": {"full": 10, "zero": 100000}, "age": {"full": 0.001, "zero": 0.01}}}}
    got = findings(handler, "H3P2T2", t2_ns(sum_net(torch.nn.Sigmoid())), rubric=rubric)
    assert got["income_error"].status == "pass" or 0 < got["income_error"].fraction < 1
    assert got["age_error"].fraction == 0.0 and "mean absolute error" in got["age_error"].message


def test_keras_regression_model(handler, keras):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="sigmoid")])
    answers = introspect(handler, "H3P2T2", t2_ns(model, framework="keras"), HIDDEN2)
    assert framework(answers) == "keras"
    got = {f.item: f for f in check("H3P2T2", answers, OK_RUN2, None, HIDDEN2)}
    for item in ("output_units", "output_normalization", "predict_shape", "output_range"):
        assert got[item].status == "pass", got[item].message


# ----------------------------------------------------------------------------- runs, bad data, request


def test_failing_cell_fails_runs_and_items_still_judged(handler):
    run = NotebookRun(Path("H3P2T1.ipynb"), "H3P2T1", "ok",
                      failures=(CellFailure(4, "error", "NameError", "name 'Xtr' is not defined", ""),))
    got = findings(handler, "H3P2T1", t1_ns(**GOOD_T1), run=run)
    assert got["runs"].status == "fail" and "cell 5 raised NameError: name 'Xtr' is not defined" in got["runs"].message
    assert got["net1_loss"].status == "pass"


@pytest.mark.parametrize("extra, status", [
    ({}, "missing"),
    ({"part2": {"error": "KeyError: 'x'"}}, "error"),
    ({"part2": "garbage"}, "error"),
    ({"part2": {"task": "H3P2T1", "nets": {"net1": {"present": True, "outputs": {"shape": [3], "flat": [1]}}}}}, None),
    ({"part2": {"task": "H3P2T2", "model": [], "predict": {"ok": True, "value": {"shape": [-1], "flat": []}},
                "extremes": [None, {"scale": "x"}]}}, None),
], ids=["nothing", "handler-error", "not-a-dict", "bad-shapes-t1", "bad-shapes-t2"])
def test_malformed_data_never_raises(extra, status):
    task = extra.get("part2", {}).get("task", "H3P2T1") if isinstance(extra.get("part2"), dict) else "H3P2T1"
    hidden = HIDDEN1 if task == "H3P2T1" else HIDDEN2
    got = check(task, Answers(task, observed=extra), NotebookRun(Path("x.ipynb"), task, "ok"), None, hidden)
    assert [f.item for f in got] == list(P.ITEMS[task])
    assert all(f.fraction == 0.0 for f in got if f.item != "runs")
    if status:
        assert {f.status for f in got if f.item != "runs"} == {status}


def test_timed_out_notebook_is_missing_everywhere():
    run = NotebookRun(Path("x.ipynb"), "H3P2T2", "timed_out", reason="took longer than 900 s")
    got = check("H3P2T2", Answers("H3P2T2"), run, None, HIDDEN2)
    assert got[0].status == "fail" and "took longer than 900 s" in got[0].message
    assert all(f.status == "missing" and "took longer than 900 s" in f.message for f in got[1:])


def test_request_sends_features_never_labels():
    req = P.part2_request("H3P2T2", rubric_with(), HIDDEN2)
    spec = req.extra["part2"]
    assert set(req.names) == {"preprocess", "model", "normalize_output", "denormalize_output", "predict"}
    assert "y" not in spec and "hidden_y" not in spec
    assert np.array_equal(np.asarray(spec["hidden_X"]), X2)
    assert not any(np.allclose(np.asarray(v, dtype=float), Y2) for v in spec.values()
                   if isinstance(v, list) and np.shape(v) == Y2.shape)
    json.dumps(spec, allow_nan=False)
    t1 = P.part2_request("H3P2T1", rubric_with({"H3P2T1": {"train_rows": 100}}), HIDDEN1, HiddenSet("H3P2T1", X1_TRAIN, np.zeros(len(X1_TRAIN)))).extra["part2"]
    assert len(t1["train_X"]) == 100 and "label" not in json.dumps(t1)


def test_rubric_rows_come_from_the_rubric_in_its_order():
    from grader.rubric import load_rubric

    rubric = load_rubric(ROOT / "rubrics" / "hw3.yaml")
    for task in ("H3P2T1", "H3P2T2"):
        got = check(task, Answers(task), NotebookRun(Path("x.ipynb"), task, "ok"), rubric,
                            HIDDEN1 if task == "H3P2T1" else HIDDEN2)
        assert [f.item for f in got] == list(rubric.questions[task].items)


@pytest.mark.parametrize("raw, key", [
    ({"H3P2T1": {"accuracy": {"net1": {"full": 0.5, "zero": 0.6}}}}, "part2.H3P2T1.accuracy.net1"),
    ({"H3P2T2": {"mae": {"income": {"full": 3000, "zero": 2500}}}}, "part2.H3P2T2.mae.income"),
    ({"H3P2T2": {"extreme_scale": [1]}}, "part2.H3P2T2.extreme_scale"),
    ({"budget": "soon"}, "part2.budget"),
], ids=["accuracy-bars-reversed", "mae-bars-reversed", "typo", "not-a-number"])
def test_bad_part2_settings_name_the_key(tmp_path, raw, key):
    data = copy.deepcopy(BASE)
    for name, value in raw.items():
        data["part2"][name] = {**data["part2"].get(name, {}), **value} if isinstance(value, dict) else value
    path = tmp_path / "rubric.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(RubricError, match=r"key " + key.replace(".", r"\.")):
        load_rubric(path)


def test_the_course_rubric_part2_is_the_calibrated_defaults():
    assert load_rubric(ROOT / "rubrics" / "hw3.yaml").part2 == Part2Params()


# ----------------------------------------------------------------------------- frameworks bonus


def _nb(framework, name, run_status="ok", failing=(), failures=()):
    answers = Answers("H3P2T2", observed={"part2": {"task": "H3P2T2", "model": {"present": True, "framework": framework}}})
    run = NotebookRun(Path(name), "H3P2T2", run_status, failures=failures)
    found = tuple(Finding(item, "fail" if item in failing else "pass", 0.0 if item in failing else 1.0)
                  for item in P.ITEMS["H3P2T2"])
    return TaskResult(run, P.observe_notebook("H3P2T2", answers, run), found)


CRASH = (CellFailure(2, "error", "RuntimeError", "boom", ""),)


@pytest.mark.parametrize("notebooks, status, message", [
    ([_nb("torch", "a.ipynb"), _nb("keras", "b.ipynb")], "pass", "PyTorch (a.ipynb) and Keras (b.ipynb)"),
    ([_nb("torch", "a.ipynb")], "fail", "no Keras notebook for H3P2T2"),
    ([_nb("torch", "a.ipynb"), _nb("keras", "b.ipynb", failures=CRASH)], "fail",
     "the Keras notebook b.ipynb: it did not run without error"),
    ([_nb("torch", "a.ipynb", failing=("output_range",)), _nb("keras", "b.ipynb")], "fail",
     "the PyTorch notebook a.ipynb: it fails output_range"),
    ([_nb("torch", "a.ipynb", failing=("income_error",)), _nb("keras", "b.ipynb")], "pass", ""),
    ([_nb("torch", "a_torch.ipynb"), _nb("torch", "b_keras.ipynb")], "fail", "no Keras notebook"),
    ([_nb("keras", "a.ipynb", failing=("runs",)), _nb("keras", "c.ipynb"), _nb("torch", "t.ipynb")], "pass",
     "Keras (c.ipynb)"),
], ids=["both-clean", "torch-only", "keras-crashes", "torch-structural-fail", "accuracy-does-not-matter",
        "framework-from-code-not-name", "second-keras-clean"])
def test_frameworks_bonus(notebooks, status, message):
    got = P.check_frameworks_bonus(notebooks, rubric_with())
    assert got.item == "both_frameworks" and got.status == status, got.message
    assert message in got.message
    assert got.fraction == (1.0 if status == "pass" else 0.0)


# ----------------------------------------------------------------------------- issue 8: real students' idioms

HEADERS = ("x1", "x2", "x3")
NAMED1 = HiddenSet("H3P2T1", X1, Y1, HEADERS)
NAMED2 = HiddenSet("H3P2T2", X2, Y2, HEADERS)


def named_findings(handler, task, user_ns, train=X1_TRAIN) -> dict[str, Finding]:
    hidden = NAMED1 if task == "H3P2T1" else NAMED2
    answers = introspect(handler, task, user_ns, hidden, train if task == "H3P2T1" else None)
    run = OK_RUN1 if task == "H3P2T1" else OK_RUN2
    return {f.item: f for f in check(task, answers, run, None, hidden)}


def test_statistics_name_columns_by_their_header(handler):
    """Issue 8 §3: `x2`, not a 0-based index."""
    got = named_findings(handler, "H3P2T1", t1_ns(**GOOD_T1, preprocess=lambda X: X))["input_normalization"]
    assert got.status == "fail"
    assert "(column `x1`)" in got.message and "(column `x2`)" in got.message
    dead = named_findings(handler, "H3P2T1", t1_ns(**GOOD_T1, preprocess=lambda X: standardize(X) * [1, 0, 1]))
    assert dead["input_normalization"].message == "preprocess makes training column `x2` constant"


def test_columns_are_named_by_position_without_a_header(handler):
    got = findings(handler, "H3P2T1", t1_ns(**GOOD_T1, preprocess=lambda X: X))["input_normalization"]
    assert "(column number 1)" in got.message and "(column number 2)" in got.message


def dataframe_only(fn):
    """A student function that indexes its input by the CSV's column names, as df[["x1", "x2", "x3"]]."""
    def wrapped(df):
        return fn(df[list(HEADERS)].to_numpy())
    return wrapped


def test_dataframe_only_preprocess_is_retried_with_the_header(handler):
    got = named_findings(handler, "H3P2T1", t1_ns(**GOOD_T1, preprocess=dataframe_only(standardize)))
    assert {f.status for f in got.values()} == {"pass"}, {k: f.message for k, f in got.items()}
    assert got["runs"].message == (
        "the notebook ran top to bottom without error; preprocess(X) was called with a pandas DataFrame with the "
        "training CSV's columns x1, x2, x3, as it did not accept the NumPy array the contract names (no points lost)")


def test_array_preprocess_gets_no_note(handler):
    got = named_findings(handler, "H3P2T1", t1_ns(**GOOD_T1))
    assert got["runs"].message == "the notebook ran top to bottom without error"


def test_preprocess_returning_a_dataframe(handler):
    import pandas as pd

    ns = t1_ns(**GOOD_T1, preprocess=lambda X: pd.DataFrame(standardize(X), columns=list(HEADERS)))
    assert {f.status for f in named_findings(handler, "H3P2T1", ns).values()} == {"pass"}


def _as_dataframe(Y):
    import pandas as pd

    return pd.DataFrame(Y, columns=["income", "age"])


def _as_grad_tensor(Y):
    return torch.tensor(Y, dtype=torch.float32, requires_grad=True) * 1.0


def _as_tf_tensor(Y):
    tf = pytest.importorskip("tensorflow")
    return tf.constant(Y)


@pytest.mark.parametrize("convert", [
    _as_dataframe,
    _as_grad_tensor,
    _as_tf_tensor,
    lambda Y: [Y[:, 0], Y[:, 1]],
    lambda Y: [Y[:, :1], Y[:, 1:]],
    lambda Y: Y.tolist(),
], ids=["DataFrame", "torch-requires-grad", "tf-tensor", "two-1d-heads", "two-column-heads", "nested-list"])
def test_predict_result_forms_are_read_as_n_by_2(handler, convert):
    got = named_findings(handler, "H3P2T2", t2_ns(sum_net(torch.nn.Sigmoid()), pred_fn=convert))
    for item in ("predict_shape", "output_normalization", "output_range"):
        assert got[item].status == "pass", got[item].message


def two_head_model(keras):
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(4, activation="relu")(inputs)
    heads = [keras.layers.Dense(1, activation="sigmoid", name=name)(hidden) for name in ("income", "age")]
    model = keras.Model(inputs, heads)
    model.compile(optimizer="adam", loss="mse")
    return model


def test_keras_model_with_two_one_unit_heads(handler, keras):
    """Issue 8 §2: two Dense(1) outputs are two output units, their predictions side by side."""
    model = two_head_model(keras)

    def pred_fn(_):
        heads = model.predict((X2 / 3.0).astype(np.float32), verbose=0)
        return [h * (b - a) + a for h, a, b in zip(heads, LO, HI)]

    ns = t2_ns(model, framework="keras", pred_fn=pred_fn)
    got = named_findings(handler, "H3P2T2", ns)
    for item in ("output_units", "output_normalization", "predict_shape", "output_range"):
        assert got[item].status == "pass", got[item].message


def test_torch_model_returning_outputs_and_extras_keeps_the_outputs(handler):
    class WithExtras(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = sum_net(torch.nn.Sigmoid())

        def forward(self, x):
            return self.body(x), x

    got = named_findings(handler, "H3P2T2", {**t2_ns(sum_net(torch.nn.Sigmoid())), "model": WithExtras()})
    assert got["output_units"].status == "pass", got["output_units"].message


# ----------------------------------------------------------------------------- issue 9: the grader's own inputs


def test_statistics_ignore_a_training_csv_the_notebook_replaced(handler, tmp_path, monkeypatch):
    """Overwriting data/H3P2T1_train.csv with standardized rows changes nothing the grader measures."""
    identity = t1_ns(**GOOD_T1, preprocess=lambda X: X)
    spec = P.part2_request("H3P2T1", rubric_with(), NAMED1, HiddenSet("H3P2T1", X1_TRAIN, np.zeros(len(X1_TRAIN)), HEADERS)).extra["part2"]
    before = handler(identity, json.loads(json.dumps(spec)))["preprocess_train"]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    rows = "\n".join(",".join(f"{v:.6g}" for v in r) + ",0" for r in standardize(X1_TRAIN))
    (tmp_path / "data" / "H3P2T1_train.csv").write_text("x1,x2,x3,label\n" + rows + "\n", encoding="utf-8")
    after = handler(identity, json.loads(json.dumps(spec)))["preprocess_train"]
    assert after == before
    answers = Answers("H3P2T1", observed={"part2": handler(identity, json.loads(json.dumps(spec)))})
    got = {f.item: f for f in check("H3P2T1", answers, OK_RUN1, None, NAMED1)}
    assert got["input_normalization"].status == "fail"


def test_kernel_never_reads_the_data_folder():
    source = (ROOT / "grader" / "kernel" / "part2.py").read_text(encoding="utf-8")
    assert "open(" not in source and "read_csv" not in source and "data/" not in source.split('"""', 2)[2]


def test_request_carries_a_deterministic_sample_of_the_graders_training_set():
    train = HiddenSet("H3P2T1", np.arange(3000 * 3, dtype=np.float64).reshape(3000, 3), np.zeros(3000), HEADERS)
    rubric = {"H3P2T1": {"train_rows": 500}}
    spec = P.part2_request("H3P2T1", rubric_with(rubric), NAMED1, train).extra["part2"]
    sample = np.asarray(spec["train_X"])
    assert sample.shape == (500, 3)
    rows = (sample[:, 0] / 3).astype(int)
    assert np.array_equal(sample, train.X[rows]) and len(set(rows)) == 500 and list(rows) == sorted(rows)
    assert rows.max() > 2500  # drawn across the file, not its first rows
    assert P.part2_request("H3P2T1", rubric_with(rubric), NAMED1, train).extra["part2"]["train_X"] == spec["train_X"]
    assert spec["columns"] == list(HEADERS)


def test_without_a_training_set_the_hidden_features_stand_in():
    spec = P.part2_request("H3P2T1", rubric_with(), NAMED1).extra["part2"]
    assert np.array_equal(np.asarray(spec["train_X"]), X1)


def test_a_missing_training_sample_is_the_graders_error(handler):
    spec = P.part2_request("H3P2T1", rubric_with(), NAMED1).extra["part2"]
    del spec["train_X"]
    answers = Answers("H3P2T1", observed={"part2": handler(t1_ns(**GOOD_T1), spec)})
    got = {f.item: f for f in check("H3P2T1", answers, OK_RUN1, None, NAMED1)}
    assert got["input_normalization"].status == "error"


def _builder():
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_part2_notebooks", ROOT / "reference" / "build_part2_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sample_class_notebooks_are_what_the_builder_writes():
    import nbformat

    builder = _builder()
    for student in builder.STUDENTS:
        for name, nb in builder.student_notebooks(student).items():
            path = ROOT / "submissions" / student / name
            assert path.read_text(encoding="utf-8") == nbformat.writes(nb) + "\n", f"{path}: run the builder"


def test_a_preprocess_failing_both_ways_reports_the_arrays_error(handler):
    def broken(X):
        return undefined_scaler.transform(X)  # noqa: F821 - the student's NameError

    got = named_findings(handler, "H3P2T1", t1_ns(**GOOD_T1, preprocess=broken))
    assert got["input_normalization"].message == (
        "preprocess(X_train) failed: NameError: name 'undefined_scaler' is not defined")
    assert "DataFrame" not in got["runs"].message


def test_registry_passes_the_training_set_into_the_request():
    from grader.checks import CHECKERS
    from grader.datasets import read_task

    train = read_task(ROOT / "reference" / "data" / "H3P2T1_train.csv", "H3P2T1")
    hidden = HiddenSet("H3P2T1", train.X[:10] + 1.0, np.zeros(10), train.features)
    from grader.rubric import load_rubric

    rubric = load_rubric(ROOT / "rubrics" / "hw3.yaml")
    spec = CHECKERS["H3P2T1"].request(rubric, hidden, train).extra["part2"]
    sample = np.asarray(spec["train_X"])
    assert sample.shape == (500, 5) and spec["columns"] == ["x1", "x2", "x3", "x4", "x5"]
    assert all((train.X == row).all(axis=1).any() for row in sample[:20])
    assert CHECKERS["H3P1"].request(rubric, None, None).names


def test_a_pip_install_line_that_fails_for_lack_of_network_costs_no_point():
    from grader.checks.part2.words import runs_finding
    from grader.model import PIP_ENAME, CellFailure, NotebookRun

    pip = CellFailure(0, "error", PIP_ENAME, "ERROR: Could not find a version that satisfies the requirement", "",
                      cause="no_network", hint="the grader has no network")
    run = NotebookRun(Path("H3P2T1.ipynb"), "H3P2T1", "ok", failures=(pip,))
    assert runs_finding(run, {}).status == "pass"
    raised = CellFailure(3, "error", "ModuleNotFoundError", "No module named 'xgboost'", "", cause="missing_package")
    assert runs_finding(NotebookRun(Path("H3P2T1.ipynb"), "H3P2T1", "ok", failures=(pip, raised)), {}).message == (
        "cell 4 raised ModuleNotFoundError: No module named 'xgboost' (cells counted from 1)")
