"""Hypothesis strategies for property-testing gradients.

>>> from hypothesis import given
>>> from microgradcn import gradcheck
>>> from microgradcn.testing import expressions
>>> @given(expressions())
... def test_backward_is_right(expr):
...     gradcheck(expr, expr.inputs)

`expressions()` draws random expression graphs over the engine's operations,
reusing subexpressions (so gradients must add up over several paths), and
keeps every operation inside its smooth region (each op's ``smooth`` in the
op table): no log of numbers near 0, no division by numbers near 0, no
relu/abs/step near their kink, no exp overflow. That makes a central
difference a fair judge of the analytic gradient. `check_op(op)` does the
same for one op, built-in or your own.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Sequence, Tuple

try:
    from hypothesis import strategies as st
except ImportError as error:  # hypothesis is a test extra, not a core dependency
    raise ImportError(
        "microgradcn.testing needs hypothesis: pip install 'microgradcn[test]' (or pip install hypothesis)"
    ) from error

from ._messages import bilingual
from .engine import Value, no_grad
from .gradient_check import GradcheckError, gradcheck
from .ops import OPS, Op, show

__all__ = ["values", "expressions", "Expression", "UNARY_OPS", "BINARY_OPS", "check_op", "OpCheckError"]

# How far from a kink or a pole an operand must stay. Central differences use
# steps around 1e-6, and perturbations grow through a graph, so keep a margin.
MARGIN = 0.05
# Keep magnitudes moderate so that float rounding does not swamp the check.
LIMIT = 1e3


def values(min_value: float = -10.0, max_value: float = 10.0, label: str = "") -> st.SearchStrategy:
    """Value leaves with finite data drawn from [min_value, max_value]."""
    if not (math.isfinite(min_value) and math.isfinite(max_value)) or min_value > max_value:
        raise ValueError(bilingual("values() 需要有限的 min_value <= max_value",
                                   f"values() needs finite min_value <= max_value, got {min_value!r}, {max_value!r}"))
    return st.floats(min_value, max_value, allow_nan=False, allow_infinity=False).map(
        lambda x: Value(x, label=label)
    )


def _formula(op: Op, k: Any) -> str:
    """How an op reads in `Expression.formula`: ``({} * {})``, ``tanh({})``, ``({})**2``, ``2**({})``."""
    if op.arity == 2:
        return f"({{}} {op.name} {{}})" if op.infix else f"{op.name}({{}}, {{}})"
    if op.param:
        label = op.label(k)
        if label.startswith("**"):
            return "({})" + label
        if label.endswith("**"):
            return label + "({})"
        return f"{op.name}({{}}, {show(k)})"
    return f"{op.name}({{}})"


def _apply2(op: Op, a: Any, b: Any) -> Any:
    return op(a, b)


def _smooth2(op: Op, x: float, y: float) -> bool:
    return op.smooth(x, y)


def _apply_k(op: Op, k: Any, v: Any) -> Any:
    return op(v, k)


def _smooth_k(op: Op, k: Any, x: float) -> bool:
    return op.smooth(x, k)


def _entries(op_name: str, op: Op) -> Dict[str, tuple]:
    """Test-table rows for one op: one per constant to test it with (ops with a constant get several)."""
    rows: Dict[str, tuple] = {}
    for k in op.test_params:
        name = op_name if len(op.test_params) == 1 else f"{op_name}({show(k)})"
        if op.arity == 2:
            rows[name] = (functools.partial(_apply2, op), functools.partial(_smooth2, op), _formula(op, k))
        elif op.param:
            rows[name] = (functools.partial(_apply_k, op, k), functools.partial(_smooth_k, op, k), _formula(op, k))
        else:
            rows[name] = (op, op.smooth, _formula(op, k))
    return rows


# Ops whose "derivative" is not the slope of the function, by design: detach passes no
# gradient and select needs candidates; they are tested on their own.
_NOT_SLOPES = ("detach", "select")
_ALL = {name: row for op_name, op in OPS.items() if op_name not in _NOT_SLOPES
        for name, row in _entries(op_name, op).items()}

# name -> (build on Values, are the operands in the smooth region?, text template); made from the op table.
UNARY_OPS: Dict[str, tuple] = {n: r for n, r in _ALL.items() if r[2].count("{}") == 1}
BINARY_OPS: Dict[str, tuple] = {n: r for n, r in _ALL.items() if r[2].count("{}") == 2}


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
            raise TypeError(bilingual(f"这个表达式需要 {len(self.inputs)} 个输入,得到 {len(xs)} 个",
                                      f"this expression takes {len(self.inputs)} inputs, got {len(xs)}"))
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
        raise ValueError(bilingual(f"没有这些运算 {unknown}",
                                   f"unknown op names {unknown}; choose from {sorted(UNARY_OPS) + sorted(BINARY_OPS)}"))
    for name, (low, high) in (("n_inputs", n_inputs), ("n_ops", n_ops)):
        if not 1 <= low <= high:
            raise ValueError(bilingual(f"{name} 必须是范围 (min, max),且 1 <= min <= max",
                                       f"{name} must be a range (min, max) with 1 <= min <= max, got {(low, high)!r}"))
    if not min_value < max_value:
        raise ValueError(bilingual("expressions() 需要 min_value < max_value",
                                   f"expressions() needs min_value < max_value, got {min_value!r}, {max_value!r}"))
    return _expressions(n_inputs, n_ops, names, min_value, max_value)


def _recent(n: int, i: int) -> int:
    return max(i, n - 1 - i)


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
        n = len(data)
        pick = st.integers(0, n - 1).map(functools.partial(_recent, n))
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


class OpCheckError(AssertionError):
    """`check_op` found a point where an op's derivative disagrees with numerical differentiation."""


