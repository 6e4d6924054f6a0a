"""The book's hand-written layers: the book's numbers, numerical gradients, and the engine on the same numbers."""

import doctest
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradcn import Value, datasets, layers, numerical_gradient
from microgradcn import functional as F
from microgradcn.examples import apple_orange, apple_tax, find
from microgradcn.layers import AddLayer, Affine, MulLayer, Relu, Sigmoid, SoftmaxWithLoss, cross_entropy_error, softmax


def test_docstring_examples():
    assert doctest.testmod(layers, optionflags=doctest.ELLIPSIS).failed == 0


# ------------------------------------------------------------- the book's shop
def test_apple_tax_forward_and_backward_give_the_books_numbers():
    apple, apple_num, tax = 100, 2, 1.1
    mul_apple_layer, mul_tax_layer = MulLayer(), MulLayer()
    apple_price = mul_apple_layer.forward(apple, apple_num)
    price = mul_tax_layer.forward(apple_price, tax)
    dprice = 1
    dapple_price, dtax = mul_tax_layer.backward(dprice)
    dapple, dapple_num = mul_apple_layer.backward(dapple_price)
    assert apple_price == 200 and math.isclose(price, 220)
    assert math.isclose(dapple, 2.2) and math.isclose(dapple_num, 110) and dtax == 200
    assert dapple_price == 1.1
    # The engine does the same floating-point operations: bit-identical numbers.
    pay = apple_tax()
    assert price == pay.data
    expected = tuple(find(pay, name).grad for name in ("苹果单价", "苹果个数", "消费税"))
    assert (dapple, dapple_num, dtax) == expected


def test_apple_orange_forward_and_backward_give_the_books_numbers():
    apple, apple_num, orange, orange_num, tax = 100, 2, 150, 3, 1.1
    mul_apple, mul_orange, add_fruit, mul_tax = MulLayer(), MulLayer(), AddLayer(), MulLayer()
    apple_price = mul_apple.forward(apple, apple_num)
    orange_price = mul_orange.forward(orange, orange_num)
    all_price = add_fruit.forward(apple_price, orange_price)
    price = mul_tax.forward(all_price, tax)
    dall_price, dtax = mul_tax.backward(1)
    dapple_price, dorange_price = add_fruit.backward(dall_price)
    dorange, dorange_num = mul_orange.backward(dorange_price)
    dapple, dapple_num = mul_apple.backward(dapple_price)
    assert all_price == 650 and math.isclose(price, 715)
    expected = {"dapple": 2.2, "dapple_num": 110, "dorange": 3.3, "dorange_num": 165, "dtax": 650}
    got = {"dapple": dapple, "dapple_num": dapple_num, "dorange": dorange, "dorange_num": dorange_num, "dtax": dtax}
    for name, value in expected.items():
        assert math.isclose(got[name], value), name
    assert dtax == 650 and dapple_price == dorange_price == 1.1
    shop = apple_orange()
    names = {"dapple": "苹果单价", "dapple_num": "苹果个数", "dorange": "橘子单价", "dorange_num": "橘子个数",
             "dtax": "消费税"}
    assert price == shop.data
    assert {k: find(shop, v).grad for k, v in names.items()} == got


def test_mul_and_add_layers_on_arrays_sum_broadcast_gradients_back():
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    y = np.array([10.0, 20.0, 30.0])  # broadcast over the 2 rows
    mul, add = MulLayer(), AddLayer()
    out = add.forward(mul.forward(x, y), 1.0)
    assert out.tolist() == [[11.0, 41.0, 91.0], [41.0, 101.0, 181.0]]
    dout = np.ones_like(out)
    dxy, dc = add.backward(dout)
    dx, dy = mul.backward(dxy)
    assert dx.tolist() == [[10.0, 20.0, 30.0]] * 2
    assert dy.tolist() == [5.0, 7.0, 9.0] and dy.shape == y.shape
    assert float(dc) == 6.0


