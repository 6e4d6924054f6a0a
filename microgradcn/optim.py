"""Optimisers: turn the gradients in `.grad` into parameter updates.

The update rules follow PyTorch's documented algorithms (torch.optim), written
out per scalar so each line can be read against the formula. With g the
gradient, η the learning rate and t the step count (1 for the first step):

* SGD:      g += λp;  b = μb + g (b = g at t = 1);  g = g + μb (Nesterov) or b;  p -= ηg
* AdaGrad:  g += λp;  s += g²;  p -= η g / (√s + ε)
* RMSProp:  g += λp;  v = αv + (1-α)g²;  p -= η g / (√v + ε)
* Adam:     g += λp;  m = β₁m + (1-β₁)g;  v = β₂v + (1-β₂)g²;  p -= η m̂ / (√v̂ + ε),
            m̂ = m / (1-β₁ᵗ), v̂ = v / (1-β₂ᵗ)
* AdamW:    p *= (1 - ηλ) first (decoupled weight decay), then Adam without λ.

`lr` may be a number or a schedule: a callable of the step index (0 for the
first step) returning the learning rate, e.g. ``lambda k: 1.0 - 0.9 * k / 100``.
"""

from __future__ import annotations

import inspect
import math
from numbers import Real
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from .engine import Value

__all__ = ["Optimizer", "SGD", "AdaGrad", "RMSProp", "Adam", "AdamW", "clip_grad_norm", "clip_grad_value"]

LearningRate = Union[float, Callable[[int], float]]


def _check(name: str, value: object, low: float = 0.0, high: float = math.inf, open_high: bool = False) -> float:
    """`value` as a float if it is finite and low <= value <= high (< high if open_high), else ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}: {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    ok = low <= x < high if open_high else low <= x <= high
    if not ok:
        bound = f"[{low:g}, {high:g}{')' if open_high else ']'}"
        raise ValueError(f"{name} must be in {bound}, got {value!r}")
    return float(value)


def _params(params: Iterable[Value]) -> List[Value]:
    ps = list(params)
    if not ps:
        raise ValueError("optimizer got an empty parameter list")
    first_index: Dict[int, int] = {}  # id(p) -> its first position
    for i, p in enumerate(ps):
        if not isinstance(p, Value):
            raise TypeError(f"optimizer parameters must be Values, got {type(p).__name__}: {p!r}")
        j = first_index.setdefault(id(p), i)
        if j != i:
            # A repeated parameter would be updated twice per step (tied weights listed twice).
            raise ValueError(f"parameter at index {i} is the same Value as the one at index {j}; "
                             "each parameter must appear once")
    return ps


class Optimizer:
    """Base class: holds the parameters, the learning rate (or schedule) and the step count."""

    def __init__(self, params: Iterable[Value], lr: LearningRate, weight_decay: float = 0.0) -> None:
        self.params = _params(params)
        self._schedule: Optional[Callable[[int], float]] = None
        if callable(lr):
            self._schedule = lr
        else:
            _check("lr", lr)
        self._lr = lr
        self.weight_decay = _check("weight_decay", weight_decay)
        self.steps = 0  # number of step() calls so far

    @property
    def lr(self) -> float:
        """The learning rate the next step() will use."""
        if not callable(self._lr):
            return self._lr
        return _check(f"lr schedule at step {self.steps}", self._lr(self.steps))

    def zero_grad(self) -> None:
        """Set every parameter's gradient to 0."""
        for p in self.params:
            p.grad = 0

    def step(self) -> None:
        """Apply one update to every parameter using its `.grad`."""
        lr = self.lr
        self.steps += 1
        self._update(lr, self.steps)

    def _update(self, lr: float, t: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        """``SGD(13 parameters, lr=0.1, momentum=0.9)``: the learning rate, then every
        hyper-parameter whose value differs from the constructor's default."""
        lr = "schedule" if self._schedule is not None else _show(self._lr)
        parts = [f"{len(self.params)} parameters", f"lr={lr}"]
        for name, param in inspect.signature(type(self).__init__).parameters.items():
            if name in ("self", "params", "lr") or param.default is inspect.Parameter.empty:
                continue
            value = getattr(self, name, _MISSING)  # a subclass may not keep every argument
            if value is not _MISSING and value != param.default:
                parts.append(f"{name}={_show(value)}")
        return f"{type(self).__name__}({', '.join(parts)})"


_MISSING = object()


def _show(value: object) -> str:
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    return repr(value)


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum (heavy ball or Nesterov) and weight decay.

    Weight decay λ adds λp to the gradient, so the update is
    ``p ← (1 − ηλ) p − η g``: the "weight decay" form of d2l (动手学深度学习).
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: LearningRate = 0.01,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params, lr, weight_decay)
        self.momentum = _check("momentum", momentum)
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs a positive momentum, got momentum=0")
        self.nesterov = bool(nesterov)
        self._buffers: List[float] = [0.0] * len(self.params)

    def _update(self, lr: float, t: int) -> None:
        mu, wd = self.momentum, self.weight_decay
        if mu == 0 and wd == 0:
            for p in self.params:  # the plain rule, kept short because it is the common case
                p.data -= lr * p.grad
            return
        buf = self._buffers
        for i, p in enumerate(self.params):
            g = p.grad + wd * p.data
            if mu:
                buf[i] = g if t == 1 else mu * buf[i] + g
                g = g + mu * buf[i] if self.nesterov else buf[i]
            p.data -= lr * g


