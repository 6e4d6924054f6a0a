"""The engine: construction, every op (value and derivative), backward semantics, grad()."""

import math
import signal
import time
from fractions import Fraction

import numpy as np
import pytest

from microgradcn import Value, grad, is_grad_enabled, no_grad, topological_order


# ------------------------------------------------------------------ construction
@pytest.mark.parametrize(
    "data, expected_type",
    [(3, int), (2.5, float), (Fraction(11, 10), Fraction), (np.float64(1.5), float),
     (np.float32(0.5), float), (np.int64(7), int)],
)
def test_value_accepts_real_numbers(data, expected_type):
    v = Value(data)
    assert v.data == data
    assert type(v.data) is expected_type
    assert v.grad == 0 and v.label == "" and v.is_leaf and v.parents == () and v.op == ""


@pytest.mark.parametrize("bad", ["1.0", None, 1 + 2j, True, [1.0], np.bool_(True), np.array([1.0])])
def test_value_rejects_non_real_data_naming_the_type(bad):
    with pytest.raises(TypeError, match=type(bad).__name__):
        Value(bad)


def test_value_rejects_a_value_as_data():
    with pytest.raises(TypeError, match="got Value"):
        Value(Value(1.0))


def test_label_must_be_text():
    with pytest.raises(TypeError, match="label must be a str, got int"):
        Value(1.0, label=3)


def test_repr_shows_label_data_and_grad():
    v = Value(Fraction(11, 10), label="消费税")
    assert repr(v) == "Value('消费税', data=11/10, grad=0)"
    assert repr(Value(2.5)) == "Value(data=2.5, grad=0)"


def test_values_are_hashable_by_identity_and_ordered_by_data():
    a, b = Value(1.0), Value(1.0)
    assert a != b and a == a and len({a, b, a}) == 2
    assert a <= b and a >= b and not a < b and Value(2) > a and a < 2 and 0 < a


def test_float_conversion():
    assert float(Value(Fraction(1, 4))) == 0.25


# ----------------------------------------------------------------- graph shape
def test_parents_are_kept_in_order_with_duplicates():
    x, y = Value(2.0, "x"), Value(3.0, "y")
    assert (x * x).parents == (x, x)
    assert (x - y).parents == (x, y)
    assert (y - x).parents == (y, x)
    z = 2 + x
    assert len(z.parents) == 2 and z.parents[0].data == 2 and z.parents[1] is x
    assert x.tanh().parents == (x,)


@pytest.mark.parametrize(
    "build, op",
    [(lambda x: x + 1, "+"), (lambda x: 1 - x, "-"), (lambda x: x * x, "*"), (lambda x: x / 2, "/"),
     (lambda x: x ** 2, "**2"), (lambda x: x ** Value(2.0), "**"), (lambda x: 2 ** x, "2**"),
     (lambda x: -x, "neg"), (abs, "abs"), (lambda x: x.exp(), "exp"), (lambda x: x.log(), "log"),
     (lambda x: x.sqrt(), "sqrt"), (lambda x: x.tanh(), "tanh"), (lambda x: x.sigmoid(), "sigmoid"),
     (lambda x: x.relu(), "relu"), (lambda x: x.leaky_relu(0.1), "leaky_relu(0.1)"),
     (lambda x: x.prelu(Value(0.2)), "prelu"), (lambda x: x.elu(), "elu(1.0)"),
     (lambda x: x.softplus(), "softplus"), (lambda x: x.step(), "step")],
)
def test_op_names(build, op):
    assert build(Value(1.5)).op == op


def test_unary_plus_is_the_same_value():
    x = Value(1.0)
    assert +x is x


def test_unsupported_operand_types_raise_type_error():
    x = Value(1.0)
    for bad in ("a", None, [1], 1j):
        with pytest.raises(TypeError):
            x + bad
        with pytest.raises(TypeError):
            bad * x
        with pytest.raises(TypeError):
            x ** bad


# --------------------------------------------------- every op: value and derivative
def _sig(x):
    return 1 / (1 + math.exp(-x))


