"""The levels of a large graph for the explorer: what one opened box shows, and which boxes look alike.

The explorer page never draws a whole large graph. It draws one *level*: the
inside of one call of a module (or the top level), made of

* the boxes of the sub-module calls made inside it (calls of the same module
  folded into one box, ``×N``),
* the nodes made directly in it and the parameters of its module,
* one stub per value coming in from outside, and one ``外部`` stub for the
  values going out.

`levels(view, tree)` returns every call's level as a list of items plus the
arrows between them. Two calls whose levels have the same items (same kinds,
same ops, in the same order) and the same arrows share one *structure*, so
the page needs one layout per structure (a neuron called for each of 100
samples is laid out once). A call with more than `BIG_CALL` nodes of its own
and no sub-scopes (a ``Linear(200, 10)``, a ``Conv2d``) is split into one
slice per output: the nodes that output alone depends on inside the call.

Everything here is linear in the size of the graph times the depth of the
scopes.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from .graph import GraphView
from .scope_tree import Call, Scope, ScopeTree

__all__ = ["Levels", "levels", "BIG_CALL", "NODE", "PARAM", "BOX", "STUB", "OUT"]

BIG_CALL = 400  # more nodes of its own than this and no sub-scopes: one slice per output
NODE, PARAM, BOX, STUB, OUT = range(5)  # the kinds of item on a level


class Levels:
    """Boxes, calls and levels of one scoped graph, as flat lists the page reads by index.

    * ``boxes[b]``: (title, kind, parent box or -1, depth); ``box_params[b]``: the parameters drawn
      directly in it; ``box_of_scope``: `Scope` -> index. Slices are boxes of their own.
    * ``calls[c]``: (box, call number, parent call or -1); call -1 is the top level.
    * ``home[i]``: the call node i is drawn in (-1: the top level); a parameter's is its box's first call.
    * ``structures[s]``: (item kinds, item ops, arrows (from slot, to slot, count)); ``call_structure[c + 1]``
      and ``call_items[c + 1]``: the structure of call c's level and what each slot is (a node position,
      or for a box the first call of that box inside c, or -1 for the out stub).
    * ``nodes_of[c]``: every node inside call c (sub-calls included, parameters aside).
    """

    def __init__(self, view: GraphView, tree: ScopeTree) -> None:
        self.view = view
        self.tree = tree
        self.boxes: List[Tuple[str, str, int, int]] = []
        self.box_params: List[List[int]] = []
        self.box_of_scope: Dict[int, int] = {}
        self.calls: List[Tuple[int, int, int]] = []
        self.call_of: Dict[int, int] = {}
        self.children: List[List[int]] = [[]]  # children[c + 1]: calls directly inside call c
        self.own: List[List[int]] = [[]]  # own[c + 1]: nodes drawn directly in call c
        self.nodes_of: List[List[int]] = []
        self.home = [-1] * len(view)
        self.param_box: Dict[int, int] = {}
        self.structures: List[Tuple[Tuple[int, ...], Tuple[str, ...], Tuple[Tuple[int, int, int], ...]]] = []
        self.call_structure: List[int] = []
        self.call_items: List[List[int]] = []


def levels(view: GraphView, tree: ScopeTree) -> Levels:
    """Every level of the scoped graph `view` (see the module docstring)."""
    lv = Levels(view, tree)
    for scope in tree.top:
        _add_box(lv, scope, -1)
    for scope in tree.top:
        _add_calls(lv, scope)
    for i in range(len(view)):
        place = tree.place[i]
        if place is None:
            lv.own[0].append(i)
    slices: Dict[Tuple[int, int], int] = {}
    for c in range(len(lv.calls)):
        if not lv.children[c + 1] and len(lv.own[c + 1]) > BIG_CALL:
            _slice(lv, c, slices)
    for box in tree.boxes():
        b = lv.box_of_scope[id(box)]
        first = lv.call_of[id(box.calls[0])]
        for p in box.params:
            lv.home[p] = first
            lv.param_box[p] = b
    _params_into_slices(lv, slices)
    for p, b in lv.param_box.items():
        lv.box_params[b].append(p)
    for params in lv.box_params:
        params.sort()
    _fill_nodes(lv)
    signatures: Dict[tuple, int] = {}
    for c in range(-1, len(lv.calls)):
        kinds, ops, arrows, items = _level(lv, c)
        key = (kinds, ops, arrows)
        s = signatures.get(key)
        if s is None:
            s = signatures[key] = len(lv.structures)
            lv.structures.append(key)
        lv.call_structure.append(s)
        lv.call_items.append(items)
    return lv


def _add_box(lv: Levels, scope: Scope, parent: int) -> None:
    b = len(lv.boxes)
    lv.box_of_scope[id(scope)] = b
    lv.boxes.append((scope.title, scope.kind, parent, scope.depth))
    lv.box_params.append([])
    for child in scope.children:
        _add_box(lv, child, b)


def _add_calls(lv: Levels, scope: Scope) -> None:
    b = lv.box_of_scope[id(scope)]
    for call in scope.calls:
        _new_call(lv, b, call.index, -1 if call.parent is None else lv.call_of[id(call.parent)], call)
    for child in scope.children:
        _add_calls(lv, child)


def _new_call(lv: Levels, box: int, number: int, parent: int, call: Optional[Call]) -> int:
    c = len(lv.calls)
    lv.calls.append((box, number, parent))
    lv.children.append([])
    lv.children[parent + 1].append(c)
    own: List[int] = []
    if call is not None:
        lv.call_of[id(call)] = c
        own = sorted(call.own)
        for i in own:
            lv.home[i] = c
    lv.own.append(own)
    return c


def _slice(lv: Levels, c: int, slices: Dict[Tuple[int, int], int]) -> None:
    """Split the big call c into one slice per output; what several outputs share stays in c."""
    view = lv.view
    index = view.index
    own = lv.own[c + 1]
    inside = set(own)
    last = len(view) - 1
    outputs = [i for i in own if i == last or any(j not in inside for j, _ in view.uses[i])]
    owner: Dict[int, int] = {}
    shared = -1
    for k, out in enumerate(outputs):
        stack = [out]
        while stack:
            i = stack.pop()
            was = owner.get(i)
            if was == k or was == shared:
                continue
            owner[i] = k if was is None else shared  # what two outputs depend on stays in the call
            stack.extend(index[id(p)] for p in view.nodes[i].parents if index[id(p)] in inside)
    box, number, _ = lv.calls[c]
    title, kind, _, depth = lv.boxes[box]
    members: Dict[int, List[int]] = {}
    for i in own:
        members.setdefault(owner.get(i, shared), []).append(i)
    lv.own[c + 1] = members.pop(shared, [])
    for k in range(len(outputs)):
        b = slices.get((box, k))
        if b is None:  # one slice box per output of the box, shared by its calls
            b = slices[(box, k)] = len(lv.boxes)
            lv.boxes.append((f"{title} · 输出 {k}", "输出切片", box, depth + 1))  # as draw_graph names it
            lv.box_params.append([])
        s = _new_call(lv, b, number, c, None)
        lv.own[s + 1] = members.get(k, [])
        for i in lv.own[s + 1]:
            lv.home[i] = s


def _params_into_slices(lv: Levels, slices: Dict[Tuple[int, int], int]) -> None:
    """A parameter of a sliced box used by one slice only is drawn in that slice (a weight row)."""
    sliced = {box for box, _ in slices}
    slice_boxes = set(slices.values())
    first_call: Dict[int, int] = {}
    for c, call in enumerate(lv.calls):
        first_call.setdefault(call[0], c)
    for p, b in list(lv.param_box.items()):
        if b not in sliced:
            continue
        used_in = {lv.calls[lv.home[j]][0] if lv.home[j] >= 0 else -1 for j, _ in lv.view.uses[p]}
        if len(used_in) == 1:
            (only,) = used_in
            if only in slice_boxes and lv.boxes[only][2] == b:
                lv.param_box[p] = only
                lv.home[p] = first_call[only]


def _fill_nodes(lv: Levels) -> None:
    """nodes_of[c]: the nodes inside call c, deepest calls first (a call's parent comes before it)."""
    lv.nodes_of = [list(own) for own in lv.own[1:]]
    for c in range(len(lv.calls) - 1, -1, -1):
        parent = lv.calls[c][2]
        if parent >= 0:
            lv.nodes_of[parent].extend(lv.nodes_of[c])


def chain(lv: Levels, c: int) -> List[int]:
    """The calls from the top down to call c (c included; empty for the top level)."""
    out = []
    while c >= 0:
        out.append(c)
        c = lv.calls[c][2]
    return out[::-1]


def box_chain(lv: Levels, b: int) -> List[int]:
    """The boxes from the top down to box b (b included)."""
    out = []
    while b >= 0:
        out.append(b)
        b = lv.boxes[b][2]
    return out[::-1]


def _level(lv: Levels, c: int) -> Tuple[Tuple[int, ...], Tuple[str, ...], Tuple[Tuple[int, int, int], ...], List[int]]:
    """(kinds, ops, arrows, items) of call c's level (c = -1: the top level)."""
    view = lv.view
    depth = len(chain(lv, c))
    slots: Dict[tuple, int] = {}
    kinds: List[int] = []
    ops: List[str] = []
    items: List[int] = []

    def slot(key: tuple, kind: int, op: str, ref: int) -> int:
        k = slots.get(key)
        if k is None:
            k = slots[key] = len(kinds)
            kinds.append(kind)
            ops.append(op)
            items.append(ref)
        return k

    for child in lv.children[c + 1]:
        slot(("b", lv.calls[child][0]), BOX, "", child)
    for i in lv.own[c + 1]:
        slot(("n", i), NODE, view.nodes[i].op or "", i)
    box = lv.calls[c][0] if c >= 0 else -1
    for p in lv.box_params[box] if box >= 0 else ():
        slot(("n", p), PARAM, "", p)
    inside = lv.nodes_of[c] if c >= 0 else range(len(view))
    inner = set(inside)
    cache: Dict[int, Optional[tuple]] = {}

    def where(i: int) -> Optional[tuple]:
        """The key of node i's item on this level, None when it is outside."""
        if i in cache:
            return cache[i]
        key: Optional[tuple]
        owner = lv.param_box.get(i)
        if owner is not None:  # a parameter: inside when its box is inside this level's box
            up = box_chain(lv, owner)
            if depth and (len(up) < depth or up[depth - 1] != box):
                key = None
            else:
                key = ("n", i) if len(up) == depth else ("b", up[depth])
            cache[i] = key = key if key in slots else None
            return key
        path = chain(lv, lv.home[i])
        if len(path) < depth or (depth and path[depth - 1] != c):
            key = None
        elif len(path) == depth:
            key = ("n", i)
        else:
            key = ("b", lv.calls[path[depth]][0])
        if key is not None and key[0] == "n" and key not in slots:
            key = None  # a parameter of another call of an enclosing box
        cache[i] = key
        return key

    counts: Dict[Tuple[int, int], set] = {}
    last = len(view) - 1
    index = view.index
    for j in inside:
        target = where(j)
        if target is None:
            continue
        b = slots[target]
        for parent in view.nodes[j].parents:
            i = index[id(parent)]
            source = where(i)
            a = slot(("s", i), STUB, "", i) if source is None else slots[source]
            if a != b:
                counts.setdefault((a, b), set()).add(i)
        if j == last or any(u not in inner for u, _ in view.uses[j]):
            if c >= 0:
                out = slot(("o",), OUT, "", -1)
                counts.setdefault((b, out), set()).add(j)
    arrows = tuple(sorted((a, b, len(v)) for (a, b), v in counts.items()))
    return tuple(kinds), tuple(ops), arrows, items