def test_backward_before_forward_is_a_clear_error():
    for layer in (MulLayer(), AddLayer()):
        with pytest.raises(RuntimeError, match="before forward"):
            layer.backward(1.0)
    for layer in (Relu(), Sigmoid(), Affine(np.zeros((2, 3)), np.zeros(3)), SoftmaxWithLoss()):
        with pytest.raises(RuntimeError, match=type(layer).__name__):
            layer.backward(np.ones(3))


def test_bad_inputs_name_what_was_expected():
    with pytest.raises(TypeError, match="MulLayer input x.*str"):
        MulLayer().forward("100", 2)
    with pytest.raises(TypeError, match="bool"):
        AddLayer().forward(True, 2)
    with pytest.raises(TypeError, match="Relu input x.*str"):
        Relu().forward("1.5")
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        Affine(np.zeros((2, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="2-D"):
        Affine(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="expects 2 features"):
        Affine(np.zeros((2, 3)), np.zeros(3)).forward(np.zeros((4, 5)))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        SoftmaxWithLoss().forward(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="2 class labels"):
        SoftmaxWithLoss().forward(np.zeros((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="dout must be a number"):
        s = SoftmaxWithLoss()
        s.forward(np.zeros(3), 1)
        s.backward(np.ones(3))


# ----------------------------------------------------------------- activations
def test_relu_masks_and_does_not_touch_the_callers_arrays():
    x = np.array([[1.0, -0.5], [-2.0, 3.0]])
    relu = Relu()
    out = relu.forward(x)
    assert out.tolist() == [[1.0, 0.0], [0.0, 3.0]]
    assert relu.mask.tolist() == [[False, True], [True, False]]
    dout = np.array([[5.0, 6.0], [7.0, 8.0]])
    assert relu.backward(dout).tolist() == [[5.0, 0.0], [0.0, 8.0]]
    assert x.tolist() == [[1.0, -0.5], [-2.0, 3.0]] and dout.tolist() == [[5.0, 6.0], [7.0, 8.0]]
    assert Relu().forward(0.0) == 0.0 and Relu().forward(2) == 2.0
    with pytest.raises(ValueError, match="shape"):
        relu.backward(np.ones(3))


def test_sigmoid_values_derivative_and_no_overflow():
    sig = Sigmoid()
    out = sig.forward(np.array([0.0, 2.0, -1000.0, 1000.0]))
    assert out[0] == 0.5 and math.isclose(out[1], 1 / (1 + math.exp(-2))) and out[2] == 0.0 and out[3] == 1.0
    dx = sig.backward(np.ones(4))
    assert dx[0] == 0.25 and math.isclose(dx[1], out[1] * (1 - out[1])) and dx[2] == dx[3] == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Sigmoid().forward(np.array([-800.0, 800.0]))


@settings(derandomize=True, database=None)
@given(st.lists(st.floats(-6, 6), min_size=1, max_size=6), st.lists(st.floats(-3, 3), min_size=6, max_size=6))
def test_activation_backward_matches_numerical_and_engine(xs, weights):
    x = np.array(xs)
    x = np.where(np.abs(x) < 1e-3, 0.5, x)  # keep away from ReLU's kink, where differences are not fair
    g = np.array(weights[: len(xs)])
    for kind, op in ((Relu, Value.relu), (Sigmoid, Value.sigmoid)):
        layer = kind()
        layer.forward(x)
        dx = layer.backward(g)
        numeric = numerical_gradient(lambda z, kind=kind: float(np.sum(kind().forward(z) * g)), x)
        assert np.allclose(dx, numeric, atol=1e-7, rtol=1e-6)
        leaves = [Value(float(v)) for v in x]
        total = sum(op(v) * float(gi) for v, gi in zip(leaves, g))
        total.backward()
        assert np.allclose(dx, [v.grad for v in leaves], rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------------- Affine
def test_affine_by_hand():
    W = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    b = np.array([0.5, -0.5, 1.0])
    affine = Affine(W, b)
    x = np.array([[1.0, 2.0], [-1.0, 0.0]])
    out = affine.forward(x)
    assert out.tolist() == [[9.5, 11.5, 16.0], [-0.5, -2.5, -2.0]]
    dx = affine.backward(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]))
    assert dx.tolist() == [[1.0, 4.0], [5.0, 11.0]]
    assert affine.dW.tolist() == [[1.0, -1.0, -1.0], [2.0, 0.0, 0.0]]
    assert affine.db.tolist() == [1.0, 1.0, 1.0]
    assert affine.W is W and affine.b is b and affine.x.tolist() == x.tolist()


def test_affine_flattens_any_leading_shape_and_returns_dx_in_it():
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(12, 4)), rng.normal(size=4)
    x = rng.normal(size=(5, 2, 3, 2))  # like a batch of images: (N, C, H, W)
    affine = Affine(W, b)
    out = affine.forward(x)
    assert out.shape == (5, 4) and np.allclose(out, x.reshape(5, 12) @ W + b)
    dx = affine.backward(np.ones((5, 4)))
    assert dx.shape == x.shape and affine.dW.shape == W.shape and affine.db.shape == b.shape
    one = Affine(W, b)
    single = one.forward(x[0].reshape(-1))  # one sample, 1-D
    assert single.shape == (4,) and np.allclose(single, out[0])
    assert one.backward(np.ones(4)).shape == (12,)


def _object_array(a):
    return np.vectorize(lambda v: Value(float(v)), otypes=[object])(a)


def _grads(a):
    return np.vectorize(lambda v: float(v.grad), otypes=[float])(a)


@settings(derandomize=True, database=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2 ** 32 - 1))
def test_affine_gradients_match_numerical_and_engine(n, d_in, d_out, seed):
    rng = np.random.default_rng(seed)
    W, b = rng.normal(size=(d_in, d_out)), rng.normal(size=d_out)
    x, g = rng.normal(size=(n, d_in)), rng.normal(size=(n, d_out))
    affine = Affine(W, b)
    affine.forward(x)
    dx = affine.backward(g)

    def weighted(W_, b_, x_):
        return float(np.sum(Affine(W_, b_).forward(x_) * g))

    assert np.allclose(affine.dW, numerical_gradient(lambda W_: weighted(W_, b, x), W), atol=1e-7)
    assert np.allclose(affine.db, numerical_gradient(lambda b_: weighted(W, b_, x), b), atol=1e-7)
    assert np.allclose(dx, numerical_gradient(lambda x_: weighted(W, b, x_), x), atol=1e-7)
    # The engine, on the same numbers built as Values.
    Wv, bv, xv = _object_array(W), _object_array(b), _object_array(x)
    total = np.sum((xv @ Wv + bv) * g)
    total.backward()
    assert np.allclose(affine.dW, _grads(Wv), rtol=1e-12, atol=1e-12)
    assert np.allclose(affine.db, _grads(bv), rtol=1e-12, atol=1e-12)
    assert np.allclose(dx, _grads(xv), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------- SoftmaxWithLoss
def test_softmax_with_loss_by_hand():
    x = np.array([[0.3, 2.9, 4.0], [1.0, 1.0, 1.0]])
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, np.array([2, 0]))
    y = softmax(x)
    assert np.allclose(y.sum(axis=1), 1) and np.allclose(y[1], 1 / 3)
    expected = -(math.log(y[0, 2] + 1e-7) + math.log(1 / 3 + 1e-7)) / 2
    assert math.isclose(loss, expected, rel_tol=1e-14) and layer.loss == loss
    dx = layer.backward()
    t = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    assert np.array_equal(dx, (y - t) / 2) and np.array_equal(layer.t, t)
    assert np.array_equal(layer.backward(3.0), 3.0 * (y - t) / 2)
    # One-hot targets give the same loss and gradient as labels.
    other = SoftmaxWithLoss()
    assert other.forward(x, t) == loss and np.array_equal(other.backward(), dx)
    # One row: a label or a one-hot row, and dx has the row's shape; batch size is 1.
    single = SoftmaxWithLoss()
    single_loss = single.forward(x[0], 2)
    assert math.isclose(single_loss, -math.log(y[0, 2] + 1e-7)) and single.backward().shape == (3,)
    assert np.array_equal(single.backward(), y[0] - t[0])
    assert SoftmaxWithLoss().forward(x[0], t[0]) == single_loss
    assert math.isclose(cross_entropy_error(y, [2, 0]), loss, rel_tol=1e-14)


def test_softmax_is_finite_for_huge_scores():
    y = softmax(np.array([1000.0, 0.0, -1000.0]))
    assert y.tolist() == [1.0, 0.0, 0.0]
    loss = SoftmaxWithLoss().forward(np.array([[1000.0, -1000.0]]), [1])
    assert math.isclose(loss, -math.log(1e-7))


@settings(derandomize=True, database=None)
@given(st.integers(1, 4), st.integers(2, 4), st.integers(0, 2 ** 32 - 1))
def test_softmax_with_loss_matches_numerical_and_engine(n, c, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=2.0, size=(n, c))
    labels = rng.integers(0, c, size=n)
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, labels)
    dx = layer.backward()
    # Numerical gradient of the book's loss, which has 1e-7 inside the log: its exact derivative is
    # (y - t)/N scaled row by row by y_c / (y_c + 1e-7), y_c the probability of the right class.
    numeric = numerical_gradient(lambda x_: SoftmaxWithLoss().forward(x_, labels), x)
    y_c = layer.y[np.arange(n), labels]
    assert np.allclose(dx * (y_c / (y_c + 1e-7))[:, None], numeric, rtol=1e-6, atol=1e-9)
    assert np.all(np.abs(dx - numeric) <= np.abs(dx) * (1e-7 / y_c)[:, None] + 1e-9)
    # Engine: the same loss (softmax, then -log(y + 1e-7), averaged), and the gradient of the exact
    # cross-entropy (log-softmax, no 1e-7) is (y - t)/N.
    rows = [[Value(float(v)) for v in row] for row in x]
    engine_loss = sum(F.cross_entropy_from_probs(F.softmax(r), int(t)) for r, t in zip(rows, labels)) * (1.0 / n)
    assert math.isclose(engine_loss.data, loss, rel_tol=1e-12)
    exact = F.cross_entropy(rows, [int(t) for t in labels])
    exact.backward()
    assert np.allclose(dx, [[v.grad for v in r] for r in rows], rtol=1e-12, atol=1e-14)


# ------------------------------------------------------- a two-layer network
def test_two_layer_network_trained_with_hand_written_backward_learns_the_moons():
    X, y = datasets.make_moons(100, noise=0.1, seed=0)
    labels = y.astype(int)
    rng = np.random.default_rng(0)
    W1, b1 = rng.normal(scale=1.0, size=(2, 16)), np.zeros(16)
    W2, b2 = rng.normal(scale=0.5, size=(16, 2)), np.zeros(2)
    affine1, relu, affine2, last = Affine(W1, b1), Relu(), Affine(W2, b2), SoftmaxWithLoss()
    losses = []
    for _ in range(300):
        losses.append(last.forward(affine2.forward(relu.forward(affine1.forward(X))), labels))
        affine1.backward(relu.backward(affine2.backward(last.backward())))
        for param, grad in ((W1, affine1.dW), (b1, affine1.db), (W2, affine2.dW), (b2, affine2.db)):
            param -= 0.5 * grad  # in place: the layers hold these very arrays
    scores = affine2.forward(relu.forward(affine1.forward(X)))
    accuracy = float(np.mean(scores.argmax(axis=1) == labels))
    assert losses[-1] < losses[0] / 4 and accuracy >= 0.95
