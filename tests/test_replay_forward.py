"""Forward-only replay: `replay.trace_forward` and `train.evaluate(replay=...)` equal eager, bit for bit."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradcn import Value, no_grad
from microgradcn import functional as F
from microgradcn.nn import MLP, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, Sequential, Sigmoid, Tanh
from microgradcn.replay import ForwardTrace, ReplayError, trace_forward
from microgradcn.replay.forward_program import NumpyForward, PythonForward
from microgradcn.replay.program import Program
from microgradcn.train import evaluate, make_evaluator


def same_number(a: float, b: float) -> bool:
    return (a == b and math.copysign(1, a) == math.copysign(1, b)) or (a != a and b != b)


def same_evaluation(a, b) -> bool:
    return same_number(a[0], b[0]) and same_number(a[1], b[1]) and np.array_equal(a[2], b[2])


ACTIVATIONS = [ReLU, Tanh, Sigmoid]
FLOATS = st.floats(-30, 30, allow_nan=False, width=64)


@st.composite
def models_and_batches(draw):
    d, h, c = draw(st.integers(1, 5)), draw(st.integers(1, 6)), draw(st.integers(2, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    layers = [Linear(d, h, rng=rng), draw(st.sampled_from(ACTIVATIONS))()]
    if draw(st.booleans()):
        layers.append(Dropout(draw(st.floats(0.1, 0.9)), seed=draw(st.integers(0, 9))))  # eval mode: identity
    layers.append(Linear(h, c, rng=rng))
    n = draw(st.integers(1, 7))
    X = np.array(draw(st.lists(st.lists(FLOATS, min_size=d, max_size=d), min_size=n, max_size=n)), dtype=float)
    y = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    return Sequential(*layers), X, y


@settings(deadline=None)
@given(models_and_batches(), st.sampled_from(["numpy", "python"]), st.booleans())
def test_replayed_evaluation_equals_eager_evaluation_bit_for_bit(case, backend, training):
    """Mean loss, accuracy and every prediction; Dropout (if any) in eval mode; the model's mode restored."""
    model, X, y = case
    model.train(training)
    eager = evaluate(model, F.cross_entropy, X, y)
    evaluator = make_evaluator(model, F.cross_entropy, replay=backend)
    first = evaluator(X, y)
    again = evaluator(X[::-1].copy(), y[::-1].copy())  # the recording of the first call, on other samples
    assert same_evaluation(first, eager)
    model.eval()
    with no_grad():  # written out: the mean of the losses summed in order from 0.0, the argmax (first on a tie)
        total, labels = 0.0, []
        for x, t in zip(X, y):
            logits = [v.data for v in model(x)]
            total += float(F.cross_entropy(model(x), int(t)).data)
            labels.append(logits.index(max(logits)))
    model.train(training)
    assert same_number(first[0], total / len(y)) and list(first[2]) == labels
    assert same_evaluation(again, evaluate(model, F.cross_entropy, X[::-1].copy(), y[::-1].copy()))
    assert model.training is training


def test_a_cnn_with_max_pooling_evaluates_as_eager_with_both_backends():
    rng = np.random.default_rng(0)
    model = Sequential(Conv2d(1, 2, 3, rng=rng), ReLU(), MaxPool2d(2, stride=1), Flatten(), Linear(8, 3, rng=rng))
    X = rng.normal(size=(9, 1, 5, 5))
    X[0, 0, :2, :2] = 1.0  # a tie in a pooling window: the first one wins, in both
    y = rng.integers(0, 3, size=9)
    eager = evaluate(model, F.cross_entropy, X, y)
    for backend in ("numpy", "python"):
        assert same_evaluation(evaluate(model, F.cross_entropy, X, y, replay=backend), eager)


def test_single_outputs_have_no_accuracy_in_replay_either():
    model = MLP(2, [3, 1], seed=0)  # one output neuron: a single Value
    X, y = np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([1.0, -1.0])

    def loss(out, t):
        return (out - t) ** 2

    eager = evaluate(model, loss, X, y)
    replayed = evaluate(model, loss, X, y, replay="numpy")
    assert same_number(eager[0], replayed[0]) and math.isnan(replayed[1]) and list(replayed[2]) == [-1, -1]
    assert math.isnan(eager[1]) and list(eager[2]) == [-1, -1]


