"""Where the book-style picture puts a value used more than once, so that no arrows cross.

In the book style a value used twice (x1 of the 2-2-1 network feeds w1·x1 and w3·x1) gets
one arrow to a branch point and one arrow from there to each use. Drawn with every operation's
inputs in argument order, top to bottom, x1 reaches rows 1 and 3 and x2 rows 2 and 4, and
their arrows cross. Here we choose, for the operations that depend on such values, which
input goes on top, so that the uses of two shared values nest (x2's rows between x1's) instead
of interleaving, and how far left each shared value branches, so that whatever sits between
its rows fits inside its fan.
"""

from __future__ import annotations

import itertools
import weakref
from typing import Dict, List, Sequence, Tuple

from .graph import GraphView

__all__ = ["BookLayout", "book_layout"]

# Above this many operations whose inputs could swap, trying every choice takes too long;
# the inputs then stay in argument order (2**12 = 4,096 tries, about 0.1 s).
MAX_SWAPPABLE = 12


class BookLayout:
    """`order[j]`: the slots of operation j from top to bottom; `fan[i]`: how many columns the
    branches of shared value i span (1 = the usual one); `crossings`: pairs of shared values
    whose rows still interleave (0 when the picture has no crossing arrows)."""

    def __init__(self, order: Dict[int, List[int]], fan: Dict[int, int], crossings: int) -> None:
        self.order = order
        self.fan = fan
        self.crossings = crossings

    def slots(self, view: GraphView, j: int) -> List[int]:
        return self.order.get(j, list(range(len(view.nodes[j].parents))))


def _shared(view: GraphView) -> List[int]:
    return [i for i in range(len(view)) if len(view.uses[i]) > 1]


def _swappable(view: GraphView, shared: Sequence[int]) -> List[int]:
    """Binary operations that depend on a shared value: the only ones whose order may change."""
    downstream = set(shared)
    out = []
    for j, v in enumerate(view.nodes):  # forward order: parents come first
        if any(view.pos(p) in downstream for p in v.parents):
            downstream.add(j)
            if len(v.parents) == 2 and v.parents[0] is not v.parents[1]:
                out.append(j)
    return out


def _rows(view: GraphView, order: Dict[int, List[int]], shared: set) -> List[int]:
    """The leaves and shared values in the order their arrows arrive, top to bottom (shared ones once per use)."""
    seen: set = set()
    out: List[int] = []
    stack = [len(view) - 1]
    while stack:
        i = stack.pop()
        if i in shared:
            out.append(i)
            if i in seen:
                continue
            seen.add(i)
        v = view.nodes[i]
        if v.is_leaf:
            if i not in shared:
                out.append(i)
            continue
        slots = order.get(i, range(len(v.parents)))
        stack.extend(view.pos(v.parents[s]) for s in reversed(list(slots)))
    return out


def _interleavings(rows: List[int], shared: Sequence[int]) -> int:
    """Pairs of shared values whose rows alternate (a b a b): each pair costs a crossing."""
    where = {i: [k for k, r in enumerate(rows) if r == i] for i in shared}
    cost = 0
    for a, b in itertools.combinations(shared, 2):
        merged = sorted([(k, 0) for k in where[a]] + [(k, 1) for k in where[b]])
        changes = sum(1 for x, y in zip(merged, merged[1:]) if x[1] != y[1])
        cost += max(0, changes - 2)
    return cost


def _fans(view: GraphView, rows: List[int], shared: Sequence[int]) -> Dict[int, int]:
    """Columns each shared input's branches span, so that what sits between its rows fits inside."""
    span = {i: (rows.index(i), len(rows) - 1 - rows[::-1].index(i)) for i in shared if i in rows}
    fan: Dict[int, int] = {}
    # inner fans first: a shared value's fan must reach past the whole fan of one inside it
    for i in sorted(span, key=lambda i: span[i][1] - span[i][0]):
        first, last = span[i]
        inside = rows[first + 1:last]
        need = 1
        for r in inside:
            if r in fan and r != i:
                need = max(need, fan[r] + 3)  # its name, trunk and branch point come before its fan
            elif r not in span:
                need = max(need, 2)  # an input's name must stand right of the branch point
        if view.nodes[i].is_leaf:
            fan[i] = need
    return {i: n for i, n in fan.items() if n > 1}


_LAYOUTS: "weakref.WeakKeyDictionary[GraphView, BookLayout]" = weakref.WeakKeyDictionary()


def book_layout(view: GraphView) -> BookLayout:
    """The input order and fan lengths with the fewest interleaving shared values, then the shortest
    fans, then the fewest swaps. Worked out once per view (a step-through draws the same view 2n times)."""
    if view not in _LAYOUTS:
        _LAYOUTS[view] = _best_layout(view)
    return _LAYOUTS[view]


def _best_layout(view: GraphView) -> BookLayout:
    shared = _shared(view)
    if not shared:
        return BookLayout({}, {}, 0)
    shared_set = set(shared)
    swappable = _swappable(view, shared)
    if len(swappable) > MAX_SWAPPABLE:
        swappable = []
    best: Tuple[int, int, int] = (10 ** 9, 0, 0)
    best_layout = BookLayout({}, {}, 0)
    for flips in itertools.product((False, True), repeat=len(swappable)):
        order = {j: [1, 0] for j, flip in zip(swappable, flips) if flip}
        rows = _rows(view, order, shared_set)
        fan = _fans(view, rows, shared)
        # no interleaving first, then the shortest fans (a compact picture), then the fewest swaps
        score = (_interleavings(rows, shared), sum(fan.values()), sum(flips))
        if score < best:
            best, best_layout = score, BookLayout(order, fan, score[0])
    if best_layout.crossings:  # arrows cross anyway (a layer of neurons that all share their inputs):
        best_layout.fan = {}   # longer fans would only widen the picture
    return best_layout
