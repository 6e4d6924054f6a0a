"""Stage 3, repeats: parts of a graph that repeat node for node (one sample's loss in a batch).

The python backend writes such a part once, as two nested functions (its
forward and its backward), and calls them once per repeat, where eager
mode's backward loop reaches the repeat's root: the same operations in the
same order, in a fraction of the code to compile.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ..engine import Value
from .graph import SELECT


class Repeat:
    """One repeat of a part of the graph: its root, its inner nodes in eager's backward order, its leaves."""

    def __init__(self, root: Value, members: List[Value], leaves: List[Value]) -> None:
        self.root, self.members, self.leaves = root, members, leaves
        self.image: Dict[Value, Value] = {}  # the first repeat's nodes -> this one's


REPEAT_MIN_NODES = 2000  # below this the whole step compiles in milliseconds anyway
REPEAT_MIN_SIZE = 16  # inner nodes of a repeat, at least


def find_repeats(nodes: List[Value], order: List[Value], uses: Dict[Value, int], param_slot: Dict[Value, int],
             number_slot: Dict[Value, int]) -> List[Repeat]:
    """Parts of the graph that repeat exactly, so that their code can be written once; [] if none.

    Nodes with the same op, constant and parent structure (leaves by kind;
    parameters by slot) are candidates. A repeat must read only leaves, be
    used only through its root, have its inner nodes visited by eager's
    backward loop in one unbroken run, and correspond node for node to the
    first repeat, in that run's order: then calling one function per repeat,
    where eager's loop reaches its root, does exactly what eager does.
    """
    if len(nodes) < REPEAT_MIN_NODES or any(v._op is SELECT for v in nodes):
        return []
    kinds: Dict[Any, int] = {}
    shape: Dict[Value, int] = {}
    size: Dict[Value, int] = {}
    groups: Dict[int, List[Value]] = {}
    kind_of = kinds.setdefault
    for v in nodes:
        op, a, b = v._op, v._a, v._b
        if op is None:
            key: Any = ("p", param_slot[v]) if v in param_slot else ("x",) if v in number_slot else ("k",)
            shape[v] = kind_of(key, len(kinds))
            size[v] = 0
            continue
        if b is None:
            key = (op, repr(v._k) if op.param else None, shape[a])  # type: ignore[index]
            n = 1 + size[a]  # type: ignore[index]
        else:
            key = (op, shape[a], shape[b])  # type: ignore[index]
            n = min(1 + size[a] + size[b], 1 << 40)  # type: ignore[index]
        shape[v] = kind = kind_of(key, len(kinds))
        size[v] = n
        if n >= REPEAT_MIN_SIZE:
            groups.setdefault(kind, []).append(v)
    position = {v: i for i, v in enumerate(order)}
    for roots in sorted((g for g in groups.values() if len(g) >= 2), key=lambda g: -len(g) * size[g[0]])[:3]:
        found: List[Repeat] = []
        taken: set = set()
        for r in sorted(roots, key=lambda v: position.get(v, -1)):
            rep = _closure(r, uses, position, taken) if not found else _match(found[0], r, shape, uses, position, taken)
            if rep is not None:
                found.append(rep)
                taken.update(rep.members)
        if len(found) >= 2:
            found[0].image = {v: v for v in found[0].members + found[0].leaves}
            return found
    return []


def _closure(root: Value, uses: Dict[Value, int], position: Dict[Value, int], taken: set) -> Optional[Repeat]:
    """The part under `root` if it can stand alone (see find_repeats), else None."""
    if root not in position:
        return None
    members, leaves, seen = [root], [], {root}
    refs: Dict[Value, int] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        for p in (node._a, node._b):  # no select in a repeat (see find_repeats): parents are the inputs
            if p is None:
                continue
            refs[p] = refs.get(p, 0) + 1
            if p in seen:
                continue
            seen.add(p)
            if p._op is None:
                leaves.append(p)
            else:
                members.append(p)
                stack.append(p)
    if any(m in taken for m in members) or any(refs[m] != uses[m] for m in members[1:]):
        return None  # shared with another repeat, or an inner node also used from outside
    members.sort(key=lambda m: position.get(m, -1))
    start = position[root]
    if [position.get(m, -1) for m in members] != list(range(start, start + len(members))):
        return None  # eager's backward loop visits something else in between
    return Repeat(root, members, leaves)


def _match(first: Repeat, root: Value, shape: Dict[Value, int], uses: Dict[Value, int],
           position: Dict[Value, int], taken: set) -> Optional[Repeat]:
    """The part under `root` if it corresponds to `first` node for node and stands alone as it does, else None.

    Corresponding inner nodes used as often as `first`'s are used inside it
    alone, and visited in the same order at consecutive places of eager's
    backward loop: then this repeat stands alone too (see _closure).
    """
    image = {first.root: root}
    back = {root: first.root}
    stack: List[Tuple[Any, Any]] = [(first.root, root)]
    while stack:
        a, b = stack.pop()
        for pa, pb in ((a._a, b._a), (a._b, b._b)):
            if pa is None:
                continue  # then pb is None too: their shapes are the same
            if shape[pa] != shape[pb]:
                return None
            if pa in image:
                if image[pa] is not pb:
                    return None
                continue
            if pb in back:
                return None
            image[pa], back[pb] = pb, pa
            if pa._op is not None:
                stack.append((pa, pb))
    members = [image[m] for m in first.members]
    start = position.get(root)
    if start is None:
        return None
    for i, (m, mine) in enumerate(zip(first.members, members)):
        if mine in taken or (i and uses[mine] != uses[m]) or position.get(mine) != start + i:
            return None
    rep = Repeat(root, members, [image[leaf] for leaf in first.leaves])
    rep.image = image
    return rep
