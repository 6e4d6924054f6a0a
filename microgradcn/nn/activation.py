"""Activations as modules (for `Sequential`), RReLU and Maxout.

`ReLU`, `Tanh`, `Sigmoid`, `LeakyReLU` and `RReLU` apply element by element
to a Value, a number, or a nested list of them (a row, an image
[channel][row][col]) and keep the nesting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any

import numpy as np

from .. import init as initialisers
from .._messages import bilingual
from ..engine import Value
from ..modes import layer_mode, random_numbers
from ._nested import as_value, flatten, map_nested
from .linear import Linear
from .module import Module

__all__ = ["LeakyReLU", "Maxout", "RReLU", "ReLU", "Sigmoid", "Tanh"]


class _Elementwise(Module):
    @staticmethod
    def _f(v: Value) -> Value:  # pragma: no cover - overridden
        raise NotImplementedError

    def __call__(self, x: Any) -> Any:
        f = self._f
        return map_nested(lambda v: f(as_value(v)), x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ReLU(_Elementwise):
    """max(0, x) element by element."""

    @staticmethod
    def _f(v: Value) -> Value:
        return v.relu()


class Tanh(_Elementwise):
    """tanh(x) element by element."""

    @staticmethod
    def _f(v: Value) -> Value:
        return v.tanh()


class Sigmoid(_Elementwise):
    """1 / (1 + e^−x) element by element."""

    @staticmethod
    def _f(v: Value) -> Value:
        return v.sigmoid()


class LeakyReLU(Module):
    """x if x > 0 else negative_slope · x, element by element (a fixed slope; see `PReLU` for a learnable one)."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = _number("negative_slope", negative_slope)

    def __call__(self, x: Any) -> Any:
        a = self.negative_slope
        return map_nested(lambda v: as_value(v).leaky_relu(a), x)

    def __repr__(self) -> str:
        return f"LeakyReLU(negative_slope={self.negative_slope:g})"


def _number(name: str, x: object) -> float:
    if isinstance(x, bool) or not isinstance(x, Real) or not np.isfinite(float(x)):
        raise ValueError(bilingual(f"{name} 必须是有限的数", f"{name} must be a finite number, got {x!r}"))
    return float(x)


class RReLU(Module):
    """Randomized leaky ReLU (Xu et al. 2015): x if x ≥ 0 else a · x.

    In training, every element gets its own slope ``a ~ U(lower, upper)``,
    drawn anew at every call from a seeded numpy Generator: one
    ``rng.uniform(lower, upper)`` per element, in the row-major order of the
    input, whatever the element's sign (so the draws depend only on the
    input's shape, and a recorded step can draw them again). In eval mode the
    slope is the fixed mean ``(lower + upper) / 2``, as in ``torch.nn.RReLU``.
    """

    def __init__(
        self,
        lower: float = 1.0 / 8,
        upper: float = 1.0 / 3,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        lower, upper = _number("lower", lower), _number("upper", upper)
        if not 0 <= lower <= upper:
            raise ValueError(bilingual("RReLU 需要 0 <= lower <= upper",
                                       f"RReLU needs 0 <= lower <= upper, got lower={lower!r}, upper={upper!r}"))
        self.lower, self.upper = lower, upper
        self._rng = initialisers.make_rng(seed, rng)

    def slopes(self, n: int) -> list[float]:
        """The next `n` random slopes, as the next training call would draw them (advances the Generator)."""
        return [float(self._rng.uniform(self.lower, self.upper)) for _ in range(n)]

    def __call__(self, x: Any) -> Any:
        layer_mode(self)
        if not self.training:
            mean = (self.lower + self.upper) / 2
            return map_nested(lambda v: as_value(v).leaky_relu(mean), x)
        # The slopes are leaf Values (so leaky_relu becomes prelu): a replayed step draws new ones at every call.
        n = len(flatten(x))
        draws = iter(random_numbers(lambda: self.slopes(n)))
        return map_nested(lambda v: as_value(v).leaky_relu(next(draws)), x)

    def __repr__(self) -> str:
        return f"RReLU(lower={self.lower:g}, upper={self.upper:g})"


class Maxout(Module):
    """Maxout (Goodfellow et al. 2013): `nout` outputs, each the largest of `pieces` linear functions.

    ``out[j] = max_k z[j·pieces + k]`` with ``z = Linear(nin, nout·pieces)(x)``,
    built with the engine's `max` op (gradient to the winning piece). With
    pieces = 2 a maxout unit can learn ReLU (max(w·x, 0)) or |x| (max(x, −x)).
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        pieces: int = 2,
        bias: bool = True,
        init: str | Callable = "fan_in_uniform",
        rng: np.random.Generator | None = None,
        seed: int | None = None,
    ) -> None:
        if isinstance(pieces, bool) or not isinstance(pieces, int) or pieces < 1:
            raise ValueError(bilingual("Maxout 的 pieces 必须是正整数",
                                       f"Maxout pieces must be a positive int, got {pieces!r}"))
        for name, n in (("nin", nin), ("nout", nout)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(bilingual(f"Maxout 的 {name} 必须是正整数",
                                           f"Maxout {name} must be a positive int, got {n!r}"))
        self.linear = Linear(nin, nout * pieces, bias=bias, init=init, rng=initialisers.make_rng(seed, rng))
        self._nin, self._nout, self._pieces = nin, nout, pieces

    def __call__(self, x: Sequence[Any]) -> list[Value]:
        z = self.linear(x)
        k = self._pieces
        out = []
        for j in range(self._nout):
            m = z[j * k]
            for v in z[j * k + 1:(j + 1) * k]:
                m = m.max(v)
            out.append(m)
        return out

    def __repr__(self) -> str:
        return f"Maxout({self._nin}, {self._nout}, pieces={self._pieces})"
