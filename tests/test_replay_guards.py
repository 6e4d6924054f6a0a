"""Replay's guards: every decision taken on a Value while recording is checked at every call."""

import math
from fractions import Fraction

import numpy as np
import pytest

from microgradcn import Value, no_grad
from microgradcn.replay import ReplayError, trace

CONSTANTS = [0.5, 1, np.float64(0.5), np.float32(0.5), np.int64(1), Fraction(1, 2), math.inf, -math.inf,
             math.nan, 10 ** 400]


def eager(fn, params, *inputs):
    for p in params:
        p.grad = 0
    loss = fn(*inputs)
    loss.backward()
    return loss.data, [p.grad for p in params]


def replayed(step, params, *inputs):
    for p in params:
        p.grad = 0
    return step(*inputs), [p.grad for p in params]


@pytest.mark.parametrize("constant", CONSTANTS, ids=repr)
@pytest.mark.parametrize("backend", ["python", "numpy"])
def test_a_compared_constant_of_any_number_type_is_carried_exactly(constant, backend):
    """Defect A: constants were written into the code with repr (np.float64(0.5), inf: NameError)."""
    w = Value(2.0)

    def loss(x):
        y = w * x
        return y * y if y > constant else y

    if backend == "python":
        step = trace(loss, [w])
        calls = [(3.0,), (0.1,), (3.0,), (0.2,)]
        expect = [eager(loss, [w], Value(x)) for (x,) in calls]
        got = [replayed(step, [w], *c) for c in calls]
    else:
        step = trace(lambda x, t: loss(x[0]), [w], backend="numpy")
        calls = [[3.0], [0.1], [3.0, 4.0], [0.2, 0.3]]
        expect = [eager(lambda rows: sum(loss(Value(x)) for x in rows) * (1.0 / len(rows)), [w], c) for c in calls]
        got = [replayed(step, [w], np.array(c)[:, None], np.zeros(len(c))) for c in calls]
    assert got == expect


@pytest.mark.parametrize("backend", ["python", "numpy"])
def test_a_comparison_on_a_value_outside_the_loss_is_guarded(backend):
    """Defect B: `w * x` compared, then rebuilt for the loss: the compared node is not in the loss's graph."""
    w = Value(2.0)

    def loss(x):
        return (w * x) * (w * x) if (w * x) > 5.0 else w * x

    if backend == "python":
        step = trace(loss, [w])
        assert replayed(step, [w], 3.0) == eager(loss, [w], Value(3.0))
        assert replayed(step, [w], 1.0) == eager(loss, [w], Value(1.0)) == (2.0, [1.0])
    else:
        step = trace(lambda x, t: loss(x[0]), [w], backend="numpy")
        assert replayed(step, [w], np.array([[3.0]]), np.zeros(1)) == (36.0, [36.0])
        assert replayed(step, [w], np.array([[1.0]]), np.zeros(1)) == (2.0, [1.0])
    assert step.retraces == 1


def test_a_float_of_a_value_outside_the_loss_is_guarded():
    w = Value(2.0)

    def loss(x):
        scale = float(w * x)  # a plain number taken from the data, then used to build the loss
        return w * scale

    step = trace(loss, [w])
    assert replayed(step, [w], 3.0) == (12.0, [6.0])
    assert replayed(step, [w], 1.0) == (4.0, [2.0])
    assert step.retraces == 1


@pytest.mark.parametrize("special", [math.nan, math.inf, -math.inf, -0.0])
def test_a_float_guard_on_nan_inf_or_minus_zero_holds_when_it_comes_out_the_same(special):
    """`x == nan` is never true: the float() guard compares NaN with NaN (and the sign of a zero)."""
    w = Value(2.0)
    seen = []

    def loss(x):
        seen.append(float(x * special))
        return w * x

    step = trace(loss, [w])
    for x in (1.0, 2.0, 3.0):
        assert replayed(step, [w], x) == (2.0 * x, [x])
    assert step.records == 1 and step.retraces == 0
    if special == 0.0:
        replayed(step, [w], -1.0)  # -1 * -0.0 is +0.0: another number, so a new recording
        assert step.retraces == 1


def test_a_comparison_recorded_on_nan_is_guarded():
    w = Value(2.0)

    def loss(x):
        y = w * x
        return y * y if not y > 0 else y  # nan > 0 is False, as for a negative y

    step = trace(loss, [w])
    for x in (math.nan, -1.0, math.nan):
        assert replayed(step, [w], x)[1] == eager(loss, [w], Value(x))[1] or math.isnan(x)
    assert step.records == 1
    replayed(step, [w], 2.0)
    assert step.retraces == 1


def test_a_comparison_in_the_penalty_is_guarded():
    w = Value(2.0)

    def penalty():
        return w * w if w > 1 else -w

    step = trace(lambda x, t: w * x[0], [w], backend="numpy", penalty=penalty)
    assert replayed(step, [w], np.array([[1.0]]), np.zeros(1)) == (6.0, [5.0])
    w.data = 0.5
    assert replayed(step, [w], np.array([[1.0]]), np.zeros(1)) == (0.0, [0.0])
    assert step.retraces == 1


def test_a_comparison_of_a_value_made_inside_no_grad_is_refused():
    w = Value(2.0)

    def loss(x):
        with no_grad():
            y = w * x  # a leaf: its number comes from the data, but the recording sees a constant
            big = y > 1
        return w * x if big else w

    with pytest.raises(ReplayError, match="no_grad"):
        trace(loss, [w])(3.0)


@pytest.mark.parametrize("size, error", [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError),
                                         ("8", TypeError)])
def test_cache_size_is_checked(size, error):
    with pytest.raises(error, match="cache_size"):
        trace(lambda x: x, [], cache_size=size)


def test_a_cache_of_one_keeps_the_latest_recording():
    w = Value(2.0)
    step = trace(lambda xs: sum(w * x for x in xs), [w], cache_size=1)
    for xs in ([1.0], [1.0, 2.0], [1.0, 2.0]):
        replayed(step, [w], xs)
    assert step.records == 2 and step.retraces == 0


@pytest.mark.parametrize("backend", ["python", "numpy"])
def test_an_infinite_gradient_reaching_a_detach_is_guarded(backend):
    """Eager adds 0 * g through a detach: NaN when g is inf. Replay leaves those zeros out, so it checks g."""
    w = Value(1.0)

    def loss(x):
        return (w * x[0]).detach() * x[1] * 10 + w * x[0]

    def same(a, b):
        return a == b or (a != a and b != b)

    if backend == "python":
        step = trace(loss, [w])
        calls = [([2.0, 1.0],), ([3.0, 1.0],), ([3.0, 1e308],), ([1.0, 2.0],)]
        expected = [eager(loss, [w], [Value(a) for a in x]) for (x,) in calls]
    else:
        step = trace(lambda x, t: loss(x), [w], backend="numpy")
        batches = [np.array([[2.0, 1.0], [1.0, 0.5]]), np.array([[3.0, 1.0], [2.0, 1e308]]),
                   np.array([[1.0, 2.0], [0.5, 1.0]])]
        calls = [(X, np.zeros(len(X))) for X in batches]
        expected = [eager(lambda X: sum((loss([Value(a) for a in row]) for row in X), 0) * (1.0 / len(X)), [w], X)
                    for X, _ in calls]
    got = [replayed(step, [w], *call) for call in calls]
    assert all(same(g[0], e[0]) and same(g[1][0], e[1][0]) for g, e in zip(got, expected)), (got, expected)
    assert any(math.isnan(e[1][0]) for e in expected)  # the case is met: eager's gradient is NaN there
    assert step.retraces == 1
