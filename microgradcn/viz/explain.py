"""The chain rule in words: one line per node, in backward order, with the numbers."""

from __future__ import annotations

import sys
from typing import Any, List, Optional, Set, TextIO, Tuple

from ..engine import Value
from .graph import DEFAULT_MAX_NODES, GraphTooLargeError, GraphView
from .labels import format_number, op_symbol

__all__ = ["explain", "forward_line", "backward_line"]


def _num(x, precision) -> str:
    text = format_number(x.data if isinstance(x, Value) else x, precision)
    return f"({text})" if text.startswith("-") else text


def _wrap(name: str) -> str:
    """`name` in parentheses when it is itself a formula, so ∂y/∂(a + b) reads right."""
    if name.startswith("(") or not any(ch in name for ch in " +-−×÷/·"):
        return name
    return f"({name})"


def _d(top: str, bottom: str) -> str:
    return f"∂{_wrap(top)}/∂{_wrap(bottom)}"


def _formula(view: GraphView, i: int, precision: Optional[int]):
    """(formula in names, the same formula in numbers) for interior node `i`."""
    v = view.nodes[i]
    names = [_wrap(view.name(view.pos(p))) for p in v.parents]
    numbers = [_num(p.data, precision) for p in v.parents]
    symbol = op_symbol(v)
    if len(names) == 2:
        return f"{names[0]} {symbol} {names[1]}", f"{numbers[0]} {symbol} {numbers[1]}"
    if symbol.startswith("x") and len(symbol) > 1:  # x², x^0.5: the operand takes the place of x
        return f"{names[0]}{symbol[1:]}", f"{numbers[0]}{symbol[1:]}"
    return f"{v.op}({names[0]})", f"{v.op}({numbers[0]})"


def forward_line(view: GraphView, i: int, precision: Optional[int] = 6) -> str:
    """How node `i` was computed, e.g. ``苹果总价 = 苹果单价 × 苹果个数 = 100 × 2 = 200``."""
    v = view.nodes[i]
    value = format_number(v.data, precision)
    if v.is_leaf:
        return f"{view.name(i)} = {value}"
    formula, numeric = _formula(view, i, precision)
    return f"{view.name(i)} = {formula} = {numeric} = {value}"


def backward_line(view: GraphView, i: int, grads: List, precision: Optional[int] = 6) -> str:
    """The chain-rule step giving d root / d node `i` from the nodes that use it."""
    last = len(view.nodes) - 1
    root = view.name(last)
    me = view.name(i)
    if i == last:
        return f"{_d(root, root)} = 1(反向传播的起点)"
    names, numbers = [], []
    for j, slot in view.uses[i]:
        consumer = view.name(j)
        local = view.local(j)[slot]
        if j == last:
            names.append(_d(root, me))
            numbers.append(_num(local, precision))
        else:
            names.append(f"{_d(root, consumer)} × {_d(consumer, me)}")
            numbers.append(f"{_num(grads[j], precision)} × {_num(local, precision)}")
    result = format_number(grads[i], precision)
    if len(names) == 1 and view.uses[i][0][0] == last:
        return f"{_d(root, me)} = {result}(局部导数,因为 {root} = {_formula(view, last, precision)[0]})"
    line = f"{_d(root, me)} = {' + '.join(names)} = {' + '.join(numbers)} = {result}"
    if len(names) > 1:
        line += f"({me} 被使用了 {len(names)} 次,各条路径的梯度相加)"
    return line


def explain(
    root: Value,
    precision: Optional[int] = 6,
    file: Optional[TextIO] = None,
    max_nodes: Optional[int] = DEFAULT_MAX_NODES,
    focus: Any = None,
    call: Optional[int] = None,
    radius: Optional[int] = None,
) -> str:
    """Print and return the chain-rule step of every node, in backward order.

    Gradients are computed here from each operation's local derivative (no
    ``.grad`` is read or changed). Unlabelled constants are left out; other
    unlabelled nodes are named as in the pictures (``v<i>`` in a graph built by
    hand, ``layers.0[0] · relu#1`` or a parameter's name in one built by modules).
    `focus`, `call` and `radius` pick a part of the graph as `draw_graph` does
    (a scope path, a Module, or a Value and its neighbours); `max_nodes` then
    counts the nodes of that part.

    >>> from microgradcn.examples import apple_tax
    >>> text = explain(apple_tax(), file=None)  # doctest: +SKIP
    """
    if focus is None and call is None and radius is None:
        view = GraphView(root, max_nodes)
        chosen: Set[int] = set(range(len(view.nodes)))
    else:
        view, chosen = _focused(root, max_nodes, focus, call, radius)
    grads = view.gradients()
    last = len(view.nodes) - 1
    lines = [f"反向传播:从输出 {view.name(last)} 出发,按链式法则逐个节点求导"]
    for i in sorted(chosen, reverse=True):
        if not view.named(i) and i != last:
            continue
        lines.append(f"  {backward_line(view, i, grads, precision)}")
    text = "\n".join(lines)
    print(text, file=file if file is not None else sys.stdout)
    return text


def _focused(root: Value, max_nodes: Optional[int], focus: Any, call: Optional[int],
             radius: Optional[int]) -> Tuple[GraphView, Set[int]]:
    """The whole graph's view and the positions `focus` picks (checked against `max_nodes`)."""
    from .focus import select

    if not isinstance(root, Value):
        raise TypeError(f"expected a Value as the root of the graph, got {type(root).__name__}: {root!r}")
    view = GraphView(root, None)
    chosen = select(view, view.tree, focus, call, radius).nodes
    if max_nodes is not None and len(chosen) > max_nodes:
        raise GraphTooLargeError(
            f"focus={focus!r} 有 {len(chosen)} 个节点,超过 max_nodes={max_nodes}:请选更小的部分"
            f"(更深的作用域路径,或更小的 radius=)。 / The focus has {len(chosen)} nodes, more than "
            f"max_nodes={max_nodes}: pick a smaller part (a deeper scope path, or a smaller radius=).")
    return view, chosen
