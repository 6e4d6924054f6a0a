"""Stage 3, repeats: parts of a graph that repeat node for node, so that their code is written once.

Two kinds, found in this order:

* `find_repeats`: parts that read only leaves (one sample's loss in a
  batch). The python backend writes the part once, as two nested functions
  (its forward and its backward), and calls them once per repeat, where
  eager mode's backward loop reaches the repeat's root.
* `term_repeats`: the terms of a sum near the loss that repeat as far as
  they go, reading computed values too (a sequence's per-position head and
  loss, which read that position's attention). The two functions then loop
  over every repeat, called once per step each, and return the gradient
  terms of the computed values they read.

Either way: the same operations in the same order as eager mode, in a
fraction of the code to compile (a GPT step's recording compiles in about
60% of the time).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from ..engine import Value
from ..ops import OPS
from .graph import SELECT, inputs
from .recording import Index


class Repeat:
    """One repeat of a part of the graph: its root, its inner nodes in eager's backward order, its inputs.

    `leaves` are the nodes outside the part that it reads: parameters,
    numbers, and (for `term_repeats`) computed values, whose gradient terms
    its backward function returns. `picks` are the integer-input slots its
    selects pick with, passed to its functions like the inputs.
    """

    def __init__(self, root: Value, members: List[Value], leaves: List[Value], picks: Sequence[int] = ()) -> None:
        self.root, self.members, self.leaves, self.picks = root, members, leaves, list(picks)
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


def _pair(image: Dict[Value, Value], back: Dict[Value, Value], a: Value, b: Value) -> Optional[bool]:
    """Pair the first repeat's node a with b, one to one: True if new, False if already so, None if a or b is taken."""
    if a in image:
        return False if image[a] is b else None
    if b in back:
        return None
    image[a], back[b] = b, a
    return True


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
            new = _pair(image, back, pa, pb)
            if new is None:
                return None
            if new and pa._op is not None:
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


# ------------------------------------------------------------------------------------------------------
# Repeats that read computed values: the terms of a sum (a sequence's per-position losses).


def term_repeats(nodes: List[Value], order: List[Value], uses: Dict[Value, int], param_slot: Dict[Value, int],
                 leads: Set[Value]) -> List[Repeat]:
    """The terms of a sum near the loss, as far as they repeat node for node; [] if fewer than two do.

    Each term's part is what lies under it alone (its nodes used by nothing
    else) and corresponds to the first term's part, node for node; where the
    terms differ (a later position attends to more keys), the part stops and
    the differing values become inputs, passed to the part's functions, which
    return their gradient terms. Calling the backward function where eager's
    loop reaches the term adds every gradient term eager adds, in eager's
    order, when (checked here) the parts are visited in the same order and
    nothing eager visits in between adds to what the part adds to.
    """
    if len(nodes) < REPEAT_MIN_NODES:
        return []
    position = {v: i for i, v in enumerate(order)}
    picked = {c for v in nodes if v._op is SELECT and _all_params(v, param_slot) for c in v._k[1]}
    same = _Sameness(uses, leads, param_slot, picked)
    for terms in _sum_chains(order, uses, 3):  # the sums nearest the loss: a mean's, a batch's
        found = _term_repeats(terms, same, order, position)
        if found and not depends_on_roots(nodes, found):
            return found
    return []


def _term_repeats(terms: List[Value], same: "_Sameness", order: List[Value], position: Dict[Value, int]
                  ) -> List[Repeat]:
    first = terms[0]
    walks = [(r, w) for r, w in ((r, same.walk(first, r, None)) for r in terms[1:]) if w is not None]
    if not walks:
        return []
    region = set.intersection(*(set(members) for _, (_, members) in walks))
    region = _used_alone(first, region, same.uses, position)
    if len(region) < REPEAT_MIN_SIZE:
        return []
    template = sorted(region, key=position.__getitem__)
    cut = {p for m in template for p in inputs(m) if p not in region}  # the part's inputs
    found = [_repeat(first, template, {v: v for v in template} | {v: v for v in cut}, template)]
    for r, (image, _) in walks:  # each walk's pairs, the part cut to the region: the rest are inputs
        if all(same.input(p, image[p]) for p in cut if p._op is not None):
            found.append(_repeat(r, [image[m] for m in template], image, template))
    found = [rep for rep in found if _in_first_order(rep, position)]
    found.sort(key=lambda rep: position[rep.root])
    if len(found) < 2 or found[0].root is not first or not _batch_keeps_eager_order(found, order, position, same.leads):
        return []
    return found


_ADD = OPS["add"]


def _all_params(select: Value, param_slot: Dict[Value, int]) -> bool:
    return all(c._op is None and c in param_slot for c in select._k[1])


def _sum_chains(order: List[Value], uses: Dict[Value, int], most: int) -> List[List[Value]]:
    """The computed terms of chains of additions (``((t0 + t1) + t2) + ...``), first term first.

    At most `most` chains of at least two terms, those eager's loop reaches first (nearest the loss).
    """
    chains: List[List[Value]] = []
    in_chain: Set[Value] = set()
    for top in order:
        if top._op is not _ADD or top in in_chain:
            continue
        terms, node = [], top
        while True:
            in_chain.add(node)
            terms.append(node._b)
            a = node._a
            if a is None or a._op is not _ADD or uses.get(a) != 1:
                terms.append(a)
                break
            node = a
        computed = list(dict.fromkeys(t for t in reversed(terms) if t is not None and t._op is not None))
        if len(computed) >= 2:
            chains.append(computed)
            if len(chains) == most:
                break
    return chains


