"""Conv2d, MaxPool2d, AvgPool2d, Flatten and LayerNorm: hand-worked cases, numerical gradients, PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from microgradcn import numerical_gradient, topological_order
from microgradcn.nn import AvgPool2d, Conv2d, Flatten, LayerNorm, Linear, MaxPool2d, ReLU, Sequential, as_values
from microgradcn.nn._nested import flatten, shape


def _set(values, numbers):
    for v, x in zip(flatten(values), flatten(numbers)):
        v.data = float(x)


def _data(nested):
    if isinstance(nested, list):
        return [_data(x) for x in nested]
    return nested.data


def _grads(nested):
    if isinstance(nested, list):
        return [_grads(x) for x in nested]
    return nested.grad


IMAGE = [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]]


# ---------------------------------------------------------------- hand-worked
def test_conv_3x3_input_2x2_kernel_worked_by_hand():
    conv = Conv2d(1, 1, kernel_size=2)
    _set(conv.weight, [1.0, 2.0, 3.0, 4.0])  # kernel [[1, 2], [3, 4]]
    conv.bias[0].data = 0.5
    x = as_values(IMAGE)
    out = conv(x)
    # out[i][j] = 0.5 + 1·x[i][j] + 2·x[i][j+1] + 3·x[i+1][j] + 4·x[i+1][j+1]
    #   (0,0): 0.5 + 1 + 4 + 12 + 20 = 37.5     (0,1): 0.5 + 2 + 6 + 15 + 24 = 47.5
    #   (1,0): 0.5 + 4 + 10 + 21 + 32 = 67.5    (1,1): 0.5 + 5 + 12 + 24 + 36 = 77.5
    assert _data(out) == [[[37.5, 47.5], [67.5, 77.5]]]
    total = sum(flatten(out))
    total.backward()
    # d(sum)/d kernel[u][v] = sum of the pixels it touched: its 2x2 window of positions
    assert _grads(conv.weight) == [[[[1 + 2 + 4 + 5, 2 + 3 + 5 + 6], [4 + 5 + 7 + 8, 5 + 6 + 8 + 9]]]]
    assert conv.bias[0].grad == 4  # one per output pixel
    # d(sum)/d pixel = sum of the kernel weights that covered it
    assert _grads(x) == [[[1, 1 + 2, 2], [1 + 3, 1 + 2 + 3 + 4, 2 + 4], [3, 3 + 4, 4]]]


def test_conv_one_output_pixel_is_bias_plus_products_in_window_order():
    conv = Conv2d(1, 1, kernel_size=2)
    out = conv(IMAGE)
    pixel = out[0][0][0]
    # b + w00·x + w01·x + w10·x + w11·x: 4 multiplications and 4 additions on top of 9 pixels, 5 parameters
    ops = [v.op for v in topological_order(pixel) if v.op]
    assert sorted(ops) == ["*"] * 4 + ["+"] * 4
    assert pixel.parents[0].parents[0].parents[0].parents[0] is conv.bias[0]


def test_conv_padding_stride_and_channels_shapes():
    conv = Conv2d(2, 3, kernel_size=3, stride=2, padding=1, seed=0)
    out = conv(np.zeros((2, 5, 5)))
    assert shape(out) == (3, 3, 3)
    assert conv.output_size(5, 5) == (3, 3)
    assert shape(conv.weight) == (3, 2, 3, 3) and len(conv.bias) == 3
    assert repr(conv) == "Conv2d(2, 3, kernel_size=3, stride=2, padding=1)"
    # a corner output reads only the 2x2 real pixels of its window (padding terms are left out)
    corner = out[0][0][0]
    assert sum(1 for v in topological_order(corner) if v.op == "*") == 2 * 4


def test_maxpool_and_avgpool_worked_by_hand():
    image = [[[1.0, 9.0, 2.0], [3.0, 4.0, 8.0], [7.0, 5.0, 6.0]]]
    x = as_values(image)
    out = MaxPool2d(2, stride=1)(x)
    # windows: {1,9,3,4} -> 9, {9,2,4,8} -> 9, {3,4,7,5} -> 7, {4,8,5,6} -> 8
    assert _data(out) == [[[9.0, 9.0], [7.0, 8.0]]]
    sum(flatten(out)).backward()
    # the 9 wins twice, the 7 and the 8 once; the losers get nothing
    assert _grads(x) == [[[0, 2, 0], [0, 0, 1], [1, 0, 0]]]
    assert [v.op for v in topological_order(out[0][0][0]) if v.op] == ["max"] * 3  # built from max ops

    x = as_values(image)
    out = AvgPool2d(2, stride=1)(x)
    assert _data(out) == [[[17 / 4, 23 / 4], [19 / 4, 23 / 4]]]
    sum(flatten(out)).backward()
    # each pixel counts once per window it is in, times 1/4
    assert _grads(x) == [[[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]]]


def test_maxpool_on_a_tie_sends_the_gradient_to_the_first_pixel():
    x = as_values([[[3.0, 3.0], [1.0, 3.0]]])
    (m,), = MaxPool2d(2)(x)[0]
    m.backward()
    assert m.data == 3.0 and _grads(x) == [[[1, 0], [0, 0]]]


def test_pool_defaults_stride_to_kernel_and_flatten_is_row_major():
    x = np.arange(32.0).reshape(2, 4, 4)
    out = MaxPool2d(2)(x)
    assert _data(out) == [[[5.0, 7.0], [13.0, 15.0]], [[21.0, 23.0], [29.0, 31.0]]]
    assert _data(Flatten()(out)) == [5.0, 7.0, 13.0, 15.0, 21.0, 23.0, 29.0, 31.0]
    assert repr(MaxPool2d(2)) == "MaxPool2d(kernel_size=2)"
    assert repr(AvgPool2d(3, 1)) == "AvgPool2d(kernel_size=3, stride=1)"


def test_layernorm_worked_by_hand():
    ln = LayerNorm(3)
    x = as_values([1.0, 2.0, 3.0])
    y = ln(x)
    # mean 2, biased variance (1 + 0 + 1) / 3 = 2/3, y = (x - 2) / sqrt(2/3 + eps)
    s = math.sqrt(2 / 3 + 1e-5)
    assert _data(y) == pytest.approx([-1 / s, 0.0, 1 / s], abs=1e-15)
    y[0].backward()
    # dy_0/dx_j = (δ_0j - 1/3)/σ - c_0 c_j / (3 σ³), with c = x - mean = (-1, 0, 1)
    expected = [(1 - 1 / 3) / s - 1 / (3 * s**3), -1 / 3 / s, -1 / 3 / s + 1 / (3 * s**3)]
    assert _grads(x) == pytest.approx(expected, rel=1e-12)
    assert ln.weight[0].grad == pytest.approx(-1 / s) and ln.bias[0].grad == 1
    assert ln.weight[1].grad == 0 and ln.bias[1].grad == 0


def test_layernorm_rows_no_affine_and_errors():
    ln = LayerNorm((2,), elementwise_affine=False)
    assert ln.parameters() == []
    out = ln([[1.0, 3.0], [5.0, 5.0]])
    assert _data(out)[0] == pytest.approx([-1, 1], abs=1e-5) and _data(out)[1] == [0.0, 0.0]
    with pytest.raises(ValueError, match="expects 2 features, got 3"):
        ln([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="normalized_shape must be a positive int"):
        LayerNorm(0)
    with pytest.raises(ValueError, match="one axis"):
        LayerNorm((2, 3))
    with pytest.raises(ValueError, match="eps must be a positive number"):
        LayerNorm(3, eps=0)


def test_conv_and_pool_errors_name_the_problem():
    conv = Conv2d(2, 1, 3)
    with pytest.raises(ValueError, match="expects 2 input channels, got 1"):
        conv([[[0.0] * 3] * 3])
    with pytest.raises(ValueError, match="smaller than the kernel size 3"):
        conv(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="image \\[channel\\]\\[row\\]\\[col\\]"):
        conv([1.0, 2.0])
    with pytest.raises(ValueError, match="rows of"):
        conv([[[0.0] * 3] * 3, [[0.0] * 2] * 3])
    with pytest.raises(ValueError, match="kernel_size must be an int >= 1"):
        Conv2d(1, 1, 0)
    with pytest.raises(ValueError, match="padding must be an int >= 0"):
        Conv2d(1, 1, 2, padding=-1)
    with pytest.raises(ValueError, match="out_channels must be a positive int"):
        Conv2d(1, 0, 2)
    with pytest.raises(TypeError, match="expected a number or a Value, got str"):
        conv([[["a"] * 3] * 3] * 2)
    with pytest.raises(ValueError, match="stride must be"):
        MaxPool2d(2, stride=0)


# ------------------------------------------------------- numerical gradients
def _check_gradients(layer, x_numbers, weights, tol=1e-6):
    """d(Σ weights·layer(x))/d(pixels and parameters) against central differences."""
    params = layer.parameters()
    x = as_values(x_numbers)
    out = flatten(layer(x))
    loss = sum(w * o for w, o in zip(weights, out))
    for p in params:
        p.grad = 0
    loss.backward()
    analytic = [v.grad for v in flatten(x)] + [p.grad for p in params]
    pixels = len(flatten(x_numbers))
    point = [float(v) for v in flatten(x_numbers)] + [p.data for p in params]
    template = np.asarray(x_numbers, dtype=float)

    def f(numbers):
        for p, value in zip(params, numbers[pixels:]):
            p.data = value
        image = np.asarray(numbers[:pixels]).reshape(template.shape)
        return sum(w * o.data for w, o in zip(weights, flatten(layer(image))))

    numeric = numerical_gradient(f, point, h=1e-5)
    for p, value in zip(params, point[pixels:]):
        p.data = value
    assert analytic == pytest.approx(numeric, abs=tol, rel=tol)


finite = st.floats(-2.0, 2.0, allow_nan=False)


@st.composite
def conv_cases(draw):
    cin, cout = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    k, stride, pad = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(0, 1))
    h, w = draw(st.integers(max(1, k - 2 * pad), 4)), draw(st.integers(max(1, k - 2 * pad), 4))
    image = draw(st.lists(finite, min_size=cin * h * w, max_size=cin * h * w))
    seed = draw(st.integers(0, 2**16))
    bias = draw(st.booleans())
    return cin, cout, k, stride, pad, bias, np.array(image).reshape(cin, h, w), seed


# Numerical differentiation of a convolution costs 2 forward passes per pixel and per
# parameter (up to ~100 of each here): 500 examples would take about 20 s, so fewer.
@settings(max_examples=100)
@given(conv_cases())
def test_conv_gradients_match_numerical_differentiation(case):
    cin, cout, k, stride, pad, bias, image, seed = case
    conv = Conv2d(cin, cout, k, stride=stride, padding=pad, bias=bias, seed=seed)
    n_out = len(flatten(conv(image)))
    weights = np.random.default_rng(seed).uniform(-1, 1, n_out).tolist()
    _check_gradients(conv, image, weights)


@st.composite
def pool_cases(draw):
    k, stride = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    c, h, w = draw(st.integers(1, 2)), draw(st.integers(k, 5)), draw(st.integers(k, 5))
    # distinct pixels at least 0.01 apart: no ties, so max is differentiable at the point
    pixels = draw(st.lists(st.integers(-300, 300), min_size=c * h * w, max_size=c * h * w, unique=True))
    return k, stride, np.array(pixels, dtype=float).reshape(c, h, w) / 100


@given(pool_cases(), st.sampled_from([MaxPool2d, AvgPool2d]))
def test_pool_gradients_match_numerical_differentiation(case, cls):
    k, stride, image = case
    pool = cls(k, stride=stride)
    n_out = len(flatten(pool(image)))
    weights = [(-1) ** i * (1 + i / n_out) for i in range(n_out)]
    _check_gradients(pool, image, weights)


@given(st.lists(finite, min_size=2, max_size=6), st.integers(0, 2**16))
def test_layernorm_gradients_match_numerical_differentiation(xs, seed):
    assume(np.var(xs) > 1e-2)  # a near-constant row makes 1/σ huge and the differences inaccurate
    ln = LayerNorm(len(xs))
    rng = np.random.default_rng(seed)
    _set(ln.weight, rng.uniform(0.5, 2, len(xs)))
    _set(ln.bias, rng.uniform(-1, 1, len(xs)))
    _check_gradients(ln, np.array(xs), rng.uniform(-1, 1, len(xs)).tolist(), tol=1e-5)


# --------------------------------------------------------------------- torch
torch_cases = [
    # (in, out, kernel, stride, padding, bias, height, width)
    (1, 1, 2, 1, 0, True, 3, 3),
    (1, 4, 3, 1, 1, True, 8, 8),
    (2, 3, 3, 2, 1, False, 7, 6),
    (3, 2, (2, 3), (1, 2), (0, 1), True, 5, 6),
]


@pytest.mark.parametrize("cin,cout,k,stride,pad,bias,h,w", torch_cases)
def test_conv_values_and_gradients_equal_torch(cin, cout, k, stride, pad, bias, h, w):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(cin * 100 + cout)
    conv = Conv2d(cin, cout, k, stride=stride, padding=pad, bias=bias, seed=1)
    image = rng.normal(size=(cin, h, w))
    x = as_values(image)
    out = conv(x)
    weights = rng.normal(size=shape(out))
    sum(wt * o for wt, o in zip(weights.reshape(-1).tolist(), flatten(out))).backward()

    tx = torch.tensor(image[None], dtype=torch.float64, requires_grad=True)
    tw = torch.tensor(_data(conv.weight), dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(_data(conv.bias), dtype=torch.float64, requires_grad=True) if bias else None
    tout = torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=pad)
    (tout * torch.tensor(weights[None])).sum().backward()
    np.testing.assert_allclose(np.array(_data(out)), tout.detach().numpy()[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.array(_grads(x)), tx.grad.numpy()[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.array(_grads(conv.weight)), tw.grad.numpy(), rtol=0, atol=1e-12)
    if bias:
        np.testing.assert_allclose(np.array(_grads(conv.bias)), tb.grad.numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("k,stride", [(2, None), (2, 1), (3, 2)])
def test_pool_values_and_gradients_equal_torch(kind, k, stride):
    torch = pytest.importorskip("torch")
    image = np.random.default_rng(k * 10 + (stride or 0)).normal(size=(2, 7, 6))
    pool = (MaxPool2d if kind == "max" else AvgPool2d)(k, stride=stride)
    x = as_values(image)
    out = pool(x)
    weights = np.random.default_rng(5).normal(size=shape(out))
    sum(wt * o for wt, o in zip(weights.reshape(-1).tolist(), flatten(out))).backward()
    tx = torch.tensor(image[None], dtype=torch.float64, requires_grad=True)
    f = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
    tout = f(tx, k, stride=stride)
    (tout * torch.tensor(weights[None])).sum().backward()
    np.testing.assert_allclose(np.array(_data(out)), tout.detach().numpy()[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.array(_grads(x)), tx.grad.numpy()[0], rtol=0, atol=1e-12)


def test_layernorm_values_and_gradients_equal_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(3, 5))
    ln = LayerNorm(5, eps=1e-5)
    _set(ln.weight, rng.normal(size=5))
    _set(ln.bias, rng.normal(size=5))
    x = as_values(rows)
    out = ln(x)
    weights = rng.normal(size=(3, 5))
    sum(wt * o for wt, o in zip(weights.reshape(-1).tolist(), flatten(out))).backward()
    tln = torch.nn.LayerNorm(5, eps=1e-5, dtype=torch.float64)
    with torch.no_grad():
        tln.weight.copy_(torch.tensor(_data(ln.weight), dtype=torch.float64))
        tln.bias.copy_(torch.tensor(_data(ln.bias), dtype=torch.float64))
    tx = torch.tensor(rows, requires_grad=True)
    (tln(tx) * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(np.array(_data(out)), tln(tx).detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.array(_grads(x)), tx.grad.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.array(_grads(ln.weight)), tln.weight.grad.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.array(_grads(ln.bias)), tln.bias.grad.numpy(), rtol=0, atol=1e-12)


def test_conv_default_init_is_pytorchs_fan_in_uniform():
    conv = Conv2d(2, 16, 3, seed=0)
    bound = 1 / math.sqrt(2 * 3 * 3)
    numbers = [p.data for p in conv.parameters()]
    assert max(abs(v) for v in numbers) <= bound and max(abs(v) for v in numbers) > 0.9 * bound
    assert [p.data for p in Conv2d(2, 16, 3, seed=0).parameters()] == numbers  # seeded


# ------------------------------------------------------------- Module parts
def test_cnn_module_names_modes_and_save_load(tmp_path):
    def build(seed):
        return Sequential(
            Conv2d(1, 2, 2, seed=seed), ReLU(), MaxPool2d(2), Flatten(), LayerNorm(2), Linear(2, 3, seed=seed)
        )

    model = build(0)
    names = [n for n, _ in model.named_parameters()]
    assert names[:2] == ["layers.0.weight.0.0.0.0", "layers.0.weight.0.0.0.1"]
    assert "layers.0.bias.1" in names and "layers.4.weight.1" in names and names[-1] == "layers.5.bias.2"
    assert len(names) == 2 * 4 + 2 + 2 + 2 + 3 * 2 + 3
    image = np.random.default_rng(0).random((1, 4, 4))
    before = _data(model(image))
    model.eval()
    assert all(not m.training for m in model.modules())
    model.train()
    path = tmp_path / "cnn.json"
    model.save(path)
    other = build(1)
    assert _data(other(image)) != before
    other.load(path)
    assert _data(other(image)) == before
    assert other.state_dict() == model.state_dict()


def test_value_inputs_pass_through_conv_and_pools_unchanged():
    x = as_values(IMAGE)
    conv = Conv2d(1, 1, 2, seed=0)
    out = conv(x)
    leaves = {id(v) for v in topological_order(out[0][0][0]) if v.is_leaf}
    assert id(x[0][0][0]) in leaves  # the same leaf, not a copy
