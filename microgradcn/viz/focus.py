"""What a scoped picture shows: `depth=`, `focus=`, `call=`, `radius=` checked and turned into a `Selection`.

A selection is the part of the graph to draw: the whole graph, one call of a
scope (``focus="layers.1"``, ``call=3`` or ``"layers.1[3]"``, or a Module),
or the neighbourhood of one Value (``focus=v, radius=2``). Every check is
made before anything is drawn, and a bad argument gets a one-line error.
"""

from __future__ import annotations

import re
from typing import Any, List, Optional, Set

from ..engine import Value
from .graph import GraphView
from .scope_tree import Call, Scope, ScopeTree

__all__ = ["Selection", "check_depth", "select"]

_INDEXED = re.compile(r"^(.*)\[(\d+)\]$")


class Selection:
    """The nodes to draw and, for a call, the call itself (drawn as the frame around them)."""

    def __init__(self, nodes: Set[int], call: Optional[Call] = None, box: Optional[Scope] = None,
                 around: Optional[int] = None) -> None:
        self.nodes = nodes
        self.call = call  # the focused call (None: the whole graph, or a Value's neighbourhood)
        self.box = box  # the focused call's box
        self.around = around  # the focused Value's position


def check_depth(depth: object) -> Optional[int]:
    """`depth` as an int ≥ 1, or None; ValueError for 0, negatives, bools and floats."""
    if depth is None:
        return None
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be None (every node) or an int ≥ 1 (scopes nested that deep as boxes), "
                         f"got {depth!r}")
    return depth


def select(view: GraphView, tree: Optional[ScopeTree], focus: Any, call: Optional[int],
           radius: Optional[int]) -> Selection:
    """The nodes `focus` (with `call`, `radius`) picks; every node when `focus` is None."""
    if radius is not None and not isinstance(focus, Value):
        raise ValueError(f"radius= only goes with a Value focus (focus=v, radius=2), got focus={_show(focus)}")
    if call is not None and (isinstance(call, bool) or not isinstance(call, int)):
        raise ValueError(f"call must be an int (which call of a folded scope), got {call!r}")
    if call is not None and (focus is None or isinstance(focus, Value)):
        raise ValueError(f"call= picks a call of a focused scope: give focus= a path or a Module, got "
                         f"focus={_show(focus)}")
    if focus is None:
        return Selection(set(range(len(view))))
    if isinstance(focus, Value):
        return _around(view, focus, 2 if radius is None else radius)
    from ..nn.module import Module

    if isinstance(focus, str):
        boxes, index = _by_path(tree, focus)
    elif isinstance(focus, Module):
        boxes, index = _by_module(tree, focus), None
    else:
        raise TypeError(f"focus must be a scope path (str), a Module or a Value, got {type(focus).__name__}: "
                        f"{focus!r}")
    if index is not None and call is not None and index != call:
        raise ValueError(f"focus={focus!r} already picks call {index}; call={call} disagrees")
    k = index if index is not None else (call or 0)
    calls = [c for box in boxes for c in box.calls]
    if not 0 <= k < len(calls):
        raise ValueError(f"call must be in [0, {len(calls)}): {boxes[0].title} was called {len(calls)} "
                         f"time{'s' if len(calls) != 1 else ''} in this graph, got {k}")
    chosen = calls[k]
    return Selection(set(call_nodes(tree, chosen)), chosen, chosen.scope)


def call_nodes(tree: Any, call: Call) -> List[int]:
    """The nodes of one call with the parameters of its box (and sub-boxes) that it uses."""
    inside = set(call.nodes)
    used = {tree.view.pos(p) for i in inside for p in tree.view.nodes[i].parents}
    params = [i for i in call.scope.nodes if i in tree.param_names and i in used]
    return sorted(inside.union(params))


def _by_path(tree: Optional[ScopeTree], path: str) -> tuple:
    if tree is None:
        raise ValueError(f"focus={path!r} names a scope, but this graph was built by hand and has none; "
                         "focus on a Value instead (focus=v, radius=2)")
    match = _INDEXED.match(path)
    index = None
    if match and not tree_has(tree, path):
        path, index = match.group(1), int(match.group(2))
    return tree.find(path), index


def tree_has(tree: ScopeTree, path: str) -> bool:
    return any(box.title == path for box in tree.boxes())


def _by_module(tree: Optional[ScopeTree], module: Any) -> List[Scope]:
    found = [] if tree is None else [box for box in tree.boxes() if box.module is module]
    if not found:
        raise ValueError(f"focus={module!r}: this module made no nodes in this graph")
    return found


def _around(view: GraphView, focus: Value, radius: object) -> Selection:
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 0:
        raise ValueError(f"radius must be an int ≥ 0 (how many edges away from the focus), got {radius!r}")
    if id(focus) not in view.index:
        raise ValueError(f"focus={focus!r} is not a node of this graph")
    start = view.pos(focus)
    seen = {start}
    ring = [start]
    for _ in range(radius):
        nxt = []
        for i in ring:
            near = [view.pos(p) for p in view.nodes[i].parents] + [j for j, _ in view.uses[i]]
            for j in near:
                if j not in seen:
                    seen.add(j)
                    nxt.append(j)
        ring = nxt
    return Selection(seen, around=start)


def _show(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."
