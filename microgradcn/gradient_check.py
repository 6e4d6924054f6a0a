"""Numerical differentiation, and checking the engine's gradients against it.

The central difference (f(x + h) - f(x - h)) / 2h has an error of order h²,
against order h for the one-sided difference, which is why we use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, List, Sequence, Union

import numpy as np

from ._messages import bilingual
from .engine import Value, grad, no_grad

__all__ = ["numerical_diff", "numerical_gradient", "gradcheck", "GradcheckReport", "GradcheckError"]


def _number(y: object, where: str) -> float:
    if isinstance(y, Value):
        return y.data
    if isinstance(y, (int, float)) and not isinstance(y, bool):
        return y
    try:
        return float(y)  # type: ignore[arg-type]  # numpy scalars, Fractions; anything else is refused below
    except (TypeError, ValueError):
        raise TypeError(bilingual(f"{where} 必须返回一个数或 Value",
                                  f"{where} must return a number or a Value, got {type(y).__name__}: {y!r}")) from None


def _check_step(h: float) -> None:
    if isinstance(h, bool) or not isinstance(h, (int, float)) or not h > 0:
        raise ValueError(bilingual("步长 h 必须是正数", f"step h must be a positive number, got {h!r}"))


def numerical_diff(f: Callable, x: float, h: float = 1e-4) -> float:
    """Central-difference estimate of f'(x): (f(x + h) - f(x - h)) / (2h).

    `f` takes a number (or a Value) and returns a number or a Value.

    >>> round(numerical_diff(lambda x: x ** 2, 3.0), 6)
    6.0
    """
    _check_step(h)
    x = _number(x, "numerical_diff's x")
    with no_grad():
        return (_number(f(x + h), "f") - _number(f(x - h), "f")) / (2 * h)


def numerical_gradient(f: Callable, xs: Union[Sequence[float], np.ndarray], h: float = 1e-4) -> Any:
    """Central-difference gradient of `f` at the point `xs`.

    `f` takes one argument shaped like `xs` (a list, or a numpy array) and
    returns a number or a Value. The result has the same form as `xs`:

    >>> [round(g, 6) for g in numerical_gradient(lambda p: p[0] ** 2 + p[1] ** 2, [3.0, 4.0])]
    [6.0, 8.0]
    """
    _check_step(h)
    is_array = isinstance(xs, np.ndarray)
    point: Any = xs.astype(float).copy() if isinstance(xs, np.ndarray) else [float(_number(x, "xs")) for x in xs]
    flat = point.reshape(-1) if is_array else point
    result = []
    with no_grad():
        for i in range(len(flat)):
            saved = flat[i]
            flat[i] = saved + h
            plus = _number(f(point), "f")
            flat[i] = saved - h
            minus = _number(f(point), "f")
            flat[i] = saved
            result.append((plus - minus) / (2 * h))
    if isinstance(xs, np.ndarray):
        return np.array(result).reshape(xs.shape)
    return result


@dataclass(frozen=True)
class GradcheckRow:
    """One derivative compared: the engine's (analytic) against the numerical estimate."""

    name: str
    analytic: float
    numeric: float
    abs_error: float
    rel_error: float
    ok: bool


class GradcheckError(AssertionError):
    """Raised by `gradcheck` when an analytic gradient disagrees with the numbers; `report` has the rows."""

    def __init__(self, report: "GradcheckReport") -> None:
        super().__init__(bilingual("解析梯度与数值梯度不一致", "analytic and numerical gradients disagree") + ":\n"
                         + str(report))
        self.report = report


# The table's columns: Chinese heading, English heading, width in terminal columns, alignment.
_COLUMNS = (("导数", "derivative", 14, "<"), ("解析梯度", "analytic", 14, ">"), ("数值梯度", "numeric", 14, ">"),
            ("绝对误差", "abs err", 9, ">"), ("相对误差", "rel err", 9, ">"), ("通过", "ok", 4, "<"))


