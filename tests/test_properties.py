"""Gradients against numerical differentiation, as hypothesis properties."""

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from microgradcn import Value, grad, gradcheck
from microgradcn.testing import BINARY_OPS, UNARY_OPS, Expression, expressions, values

# Ops defined only for positive operands get inputs drawn there, so they are really exercised.
SMALLEST_INPUT = {"log": 0.1, "sqrt": 0.1, "pow_const(0.5)": 0.1, "pow": 0.6}


@pytest.mark.parametrize("op", sorted(UNARY_OPS) + sorted(BINARY_OPS))
@given(data=st.data())
def test_each_op_matches_numerical_diff(op, data):
    expr = data.draw(
        expressions(ops=[op], n_inputs=(2, 2) if op in BINARY_OPS else (1, 2), n_ops=(1, 3),
                    min_value=SMALLEST_INPUT.get(op, -3.0))
    )
    assume(any(name == op for name, _ in expr.steps))  # not the strategy's fallback
    gradcheck(expr, expr.inputs)


@given(expressions())
def test_backward_matches_numerical_gradient_on_random_graphs(expr):
    gradcheck(expr, expr.inputs)


@given(expressions(n_ops=(1, 5)))
def test_second_derivatives_match_numerical_diff_of_the_first(expr):
    gradcheck(expr, expr.inputs, order=2, atol=1e-4, rtol=1e-3)


@given(expressions())
def test_backward_and_grad_agree(expr):
    leaves = [Value(x) for x in expr.inputs]
    out = expr(*leaves)
    out.backward()
    # Both sum the same contributions, possibly in another order: equal up to rounding.
    assert grad(out, leaves) == pytest.approx([leaf.grad for leaf in leaves], rel=1e-12, abs=1e-15)


@given(values(-5, 5), values(-5, 5))
def test_values_strategy_gives_leaves_in_range(a, b):
    assert a.is_leaf and -5 <= a.data <= 5 and -5 <= b.data <= 5


def test_expressions_reuse_subexpressions():
    # A shape check the strategy promises: results can be used more than once.
    expr = Expression((2.0,), (("mul", (0, 0)), ("add", (1, 1))))
    x = Value(2.0)
    out = expr(x)
    out.backward()
    assert out.data == 8.0 and x.grad == 8.0
    assert expr.formula() == "((x0 * x0) + (x0 * x0))"


def test_expressions_reject_unknown_op_names():
    with pytest.raises(ValueError, match="unknown op names"):
        expressions(ops=["nope"])
    with pytest.raises(ValueError, match="n_ops must be a range"):
        expressions(n_ops=(0, 3))


def test_values_rejects_bad_ranges():
    with pytest.raises(ValueError, match="min_value <= max_value"):
        values(3, 1)


def test_the_test_tables_are_made_from_the_op_table():
    from microgradcn.ops import OPS

    names = set(UNARY_OPS) | set(BINARY_OPS)
    for op_name, _op in OPS.items():
        if op_name in ("detach", "select"):
            continue
        assert any(n == op_name or n.startswith(op_name + "(") for n in names), op_name


def test_check_op_passes_a_right_custom_op_and_names_the_input_of_a_wrong_one():
    import math

    from microgradcn import Op
    from microgradcn.ops import cos
    from microgradcn.testing import OpCheckError, check_op

    sin = Op("my_sin", forward=math.sin, derivative=lambda x, out: cos(x))
    check_op(sin, max_examples=100)
    y = sin(Value(0.5))
    y.backward()
    assert y.op == "my_sin" and y.parents[0].grad == math.cos(0.5)
    wrong = Op("wrong_sin", forward=math.sin, derivative=lambda x, out: cos(x) * 1.001)  # 0.1% off
    with pytest.raises(OpCheckError, match=r"^wrong_sin 的导数在 x = .* 处与数值微分不一致 \(.* at x = .*\):\n导数 "):
        check_op(wrong, max_examples=100)


@pytest.mark.parametrize("name", ["tanh", "pow_const", "max", "elu", "prelu"])
def test_check_op_on_built_in_ops_with_and_without_constants(name):
    from microgradcn.ops import OPS
    from microgradcn.testing import check_op

    op = OPS[name]
    low = {"log": 0.1, "sqrt": 0.1, "pow": 0.6}.get(name, -3.0)
    for k in op.test_params if op.param else (None,):
        check_op(op, min_value=low, max_examples=100, param=k)
