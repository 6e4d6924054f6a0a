"""`LayerNorm`: normalise each sample over its own features (no batch statistics)."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real
from typing import Any

import numpy as np

from .._messages import bilingual
from ..engine import Value
from ._nested import as_value
from .module import Module

__all__ = ["LayerNorm"]


class LayerNorm(Module):
    """Layer normalisation (Ba, Kiros & Hinton 2016) over the last axis, as ``torch.nn.LayerNorm``.

    For a list of n Values x: ``μ = Σx / n``, ``σ² = Σ(x − μ)² / n`` (biased,
    like BatchNorm in training), ``y_i = (x_i − μ) / √(σ² + eps) · weight_i + bias_i``.
    Unlike `BatchNorm`, the statistics come from the sample itself, so it
    works the same with a batch of one, in training and in eval, and keeps
    no running statistics. A nested list (rows, or tokens of a sequence) is
    normalised row by row. `weight` starts at 1 and `bias` at 0; with
    ``elementwise_affine=False`` there are no parameters.
    """

    def __init__(
        self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True
    ) -> None:
        n = normalized_shape
        if isinstance(n, (tuple, list)):
            if len(n) != 1:
                raise ValueError(bilingual("LayerNorm 只在一个维度上归一化:normalized_shape 必须是整数或 (n,)",
                                           "LayerNorm normalises over one axis: normalized_shape must be an int "
                                           f"or (n,), got {normalized_shape!r}"))
            n = n[0]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(bilingual("LayerNorm 的 normalized_shape 必须是正整数",
                                       f"LayerNorm normalized_shape must be a positive int, got {normalized_shape!r}"))
        if isinstance(eps, bool) or not isinstance(eps, Real) or not eps > 0:
            raise ValueError(bilingual("LayerNorm 的 eps 必须是正数",
                                       f"LayerNorm eps must be a positive number, got {eps!r}"))
        self.normalized_shape: tuple[int] = (n,)
        self.eps: float = float(eps)
        self._affine: bool = bool(elementwise_affine)
        if elementwise_affine:
            self.weight: list[Value] = [Value(1.0) for _ in range(n)]
            self.bias: list[Value] = [Value(0.0) for _ in range(n)]

    def __call__(self, x: Any) -> Any:
        if isinstance(x, np.ndarray):
            x = x.tolist()
        if not isinstance(x, (list, tuple)):
            raise TypeError(bilingual(f"{self!r} 需要由 {self.normalized_shape[0]} 个数或 Value 组成的列表",
                                      f"{self!r} expects a list of {self.normalized_shape[0]} numbers or Values, "
                                      f"got {type(x).__name__}"))
        if x and isinstance(x[0], (list, tuple)):
            return [self(row) for row in x]
        return self._normalise(list(x))

    def _normalise(self, row: list[Any]) -> list[Value]:
        n = self.normalized_shape[0]
        if len(row) != n:
            raise ValueError(bilingual(f"{self!r} 需要 {n} 个特征,得到 {len(row)} 个",
                                       f"{self!r} expects {n} features, got {len(row)}"))
        xs = [as_value(v) for v in row]
        mean = sum(xs) * (1.0 / n)
        centred = [v - mean for v in xs]
        var = sum(c * c for c in centred) * (1.0 / n)
        inv_std = (var + self.eps) ** -0.5
        normed = [c * inv_std for c in centred]
        if not self._affine:
            return normed
        return [z * w + b for z, w, b in zip(normed, self.weight, self.bias)]

    def __repr__(self) -> str:
        affine = "" if self._affine else ", elementwise_affine=False"
        return f"LayerNorm({self.normalized_shape}, eps={self.eps:g}{affine})"