@dataclass(frozen=True)
class GradcheckReport:
    """The result of `gradcheck`: one row per derivative; `ok` if all agree."""

    rows: List[GradcheckRow]
    atol: float
    rtol: float

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        """The table: a Chinese heading, the English one under it, a row per derivative, when a row passes."""
        from .viz.labels import pad  # widths in terminal columns: a Chinese character takes two

        rows = [[zh for zh, _, _, _ in _COLUMNS], [en for _, en, _, _ in _COLUMNS]]
        rows += [[r.name, f"{r.analytic:.8g}", f"{r.numeric:.8g}", f"{r.abs_error:.2e}", f"{r.rel_error:.2e}",
                  "✓" if r.ok else "✗"] for r in self.rows]
        lines = ["  ".join(pad(text, width, align) for text, (_, _, width, align) in zip(row, _COLUMNS)).rstrip()
                 for row in rows]
        rule = bilingual(f"绝对误差 ≤ {self.atol:g} + {self.rtol:g} × |数值梯度| 即通过",
                         f"passes when abs err <= {self.atol:g} + {self.rtol:g} * |numeric|")
        return "\n".join(lines + [rule])


def gradcheck(
    f: Callable[..., Value],
    inputs: Sequence[float],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    order: int = 1,
    raise_on_failure: bool = True,
) -> GradcheckReport:
    """Compare the engine's derivatives of `f` at `inputs` with central differences.

    `f(*values)` takes one Value per input and returns a Value. With
    ``order=1`` every ∂f/∂xᵢ is checked; with ``order=2`` every second
    derivative ∂²f/∂xᵢ∂xⱼ from ``grad(..., create_graph=True)`` is checked
    against the central difference of the engine's first derivative.

    Returns a `GradcheckReport` (print it for a table). If a derivative is off
    by more than ``atol + rtol * |numeric|`` and `raise_on_failure` is true,
    raises `GradcheckError` with that table.
    """
    if order not in (1, 2):
        raise ValueError(bilingual("gradcheck 的 order 只能是 1 或 2",
                                   f"gradcheck order must be 1 or 2, got {order!r}"))
    _check_step(eps)
    point = [_number(x, "gradcheck inputs") for x in inputs]
    if not point:
        raise ValueError(bilingual("gradcheck 至少需要一个输入", "gradcheck needs at least one input"))

    def first_derivatives(xs: Sequence[float], create_graph: bool = False):
        leaves = [Value(x, label=f"x{i}") for i, x in enumerate(xs)]
        out = f(*leaves)
        if not isinstance(out, Value):
            raise TypeError(bilingual("gradcheck 的 f 必须返回一个 Value",
                                      f"gradcheck's f must return a Value, got {type(out).__name__}: {out!r}"))
        return leaves, grad(out, leaves, create_graph=create_graph)

    def evaluate(xs: Sequence[float]) -> float:
        with no_grad():
            return _number(f(*[Value(x) for x in xs]), "f")

    def shifted(xs: Sequence[float], j: int, delta: float) -> List[float]:
        ys = list(xs)
        ys[j] += delta
        return ys

    rows = []
    n = len(point)
    if order == 1:
        _, analytic = first_derivatives(point)
        for j in range(n):
            numeric = (evaluate(shifted(point, j, eps)) - evaluate(shifted(point, j, -eps))) / (2 * eps)
            rows.append(_row(f"∂f/∂x{j}", analytic[j], numeric, atol, rtol))
    else:
        leaves, firsts = first_derivatives(point, create_graph=True)
        for i in range(n):
            seconds = grad(firsts[i], leaves)
            for j in range(n):
                plus = _number(first_derivatives(shifted(point, j, eps))[1][i], "grad")
                minus = _number(first_derivatives(shifted(point, j, -eps))[1][i], "grad")
                rows.append(_row(f"∂²f/∂x{i}∂x{j}", seconds[j], (plus - minus) / (2 * eps), atol, rtol))
    report = GradcheckReport(rows, atol, rtol)
    if raise_on_failure and not report.ok:
        raise GradcheckError(report)
    return report


def _row(name: str, analytic: object, numeric: float, atol: float, rtol: float) -> GradcheckRow:
    a = float(_number(analytic, "grad"))
    abs_error = abs(a - numeric)
    rel_error = abs_error / max(abs(numeric), 1e-300)
    ok = abs_error <= atol + rtol * abs(numeric)
    return GradcheckRow(name, a, numeric, abs_error, rel_error, ok)
