"""functional: softmax and losses, against seed numbers and numerical differentiation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from microgradcn import Value, gradcheck
from microgradcn import functional as F

reals = st.floats(-5, 5, allow_nan=False, allow_infinity=False)
probs = st.floats(0.05, 0.95)
unit = st.floats(0, 1)


def vec(n, elements=reals):
    return st.lists(elements, min_size=n, max_size=n)


# ---------------------------------------------------- 《深度学习入门》 numbers
def test_softmax_book_example():
    out = F.softmax([0.3, 2.9, 4.0])
    assert [v.data for v in out] == pytest.approx([0.01821127, 0.24519181, 0.73659691], abs=1e-8)


def test_sum_squared_error_book_examples():
    t = [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    good = [0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]
    bad = [0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0]
    assert F.sum_squared_error(good, t).data == pytest.approx(0.0975)
    assert F.sum_squared_error(bad, t).data == pytest.approx(0.5975)
    assert F.cross_entropy_from_probs(good, t).data == pytest.approx(0.510825457, abs=1e-9)
    assert F.cross_entropy_from_probs(bad, t).data == pytest.approx(2.302584093, abs=1e-9)
    assert F.cross_entropy_from_probs(good, 2).data == pytest.approx(0.510825457, abs=1e-9)


def test_simple_values():
    assert F.mse([1.0, 2.0], [0.0, 4.0]).data == pytest.approx(2.5)
    assert F.mae([1.0, 2.0], [0.0, 4.0]).data == pytest.approx(1.5)
    assert F.l1_loss is F.mae
    assert F.hinge([2.0, 0.5, -1.0], [1, 1, 1]).data == pytest.approx((0 + 0.5 + 2.0) / 3)
    assert F.l2_penalty([Value(1.0), Value(-2.0)], 0.5).data == pytest.approx(2.5)
    assert F.l1_penalty([Value(1.0), Value(-2.0)], 0.5).data == pytest.approx(1.5)
    assert F.binary_cross_entropy([0.8], [1]).data == pytest.approx(-math.log(0.8 + 1e-7))
    assert F.binary_cross_entropy_with_logits([0.0], [1]).data == pytest.approx(math.log(2))
    assert F.cross_entropy([0.0, 0.0, 0.0, 0.0], 1).data == pytest.approx(math.log(4))


# ------------------------------------------------------------ stability
@pytest.mark.parametrize("big", [1000.0, -1000.0])
def test_softmax_family_is_finite_at_extreme_logits(big):
    logits = [big, 0.0, -big]
    p = [v.data for v in F.softmax(logits)]
    assert all(math.isfinite(x) for x in p) and sum(p) == pytest.approx(1.0)
    logp = [v.data for v in F.log_softmax(logits)]
    assert all(math.isfinite(x) for x in logp)
    assert max(logp) == pytest.approx(0.0)
    assert min(logp) == pytest.approx(-2 * abs(big))
    ce = F.cross_entropy(logits, 2)
    assert ce.data == pytest.approx(big + abs(big))  # -log p of the class at -big
    z = Value(big)
    loss = F.binary_cross_entropy_with_logits([z], [1.0])
    loss.backward()
    assert loss.data == pytest.approx(max(-big, 0.0))
    assert z.grad == pytest.approx(0.0 if big > 0 else -1.0)


def test_cross_entropy_gradient_at_extreme_logits_is_softmax_minus_onehot():
    zs = [Value(1000.0), Value(-1000.0), Value(0.0)]
    F.cross_entropy(zs, 1).backward()
    assert [z.grad for z in zs] == pytest.approx([1.0, -1.0, 0.0])


# ------------------------------------------- gradients vs numerical diff
@given(vec(3))
def test_softmax_gradient(xs):
    gradcheck(lambda a, b, c: F.softmax([a, b, c])[1] * 2 + F.softmax([a, b, c])[0], xs)


@given(vec(3))
def test_log_softmax_gradient(xs):
    gradcheck(lambda a, b, c: F.log_softmax([a, b, c])[2], xs)


@given(vec(3), st.integers(0, 2))
def test_cross_entropy_index_gradient(xs, k):
    gradcheck(lambda a, b, c: F.cross_entropy([a, b, c], k), xs)


@given(vec(3), vec(3, unit))
def test_cross_entropy_soft_target_gradient(xs, t):
    gradcheck(lambda a, b, c: F.cross_entropy([a, b, c], t), xs)


@given(vec(3), vec(3))
def test_mse_and_sse_gradient(xs, ts):
    gradcheck(lambda a, b, c: F.mse([a, b, c], ts), xs)
    gradcheck(lambda a, b, c: F.sum_squared_error([a, b, c], ts), xs)


@given(vec(3), vec(3))
def test_mae_gradient(xs, ts):
    if min(abs(x - t) for x, t in zip(xs, ts)) > 1e-3:  # |x| has no derivative at 0
        gradcheck(lambda a, b, c: F.mae([a, b, c], ts), xs)


@given(vec(2, probs), vec(2, unit))
def test_binary_cross_entropy_gradient(ps, ts):
    gradcheck(lambda a, b: F.binary_cross_entropy([a, b], ts), ps)


@given(vec(2), vec(2, unit))
def test_binary_cross_entropy_with_logits_gradient_and_agreement(zs, ts):
    gradcheck(lambda a, b: F.binary_cross_entropy_with_logits([a, b], ts), zs)
    sig = [1 / (1 + math.exp(-z)) for z in zs]
    direct = F.binary_cross_entropy(sig, ts, eps=0.0).data
    assert F.binary_cross_entropy_with_logits(zs, ts).data == pytest.approx(direct, rel=1e-9, abs=1e-12)


@given(vec(3), vec(3, st.sampled_from([-1.0, 1.0])))
def test_hinge_gradient(xs, ys):
    if min(abs(1 - y * x) for x, y in zip(xs, ys)) > 1e-3:  # the kink of relu
        gradcheck(lambda a, b, c: F.hinge([a, b, c], ys), xs)


@given(vec(3))
def test_penalty_gradients(xs):
    gradcheck(lambda a, b, c: F.l2_penalty([a, b, c], 0.3), xs)
    if min(abs(x) for x in xs) > 1e-3:
        gradcheck(lambda a, b, c: F.l1_penalty([a, b, c], 0.3), xs)


@given(vec(3), vec(3, unit))
def test_cross_entropy_equals_minus_log_softmax_dot_target(xs, ts):
    t = [x / sum(ts) for x in ts] if sum(ts) else [1.0, 0.0, 0.0]
    expected = -sum(ti * lp.data for ti, lp in zip(t, F.log_softmax(xs)))
    assert F.cross_entropy(xs, t).data == pytest.approx(expected, abs=1e-9)


def test_cross_entropy_batch_is_mean_of_rows():
    rows = [[1.0, 2.0], [0.5, -0.5]]
    expected = (F.cross_entropy(rows[0], 0).data + F.cross_entropy(rows[1], 1).data) / 2
    assert F.cross_entropy(rows, [0, 1]).data == pytest.approx(expected)


# -------------------------------------------------------------- bad input
def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="same length, got 2 and 3"):
        F.mse([1, 2], [1, 2, 3])
    with pytest.raises(TypeError, match="pred must hold numbers or Values, got str"):
        F.mse(["a"], [1])
    with pytest.raises(ValueError, match="class index target must be in \\[0, 3\\), got 3"):
        F.cross_entropy([1, 2, 3], 3)
    with pytest.raises(ValueError, match="hinge labels must be -1 or \\+1, got 0"):
        F.hinge([1.0], [0])
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\], got 1.5"):
        F.binary_cross_entropy([1.5], [1])
    with pytest.raises(ValueError, match="at least one"):
        F.softmax([])


@given(vec(3), vec(3), vec(3, st.sampled_from([-1.0, 1.0])))
def test_loss_values_match_plain_float_formulas(xs, ts, ys):
    n = 3
    assert F.mse(xs, ts).data == pytest.approx(sum((x - t) ** 2 for x, t in zip(xs, ts)) / n)
    assert F.sum_squared_error(xs, ts).data == pytest.approx(0.5 * sum((x - t) ** 2 for x, t in zip(xs, ts)))
    assert F.mae(xs, ts).data == pytest.approx(sum(abs(x - t) for x, t in zip(xs, ts)) / n)
    assert F.hinge(xs, ys).data == pytest.approx(sum(max(0.0, 1 - y * x) for x, y in zip(xs, ys)) / n)
    exps = [math.exp(x) for x in xs]
    assert [v.data for v in F.softmax(xs)] == pytest.approx([e / sum(exps) for e in exps])
    assert [v.data for v in F.log_softmax(xs)] == pytest.approx([math.log(e / sum(exps)) for e in exps])
    assert F.l2_penalty(xs, 0.5).data == pytest.approx(0.5 * sum(x * x for x in xs))
    assert F.l1_penalty(xs, 0.5).data == pytest.approx(0.5 * sum(abs(x) for x in xs))


@pytest.mark.parametrize("bad", [-0.5, 1.5, math.nan])
@pytest.mark.parametrize(
    "loss, name",
    [
        (lambda t: F.binary_cross_entropy([0.5], [t]), "binary_cross_entropy"),
        (lambda t: F.binary_cross_entropy_with_logits([0.0], [t]), "binary_cross_entropy_with_logits"),
        (lambda t: F.cross_entropy([1.0, 2.0], [t, 0.0]), "cross_entropy"),
        (lambda t: F.cross_entropy_from_probs([0.5, 0.5], [t, 0.0]), "cross_entropy_from_probs"),
    ],
    ids=["bce", "bce_logits", "ce_soft", "ce_probs"],
)
def test_targets_outside_zero_one_are_rejected_naming_the_value(loss, name, bad):
    with pytest.raises(ValueError, match=f"{name} needs targets in \\[0, 1\\], got {bad!r}"):
        loss(bad)


def test_cross_entropy_rejects_a_negative_class_index():
    for target in (-1, np.int64(-1), [0, -1]):
        logits = [[1.0, 2.0], [3.0, 4.0]] if isinstance(target, list) else [1.0, 2.0]
        with pytest.raises(ValueError, match="class index target must be in \\[0, 2\\), got -1"):
            F.cross_entropy(logits, target)
    with pytest.raises(ValueError, match="cross_entropy needs targets in \\[0, 1\\], got -1.0"):
        F.cross_entropy([1.0], -1.0)  # a float is a soft target, not an index


@pytest.mark.parametrize("p, t", [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)])
def test_binary_cross_entropy_stays_finite_at_p_zero_and_one(p, t):
    prob = Value(p)
    loss = F.binary_cross_entropy([prob], [t])
    loss.backward()
    assert math.isfinite(loss.data) and math.isfinite(prob.grad)
    # −[t log c + (1 − t) log(1 − c)] with c = p clipped to [ε, 1 − ε], ε = 1e-7: never negative.
    eps = 1e-7
    c = min(max(p, eps), 1 - eps)
    assert loss.data == pytest.approx(-(t * math.log(c) + (1 - t) * math.log(1 - c)), rel=1e-9)
    assert loss.data >= 0
    assert prob.grad == 0  # p was clipped: the loss does not change with it there


def test_binary_cross_entropy_is_never_negative_and_has_the_plain_gradient_inside():
    assert F.binary_cross_entropy([Value(1.0)], [1.0]).data >= 0  # was -1e-7 when eps was added inside the log
    p = Value(0.3)
    F.binary_cross_entropy([p], [1.0]).backward()
    assert p.grad == pytest.approx(-1 / 0.3, rel=1e-12)


def test_cross_entropy_accepts_any_iterable_of_logits():
    logits = [Value(0.5), Value(-1.0), Value(2.0)]
    assert F.cross_entropy(iter(logits), 2).data == F.cross_entropy(logits, 2).data