def check_op(op: Op, min_value: float = -3.0, max_value: float = 3.0, max_examples: int = 300,
             param: Any = None, atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Property-test `op`'s derivative against numerical differentiation, inside its smooth region.

    Hypothesis draws inputs from [min_value, max_value] where ``op.smooth``
    holds (and the forward is defined), and compares the engine's gradient
    with a central difference. On a mismatch it raises `OpCheckError` naming
    the simplest failing input, in Chinese and English. `param` is the
    constant of an op that takes one (default: its first ``test_params``).

    >>> from microgradcn import Op
    >>> from microgradcn.ops import cos
    >>> import math
    >>> sin = Op("my_sin", forward=math.sin, derivative=lambda x, out: cos(x))
    >>> check_op(sin)                       # passes silently
    >>> bad = Op("bad_sin", forward=math.sin, derivative=lambda x, out: -cos(x))
    >>> check_op(bad)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    microgradcn.testing.OpCheckError: bad_sin 的导数在 x = ... 处与数值微分不一致 ...
    """
    from hypothesis import HealthCheck, assume, given, settings

    if not isinstance(op, Op):
        raise TypeError(bilingual("check_op 需要一个 Op", f"check_op needs an Op, got {type(op).__name__}: {op!r}"))
    k = param if param is not None else (op.test_params[0] if op.param else None)
    failures: List[tuple] = []
    point = st.floats(min_value, max_value, allow_nan=False, allow_infinity=False)

    def f(*xs: Value) -> Value:
        return op(xs[0], xs[1]) if op.arity == 2 else op(xs[0], k) if op.param else op(xs[0])

    @settings(max_examples=max_examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
    @given(st.lists(point, min_size=op.arity, max_size=op.arity))
    def derivative_matches(xs: List[float]) -> None:
        smooth = op.smooth(*xs) if not op.param else op.smooth(xs[0], k)
        assume(smooth)
        try:
            with no_grad():
                f(*(Value(x) for x in xs))
        except (ValueError, OverflowError, ZeroDivisionError):
            assume(False)
        try:
            gradcheck(f, xs, atol=atol, rtol=rtol)
        except GradcheckError as error:
            failures.append((xs, error.report))
            raise

    try:
        derivative_matches()
    except GradcheckError:
        xs, report = failures[-1]  # hypothesis replays the simplest failing example last
        at = ", ".join(show(x) for x in xs)
        raise OpCheckError(bilingual(f"{op.name} 的导数在 x = {at} 处与数值微分不一致",
                                     f"{op.name}'s derivative disagrees with numerical differentiation at x = {at}")
                           + f":\n{report}") from None
