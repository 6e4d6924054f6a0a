"""The canonical graphs that the pictures, notebooks and tests use.

Each function builds its graph from plain `Value`s, runs ``backward()`` and
returns the output Value, so every node already holds its data and gradient.
``exact=True`` uses Fractions, so the numbers come out exactly (220, 11/5).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Callable, Dict, List

from .engine import Value, topological_order

__all__ = [
    "apple_tax",
    "apple_orange",
    "chain_rule",
    "single_neuron",
    "network_2_2_1",
    "EXAMPLES",
    "find",
    "parameters",
]


def _num(text: str, exact: bool):
    return Fraction(text) if exact else float(text)


def _named(value: Value, label: str) -> Value:
    value.label = label
    return value


def apple_tax(exact: bool = False) -> Value:
    """深度学习入门 ch. 5: 2 apples at 100 each, consumption tax 10%.

    Pays 220; d(pay)/d(apple price) = 2.2, d/d(count) = 110, d/d(tax) = 200.
    """
    price = Value(100, label="苹果单价")
    count = Value(2, label="苹果个数")
    tax = Value(_num("1.1", exact), label="消费税")
    total = _named(price * count, "苹果总价")
    pay = _named(total * tax, "支付金额")
    pay.backward()
    return pay


def apple_orange(exact: bool = False) -> Value:
    """The same shop, 2 apples at 100 and 3 oranges at 150, tax 10%: pays 715.

    Gradients: apple price 2.2, apple count 110, orange price 3.3,
    orange count 165, tax 650; both subtotals and their sum get 1.1.
    """
    apple = Value(100, label="苹果单价")
    apples = Value(2, label="苹果个数")
    orange = Value(150, label="橘子单价")
    oranges = Value(3, label="橘子个数")
    tax = Value(_num("1.1", exact), label="消费税")
    apple_total = _named(apple * apples, "苹果总价")
    orange_total = _named(orange * oranges, "橘子总价")
    subtotal = _named(apple_total + orange_total, "税前合计")
    pay = _named(subtotal * tax, "支付金额")
    pay.backward()
    return pay


def chain_rule(x: float = 1, y: float = 2) -> Value:
    """z = t², t = x + y: the chain rule dz/dx = dz/dt · dt/dx = 2t · 1.

    With x = 1, y = 2: t = 3, z = 9, dz/dt = 6, dz/dx = dz/dy = 6.
    """
    xv = Value(x, label="x")
    yv = Value(y, label="y")
    t = _named(xv + yv, "t")
    z = _named(t ** 2, "z")
    z.backward()
    return z


def single_neuron() -> Value:
    """One tanh neuron o = tanh(x1·w1 + x2·w2 + b) with inputs (2, 0), weights (−3, 1).

    b = 6.8813735870195432 makes n = 0.8814 and o = tanh(n) = √2/2 ≈ 0.7071,
    so do/dn = 1 − o² = 0.5; do/dw1 = 1, do/dx1 = −1.5, do/dw2 = 0, do/dx2 = 0.5.
    """
    x1 = Value(2.0, label="x1")
    x2 = Value(0.0, label="x2")
    w1 = Value(-3.0, label="w1")
    w2 = Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = _named(x1 * w1, "x1·w1")
    x2w2 = _named(x2 * w2, "x2·w2")
    s = _named(x1w1 + x2w2, "x1·w1 + x2·w2")
    n = _named(s + b, "n")
    o = _named(n.tanh(), "o")
    o.backward()
    return o


def network_2_2_1(exact: bool = False) -> Value:
    """The worked example of a 2-2-1 linear network from the backprop derivation; returns the loss E.

    x = (1, 0.5), w1..w6 = 0.5, 1.5, 2.3, 3, 1, 1, target t = 4, E = ½(t − y)²:
    h1 = 1.25, h2 = 3.8, y = 5.05, E = 0.55125; dE/dw1..w6 = 1.05, 0.525,
    1.05, 0.525, 1.3125, 3.99.
    """
    n = lambda text: _num(text, exact)  # noqa: E731
    x1 = Value(n("1"), label="x1")
    x2 = Value(n("0.5"), label="x2")
    w = [Value(n(text), label=f"w{k}") for k, text in enumerate(("0.5", "1.5", "2.3", "3", "1", "1"), 1)]
    t = Value(n("4"), label="t")
    h1 = _named(_named(w[0] * x1, "w1·x1") + _named(w[1] * x2, "w2·x2"), "h1")
    h2 = _named(_named(w[2] * x1, "w3·x1") + _named(w[3] * x2, "w4·x2"), "h2")
    y = _named(_named(w[4] * h1, "w5·h1") + _named(w[5] * h2, "w6·h2"), "y")
    diff = _named(t - y, "t−y")
    E = _named(n("0.5") * _named(diff ** 2, "(t−y)²"), "E")
    E.backward()
    return E


# name -> (builder, labels of the leaves that are trainable parameters)
EXAMPLES: Dict[str, tuple] = {
    "apple_tax": (apple_tax, ()),
    "apple_orange": (apple_orange, ()),
    "chain_rule": (chain_rule, ()),
    "single_neuron": (single_neuron, ("w1", "w2", "b")),
    "network_2_2_1": (network_2_2_1, tuple(f"w{k}" for k in range(1, 7))),
}


def find(root: Value, label: str) -> Value:
    """The Value labelled `label` in the graph of `root` (KeyError if none)."""
    for v in topological_order(root):
        if v.label == label:
            return v
    raise KeyError(f"no Value labelled {label!r} in this graph")


def parameters(name: str, root: Value) -> List[Value]:
    """The parameter leaves of example `name` in the graph `root`."""
    builder_and_params = EXAMPLES.get(name)
    if builder_and_params is None:
        raise KeyError(f"unknown example {name!r}; choose one of {', '.join(EXAMPLES)}")
    return [find(root, label) for label in builder_and_params[1]]


def build(name: str) -> Value:
    """Build example `name` (one of `EXAMPLES`) and return its output."""
    if name not in EXAMPLES:
        raise KeyError(f"unknown example {name!r}; choose one of {', '.join(EXAMPLES)}")
    builder: Callable[[], Value] = EXAMPLES[name][0]
    return builder()