# (name, build from a Value, float function, derivative), each checked at several points.
OPS = [
    ("add const", lambda v: v + 3, lambda x: x + 3, lambda x: 1),
    ("radd const", lambda v: 3 + v, lambda x: 3 + x, lambda x: 1),
    ("sub const", lambda v: v - 3, lambda x: x - 3, lambda x: 1),
    ("rsub const", lambda v: 3 - v, lambda x: 3 - x, lambda x: -1),
    ("mul const", lambda v: v * 3, lambda x: 3 * x, lambda x: 3),
    ("rmul const", lambda v: 3 * v, lambda x: 3 * x, lambda x: 3),
    ("div const", lambda v: v / 4, lambda x: x / 4, lambda x: 0.25),
    ("rdiv const", lambda v: 4 / v, lambda x: 4 / x, lambda x: -4 / x ** 2),
    ("square", lambda v: v * v, lambda x: x * x, lambda x: 2 * x),
    ("pow 3", lambda v: v ** 3, lambda x: x ** 3, lambda x: 3 * x ** 2),
    ("pow -2", lambda v: v ** -2, lambda x: x ** -2, lambda x: -2 * x ** -3),
    ("pow 0", lambda v: v ** 0, lambda x: 1, lambda x: 0),
    ("rpow", lambda v: 2 ** v, lambda x: 2 ** x, lambda x: 2 ** x * math.log(2)),
    ("neg", lambda v: -v, lambda x: -x, lambda x: -1),
    ("abs", abs, abs, lambda x: math.copysign(1, x)),
    ("exp", lambda v: v.exp(), math.exp, math.exp),
    ("tanh", lambda v: v.tanh(), math.tanh, lambda x: 1 - math.tanh(x) ** 2),
    ("sigmoid", lambda v: v.sigmoid(), _sig, lambda x: _sig(x) * (1 - _sig(x))),
    ("relu", lambda v: v.relu(), lambda x: max(x, 0), lambda x: 1 if x > 0 else 0),
    ("leaky_relu", lambda v: v.leaky_relu(), lambda x: x if x > 0 else 0.01 * x, lambda x: 1 if x > 0 else 0.01),
    ("elu", lambda v: v.elu(2.0), lambda x: x if x > 0 else 2 * (math.exp(x) - 1),
     lambda x: 1 if x > 0 else 2 * math.exp(x)),
    ("softplus", lambda v: v.softplus(), lambda x: math.log(1 + math.exp(x)), _sig),
    ("step", lambda v: v.step(), lambda x: 1 if x > 0 else 0, lambda x: 0),
]


@pytest.mark.parametrize("name, build, f, df", OPS, ids=[op[0] for op in OPS])
@pytest.mark.parametrize("x", [-2.5, -0.3, 0.7, 1.9])
def test_op_value_and_derivative_table(name, build, f, df, x):
    v = Value(x)
    out = build(v)
    out.backward()
    assert out.data == pytest.approx(f(x), rel=1e-12, abs=1e-15)
    assert v.grad == pytest.approx(df(x), rel=1e-12, abs=1e-15)


POSITIVE_OPS = [
    ("log", lambda v: v.log(), math.log, lambda x: 1 / x),
    ("sqrt", lambda v: v.sqrt(), math.sqrt, lambda x: 0.5 / math.sqrt(x)),
    ("pow 0.5", lambda v: v ** 0.5, math.sqrt, lambda x: 0.5 / math.sqrt(x)),
    ("pow -1.5", lambda v: v ** -1.5, lambda x: x ** -1.5, lambda x: -1.5 * x ** -2.5),
]


@pytest.mark.parametrize("name, build, f, df", POSITIVE_OPS, ids=[op[0] for op in POSITIVE_OPS])
@pytest.mark.parametrize("x", [0.2, 1.0, 3.7])
def test_positive_domain_op_value_and_derivative(name, build, f, df, x):
    v = Value(x)
    out = build(v)
    out.backward()
    assert out.data == pytest.approx(f(x), rel=1e-12)
    assert v.grad == pytest.approx(df(x), rel=1e-12)


BINARY = [
    ("add", lambda a, b: a + b, lambda x, y: (1, 1)),
    ("sub", lambda a, b: a - b, lambda x, y: (1, -1)),
    ("mul", lambda a, b: a * b, lambda x, y: (y, x)),
    ("div", lambda a, b: a / b, lambda x, y: (1 / y, -x / y ** 2)),
    ("pow", lambda a, b: a ** b, lambda x, y: (y * x ** (y - 1), x ** y * math.log(x))),
    ("prelu", lambda a, b: a.leaky_relu(b), lambda x, y: (1, 0) if x > 0 else (y, x)),
]


@pytest.mark.parametrize("name, build, d", BINARY, ids=[op[0] for op in BINARY])
@pytest.mark.parametrize("x, y", [(0.5, 1.5), (2.0, -0.75), (1.25, 3.0)])
def test_binary_op_derivatives(name, build, d, x, y):
    if name == "prelu":
        x = -x if y < 0 else x  # exercise both sides of the kink
    a, b = Value(x), Value(y)
    build(a, b).backward()
    da, db = d(x, y)
    assert a.grad == pytest.approx(da, rel=1e-12, abs=1e-15)
    assert b.grad == pytest.approx(db, rel=1e-12, abs=1e-15)


def test_relu_derivative_at_zero_is_zero():
    x = Value(0.0)
    x.relu().backward()
    assert x.grad == 0


