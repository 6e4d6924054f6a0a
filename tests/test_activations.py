"""Activation modules, RReLU and Maxout: values, gradients, randomness, Module behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from microgradcn import Value, numerical_gradient, topological_order
from microgradcn.nn import LeakyReLU, Maxout, ReLU, RReLU, Sequential, Sigmoid, Tanh, as_values
from microgradcn.nn._nested import flatten


def test_elementwise_modules_keep_the_nesting():
    image = [[[-1.0, 2.0], [0.5, -3.0]]]
    out = ReLU()(image)
    assert [[[v.data for v in row] for row in ch] for ch in out] == [[[0.0, 2.0], [0.5, 0.0]]]
    assert Tanh()(0.0).data == 0.0 and Sigmoid()([0.0])[0].data == 0.5
    assert [v.data for v in LeakyReLU(0.1)([-2.0, 3.0])] == [-0.2, 3.0]
    assert repr(LeakyReLU(0.1)) == "LeakyReLU(negative_slope=0.1)" and repr(ReLU()) == "ReLU()"
    x = Value(-2.0)
    y = LeakyReLU(0.1)(x)
    y.backward()
    assert x.grad == 0.1


def test_relu_sparsity_counts_exact_zeros():
    xs = np.linspace(-1, 1, 9)  # 4 negatives, one 0, 4 positives
    out = ReLU()(xs)
    assert sum(v.data == 0 for v in out) == 5


def test_rrelu_training_draws_one_uniform_per_element_in_order():
    rrelu = RReLU(seed=0)
    xs = [-1.0, 2.0, -3.0, -4.0]
    out = rrelu(xs)
    slopes = np.random.default_rng(0).uniform(1 / 8, 1 / 3, size=4)  # the same stream, one per element
    assert [v.data for v in out] == [-slopes[0], 2.0, -3 * slopes[2], -4 * slopes[3]]
    assert all(1 / 8 <= s <= 1 / 3 for s in slopes)
    # the next call draws new slopes: the stream goes on
    again = rrelu(xs)
    assert again[0].data != out[0].data
    # nested input: row-major order
    nested = RReLU(seed=0)([[-1.0, 2.0], [-3.0, -4.0]])
    assert [v.data for v in flatten(nested)] == [v.data for v in out]


def test_rrelu_eval_uses_the_mean_slope_and_gradients_are_the_slopes():
    rrelu = RReLU(lower=0.1, upper=0.3, seed=0).eval()
    x = Value(-2.0)
    y = rrelu(x)
    y.backward()
    assert y.data == pytest.approx(-0.4) and x.grad == pytest.approx(0.2)
    rrelu.train()
    x = Value(-2.0)
    y = rrelu(x)
    y.backward()
    slope = np.random.default_rng(0).uniform(0.1, 0.3)
    assert x.grad == slope and y.data == -2.0 * slope
    assert RReLU().parameters() == [] and repr(RReLU()) == "RReLU(lower=0.125, upper=0.333333)"
    with pytest.raises(ValueError, match="lower <= upper"):
        RReLU(0.5, 0.2)


def test_rrelu_is_reproducible_from_its_seed():
    xs = np.linspace(-2, 2, 7)
    a = [v.data for v in RReLU(seed=3)(xs)]
    b = [v.data for v in RReLU(seed=3)(xs)]
    assert a == b


def test_rrelu_mean_slope_against_torch():
    torch = pytest.importorskip("torch")
    x = torch.tensor([-2.0, -0.5, 1.5], dtype=torch.float64)
    expected = torch.nn.RReLU(1 / 8, 1 / 3).eval()(x).tolist()
    assert [v.data for v in RReLU().eval()(x.tolist())] == pytest.approx(expected, abs=1e-15)


def test_maxout_hand_worked_and_gradient_to_the_winner():
    m = Maxout(2, 1, pieces=3)
    # pieces: z0 = x0 + 0, z1 = -x0 + 0, z2 = 0·x + 0.5 : max(|x0|, 0.5)
    for row, w in zip(m.linear.weight, [[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0]]):
        for v, number in zip(row, w):
            v.data = number
    for b, number in zip(m.linear.bias, [0.0, 0.0, 0.5]):
        b.data = number
    x = as_values([-2.0, 7.0])
    (y,) = m(x)
    y.backward()
    assert y.data == 2.0
    assert [v.grad for v in x] == [-1.0, 0.0]  # only piece 1 (−x0) won
    assert [b.grad for b in m.linear.bias] == [0, 1, 0]
    assert sum(1 for v in topological_order(y) if v.op == "max") == 2
    assert [n for n, _ in m.named_parameters()][:2] == ["linear.weight.0.0", "linear.weight.0.1"]
    assert len(m.parameters()) == 3 * 2 + 3 and repr(m) == "Maxout(2, 1, pieces=3)"
    with pytest.raises(ValueError, match="pieces must be a positive int"):
        Maxout(2, 1, pieces=0)


def _grad_check(module, xs, tol=1e-6):
    params = module.parameters()
    x = as_values(xs)
    out = flatten(module(x))
    weights = [1.0 + 0.5 * i for i in range(len(out))]
    sum(w * o for w, o in zip(weights, out)).backward()
    analytic = [v.grad for v in x] + [p.grad for p in params]
    n = len(xs)

    def f(numbers):
        for p, value in zip(params, numbers[n:]):
            p.data = value
        return sum(w * o.data for w, o in zip(weights, flatten(module(list(numbers[:n])))))

    point = list(xs) + [p.data for p in params]
    numeric = numerical_gradient(f, point, h=1e-6)
    for p, value in zip(params, point[n:]):
        p.data = value
    assert analytic == pytest.approx(numeric, abs=tol, rel=tol)


away_from_zero = st.floats(-3, 3).filter(lambda v: abs(v) > 1e-3)


@given(st.lists(away_from_zero, min_size=1, max_size=6), st.integers(0, 2**16))
def test_rrelu_eval_gradients_match_numerical_differentiation(xs, seed):
    _grad_check(RReLU(seed=seed).eval(), xs)


@given(st.lists(away_from_zero, min_size=1, max_size=6), st.integers(0, 2**16))
def test_rrelu_training_gradients_match_numerical_differentiation(xs, seed):
    # A training call draws new slopes every time: check against a fresh RReLU per evaluation.
    x = as_values(xs)
    out = RReLU(seed=seed)(x)
    sum(out).backward()
    numeric = numerical_gradient(lambda p: sum(v.data for v in RReLU(seed=seed)(list(p))), list(xs), h=1e-6)
    assert [v.grad for v in x] == pytest.approx(numeric, abs=1e-6)


@given(st.lists(st.floats(-2, 2), min_size=2, max_size=4), st.integers(0, 2**16), st.integers(1, 3))
def test_maxout_gradients_match_numerical_differentiation(xs, seed, pieces):
    m = Maxout(len(xs), 2, pieces=pieces, seed=seed)
    z = [v.data for v in m.linear(xs)]
    for j in range(2):
        group = sorted(z[j * pieces:(j + 1) * pieces])
        assume(len(group) == 1 or group[-1] - group[-2] > 1e-3)  # a clear winner: max is smooth there
    _grad_check(m, xs)


def test_activation_modules_in_sequential_train_eval_and_state():
    model = Sequential(Maxout(2, 3, seed=0), RReLU(seed=0), Tanh())
    assert len(model.parameters()) == 2 * 6 + 6
    model.eval()
    first = [v.data for v in model([0.5, -1.0])]
    assert [v.data for v in model([0.5, -1.0])] == first  # eval: deterministic
    model.train()
    state = model.state_dict()
    other = Sequential(Maxout(2, 3, seed=1), RReLU(seed=0), Tanh())
    other.load_state_dict(state)
    assert [v.data for v in other.eval()([0.5, -1.0])] == first


@given(st.lists(away_from_zero, min_size=1, max_size=6), st.sampled_from([ReLU, Tanh, Sigmoid, LeakyReLU]))
def test_elementwise_module_gradients_match_numerical_differentiation(xs, cls):
    _grad_check(cls(), xs)
