"""Gradients against numerical differentiation, as hypothesis properties."""

import pytest
from hypothesis import assume, given, strategies as st

from microgradcn import Value, grad, gradcheck
from microgradcn.testing import BINARY_OPS, UNARY_OPS, Expression, expressions, values


# Ops defined only for positive operands get inputs drawn there, so they are really exercised.
SMALLEST_INPUT = {"log": 0.1, "sqrt": 0.1, "power_half": 0.1, "pow": 0.6}


@pytest.mark.parametrize("op", sorted(UNARY_OPS) + sorted(BINARY_OPS))
@given(data=st.data())
def test_each_op_matches_numerical_diff(op, data):
    expr = data.draw(
        expressions(ops=[op], n_inputs=(1, 2), n_ops=(1, 3), min_value=SMALLEST_INPUT.get(op, -3.0))
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