class _Sameness:
    """Whether nodes of two terms correspond: as inner nodes of their parts, or as inputs."""

    def __init__(self, uses: Dict[Value, int], leads: Set[Value], param_slot: Dict[Value, int],
                 picked: Set[Value]) -> None:
        self.uses, self.leads, self.param_slot, self.picked = uses, leads, param_slot, picked

    def inner(self, a: Value, b: Value) -> bool:
        """a and b can be corresponding inner nodes: the same op and constant, used as often."""
        op = a._op
        if op is None or b._op is not op or self.uses.get(a) != self.uses.get(b) or (a in self.leads) != (
                b in self.leads):
            return False
        if op is SELECT:
            (i, ca), (j, cb) = a._k, b._k
            same_pick = isinstance(i, Index) and isinstance(j, Index) or (
                not isinstance(i, Index) and not isinstance(j, Index) and int(i) == int(j))
            return same_pick and len(ca) == len(cb) and not any(c in self.picked for c in ca)
        return not op.param or repr(a._k) == repr(b._k)

    def input(self, a: Value, b: Value) -> bool:
        """a and b can be corresponding inputs: the same parameter, or values that both lead to one or not."""
        if a in self.param_slot or b in self.param_slot:
            return a is b and a not in self.picked
        leads = a in self.leads
        return leads == (b in self.leads) and (not leads or (a._op is not None and b._op is not None))

    def walk(self, first: Value, root: Value, allowed: Optional[Set[Value]]
             ) -> Optional[Tuple[Dict[Value, Value], List[Value]]]:
        """first's part matched against root's, down to where they differ: (first's -> root's, inner nodes)."""
        if not self.inner(first, root):
            return None
        image, back = {first: root}, {root: first}
        members = [first]
        stack = [(first, root)]
        while stack:
            a, b = stack.pop()
            ins_a, ins_b = inputs(a), inputs(b)
            if len(ins_a) != len(ins_b):
                return None
            for pa, pb in zip(ins_a, ins_b):
                new = _pair(image, back, pa, pb)
                if new is None:
                    return None
                if not new:
                    continue
                if (allowed is None or pa in allowed) and self.inner(pa, pb):
                    members.append(pa)
                    stack.append((pa, pb))
                elif not self.input(pa, pb):
                    return None
        return image, members


def _used_alone(root: Value, region: Set[Value], uses: Dict[Value, int], position: Dict[Value, int]) -> Set[Value]:
    """The nodes of `region` under `root` used only by each other (eager's order lists users first)."""
    inside = {root}
    count: Dict[Value, int] = {}
    for v in sorted(region, key=position.__getitem__):
        if v is not root and count.get(v, 0) != uses[v]:
            continue
        inside.add(v)
        for p in inputs(v):
            count[p] = count.get(p, 0) + 1
    return inside


def _repeat(root: Value, members: List[Value], image: Dict[Value, Value], template: List[Value]) -> Repeat:
    inner = set(template)
    leaves, picks, seen = [], [], set()
    for m in template:
        for p in inputs(m):
            if p not in inner and p not in seen:
                seen.add(p)
                leaves.append(p)
        if m._op is SELECT and isinstance(m._k[0], Index):
            picks.append(image[m]._k[0].slot)
    rep = Repeat(root, members, [image[leaf] for leaf in leaves], picks)
    rep.image = {m: image[m] for m in template + leaves}
    return rep


def _in_first_order(rep: Repeat, position: Dict[Value, int]) -> bool:
    """Eager's loop visits rep's inner nodes in the order it visits the first repeat's."""
    where = [position[m] for m in rep.members]
    return all(x < y for x, y in zip(where, where[1:]))


def _batch_keeps_eager_order(found: List[Repeat], order: List[Value], position: Dict[Value, int],
                             leads: Set[Value]) -> bool:
    """Whether one loop over the repeats, where eager's loop reaches the first, adds what eager adds, in its order.

    The loop runs every repeat's backward at once: each root's gradient must
    be complete by then, and what eager visits from there to the last repeat
    must add nothing to a repeat's parameters, nor to a repeat's computed
    inputs before that repeat is done (a later position's own attention may).
    """
    start, end = position[found[0].root], max(position[rep.members[-1]] for rep in found)
    roots = {rep.root for rep in found}
    if any(p in roots for v in order[start:] for p in inputs(v)):
        return False  # a root used by a node eager visits after the loop: its gradient is not complete
    params = {leaf for leaf in found[0].leaves if leaf._op is None and leaf in leads}
    done_at: Dict[Value, int] = {}  # a repeat's computed input -> where eager finishes that repeat
    for rep in found:
        for leaf in rep.leaves:
            if leaf._op is not None:
                done_at[leaf] = max(done_at.get(leaf, -1), position[rep.members[-1]])
    inner = {m for rep in found for m in rep.members}
    for i in range(start, end + 1):
        v = order[i]
        if v in inner:
            continue
        for p in inputs(v):
            if p in params or done_at.get(p, -1) > i:
                return False
    return True


def depends_on_roots(nodes: List[Value], found: List[Repeat]) -> bool:
    """Whether some repeat reads a value computed from a repeat's root (then its forward cannot run in a batch)."""
    roots = {rep.root for rep in found}
    tainted: Set[Value] = set()
    for v in nodes:
        if v in roots or any(p in tainted for p in inputs(v)):
            tainted.add(v)
    return any(leaf in tainted for rep in found for leaf in rep.leaves)
