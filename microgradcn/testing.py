"""Hypothesis strategies for property-testing gradients.

>>> from hypothesis import given
>>> from microgradcn import gradcheck
>>> from microgradcn.testing import expressions
>>> @given(expressions())
... def test_backward_is_right(expr):
...     gradcheck(expr, expr.inputs)

`expressions()` draws random expression graphs over the engine's operations,
reusing subexpressions (so gradients must add up over several paths), and
keeps every operation inside its smooth domain: no log of numbers near 0, no
division by numbers near 0, no relu/abs/step near their kink, no exp overflow.
That makes a central difference a fair judge of the analytic gradient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, List, Sequence, Tuple

try:
    from hypothesis import strategies as st
except ImportError as error:  # hypothesis is a test extra, not a core dependency
    raise ImportError(
        "microgradcn.testing needs hypothesis: pip install 'microgradcn[test]' (or pip install hypothesis)"
    ) from error

from .engine import Value, no_grad

__all__ = ["values", "expressions", "Expression", "UNARY_OPS", "BINARY_OPS"]

# How far from a kink or a pole an operand must stay. Central differences use
# steps around 1e-6, and perturbations grow through a graph, so keep a margin.
MARGIN = 0.05
# Keep magnitudes moderate so that float rounding does not swamp the check.
LIMIT = 1e3


def values(min_value: float = -10.0, max_value: float = 10.0, label: str = "") -> st.SearchStrategy:
    """Value leaves with finite data drawn from [min_value, max_value]."""
    if not (math.isfinite(min_value) and math.isfinite(max_value)) or min_value > max_value:
        raise ValueError(f"values() needs finite min_value <= max_value, got {min_value!r}, {max_value!r}")
    return st.floats(min_value, max_value, allow_nan=False, allow_infinity=False).map(
        lambda x: Value(x, label=label)
    )


def _away_from(x: float, *points: float) -> bool:
    return all(abs(x - p) > MARGIN for p in points)


# name -> (build on a Value, is the operand in the smooth domain?, text template)
UNARY_OPS = {
    "neg": (lambda v: -v, lambda x: True, "-({})"),
    "abs": (abs, lambda x: _away_from(x, 0), "abs({})"),
    "exp": (lambda v: v.exp(), lambda x: x < 6, "exp({})"),
    "log": (lambda v: v.log(), lambda x: x > MARGIN, "log({})"),
    "sqrt": (lambda v: v.sqrt(), lambda x: x > MARGIN, "sqrt({})"),
    "tanh": (lambda v: v.tanh(), lambda x: True, "tanh({})"),
    "sigmoid": (lambda v: v.sigmoid(), lambda x: True, "sigmoid({})"),
    "relu": (lambda v: v.relu(), lambda x: _away_from(x, 0), "relu({})"),
    "leaky_relu": (lambda v: v.leaky_relu(0.1), lambda x: _away_from(x, 0), "leaky_relu({}, 0.1)"),
    "elu": (lambda v: v.elu(0.5), lambda x: _away_from(x, 0), "elu({}, 0.5)"),
    "softplus": (lambda v: v.softplus(), lambda x: True, "softplus({})"),
    "step": (lambda v: v.step(), lambda x: _away_from(x, 0), "step({})"),
    "square": (lambda v: v ** 2, lambda x: True, "({})**2"),
    "cube": (lambda v: v ** 3, lambda x: True, "({})**3"),
    "inverse": (lambda v: v ** -1, lambda x: _away_from(x, 0), "({})**-1"),
    "power_half": (lambda v: v ** 0.5, lambda x: x > MARGIN, "({})**0.5"),
    "two_to_the": (lambda v: 2 ** v, lambda x: x < 8, "2**({})"),
    "scale": (lambda v: 0.5 * v + 1, lambda x: True, "0.5*({}) + 1"),
}

# name -> (build on two Values, are the operands in the smooth domain?, template)
BINARY_OPS = {
    "add": (lambda a, b: a + b, lambda x, y: True, "({} + {})"),
    "sub": (lambda a, b: a - b, lambda x, y: True, "({} - {})"),
    "mul": (lambda a, b: a * b, lambda x, y: True, "({} * {})"),
    "div": (lambda a, b: a / b, lambda x, y: abs(y) > 0.5, "({} / {})"),
    "pow": (lambda a, b: a ** b, lambda x, y: x > 0.5 and abs(y) < 3, "({} ** {})"),
    "prelu": (lambda a, b: a.leaky_relu(b), lambda x, y: _away_from(x, 0), "prelu({}, {})"),
}


@dataclass(frozen=True)
class Expression:
    """A random expression graph as a recipe that can be re-evaluated.

    ``steps`` lists operations; operand indices refer to the inputs first
    (0 .. n_inputs-1), then to earlier steps' results, so one result can be
    used several times. ``expr(*values)`` builds the graph and returns the
    last result; ``expr.inputs`` is the point it was drawn at.
    """

    inputs: Tuple[float, ...]
    steps: Tuple[Tuple[str, Tuple[int, ...]], ...]

    def __call__(self, *xs: Value) -> Value:
        if len(xs) != len(self.inputs):
            raise TypeError(f"this expression takes {len(self.inputs)} inputs, got {len(xs)}")
        slots: List[Value] = [x if isinstance(x, Value) else Value(x) for x in xs]
        for name, args in self.steps:
            build = (UNARY_OPS.get(name) or BINARY_OPS[name])[0]
            slots.append(build(*(slots[i] for i in args)))
        return slots[-1]

    def formula(self) -> str:
        """The expression as text, e.g. ``tanh((x0 * x1))``."""
        texts = [f"x{i}" for i in range(len(self.inputs))]
        for name, args in self.steps:
            template = (UNARY_OPS.get(name) or BINARY_OPS[name])[2]
            texts.append(template.format(*(texts[i] for i in args)))
        return texts[-1]

    def __repr__(self) -> str:
        return f"Expression({self.formula()} at {list(self.inputs)})"


def expressions(
    n_inputs: Tuple[int, int] = (1, 3),
    n_ops: Tuple[int, int] = (1, 8),
    ops: Sequence[str] = (),
    min_value: float = -3.0,
    max_value: float = 3.0,
) -> st.SearchStrategy:
    """Random `Expression`s over the engine's ops, kept inside smooth domains.

    `n_inputs` and `n_ops` are inclusive (min, max) ranges; `ops` restricts
    the operations to those names (keys of UNARY_OPS and BINARY_OPS); inputs
    are drawn from [min_value, max_value], at least MARGIN away from 0.
    """
    names = list(ops) or list(UNARY_OPS) + list(BINARY_OPS)
    unknown = [n for n in names if n not in UNARY_OPS and n not in BINARY_OPS]
    if unknown:
        raise ValueError(f"unknown op names {unknown}; choose from {sorted(UNARY_OPS) + sorted(BINARY_OPS)}")
    for name, (low, high) in (("n_inputs", n_inputs), ("n_ops", n_ops)):
        if not 1 <= low <= high:
            raise ValueError(f"{name} must be a range (min, max) with 1 <= min <= max, got {(low, high)!r}")
    if not min_value < max_value:
        raise ValueError(f"expressions() needs min_value < max_value, got {min_value!r}, {max_value!r}")
    return _expressions(n_inputs, n_ops, names, min_value, max_value)


@st.composite
def _expressions(draw: Callable, n_inputs, n_ops, names, min_value, max_value) -> Expression:
    count = draw(st.integers(*n_inputs))
    inputs = [
        draw(st.floats(min_value, max_value, allow_nan=False).filter(lambda x: abs(x) > MARGIN))
        for _ in range(count)
    ]
    data = list(inputs)
    steps = []
    for _ in range(draw(st.integers(*n_ops))):
        name = draw(st.sampled_from(names))
        # Prefer recent results so graphs get deep, but any earlier one may be reused.
        pick = st.integers(0, len(data) - 1).map(lambda i, n=len(data): max(i, n - 1 - i))
        if name in UNARY_OPS:
            args: Tuple[int, ...] = (draw(pick),)
            build, fits, _ = UNARY_OPS[name]
        else:
            args = (draw(pick), draw(st.integers(0, len(data) - 1)))
            build, fits, _ = BINARY_OPS[name]
        operands = [data[i] for i in args]
        if not fits(*operands):
            continue
        with no_grad():
            try:
                result = build(*(Value(x) for x in operands)).data
            except (ValueError, OverflowError, ZeroDivisionError):
                continue
        if not abs(result) < LIMIT:
            continue
        data.append(result)
        steps.append((name, args))
    if not steps:  # always differentiate through at least one operation
        steps.append(("mul", (0, 0)))
    return Expression(tuple(inputs), tuple(steps))
