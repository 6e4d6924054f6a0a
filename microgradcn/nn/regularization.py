"""PReLU, Dropout and BatchNorm on lists of Values."""

from __future__ import annotations

import math
from numbers import Real
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from .. import init as initialisers
from .._messages import bilingual
from ..engine import Value
from ..modes import layer_mode, random_numbers
from .module import Module

__all__ = ["PReLU", "Dropout", "BatchNorm"]


# ---------------------------------------------------------------------- PReLU
class PReLU(Module):
    """Parametric ReLU on a list of Values: x if x > 0 else alpha * x, one learnable alpha."""

    def __init__(self, alpha: float = 0.25) -> None:
        self.alpha = Value(float(alpha))

    def __call__(self, xs):
        if isinstance(xs, Value):
            return xs.prelu(self.alpha)
        return [_as_value(x).prelu(self.alpha) for x in xs]

    def __repr__(self) -> str:
        return f"PReLU(alpha={self.alpha.data:g})"


def _as_value(x) -> Value:
    return x if isinstance(x, Value) else Value(x)


# -------------------------------------------------------------------- Dropout
class Dropout(Module):
    """Inverted dropout: in training keep each input with probability 1 - p and scale it by 1/(1 - p).

    The scaling keeps every output's expectation equal to its input, so eval
    mode is simply the identity. p = 0 is the identity; p = 1 drops everything.
    `seed` makes the masks reproducible. The output is always made of Values
    (numbers are wrapped, Values pass through unchanged in eval mode), so code
    that reads ``.data`` works in both modes.
    """

    def __init__(self, p: float = 0.5, seed: Optional[int] = None, rng: Optional[np.random.Generator] = None):
        if isinstance(p, bool) or not isinstance(p, Real) or not 0 <= p <= 1:
            raise ValueError(bilingual("dropout 的概率 p 必须是 [0, 1] 中的数",
                                       f"dropout probability p must be a number in [0, 1], got {p!r}"))
        self.p: float = float(p)
        self._rng: np.random.Generator = initialisers.make_rng(seed, rng)

    def __call__(self, xs):
        single = isinstance(xs, Value) or isinstance(xs, Real)
        items = [xs] if single else list(xs)
        layer_mode(self)
        if not self.training or self.p == 0:
            out = [_as_value(x) for x in items]
        elif self.p == 1:
            out = [_as_value(x) * 0.0 for x in items]
        else:
            # The mask is made of leaf Values, so a replayed step draws a new one at every call.
            mask = random_numbers(lambda: self.mask(len(items)))
            out = [_as_value(x) * m for x, m in zip(items, mask)]
        return out[0] if single else out

    def mask(self, n: int) -> List[float]:
        """The next `n` mask factors, as the next training call draws them: 1/(1-p) kept, 0.0 dropped.

        One ``rng.random(n)`` per call; an element is kept when its draw is >= p.
        """
        scale = 1.0 / (1.0 - self.p)
        return [scale if u >= self.p else 0.0 for u in self._rng.random(n).tolist()]

    def __repr__(self) -> str:
        return f"Dropout(p={self.p:g})"


# ------------------------------------------------------------------ BatchNorm
class BatchNorm(Module):
    """Batch normalisation over a batch of scalar features.

    Input: a batch of rows, each a list of `num_features` Values (or, when
    num_features is 1, a batch of single Values). In training each feature is
    normalised with the batch mean and (biased) variance, then scaled by the
    learnable gamma and shifted by beta; running statistics are updated as
    ``running = (1 - momentum) * running + momentum * batch`` (variance
    unbiased, as PyTorch does). In eval the running statistics are used.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features < 1:
            raise ValueError(bilingual("num_features 必须是正整数",
                                       f"num_features must be a positive int, got {num_features!r}"))
        if not eps > 0:
            raise ValueError(bilingual("eps 必须是正数", f"eps must be positive, got {eps!r}"))
        if not 0 <= momentum <= 1:
            raise ValueError(bilingual("momentum 必须在 [0, 1] 中", f"momentum must be in [0, 1], got {momentum!r}"))
        self.eps = eps
        self.momentum = momentum
        self.gamma = [Value(1.0) for _ in range(num_features)]
        self.beta = [Value(0.0) for _ in range(num_features)]
        self._running_mean = [0.0] * num_features
        self._running_var = [1.0] * num_features

    @property
    def running_mean(self) -> List[float]:
        return list(self._running_mean)

    @property
    def running_var(self) -> List[float]:
        return list(self._running_var)

    def named_buffers(self, prefix: str = "") -> Iterator[Tuple[str, float]]:
        for i, m in enumerate(self._running_mean):
            yield f"{prefix}running_mean.{i}", m
        for i, v in enumerate(self._running_var):
            yield f"{prefix}running_var.{i}", v

    def _set_buffers(self, values: Dict[str, float]) -> None:
        for i in range(len(self.gamma)):
            self._running_mean[i] = values[f"running_mean.{i}"]
            self._running_var[i] = values[f"running_var.{i}"]

    def __call__(self, batch):
        nf = len(self.gamma)
        scalar_rows = nf == 1 and all(isinstance(r, (Value, Real)) for r in batch)
        rows = [[r] for r in batch] if scalar_rows else [list(r) for r in batch]
        for r in rows:
            if len(r) != nf:
                raise ValueError(bilingual(f"BatchNorm({nf}) 的每一行要有 {nf} 个特征,这一行有 {len(r)} 个",
                                           f"BatchNorm({nf}) got a row of {len(r)} features"))
        n = len(rows)
        layer_mode(self, replayable=not self.training)
        columns = []
        for j in range(nf):
            xs = [row[j] for row in rows]
            if self.training:
                if n < 2:
                    raise ValueError(bilingual(f"BatchNorm 训练时一批至少要 2 行才能算方差,这一批只有 {n} 行",
                                               f"BatchNorm in training needs a batch of at least 2 rows, got {n}"))
                mean = sum(xs) * (1.0 / n)
                centred = [x - mean for x in xs]
                var = sum(c * c for c in centred) * (1.0 / n)
                inv_std = (var + self.eps) ** -0.5
                m = self.momentum
                batch_mean = float(_data(mean))
                self._running_mean[j] = (1 - m) * self._running_mean[j] + m * batch_mean
                self._running_var[j] = (1 - m) * self._running_var[j] + m * float(_data(var)) * n / (n - 1)
                normed = [c * inv_std for c in centred]
            else:
                inv = 1.0 / math.sqrt(self._running_var[j] + self.eps)
                normed = [(x - self._running_mean[j]) * inv for x in xs]
            columns.append([self.gamma[j] * z + self.beta[j] for z in normed])
        out = [list(r) for r in zip(*columns)]
        return [r[0] for r in out] if scalar_rows else out

    def __repr__(self) -> str:
        return f"BatchNorm({len(self.gamma)}, eps={self.eps:g}, momentum={self.momentum:g})"


def _data(x) -> float:
    return x.data if isinstance(x, Value) else x
