"""Stage 2, the graph: its nodes in forward order, and the order in which eager mode's backward loop visits them.

A `select` node is special: eager mode sees only the candidate it chose, but
a replayed step may choose another (a new label), so here all its candidates
count as its inputs. The backward order is the one of the engine's loop
(`engine._chain_rule`, Kahn's algorithm from the root, a ready first parent
visited next); tests check that, a select's other candidates left out, it is
exactly the order the engine's loop visits.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Set, Tuple

from ..engine import Value
from ..ops import OPS
from .errors import ReplayError
from .recording import Recorder

SELECT = OPS["select"]


def inputs(node: Value) -> Tuple[Value, ...]:
    """A node's inputs as replay sees them: a select's are all its candidates."""
    if node._op is SELECT:
        return node._k[1]
    a, b = node._a, node._b  # (parents(node), written out: this runs for every node, several times)
    return () if a is None else (a,) if b is None else (a, b)


def parents(node: Value) -> Tuple[Value, ...]:
    """A node's inputs as the engine sees them: a select's is the candidate it chose."""
    a, b = node._a, node._b
    return () if a is None else (a,) if b is None else (a, b)


def forward_order(root: Value, seen: Optional[set] = None) -> List[Value]:
    """Every node, inputs first; select's candidates count as its inputs.

    Nodes already in `seen` (which is updated) are left out, with everything below them.
    """
    order: List[Value] = []
    seen = set() if seen is None else seen
    stack: List[Tuple[Value, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        for parent in reversed(inputs(node)):
            if parent not in seen:
                stack.append((parent, False))
    return order


def decision_nodes(recorder: Recorder, nodes: List[Value]) -> List[Value]:
    """The nodes, not among `nodes`, of the Values compared while recording (forward order): guards need them."""
    if not recorder.decisions:
        return []
    seen = set(nodes)
    extra: List[Value] = []
    for value, other, _, _ in recorder.decisions:
        for v in (value, other):
            if isinstance(v, Value) and v not in seen:
                extra.extend(forward_order(v, seen))
    return extra


def count_uses(nodes: Sequence[Value]) -> Dict[Value, int]:
    """How often each node is an input of another among `nodes` (select's candidates all count)."""
    uses: Dict[Value, int] = {}
    for node in nodes:
        for parent in inputs(node):
            uses[parent] = uses.get(parent, 0) + 1
    return uses


def backward_order(root: Value, uses: Optional[Dict[Value, int]] = None, chosen_only: bool = False) -> List[Value]:
    """The interior nodes in the order eager mode's backward loop visits them (engine._chain_rule).

    A `select` counts all its candidates as inputs (so the order holds for
    every label, see `fixed_selects`), or with ``chosen_only`` only the one
    it chose, as the engine does (the order for the recorded labels).
    `uses` (`count_uses` of the graph, not changed) saves counting again.
    """
    if chosen_only:
        uses = eager_uses(root)
    else:
        uses = count_uses(forward_order(root)) if uses is None else dict(uses)
    ins = parents if chosen_only else inputs
    order: List[Value] = []
    ready: List[Value] = []
    if root._op is None:
        return order  # the loss is a leaf: eager's loop visits nothing
    node = root
    while True:
        order.append(node)
        node_inputs = ins(node)
        for parent in node_inputs[1:]:
            if parent._op is not None:
                uses[parent] -= 1
                if not uses[parent]:
                    ready.append(parent)
        first = node_inputs[0]
        if first._op is not None:
            uses[first] -= 1
            if not uses[first]:
                node = first
                continue
        if not ready:
            return order
        node = ready.pop()


def eager_uses(root: Value) -> Dict[Value, int]:
    """How often each interior node is used in eager mode's graph (a select uses only its chosen candidate)."""
    uses: Dict[Value, int] = {root: 0}
    stack = [root]
    while stack:
        node = stack.pop()
        for parent in (node._a, node._b):
            if parent is None or parent._op is None:
                continue
            if parent in uses:
                uses[parent] += 1
            else:
                uses[parent] = 1
                stack.append(parent)
    return uses


def fixed_selects(nodes: List[Value], order: List[Value]) -> Set[Value]:
    """The selects whose label, if it changed, might change what eager's backward loop adds in which order.

    `order` is `backward_order`'s, all candidates counted. A select's label is
    data (new labels replay) when each interior candidate is used by that
    select alone and eager's loop, whichever candidate it picks, goes on the
    same way (cross-entropy's log-probabilities ``s_i - log_total``: the ones
    not chosen carry a zero gradient; each candidate's own input, ``s_i``, is
    used after the select too, and the input they share, ``log_total``, is
    the same input of every candidate); or when each candidate is used
    elsewhere too, only by nodes visited after the select, none a select:
    then every candidate's gradient is complete at its last other user,
    whichever one the label picks. Any other select keeps its recorded label
    (a guard).
    """
    if not any(v._op is SELECT for v in order):
        return set()
    position = {v: i for i, v in enumerate(order)}
    # The users of the selects' interior candidates and of their inputs only (a GPT's graph has ~70k nodes).
    watched = [c for s in order if s._op is SELECT for c in s._k[1] if c._op is not None]
    watched += [p for c in watched for p in inputs(c) if p._op is not None]
    users: Dict[Value, List[Value]] = {v: [] for v in watched}
    for u in nodes:
        for p in inputs(u):
            found = users.get(p)
            if found is not None:
                found.append(u)
    fixed = set()
    for s in order:
        if s._op is not SELECT:
            continue
        others = [[u for u in users[c] if u is not s] for c in s._k[1] if c._op is not None]
        alone = all(not o for o in others) and _goes_on_the_same_way(s, users, position)
        after = all(o and all(u._op is not SELECT and position.get(u, -1) > position[s] for u in o) for o in others)
        if not (alone or after):
            fixed.add(s)
    return fixed


def _goes_on_the_same_way(select: Value, users: Dict[Value, List[Value]], position: Dict[Value, int]) -> bool:
    """Whether eager's loop, past a select whose candidates only it uses, goes on the same way for any label.

    It does when no candidate's input becomes ready at that candidate alone:
    each input is the same input of every candidate, or is used after the
    select by something else too. (Otherwise the label decides what eager's
    loop visits next, and so the order in which it adds gradient terms.)
    """
    candidates = [c for c in select._k[1] if c._op is not None]
    inner = set(candidates)
    for c in candidates:
        for k, p in enumerate(inputs(c)):
            if p._op is None or all(len(inputs(d)) > k and inputs(d)[k] is p for d in candidates):
                continue
            outside = [u for u in users[p] if u not in inner]
            if not outside or any(position.get(u, -1) <= position[select] for u in outside):
                return False
    return True


def leading(nodes: List[Value], params: Sequence[Value]) -> Set[Value]:
    """The nodes from which some parameter can be reached (the others' gradients go nowhere)."""
    leads = set(params)
    for v in nodes:
        for p in inputs(v):
            if p in leads:
                leads.add(v)
                break
    return leads


def check_params_used(nodes: Sequence[Value], params: Sequence[Value]) -> None:
    """Refuse parameters the loss does not depend on (their gradient would silently stay put)."""
    present = {v for v in nodes if v._op is None}
    unused = [j for j, p in enumerate(params) if p not in present]
    if unused:
        raise ReplayError(f"the loss does not use the parameters at positions {unused[:10]} "
                          f"(of {len(params)}); pass only the parameters the loss depends on")
