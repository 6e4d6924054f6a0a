"""The reference numbers of 《深度学习入门》 (apple tax, softmax, losses, numerical gradient) and of the
2-2-1 backprop worked example, computed with the engine."""

import math
from fractions import Fraction

import pytest

from microgradcn import Value, numerical_gradient


def apple_tax(tax):
    price, count, tax = Value(100, "苹果单价"), Value(2, "苹果个数"), Value(tax, "消费税")
    total = price * count
    pay = total * tax
    pay.backward()
    return pay, price, count, tax, total


def test_apple_tax_floats():
    pay, price, count, tax, total = apple_tax(1.1)
    assert pay.data == pytest.approx(220)
    assert price.grad == pytest.approx(2.2)
    assert count.grad == pytest.approx(110)
    assert tax.grad == 200
    assert total.data == 200 and total.grad == pytest.approx(1.1)


def test_apple_tax_exact():
    pay, price, count, tax, total = apple_tax(Fraction(11, 10))
    assert pay.data == 220 and isinstance(pay.data, Fraction)
    assert price.grad == Fraction(11, 5) and count.grad == 110 and tax.grad == 200
    assert total.grad == Fraction(11, 10)


@pytest.mark.parametrize("x, y", [(1.0, 2.0), (-3.0, 0.5), (Fraction(1, 3), Fraction(2, 5))])
def test_chain_rule_square_of_a_sum(x, y):
    vx, vy = Value(x), Value(y)
    z = (vx + vy) ** 2
    z.backward()
    assert vx.grad == vy.grad == 2 * (x + y)


def network_2_2_1_forward(w, x1=1.0, x2=0.5, t=4.0):
    h1 = w[0] * x1 + w[1] * x2
    h2 = w[2] * x1 + w[3] * x2
    y = w[4] * h1 + w[5] * h2
    error = 0.5 * (t - y) ** 2
    return h1, h2, y, error


def test_network_2_2_1_worked_example_forward_backward_and_one_step():
    w = [Value(v, f"w{i + 1}") for i, v in enumerate([0.5, 1.5, 2.3, 3, 1, 1])]
    h1, h2, y, error = network_2_2_1_forward(w)
    assert (h1.data, h2.data) == pytest.approx((1.25, 3.8))
    assert y.data == pytest.approx(5.05) and error.data == pytest.approx(0.55125)
    error.backward()
    assert [wi.grad for wi in w] == pytest.approx([1.05, 0.525, 1.05, 0.525, 1.3125, 3.99])
    for wi in w:
        wi.data -= 0.1 * wi.grad
    assert [wi.data for wi in w] == pytest.approx([0.395, 1.4475, 2.195, 2.9475, 0.86875, 0.601])
    _, _, y2, error2 = network_2_2_1_forward(w)
    assert round(y2.data, 4) == 3.1768 and round(error2.data, 4) == 0.3388


def softmax(xs):
    top = max(xs)
    exps = [(x - top).exp() for x in xs]
    total = sum(exps)
    return [e / total for e in exps]


def test_book_softmax():
    probs = softmax([Value(0.3), Value(2.9), Value(4.0)])
    assert [p.data for p in probs] == pytest.approx([0.01821127, 0.24519181, 0.73659691], abs=1e-8)
    assert sum(p.data for p in probs) == pytest.approx(1.0)


T = [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
Y_GOOD = [0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]
Y_BAD = [0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0]


@pytest.mark.parametrize("y, expected", [(Y_GOOD, 0.0975), (Y_BAD, 0.5975)])
def test_book_half_sum_of_squares(y, expected):
    loss = 0.5 * sum((Value(yi) - ti) ** 2 for yi, ti in zip(y, T))
    assert loss.data == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("y, expected", [(Y_GOOD, 0.510825457), (Y_BAD, 2.302584093)])
def test_book_cross_entropy(y, expected):
    ys = [Value(v) for v in y]
    loss = -sum(ti * (yi + 1e-7).log() for yi, ti in zip(ys, T))
    assert loss.data == pytest.approx(expected, abs=1e-9)
    loss.backward()  # d/dy_k = -t_k / (y_k + 1e-7)
    assert ys[2].grad == pytest.approx(-1 / (y[2] + 1e-7))
    assert ys[0].grad == 0


def test_book_numerical_gradient_at_3_4():
    g = numerical_gradient(lambda p: Value(p[0]) ** 2 + Value(p[1]) ** 2, [3.0, 4.0])
    assert g == pytest.approx([6.0, 8.0], abs=1e-9)


def test_book_gradient_descent_reaches_the_origin():
    x = [-3.0, 4.0]
    for _ in range(100):
        x0, x1 = Value(x[0]), Value(x[1])
        f = x0 ** 2 + x1 ** 2
        f.backward()
        x = [x0.data - 0.1 * x0.grad, x1.data - 0.1 * x1.grad]
    assert math.hypot(*x) < 1e-8
