"""Softmax and loss functions on lists of Values (plain numbers are accepted too).

Every function returns Values built from engine operations, so `backward()`
through a loss reaches the model's parameters. Where a textbook formula can
overflow (softmax, cross-entropy, BCE with logits) the stable form is used:
subtract the maximum logit, or use softplus.

Conventions: `pred`/`target` may be single numbers/Values or equal-length
lists; "mean" losses divide by the number of elements. Each call is a scope
(see `microgradcn.scopes`): a picture can draw it as one box named after the function.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, Iterable, List, Sequence, Union, cast

from .engine import Value, select
from .scopes import function_scope

__all__ = [
    "softmax",
    "log_softmax",
    "mse",
    "sum_squared_error",
    "mae",
    "l1_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "cross_entropy_from_probs",
    "hinge",
    "l1_penalty",
    "l2_penalty",
]

Scalar = Union[Value, Real, float, int]


def _as_list(x, what: str) -> list:
    if isinstance(x, (Value, Real)) and not isinstance(x, bool):
        return [x]
    try:
        items = list(x)
    except TypeError:
        raise TypeError(f"{what} must be a number, a Value or a list of them, got {type(x).__name__}") from None
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (Value, Real)):
            raise TypeError(f"{what} must hold numbers or Values, got {type(item).__name__}: {item!r}")
    return items


def _pair(pred, target) -> tuple:
    # Predictions become Values (so a loss is always a Value); targets stay as given.
    p = [_value(x) for x in _as_list(pred, "pred")]
    t = _as_list(target, "target")
    if len(p) != len(t):
        raise ValueError(f"pred and target must have the same length, got {len(p)} and {len(t)}")
    if not p:
        raise ValueError("a loss needs at least one element, got empty lists")
    return p, t


def _value(x) -> Value:
    return x if isinstance(x, Value) else Value(x)


def _data(x) -> float:
    return x.data if isinstance(x, Value) else x


def _check_targets(targets: list, what: str) -> None:
    # A target outside [0, 1] (or nan) still gives a number, just a meaningless one: refuse it.
    for t in targets:
        if not 0 <= _data(t) <= 1:
            raise ValueError(f"{what} needs targets in [0, 1], got {_data(t)!r}")


def _sum(terms: Iterable[Any]) -> Value:
    """Σ terms added as Python's sum adds them (0 + t0 + t1 + ...), so graphs match micrograd's node for node."""
    return cast(Value, sum(terms))


def _mean(terms: list) -> Value:
    # Same shape as micrograd's demo: sum(...) * (1 / n).
    return _sum(terms) * (1.0 / len(terms))


# --------------------------------------------------------------------- softmax
def _max_detached(zs: List[Value]) -> Value:
    """The largest logit as a node that passes no gradient: shifting every logit by it changes nothing
    in softmax, and a node (not a number read from .data) keeps the graph replayable on new logits."""
    m = zs[0]
    for z in zs[1:]:
        m = m.max(z)
    return m.detach()


@function_scope
def softmax(logits: Sequence[Scalar]) -> List[Value]:
    """exp(z_i - max z) / sum_j exp(z_j - max z): probabilities, finite for any logits."""
    zs = [_value(z) for z in _as_list(logits, "logits")]
    if not zs:
        raise ValueError("softmax needs at least one logit")
    m = _max_detached(zs)
    exps = [(z - m).exp() for z in zs]
    total = _sum(exps)
    return [e / total for e in exps]


@function_scope
def log_softmax(logits: Sequence[Scalar]) -> List[Value]:
    """z_i - max z - log(sum_j exp(z_j - max z)): finite even at logits of ±1000."""
    zs = [_value(z) for z in _as_list(logits, "logits")]
    if not zs:
        raise ValueError("log_softmax needs at least one logit")
    m = _max_detached(zs)
    shifted = [z - m for z in zs]
    log_total = _sum(s.exp() for s in shifted).log()
    return [s - log_total for s in shifted]


# ------------------------------------------------------------ regression losses
@function_scope
def mse(pred, target) -> Value:
    """Mean squared error: (1/n) Σ (pred - target)²."""
    p, t = _pair(pred, target)
    return _mean([(a - b) ** 2 for a, b in zip(p, t)])


@function_scope
def sum_squared_error(pred, target) -> Value:
    """《深度学习入门》's form ½ Σ (pred - target)², whose derivative is simply (pred - target)."""
    p, t = _pair(pred, target)
    return 0.5 * _sum((a - b) ** 2 for a, b in zip(p, t))


@function_scope
def mae(pred, target) -> Value:
    """Mean absolute error (L1 loss): (1/n) Σ |pred - target|."""
    p, t = _pair(pred, target)
    return _mean([abs(a - b) for a, b in zip(p, t)])


l1_loss = mae