class AdaGrad(Optimizer):
    """AdaGrad: each parameter's step shrinks with the sum of its squared gradients."""

    def __init__(
        self, params: Iterable[Value], lr: LearningRate = 0.01, eps: float = 1e-10, weight_decay: float = 0.0
    ) -> None:
        super().__init__(params, lr, weight_decay)
        self.eps = _check("eps", eps)
        self._sums = [0.0] * len(self.params)

    def _update(self, lr: float, t: int) -> None:
        s = self._sums
        for i, p in enumerate(self.params):
            g = p.grad + self.weight_decay * p.data
            s[i] += g * g
            p.data -= lr * g / (math.sqrt(s[i]) + self.eps)


class RMSProp(Optimizer):
    """RMSProp: divide by a running root-mean-square of recent gradients (decay `alpha`)."""

    def __init__(
        self,
        params: Iterable[Value],
        lr: LearningRate = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr, weight_decay)
        self.alpha = _check("alpha", alpha, 0.0, 1.0)
        self.eps = _check("eps", eps)
        self._squares = [0.0] * len(self.params)

    def _update(self, lr: float, t: int) -> None:
        v, a = self._squares, self.alpha
        for i, p in enumerate(self.params):
            g = p.grad + self.weight_decay * p.data
            v[i] = a * v[i] + (1 - a) * g * g
            p.data -= lr * g / (math.sqrt(v[i]) + self.eps)


class Adam(Optimizer):
    """Adam: momentum on the gradient and on its square, both bias-corrected.

    `weight_decay` here is L2 (added to the gradient), as in torch.optim.Adam;
    use `AdamW` for decoupled weight decay.
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: LearningRate = 0.001,
        betas: Tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr, weight_decay)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (
            _check("betas[0]", betas[0], 0.0, 1.0, open_high=True),
            _check("betas[1]", betas[1], 0.0, 1.0, open_high=True),
        )
        self.eps = _check("eps", eps)
        self._m = [0.0] * len(self.params)
        self._v = [0.0] * len(self.params)

    _decoupled = False

    def _update(self, lr: float, t: int) -> None:
        b1, b2 = self.betas
        wd, eps, decoupled = self.weight_decay, self.eps, self._decoupled
        m, v = self._m, self._v
        c1 = 1 - b1**t
        c2 = 1 - b2**t
        for i, p in enumerate(self.params):
            g = p.grad
            if decoupled:
                p.data *= 1 - lr * wd
            elif wd:
                g = g + wd * p.data
            m[i] = mi = b1 * m[i] + (1 - b1) * g
            v[i] = vi = b2 * v[i] + (1 - b2) * g * g
            p.data -= lr * (mi / c1) / (math.sqrt(vi / c2) + eps)


class AdamW(Adam):
    """Adam with decoupled weight decay: p ← (1 − ηλ) p before the Adam step (λ = 0.01 by default)."""

    _decoupled = True

    def __init__(
        self,
        params: Iterable[Value],
        lr: LearningRate = 0.001,
        betas: Tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)


# ------------------------------------------------------------------ clipping
def clip_grad_norm(params: Sequence[Value], max_norm: float) -> float:
    """Scale all gradients down together so their L2 norm is at most `max_norm`.

    Returns the norm before clipping (as torch.nn.utils.clip_grad_norm_ does).
    """
    max_norm = _check("max_norm", max_norm)
    ps = _params(params)
    norm = math.sqrt(sum(float(p.grad) ** 2 for p in ps))
    if norm > max_norm:
        scale = max_norm / norm
        for p in ps:
            p.grad = p.grad * scale
    return norm


def clip_grad_value(params: Sequence[Value], clip: float) -> None:
    """Clamp every gradient into [-clip, clip]."""
    clip = _check("clip", clip)
    for p in _params(params):
        if p.grad > clip:
            p.grad = clip
        elif p.grad < -clip:
            p.grad = -clip