def test_prelu_learns_its_slope():
    x, alpha = Value(-2.0), Value(0.25)
    y = x.prelu(alpha)
    y.backward()
    assert y.data == -0.5 and alpha.grad == -2.0 and x.grad == 0.25
    with pytest.raises(TypeError, match="prelu needs a Value alpha"):
        x.prelu(0.25)


# ------------------------------------------------------------ numerical care
def test_sigmoid_and_softplus_are_finite_at_extremes():
    assert Value(1000.0).sigmoid().data == 1.0
    assert Value(-1000.0).sigmoid().data == 0.0
    assert Value(1000.0).softplus().data == 1000.0
    assert Value(-1000.0).softplus().data == 0.0
    for x in (1000.0, -1000.0):
        v = Value(x)
        out = v.sigmoid() + v.softplus()
        out.backward()
        assert math.isfinite(v.grad)


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: Value(0.0).log(), ValueError, r"log\(0.0\)"),
        (lambda: Value(-2).log(), ValueError, r"log\(-2\)"),
        (lambda: Value(-1.0).sqrt(), ValueError, r"sqrt\(-1.0\)"),
        (lambda: Value(0) ** -1, ValueError, r"0 \*\* -1"),
        (lambda: Value(0.0) ** -0.5, ValueError, r"0.0 \*\* -0.5"),
        (lambda: Value(-8.0) ** (1 / 3), ValueError, r"-8.0 \*\* 0.333"),
        (lambda: Value(-2.0) ** Value(2.0), ValueError, r"x = -2.0"),
        (lambda: 0 ** Value(1.0), ValueError, "positive base"),
        (lambda: (-2) ** Value(1.0), ValueError, "got -2"),
        (lambda: Value(1000.0).exp(), OverflowError, r"exp\(1000.0\)"),
        (lambda: Value(10.0) ** 1000.0, OverflowError, r"10.0 \*\* 1000.0"),
        (lambda: Value(1.0) / 0, ZeroDivisionError, r"1.0 / 0"),
        (lambda: 3 / Value(0.0), ZeroDivisionError, r"3 / 0.0"),
        (lambda: Value(1.0).elu("a"), TypeError, "alpha"),
        (lambda: Value(1.0).leaky_relu(None), TypeError, "alpha"),
    ],
)
def test_domain_errors_name_the_op_and_value(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_backward_through_an_infinite_derivative_raises_clearly_and_recovers():
    a = Value(3.0, "a")
    u = a * a
    y = (u - 9).sqrt()  # sqrt at 0: its derivative is infinite
    with pytest.raises(ValueError, match="backward failed at 'sqrt' node with data 0.0"):
        y.backward()
    # The bookkeeping was reset: a later backward through the shared nodes is right.
    a.grad = 0
    z = u * 2
    z.backward()
    assert a.grad == 12.0


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs POSIX interval timers")
def test_an_interrupted_topological_order_leaves_no_stale_state():
    x = Value(1.0)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    start = time.perf_counter()
    topological_order(y)
    duration = time.perf_counter() - start

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        for fraction in (0.3, 0.6, 0.9):  # land inside counting, then inside ordering
            signal.setitimer(signal.ITIMER_REAL, duration * fraction)
            try:
                topological_order(y)
                signal.setitimer(signal.ITIMER_REAL, 0)
            except KeyboardInterrupt:
                pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    x.grad = 0
    y.backward()  # stale use counts would stop the chain rule early
    assert x.grad == 1.0


# ---------------------------------------------------------- backward semantics
def test_fan_out_sums_gradients():
    x = Value(3.0)
    y = x * x + x  # x used three times
    y.backward()
    assert x.grad == 7.0


def test_backward_twice_doubles_leaves_and_keeps_interior_latest():
    a, b = Value(2.0), Value(5.0)
    c = a * b
    d = c + a
    d.backward()
    assert (a.grad, b.grad, c.grad, d.grad) == (6.0, 2.0, 1, 1)
    d.backward()
    assert (a.grad, b.grad) == (12.0, 4.0)  # twice, not three times
    assert (c.grad, d.grad) == (1, 1)


def test_backward_of_a_leaf_seeds_one():
    x = Value(3.0)
    x.backward()
    assert x.grad == 1


def test_zero_grad_clears_the_whole_graph():
    a = Value(2.0)
    c = a * a
    c.backward()
    c.zero_grad()
    assert a.grad == 0 and c.grad == 0


def test_topological_order_puts_users_before_what_they_use():
    x, y = Value(1.0, "x"), Value(2.0, "y")
    s = x + y
    out = s * s + x
    order = topological_order(out)
    assert order[0] is out
    assert len(order) == len({id(n) for n in order}) == 5
    position = {id(n): i for i, n in enumerate(order)}
    for node in order:
        for parent in node.parents:
            assert position[id(node)] < position[id(parent)]


# ---------------------------------------------------------------- no_grad / grad
def test_no_grad_records_no_parents_and_restores():
    x = Value(2.0)
    with no_grad():
        assert not is_grad_enabled()
        y = x * 3
        with no_grad():
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()
    assert y.is_leaf and y.data == 6.0


def test_no_grad_restores_after_an_exception_and_works_as_decorator():
    with pytest.raises(RuntimeError):
        with no_grad():
            raise RuntimeError("boom")
    assert is_grad_enabled()

    @no_grad()
    def update(v):
        return v * 2

    assert update(Value(1.0)).is_leaf and is_grad_enabled()


def test_grad_does_not_touch_dot_grad():
    x, y = Value(2.0), Value(3.0)
    f = x * y + x
    gx, gy = grad(f, [x, y])
    assert (gx, gy) == (4.0, 2.0)
    assert x.grad == 0 and y.grad == 0 and f.grad == 0


def test_grad_of_an_unused_input_is_zero():
    x, y = Value(2.0), Value(3.0)
    assert grad(x * x, [y]) == [0]


def test_grad_rejects_non_values():
    x = Value(2.0)
    with pytest.raises(TypeError, match="needs a Value output, got float"):
        grad(2.0, [x])
    with pytest.raises(TypeError, match="inputs must be Values, got int"):
        grad(x * x, [1])


def test_second_derivative_of_cube_at_two_is_twelve():
    x = Value(2.0)
    (dx,) = grad(x ** 3, [x], create_graph=True)
    assert isinstance(dx, Value) and dx.data == 12.0
    (ddx,) = grad(dx, [x], create_graph=True)
    assert ddx.data == 12.0
    (dddx,) = grad(ddx, [x])
    assert dddx == 6.0


def test_create_graph_of_a_linear_function_gives_values():
    x = Value(1.0)
    (d,) = grad(3 * x + 1, [x], create_graph=True)
    assert isinstance(d, Value) and d.data == 3
    assert grad(d, [x]) == [0]


def test_newtons_method_finds_the_minimum():
    # f(x) = e^x - 2x is smallest at x = ln 2.
    x = 3.0
    for _ in range(8):
        v = Value(x)
        (d1,) = grad(v.exp() - 2 * v, [v], create_graph=True)
        (d2,) = grad(d1, [v])
        x -= d1.data / d2
    assert x == pytest.approx(math.log(2), abs=1e-12)


# ----------------------------------------------------------------- exact mode
def test_fractions_stay_exact_through_arithmetic_and_integer_powers():
    a, b = Value(Fraction(1, 3)), Value(Fraction(3, 7))
    out = (a + b) * a / b - a ** 2 + 1
    out.backward()
    assert out.data == (Fraction(1, 3) + Fraction(3, 7)) * Fraction(1, 3) / Fraction(3, 7) - Fraction(1, 9) + 1
    assert isinstance(a.grad, Fraction) and isinstance(b.grad, Fraction)
    assert a.grad == (2 * Fraction(1, 3) + Fraction(3, 7)) / Fraction(3, 7) - 2 * Fraction(1, 3)


def test_local_grads_are_the_chain_rule_factors():
    x, y = Value(3.0), Value(4.0)
    assert (x * y).local_grads() == (4.0, 3.0)
    assert (x * x).local_grads() == (3.0, 3.0)
    assert (x ** 2).local_grads() == (6.0,)
    assert (x / y).local_grads() == pytest.approx((0.25, -3 / 16))
    assert x.local_grads() == ()


def test_dividing_an_exact_value_by_an_int_keeps_gradients_exact():
    a = Value(Fraction(21, 20))
    out = (a - 4) ** 2 / 2
    out.backward()
    assert out.data == Fraction(3481, 800) and a.grad == Fraction(-59, 20)


def test_abs_derivative_at_zero_is_zero():
    x = Value(0.0)
    abs(x).backward()
    assert x.grad == 0


def test_power_zero_has_derivative_zero_even_at_zero():
    x = Value(0.0)
    y = x ** 0
    y.backward()
    assert y.data == 1 and x.grad == 0


def test_int_division_is_a_float_with_float_gradients():
    a, b = Value(1), Value(3)
    q = a / b
    q.backward()
    assert q.data == 1 / 3 and type(a.grad) is float and a.grad == 1 / 3


def test_one_no_grad_instance_can_be_nested():
    ctx = no_grad()
    with ctx:
        with ctx:
            assert not is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_no_grad_refuses_to_decorate_generators():
    with pytest.raises(TypeError, match="cannot decorate the generator function 'gen'"):
        @no_grad()
        def gen():
            yield Value(1.0) * 2