def test_the_programs_are_forward_only_programs_of_the_one_interface():
    w = Value(2.0)
    forward = trace_forward(lambda x, t: [w * x[0], w + x[0]], [w])
    assert forward([[3.0], [0.5]], [0.0, 0.0]) == [(6.0, 5.0), (1.0, 2.5)]
    numpy_program = next(iter(forward._programs.values()))
    python = trace_forward(lambda x, t: [w * x[0]], [w], backend="python")
    assert python([[3.0]], [0.0]) == [(6.0,)]
    python_program = next(iter(python._programs.values()))
    assert isinstance(numpy_program, NumpyForward) and isinstance(python_program, PythonForward)
    for program in (numpy_program, python_program):
        assert isinstance(program, Program) and program.run([2.0], [np.array([1.0])], [], None, 1)[1] == []
    w.data = 4.0  # the parameters' current numbers at every call
    assert forward([[3.0]], [0.0]) == [(12.0, 7.0)] and forward.records == 1
    assert "ForwardTrace(backend='numpy', records=1" in repr(forward)


def test_a_number_numpy_would_round_uses_the_python_program_exactly():
    w = Value(Fraction(1, 3))
    forward = trace_forward(lambda x, t: [w * x[0]], [w])
    assert forward([[3.0], [1.0]], [0, 0]) == [(1.0,), (Fraction(1, 3) * 1.0,)]
    assert isinstance(next(iter(forward._programs.values())), PythonForward)


def test_a_failed_guard_or_random_draws_run_the_batch_eagerly_with_the_same_numbers():
    w = Value(1.5)

    def branchy(x, t):
        return [w * x[0] if x[0] > 0 else w - x[0]]

    forward = trace_forward(branchy, [w])
    assert forward([[2.0], [3.0]], [0, 0]) == [(3.0,), (4.5,)]
    assert forward([[2.0], [-1.0]], [0, 0]) == [(3.0,), (2.5,)]  # the second sample decides otherwise
    assert forward.retraces == 1 and forward.eager_batches == 1
    model = Sequential(Linear(2, 2, seed=0), Dropout(0.5, seed=0), Linear(2, 2, seed=1))  # training mode: draws
    X, y = np.array([[1.0, 2.0], [0.5, -0.5]]), np.array([0, 1])
    replayed = trace_forward(lambda x, t: model(x), model.parameters())
    twin = Sequential(Linear(2, 2, seed=0), Dropout(0.5, seed=0), Linear(2, 2, seed=1))
    for _ in range(2):  # the recording drew sample 0's numbers; then every draw as eager mode makes it
        with no_grad():
            expected = [tuple(v.data for v in twin(x)) for x in X]
        assert replayed(X, y) == expected
    assert replayed.records == 1 and replayed.eager_batches == 2


def test_a_comparison_no_guard_could_follow_runs_eagerly():
    w = Value(2.0)

    def fn(x, t):
        with no_grad():  # a plain leaf, compared here: the recording would see a constant
            big = w * x[0] > 1
        return [w * x[0] if big else w - x[0]]

    forward = trace_forward(fn, [w])
    assert forward([[1.0], [0.25]], [0, 0]) == [(2.0,), (1.75,)]
    assert forward([[0.25], [1.0]], [0, 0]) == [(1.75,), (2.0,)] and forward.eager_batches == 2


@pytest.mark.parametrize("X, y, error, match", [
    (np.zeros((0, 2)), np.zeros(0, dtype=int), ValueError, "non-zero"),
    ([[1.0, 2.0], [3.0]], [0, 1], ValueError, "same shape"),
    (np.array([[1, 2], [3, 4]]), [0, 1], TypeError, "must be floats"),
    (np.zeros((2, 2)), [0, 1, 1], ValueError, "equal"),
])
def test_bad_batches_are_refused_clearly(X, y, error, match):
    model = Sequential(Linear(2, 2, seed=0))
    with pytest.raises(error, match=match):
        evaluate(model, F.cross_entropy, X, y, replay="numpy")


def test_bad_arguments_are_refused_clearly():
    model = Sequential(Linear(2, 2, seed=0))
    with pytest.raises(ValueError, match="replay must be"):
        evaluate(model, F.cross_entropy, np.zeros((1, 2)), [0], replay="torch")
    with pytest.raises(ValueError, match="backend"):
        trace_forward(lambda x, t: [x], [], backend="gpu")
    with pytest.raises(TypeError, match="callable"):
        ForwardTrace(3, [], "numpy")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="params must be Values"):
        trace_forward(lambda x, t: [x], [1.0])  # type: ignore[list-item]
    with pytest.raises(ReplayError, match="must return Values"):
        trace_forward(lambda x, t: [1.0], [])([[1.0]], [0])
    with pytest.raises(ValueError, match="at least one sample"):
        evaluate(model, F.cross_entropy, [], [])