# ---------------------------------------------------------- classification losses
@function_scope
def binary_cross_entropy(prob, target, eps: float = 1e-7) -> Value:
    """-(1/n) Σ [t log p + (1 - t) log(1 - p)] for probabilities p in [0, 1], p clipped to [eps, 1 - eps].

    Clipping keeps log finite at p = 0 or 1 and the loss never negative (adding
    eps inside the log would give -1e-7 at a perfect prediction). Prefer
    `binary_cross_entropy_with_logits` when you have raw scores.
    """
    p, t = _pair(prob, target)
    for x in p:
        if not 0 <= _data(x) <= 1:
            raise ValueError(f"binary_cross_entropy needs probabilities in [0, 1], got {_data(x)!r}")
    _check_targets(t, "binary_cross_entropy")
    clipped = [_value(p_i).max(eps).min(1 - eps) for p_i in p]  # the gradient is 0 where p was clipped
    terms = [t_i * c.log() + (1 - t_i) * (1 - c).log() for c, t_i in zip(clipped, t)]
    return -_mean(terms)


@function_scope
def binary_cross_entropy_with_logits(logits, target) -> Value:
    """BCE of sigmoid(z) against t in [0, 1], computed stably as (1/n) Σ softplus(z) - t·z."""
    z, t = _pair(logits, target)
    _check_targets(t, "binary_cross_entropy_with_logits")
    return _mean([_value(z_i).softplus() - t_i * z_i for z_i, t_i in zip(z, t)])


@function_scope
def cross_entropy(logits, target) -> Value:
    """Softmax cross-entropy -log softmax(z)[target], computed stably with `log_softmax`.

    `target` is a class index or a one-hot/probability list of the same
    length as `logits`. A batch — a list of logit lists with a list of
    targets — gives the mean over the batch.
    """
    items = list(logits) if not isinstance(logits, (Value, Real)) else [logits]
    if items and isinstance(items[0], (list, tuple)):
        targets = list(target)
        if len(targets) != len(items):
            raise ValueError(f"got {len(items)} logit rows but {len(targets)} targets")
        return _mean([cross_entropy(z, t) for z, t in zip(items, targets)])
    logp = log_softmax(items)
    if isinstance(target, Integral) and not isinstance(target, bool):
        if not 0 <= int(target) < len(logp):
            raise ValueError(f"class index target must be in [0, {len(logp)}), got {target}")
        return -select(logp, target)  # type: ignore[arg-type]  # an Integral: select checks it  # the label is data: a replayed step can pick another class
    t = _as_list(target, "target")
    if len(t) != len(logp):
        raise ValueError(f"one-hot target must have {len(logp)} entries, got {len(t)}")
    _check_targets(t, "cross_entropy")
    return -_sum(t_i * lp for t_i, lp in zip(t, logp))


@function_scope
def cross_entropy_from_probs(prob, target, eps: float = 1e-7) -> Value:
    """《深度学习入门》's cross-entropy on probabilities: -Σ t·log(y + eps) (one-hot or index target)."""
    p = _as_list(prob, "prob")
    if isinstance(target, Integral) and not isinstance(target, bool):
        if not 0 <= int(target) < len(p):
            raise ValueError(f"class index target must be in [0, {len(p)}), got {target}")
        return -(_value(p[int(target)]) + eps).log()
    p, t = _pair(p, target)
    _check_targets(t, "cross_entropy_from_probs")
    return -_sum(t_i * (_value(p_i) + eps).log() for p_i, t_i in zip(p, t))


@function_scope
def hinge(scores, labels) -> Value:
    """micrograd's max-margin loss: mean of relu(1 - y·score), labels y in {-1, +1}.

    Built as ``(1 + -y * score).relu()`` exactly as micrograd's demo builds it,
    so graphs and node counts match.
    """
    s, y = _pair(scores, labels)
    for y_i in y:
        if _data(y_i) not in (-1, 1):
            raise ValueError(f"hinge labels must be -1 or +1, got {_data(y_i)!r}")
    return _mean([(1 + -y_i * s_i).relu() for y_i, s_i in zip(y, s)])


# ------------------------------------------------------------- regularisation
@function_scope
def l2_penalty(params: Sequence[Value], alpha: float = 1.0) -> Value:
    """alpha · Σ p² (written p*p, as micrograd does). Add it to the loss for weight decay."""
    ps = [_value(p) for p in _as_list(params, "params")]
    return alpha * _sum(p * p for p in ps)


@function_scope
def l1_penalty(params: Sequence[Value], alpha: float = 1.0) -> Value:
    """alpha · Σ |p|: pushes weights to exactly zero (sparse models)."""
    ps = [_value(p) for p in _as_list(params, "params")]
    return alpha * _sum(abs(p) for p in ps)
