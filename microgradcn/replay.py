"""Replay: record a training step's graph once, then rerun it on new numbers without building Values.

A training loop builds the same graph at every step, only with new numbers.
`trace` records it on the first call (an ordinary eager step) and turns it
into straight-line Python code (``backend="python"``; a part that repeats
node for node, such as one sample's loss in a batch, is written once as a
function and called per repeat) or into numpy code that
evaluates each node of one sample's graph over the whole batch at once
(``backend="numpy"``). Later calls run that code: the same operations, taken
from the same op table, in the same order as eager mode's forward pass and
backward loop, so the loss and every ``p.grad`` are equal to eager mode's,
bit for bit.

    >>> from microgradcn import Value
    >>> from microgradcn.replay import trace
    >>> w = Value(2.0)
    >>> step = trace(lambda x: (w * x - 1) ** 2, [w])
    >>> step(3.0), w.grad              # recorded: an eager step
    (25.0, 30.0)
    >>> w.grad = 0
    >>> step(1.0), w.grad              # replayed on a new input
    (1.0, 2.0)

What is checked at every call (a failed check records afresh, and
``step.retraces`` counts it): the shape of the inputs; every comparison of a
Value taken while recording (``x > 0``, ``float(x)``), in the loss or in
``penalty=``, whether or not that Value is part of the loss, against a
constant of any number type (int, float, numpy scalar, Fraction, ±inf, NaN:
compared exactly as eager mode compares it); integer inputs used other than
through `select` (class labels and token ids used through `select` are data:
new labels need no new recording, unless another label could change the
order in which eager mode adds gradients up, see `fixed_selects`); and the training/eval mode of every layer
that acts differently in the two (`modes.layer_mode`).

Random numbers drawn through `modes.random_numbers` (Dropout's masks,
RReLU's slopes) are inputs of the trace: every replayed call draws them anew,
in the order eager mode draws them, from the same seeded generator, so the
results stay equal to eager mode's. BatchNorm in training mode is refused
with a `ReplayError` (its running statistics are a side effect a replayed
step would skip), and so is a comparison, inside `no_grad`, of a Value made
there (a plain leaf whose number no guard can follow).

Not seen, so not checked:

* a ``.data`` read of a node whose number is then used to build the graph
  (so is a Value made inside `no_grad` and used later);
* a new number in a Value that is neither a parameter nor an input (it is
  recorded as a constant), and a Value computed from the parameters before
  the call, outside the traced function (replay computes it again from the
  parameters' current numbers, where eager mode uses its old number);
* an integer input used through `select` and also directly (compared, or
  indexing a list): an integer is not a Value, so the comparison is not heard;
* random numbers your own code draws by other means.
"""

from __future__ import annotations

import math
import operator
from collections import OrderedDict
from numbers import Integral
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import modes
from .engine import Value
from .ops import ADD, DETACH, MUL, NEG, OPS, SUB

__all__ = ["trace", "Trace", "ReplayError"]

SELECT = OPS["select"]
INLINE = {ADD: "{} + {}", SUB: "{} - {}", MUL: "{} * {}"}


class ReplayError(ValueError):
    """The function or parameters given to `trace` cannot be traced (the message says why)."""


class _Retrace(Exception):
    """A guard failed: the graph for these inputs would differ from the recorded one."""


class _Index(int):
    """An integer input while recording: remembers which input slot it came from."""

    slot: int

    def __new__(cls, value: int, slot: int) -> "_Index":
        obj = super().__new__(cls, value)
        obj.slot = slot
        return obj


class _Recorder:
    """Hears, while a step is recorded, about decisions taken on data, random draws and layer modes (modes.py)."""

    def __init__(self, predrawn: Optional[List[List[float]]] = None) -> None:
        self.decisions: List[Tuple[Any, Any, Any, str]] = []
        self.index_used_as_number: List[int] = []
        self.draws: List[Tuple[Callable[[], List[float]], List[Value]]] = []
        self.layers: List[Tuple[Any, bool]] = []
        self.refused: List[Any] = []
        self.without_grad: List[Tuple[Any, Any]] = []  # decisions taken inside no_grad
        self._predrawn = list(predrawn or [])

    def random_numbers(self, draw: Callable[[], List[float]]) -> List[Value]:
        numbers = self._predrawn.pop(0) if self._predrawn else list(draw())
        leaves = [Value(x) for x in numbers]
        self.draws.append((draw, leaves))
        return leaves

    def layer_mode(self, layer: Any, training: bool, replayable: bool) -> None:
        self.layers.append((layer, training))
        if not replayable:
            self.refused.append(layer)

    def decision(self, value: Value, other: Any, result: Any, how: str) -> None:
        self.decisions.append((value, other, result, how))
        if not modes.is_grad_enabled():
            self.without_grad.append((value, other))

    def check_guardable(self, params: Sequence[Value], numbers: Sequence[Value]) -> None:
        """Refuse a comparison, inside `no_grad`, of a Value the recording knows only as a number.

        Inside `no_grad` an op makes a plain leaf, so a Value compared there may
        be computed from the inputs and yet look like a constant: no guard could
        see its number change.
        """
        known = {id(v) for v in list(params) + list(numbers)}
        for pair in self.without_grad:
            for v in pair:
                if isinstance(v, Value) and v.is_leaf and id(v) not in known:
                    raise ReplayError(
                        f"the traced function compares {v!r} inside no_grad(); a Value made there is a leaf whose "
                        "number the recording cannot follow, so the comparison cannot be guarded. Compare outside "
                        "no_grad(), or run this step in eager mode.")

    def number(self, x: Any) -> None:
        if isinstance(x, _Index):
            self.index_used_as_number.append(x.slot)


# ----------------------------------------------------------- inputs
def _wrap(x: Any, numbers: List[Value], indices: List[_Index], params: set) -> Any:
    """Inputs as the recorded function sees them: floats -> input leaves, ints -> traced indices."""
    if isinstance(x, np.ndarray):
        x = x.tolist()
    if isinstance(x, (list, tuple)):
        items = [_wrap(item, numbers, indices, params) for item in x]
        return items if isinstance(x, list) else tuple(items)
    if isinstance(x, Value):
        if id(x) in params:
            raise ReplayError("a parameter was passed as an input; pass parameters to trace(..., params) only")
        leaf = Value(x.data)
        numbers.append(leaf)
        return leaf
    if isinstance(x, (Integral, np.integer)) and not isinstance(x, (bool, np.bool_)):
        index = _Index(int(x), len(indices))
        indices.append(index)
        return index
    if isinstance(x, (float, np.floating)):
        leaf = Value(float(x))
        numbers.append(leaf)
        return leaf
    return x  # anything else (None, strings, modules) is passed through and must not change


def _read(x: Any, numbers: List[Any], indices: List[int]) -> Any:
    """The numbers and integers of new inputs, in the order `_wrap` saw them; returns the shape key."""
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "iu":
            indices.extend(x.ravel().tolist())
            return ("i", x.shape)
        numbers.extend(x.astype(float).ravel().tolist())
        return ("f", x.shape)
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, tuple(_read(item, numbers, indices) for item in x))
    if isinstance(x, Value):
        numbers.append(x.data)
        return "v"
    if isinstance(x, (Integral, np.integer)) and not isinstance(x, (bool, np.bool_)):
        indices.append(int(x))
        return "i"
    if isinstance(x, (float, np.floating)):
        numbers.append(float(x))
        return "f"
    return ("o", id(x))


# ------------------------------------------------------------- the graph
def _graph(root: Value, seen: Optional[set] = None) -> List[Value]:
    """Every node, inputs first (forward order); select's candidates count as its inputs.

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
        for parent in reversed(_inputs(node)):
            if parent not in seen:
                stack.append((parent, False))
    return order


def _decision_graph(recorder: "_Recorder", nodes: List[Value]) -> List[Value]:
    """The nodes, not among `nodes`, of the Values compared while recording (forward order): guards need them."""
    if not recorder.decisions:
        return []
    seen = set(nodes)
    extra: List[Value] = []
    for value, other, _, _ in recorder.decisions:
        for v in (value, other):
            if isinstance(v, Value) and v not in seen:
                extra.extend(_graph(v, seen))
    return extra


def _inputs(node: Value) -> Tuple[Value, ...]:
    if node._op is SELECT:
        return node._k[1]
    a, b = node._a, node._b
    return () if a is None else (a,) if b is None else (a, b)


def _backward_order(root: Value, nodes: Optional[List[Value]] = None,
                    uses: Optional[Dict[Value, int]] = None, chosen_only: bool = False) -> List[Value]:
    """The interior nodes in the order eager mode's backward loop visits them (engine._chain_rule).

    A `select` counts all its candidates as inputs (so the order holds for
    every label, see `fixed_selects`), or with ``chosen_only`` only the one
    it chose, as the engine does (the order for the recorded labels).
    `uses` (how often each node is used, by `_inputs`; changed here) saves
    counting them again.
    """
    if chosen_only:
        uses = _eager_uses(root)
    elif uses is None:
        uses = {}
        for node in _graph(root) if nodes is None else nodes:
            for parent in _inputs(node):
                uses[parent] = uses.get(parent, 0) + 1
    inputs = _parents if chosen_only else _inputs
    order: List[Value] = []
    ready: List[Value] = []
    if root._op is None:
        return order  # the loss is a leaf: eager's loop visits nothing
    node = root
    while True:
        order.append(node)
        ins = inputs(node)
        for parent in ins[1:]:
            if parent._op is not None:
                uses[parent] -= 1
                if not uses[parent]:
                    ready.append(parent)
        first = ins[0]
        if first._op is not None:
            uses[first] -= 1
            if not uses[first]:
                node = first
                continue
        if not ready:
            return order
        node = ready.pop()


def _parents(node: Value) -> Tuple[Value, ...]:
    a, b = node._a, node._b
    return () if a is None else (a,) if b is None else (a, b)


def _eager_uses(root: Value) -> Dict[Value, int]:
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


def fixed_selects(nodes: List[Value], order: List[Value]) -> set:
    """The selects whose label, if it changed, might change what eager's backward loop adds in which order.

    `order` is `_backward_order`'s, all candidates counted. A select's label is
    data (new labels replay) when each interior candidate is used by that
    select alone (cross-entropy's log-probabilities: the ones not chosen carry
    a zero gradient), or when each one is used elsewhere too, only by nodes
    visited after the select, none a select: then every candidate's gradient
    is complete at its last other user, whichever one the label picks. Any
    other select keeps its recorded label (a guard).
    """
    if not any(v._op is SELECT for v in order):
        return set()
    position = {v: i for i, v in enumerate(order)}
    users: Dict[Value, List[Value]] = {}
    for u in nodes:
        for p in _inputs(u):
            if p._op is not None:
                users.setdefault(p, []).append(u)
    fixed = set()
    for s in order:
        if s._op is not SELECT:
            continue
        others = [[u for u in users[c] if u is not s] for c in s._k[1] if c._op is not None]
        alone = all(not o for o in others)
        after = all(o and all(u._op is not SELECT and position.get(u, -1) > position[s] for u in o) for o in others)
        if not (alone or after):
            fixed.add(s)
    return fixed


# ------------------------------------------------------------- code
class _Program:
    """Straight-line code for one recorded graph (forward, guards, backward)."""

    def __init__(self, root: Value, params: List[Value], numbers: List[Value], indices: List[_Index],
                 recorder: _Recorder, batched: bool) -> None:
        self.batched = batched
        nodes = _graph(root)
        name = _Names("v")  # only the nodes the code mentions get a name
        param_slot = {p: j for j, p in enumerate(params)}
        number_slot = {v: j for j, v in enumerate(numbers)}
        self.consts: List[Any] = []
        self.funcs: List[Callable] = []
        lines: List[str] = []
        data_selected: set = set()
        fixed_slots: set = set()

        def const(x: Any) -> str:
            self.consts.append(x)
            return f"K[{len(self.consts) - 1}]"

        func_names: Dict[Tuple[int, bool], str] = {}

        def func(f: Callable, vectorized: bool) -> str:
            # one global name per function (not per node): a name is quicker to call than F[i]
            key = (id(f), vectorized)
            if key not in func_names:
                func_names[key] = f"_f{len(self.funcs)}"
                self.funcs.append(_elementwise(f) if batched and not vectorized else f)
            return func_names[key]

        uses: Dict[Value, int] = {}
        for v in nodes:
            for parent in _inputs(v):
                uses[parent] = uses.get(parent, 0) + 1
        order = _backward_order(root, nodes, dict(uses))
        # Labels that might change eager's order are guarded (every select's then), and eager's order is used.
        fixed = fixed_selects(nodes, order)
        if fixed:
            fixed = {v for v in nodes if v._op is SELECT and any(c._op is not None for c in v._k[1])}
            order = _backward_order(root, nodes, chosen_only=True)
        # A part that repeats (one sample's loss in a batch) is written once, as two functions, and called
        # once per repeat (see _repeats): shorter code, the same operations in the same order.
        repeats = [] if batched or recorder.decisions else _repeats(nodes, order, uses, param_slot, number_slot)
        member_of = {m: k for k, rep in enumerate(repeats) for m in rep.members}
        raw: Dict[Value, str] = {}
        template_interior: List[Tuple[Value, str]] = []
        # The repeat's functions are nested in the step's: parameters (the same in every repeat) and
        # the parameters' running sums are read and written where they are; only the rest is passed.
        passed = [leaf for leaf in repeats[0].leaves if leaf not in param_slot] if repeats else []
        for k, rep in enumerate(repeats):
            raw[rep.root] = (f"{name[rep.root]}, _s{k} = _repeat_forward("
                             f"{', '.join(name[rep.image[leaf]] for leaf in passed)})")

        interior: List[Tuple[Value, str]] = []
        needed = {root} | {rep.root for rep in repeats[:1]}  # nodes whose number is kept in a name
        # Values compared while recording but outside the loss's graph are computed too, to be guarded.
        for v in nodes + _decision_graph(recorder, nodes):
            op = v._op
            if op is None:
                me = name[v]
                if v in param_slot:
                    lines.append(f"{me} = P[{param_slot[v]}]")
                elif v in number_slot:
                    lines.append(f"{me} = X[{number_slot[v]}]")
                else:
                    lines.append(f"{me} = {const(v.data)}")
                continue
            repeat = member_of.get(v)
            if repeat is not None:
                if v in raw:
                    interior.append((v, ""))  # the call: raw[v]
                if repeat:
                    continue  # written once, in the first repeat's functions
            args = ["{0}", "{1}"]  # the parents, filled in below (a name, or an expression written inline)
            if op is SELECT:
                index, candidates = v._k
                cands = ", ".join("{%d}" % c for c in range(len(candidates)))
                if isinstance(index, _Index):
                    (fixed_slots if v in fixed else data_selected).add(index.slot)
                    pick = f"I[{index.slot}]"
                else:
                    pick = str(int(index))
                form = f"_choose({pick}, ({cands},))" if batched else f"({cands},)[{pick}]"
                for c in candidates:
                    needed.add(c)
            else:
                forward, vectorized, k = op.forward, op.vectorized, v._k
                form = forward_source(op, args, lambda: const(k), lambda: func(forward, vectorized))  # noqa: B023
            (template_interior if repeat == 0 else interior).append((v, form))
        in_loss = set(nodes)
        unused = [j for j, p in enumerate(params) if p not in in_loss]
        if unused:
            raise ReplayError(f"the loss does not use the parameters at positions {unused[:10]} "
                              f"(of {len(params)}); pass only the parameters the loss depends on")

        forward_end = len(lines)

        def val(node: Any) -> str:
            needed.add(node)
            return name[node]

        # Guards: the decisions taken on data while recording must come out the same.
        for value, other, result, how in recorder.decisions:
            right = val(other) if isinstance(other, Value) else const(_plain(other))
            lines.append(guard_line(val(value), how, right, const, result, batched))
        self.guarded_indices = sorted(set(recorder.index_used_as_number) | fixed_slots
                                      | (set(range(len(indices))) - data_selected))
        self.recorded_indices = [int(i) for i in indices]
        self.keep_draws_and_modes(recorder)

        # Backward, in eager mode's order and with its arithmetic. Left out, because they only ever
        # add exact zeros: gradients of nodes that lead to no parameter, and of nodes whose every
        # contribution is zero (what flows through `detach`, such as softmax's shift).
        grad = _Names("g")
        grad_names = grad.made
        leads = set(param_slot)  # nodes from which some parameter can be reached
        for v in nodes:
            for p in _inputs(v):
                if p in leads:
                    leads.add(v)
                    break
        started = {root}
        lines.append(f"{grad[root]} = SEED")
        param_terms: List[Tuple[int, str]] = []  # (parameter, contribution), in the order eager adds them
        # Unbatched, a parameter's contributions are added up in a local as they come, from 0 as eager's
        # loop does; batched ones, and those of embedding rows picked by `select`, go to rows of C.
        in_rows = set() if not batched else set(param_slot)
        for v in nodes:
            if v._op is SELECT and all(c._op is None and c in param_slot for c in v._k[1]):
                in_rows.update(c for c in v._k[1])
        summed: Dict[int, str] = {}
        pending: Dict[Value, List[str]] = {}
        pending_params: Dict[int, List[str]] = {}
        sink: List[Any] = [lines, pending_params]  # where backward lines and parameter terms go
        begun: set = set()  # parameters whose G{j} already holds a running sum

        def add(parent: Value, term: str) -> None:
            if parent not in leads:
                return
            if parent._op is not None:
                if term in grad_names and uses[parent] == 1:
                    # its only use passes the gradient on unchanged (a chain of +): a name, not a line
                    grad[parent] = term
                    started.add(parent)
                    return
                # Summed in one line when the node is visited (all its terms are ready then), in eager's
                # order: t1 + t2 + ... from the first term on, as eager starts from 0 (0 + t == t, up to
                # the sign of 0).
                pending.setdefault(parent, []).append(term)
                started.add(parent)
            else:
                j = param_slot[parent]
                if parent in in_rows:
                    param_terms.append((j, term))
                    lines.append(f"C[{len(param_terms) - 1}] = {term}")
                else:
                    sink[1].setdefault(j, []).append(term)  # summed at the end (or before a repeat), from S[j]
                    summed[j] = f"G{j}"

        def backward_of(v: Value) -> List[str]:
            """Node v's backward lines, its gradient being complete: its terms summed, then passed on."""
            out: List[str] = sink[0]
            g = grad[v]
            if v in pending:
                out.extend(_sum_lines(g, None, pending.pop(v)))
            op = v._op
            a, b = v._a, v._b
            if op is MUL:
                add(a, f"{val(b)} * {g}")  # type: ignore[arg-type]
                add(b, f"{val(a)} * {g}")  # type: ignore[arg-type]
            elif op is ADD:
                add(a, g)  # type: ignore[arg-type]
                add(b, g)  # type: ignore[arg-type]
            elif op is DETACH:
                return out
            elif op is SELECT and v in fixed:
                add(a, g)  # type: ignore[arg-type]  # its label is guarded: only the recorded choice
            elif op is SELECT:
                index, candidates = v._k
                pick = f"I[{index.slot}]" if isinstance(index, _Index) else str(int(index))
                if all(c._op is None and c in param_slot for c in candidates):
                    # one row per candidate, next to each other: only the chosen one gets the gradient
                    base = len(param_terms)
                    for c in candidates:
                        param_terms.append((param_slot[c], "0"))
                    out.append(f"_pick(C, {base}, {pick}, {g})")
                    return out
                for c, cand in enumerate(candidates):
                    add(cand, f"_where({pick} == {c}, 1 * {g}, 0)" if batched else f"({g} if {pick} == {c} else 0)")
            else:
                assert op is not None  # every node in the backward order is an op's result
                if b is None:
                    if op.param:
                        term = f"{func(op.local, op.vectorized)}({val(a)}, {const(v._k)}, {val(v)})"
                    else:
                        term = f"{func(op.derivative, op.vectorized)}({val(a)}, {val(v)})"
                    add(a, f"{term} * {g}")  # type: ignore[arg-type]
                else:
                    d = f"d{g[1:]}"  # its own name: the terms that read it are summed later
                    out.append(f"{d} = {func(op.local, op.vectorized)}({val(a)}, {val(b)}, {val(v)})")
                    add(a, f"{d}[0] * {g}")  # type: ignore[arg-type]
                    add(b, f"{d}[1] * {g}")
            return out

        if root._op is None:
            add(root, grad[root])  # the loss is a parameter itself: d loss / d loss
        template: Optional[Tuple[List[str], List[int], str]] = None
        for v in order:
            if v not in started or v not in leads:
                continue  # its gradient is zero, or reaches no parameter: nothing to pass on
            repeat = member_of.get(v)
            if repeat is None:
                backward_of(v)
                continue
            if v is not repeats[repeat].root:
                continue  # inside a repeat: its function does it
            if v in pending:
                lines.extend(_sum_lines(grad[v], None, pending.pop(v)))
            if template is None:  # the first repeat's backward, written into its function
                body: List[str] = []
                root_grad = grad[v]
                sink[0], sink[1] = body, {}
                for m in repeats[0].members:
                    if m in started and m in leads:
                        backward_of(m)
                for j, terms in sink[1].items():
                    body.extend(_sum_lines(f"G{j}", f"G{j}", terms))
                template = (body, sorted(sink[1]), root_grad)
                sink[0], sink[1] = lines, pending_params
            sums = template[1]
            for j in sums:  # what came before, then the repeat's terms: eager's order
                if j in pending_params:
                    lines.extend(_sum_lines(f"G{j}", f"G{j}" if j in begun else f"S[{j}]", pending_params.pop(j)))
                elif j not in begun:
                    lines.append(f"G{j} = S[{j}]")
                begun.add(j)
            leaves = "".join(name[repeats[repeat].image[leaf]] + ", " for leaf in passed)
            lines.append(f"_repeat_backward(_s{repeat}, {leaves}{grad[v]})")
        for j, terms in pending_params.items():
            lines.extend(_sum_lines(f"G{j}", f"G{j}" if j in begun else f"S[{j}]", terms))
        totals = ", ".join(summed.get(j, f"S[{j}]") for j in range(len(params)))
        lines.append(f"return {name[root]}, [{totals}]")
        functions: List[str] = []
        if repeats and template is not None:
            first = repeats[0]
            saved = "".join(f"{name[m]}, " for m in first.members if m in needed)
            leaf_names = ", ".join(name[leaf] for leaf in passed)
            body, sums, root_grad = template
            functions = ([f"def _repeat_forward({leaf_names}):"]
                         + [f"    {line}" for line in _forward_lines(template_interior, name, needed)]
                         + [f"    return {name[first.root]}, ({saved})",
                            f"def _repeat_backward(_saved, {leaf_names + ', ' if leaf_names else ''}{root_grad}):"]
                         + ([f"    nonlocal {', '.join(f'G{j}' for j in sums)}"] if sums else [])
                         + [f"    ({saved}) = _saved"] + [f"    {line}" for line in body] + ["    return None"])
        lines[forward_end:forward_end] = functions + _forward_lines(interior, name, needed, raw)
        self.repeats = len(repeats)
        # Rows of C belonging to each parameter, in order: its total is their sum from left to right.
        self.rows: List[List[int]] = [[] for _ in params]
        for r, (j, _) in enumerate(param_terms):
            self.rows[j].append(r)
        self.n_terms = len(param_terms)
        source = "def _program(P, X, I, SEED, K, F, C, S):\n" + "".join(f"    {line}\n" for line in lines)
        namespace: Dict[str, Any] = {"_Retrace": _Retrace, "_any_differs": _any_differs, "_choose": _choose,
                                     "_same_number": _same_number, "_compare": _compare,
                                     "_where": np.where, "_pick": _pick_batched if batched else _pick}
        namespace.update((f"_f{i}", f) for i, f in enumerate(self.funcs))
        exec(compile(source, "<microgradcn replay>", "exec"), namespace)
        self.function = namespace["_program"]
        self.source = source
        self.lines = len(lines)

    def keep_draws_and_modes(self, recorder: _Recorder) -> None:
        """Remember the recording's random draws (to draw them anew) and layer modes (to check them)."""
        self.draws = [(draw, len(leaves)) for draw, leaves in recorder.draws]
        self.recorded_draws = [[leaf.data for leaf in leaves] for _, leaves in recorder.draws]
        self.layers = list(recorder.layers)

    def modes_changed(self) -> bool:
        """True if a layer has left the training/eval mode it was recorded in."""
        return any(layer.training != training for layer, training in self.layers)

    def draw(self) -> List[List[float]]:
        """New random numbers for one run (one sample), drawn in eager mode's order."""
        drawn = [list(draw()) for draw, _ in self.draws]
        if [len(d) for d in drawn] != [count for _, count in self.draws]:
            raise _Retrace
        return drawn

    def run(self, P: List[Any], X: List[Any], ids: List[Any], seed: Any, n: int = 0) -> Tuple[Any, List[Any]]:
        """Forward and backward on new numbers: (loss, each parameter's gradient contribution).

        Batched (n samples), a parameter's contributions are summed sample by
        sample, use by use, from left to right, exactly as eager's loop adds them.
        """
        if not self.batched:
            return self.run_from([0] * len(self.rows), P, X, ids, seed)
        buffer = np.zeros((max(self.n_terms, 1), n))
        loss, _ = self.function(P, X, ids, seed, self.consts, self.funcs, buffer, [0] * len(self.rows))
        return loss, self._batch_totals(buffer, n)

    def run_from(self, start: List[Any], P: List[Any], X: List[Any], ids: List[Any],
                 seed: Any) -> Tuple[Any, List[Any]]:
        """Unbatched: (loss, totals), each parameter's contributions added to its `start` one by one."""
        C: List[Any] = [0.0] * self.n_terms
        loss, totals = self.function(P, X, ids, seed, self.consts, self.funcs, C, start)
        for j, rows in enumerate(self.rows):
            for r in rows:  # embedding rows picked by select
                totals[j] = totals[j] + C[r]
        return loss, totals

    def _batch_totals(self, buffer: np.ndarray, n: int) -> List[Any]:
        totals: List[Any] = [0] * len(self.rows)
        by_uses: Dict[int, List[int]] = {}
        for j, rows in enumerate(self.rows):
            if rows:
                by_uses.setdefault(len(rows), []).append(j)
        for uses, group in by_uses.items():
            block = buffer[np.array([self.rows[j] for j in group])]  # (params, uses, n)
            ordered = block.transpose(0, 2, 1).reshape(len(group), n * uses)  # sample by sample, use by use
            sums = np.cumsum(ordered, axis=1)[:, -1]  # cumsum adds strictly left to right
            for j, total in zip(group, sums.tolist()):
                totals[j] = total
        return totals


class _Names(dict):
    """Names for nodes, made when first asked for: prefix + a number (so only the nodes the code uses get one)."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix
        self.made: set = set()

    def __missing__(self, node: Value) -> str:
        new = f"{self.prefix}{len(self.made)}"
        self.made.add(new)
        self[node] = new
        return new


class _Repeat:
    """One repeat of a part of the graph: its root, its inner nodes in eager's backward order, its leaves."""

    def __init__(self, root: Value, members: List[Value], leaves: List[Value]) -> None:
        self.root, self.members, self.leaves = root, members, leaves
        self.image: Dict[Value, Value] = {}  # the first repeat's nodes -> this one's


_REPEAT_MIN_NODES = 2000  # below this the whole step compiles in milliseconds anyway
_REPEAT_MIN_SIZE = 16  # inner nodes of a repeat, at least


def _repeats(nodes: List[Value], order: List[Value], uses: Dict[Value, int], param_slot: Dict[Value, int],
             number_slot: Dict[Value, int]) -> List[_Repeat]:
    """Parts of the graph that repeat exactly, so that their code can be written once; [] if none.

    Nodes with the same op, constant and parent structure (leaves by kind;
    parameters by slot) are candidates. A repeat must read only leaves, be
    used only through its root, have its inner nodes visited by eager's
    backward loop in one unbroken run, and correspond node for node to the
    first repeat, in that run's order: then calling one function per repeat,
    where eager's loop reaches its root, does exactly what eager does.
    """
    if len(nodes) < _REPEAT_MIN_NODES or any(v._op is SELECT for v in nodes):
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
        if n >= _REPEAT_MIN_SIZE:
            groups.setdefault(kind, []).append(v)
    position = {v: i for i, v in enumerate(order)}
    for roots in sorted((g for g in groups.values() if len(g) >= 2), key=lambda g: -len(g) * size[g[0]])[:3]:
        found: List[_Repeat] = []
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


def _closure(root: Value, uses: Dict[Value, int], position: Dict[Value, int], taken: set) -> Optional[_Repeat]:
    """The part under `root` if it can stand alone (see _repeats), else None."""
    if root not in position:
        return None
    members, leaves, seen = [root], [], {root}
    refs: Dict[Value, int] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        for p in (node._a, node._b):  # no select in a repeat (see _repeats): parents are the inputs
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
    return _Repeat(root, members, leaves)


def _match(first: _Repeat, root: Value, shape: Dict[Value, int], uses: Dict[Value, int],
           position: Dict[Value, int], taken: set) -> Optional[_Repeat]:
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
    rep = _Repeat(root, members, [image[leaf] for leaf in first.leaves])
    rep.image = image
    return rep


def forward_source(op: Any, args: List[str], constant: Callable[[], str], function: Callable[[], str]) -> str:
    """One op's forward as Python source: ``a + b``, ``-a``, ``f(a, b)``, ``f(a, k)`` or ``f(a)``.

    `function()` names the op's forward and `constant()` its constant, both
    asked only when the source needs them.
    """
    if op in INLINE:
        return INLINE[op].format(*args)
    if op is NEG:
        return f"-{args[0]}"
    if op.arity == 2:
        return f"{function()}({args[0]}, {args[1]})"
    if op.param:
        return f"{function()}({args[0]}, {constant()})"
    return f"{function()}({args[0]})"


def _sum_lines(target: str, start: Optional[str], terms: List[str]) -> List[str]:
    """``target = start + t1 + t2 + ...`` (left to right), in lines of at most 50 terms."""
    lines = []
    for i in range(0, len(terms), 50):
        head = target if i else start
        chunk = " + ".join(terms[i:i + 50])
        lines.append(f"{target} = {chunk}" if head is None else f"{target} = {head} + {chunk}")
    return lines


def _forward_lines(interior: List[Tuple[Value, str]], name: Dict[Value, str], needed: set,
                   raw: Optional[Dict[Value, str]] = None) -> List[str]:
    """The forward pass, one line per node whose number is needed later; the others written inline.

    A node used once, whose number backward does not need (the products and
    partial sums of a neuron), becomes part of its user's expression, fully
    parenthesised: the same operations on the same numbers, so the same
    result, in fewer lines to compile and run.
    """
    uses: Dict[Value, int] = {}
    for v, _ in interior:
        for p in _inputs(v):
            uses[p] = uses.get(p, 0) + 1
    text: Dict[Value, str] = {}
    depth: Dict[Value, int] = {}
    lines: List[str] = []
    for v, form in interior:
        if raw and v in raw:
            lines.append(raw[v])
            continue
        ins = _inputs(v)
        parts = [text.get(p, name[p]) for p in ins]
        expr = form.format(*parts)
        d = 1 + max((depth.get(p, 0) for p in ins), default=0)
        if v in needed or uses.get(v, 0) != 1 or d > 40:  # Python's parser nests up to ~200 deep
            lines.append(f"{name[v]} = {expr}")
        else:
            text[v] = f"({expr})"
            depth[v] = d
    return lines


def _flat(drawn: List[List[float]]) -> List[float]:
    return [x for numbers in drawn for x in numbers]


def guard_line(left: str, how: str, right: str, constant: Callable[[Any], str], result: Any,
               batched: bool = False) -> str:
    """The guard for one recorded decision: ``left how right`` came out `result` (``how`` "float": float(left)).

    Constants are passed to the program as objects (`constant` names one), never
    written as text, so a numpy scalar, a Fraction, ±inf or NaN is compared
    exactly as eager mode compared it.
    """
    if how == "float":
        return f"if not _same_number({left}, {constant(result)}): raise _Retrace"
    if batched:
        return f"if _any_differs(_compare({left}, {how!r}, {right}), {bool(result)}): raise _Retrace"
    return f"if _any_differs(({left} {how} {right}), {bool(result)}): raise _Retrace"


_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _compare(left: Any, how: str, right: Any) -> Any:
    """``left how right`` for arrays, as eager compares each number: exactly, with ints and Fractions too."""
    if not isinstance(right, (float, np.floating, np.integer, np.ndarray)) and not (
            type(right) is int and abs(right) <= 2 ** 53):
        left = np.asarray(left).astype(object)  # Python floats, compared exactly with any number
    return _COMPARE[how](left, right)


def _same_number(x: Any, number: float) -> bool:
    """float(x) is `number` (NaN is NaN; the sign of a zero counts): a float() guard, for a number or an array."""
    negative = math.copysign(1.0, number) < 0
    if isinstance(x, np.ndarray) and x.dtype == object:  # exact numbers (Fractions) over a batch
        return all(_same_number(item, number) for item in x.ravel().tolist())
    if isinstance(x, np.ndarray):
        same = ((x == number) & (np.signbit(x) == negative)) | (np.isnan(x) & np.isnan(number))
        return bool(np.all(same))
    f = float(x)
    return (f == number and (math.copysign(1.0, f) < 0) == negative) or (math.isnan(f) and math.isnan(number))


def _plain(x: Any) -> Any:
    return x.data if isinstance(x, Value) else int(x) if isinstance(x, _Index) else x


def _any_differs(test: Any, expected: bool) -> bool:
    if isinstance(test, np.ndarray):
        return bool(np.any(test != expected))
    return bool(test) != expected


def _choose(index: Any, candidates: Tuple[Any, ...]) -> Any:
    return np.choose(np.asarray(index), np.broadcast_arrays(*candidates))


def _pick(C: List[Any], base: int, index: int, g: Any) -> None:
    C[base + index] = g


def _pick_batched(C: np.ndarray, base: int, index: np.ndarray, g: Any) -> None:
    C[base + index, np.arange(C.shape[1])] = g


def _elementwise(f: Callable) -> Callable:
    """`f` applied element by element with plain Python numbers: bit-identical to eager mode."""
    def mapped(*args: Any) -> Any:
        arrays = [a for a in args if isinstance(a, np.ndarray)]
        if not arrays:
            return f(*args)
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
        columns = [np.broadcast_to(a, shape).ravel().tolist() if isinstance(a, np.ndarray) else None
                   for a in args]
        out = [f(*(col[i] if col is not None else a for col, a in zip(columns, args)))
               for i in range(int(np.prod(shape)))]
        if out and isinstance(out[0], tuple):
            return tuple(np.array([o[j] for o in out], dtype=float).reshape(shape) for j in range(len(out[0])))
        return np.array(out, dtype=float).reshape(shape)

    return mapped


# ------------------------------------------------------------- trace
class Trace:
    """A traced step: call it like the function; it adds d loss/d p to every ``p.grad`` and returns the loss."""

    def __init__(self, loss_fn: Callable[..., Value], params: Sequence[Value], backend: str,
                 penalty: Optional[Callable[[], Value]], cache_size: int) -> None:
        if not callable(loss_fn):
            raise TypeError(f"trace() needs a callable loss function, got {type(loss_fn).__name__}")
        if backend not in ("python", "numpy"):
            raise ValueError(f"backend must be 'python' or 'numpy', got {backend!r}")
        self.params = list(params)
        for j, p in enumerate(self.params):
            if not isinstance(p, Value):
                raise TypeError(f"params must be Values, got {type(p).__name__} at position {j}: {p!r}")
            if not p.is_leaf:
                raise ReplayError(f"params must be leaves (trainable Values), but position {j} is the result "
                                  f"of {p.op!r}")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ReplayError("a parameter is listed twice")
        if penalty is not None and backend != "numpy":
            raise ValueError("penalty= is for backend='numpy'; with backend='python' add it inside loss_fn")
        self.loss_fn = loss_fn
        self.backend = backend
        self.penalty = penalty
        if isinstance(cache_size, bool) or not isinstance(cache_size, Integral):
            raise TypeError(f"cache_size must be an int (how many recordings to keep), got "
                            f"{type(cache_size).__name__}: {cache_size!r}")
        if cache_size < 1:
            raise ValueError(f"cache_size must be at least 1 (how many recordings to keep), got {cache_size}")
        self.cache_size: int = int(cache_size)
        self.retraces: int = 0
        self.records: int = 0
        self.graph: Optional[Value] = None  # the last recorded graph, to draw it
        self._cache: "OrderedDict[Any, Tuple[_Program, Optional[_Program]]]" = OrderedDict()
        self._latest: Optional[Tuple[_Program, Optional[_Program]]] = None  # the programs the latest call used

    @property
    def source(self) -> Optional[str]:
        """The generated code the latest call ran (with penalty=, the batch's then the penalty's); None before."""
        if self._latest is None:
            return None
        return "".join(program.source for program in self._latest if program is not None)

    def __repr__(self) -> str:
        program = self._latest[0] if self._latest is not None else None
        lines = None if self._latest is None else sum(p.lines for p in self._latest if p is not None)
        repeats = getattr(program, "repeats", None) if self.backend == "python" else None
        groups = program.n_groups if getattr(program, "grouped", False) else None  # type: ignore[union-attr]
        return (f"Trace(backend={self.backend!r}, records={self.records}, retraces={self.retraces}, "
                f"cached={len(self._cache)}, lines={lines}, repeats={repeats}, groups={groups})")

    # ---------------------------------------------------------------- call
    def __call__(self, *inputs: Any) -> float:
        if self.backend == "numpy":
            return self._call_batched(*inputs)
        numbers: List[Any] = []
        indices: List[int] = []
        key = _read(inputs, numbers, indices)
        entry = self._cache.get(key)
        drawn: List[List[float]] = []
        if entry is not None:
            program = entry[0]
            try:
                if program.modes_changed() or any(indices[s] != program.recorded_indices[s]
                                                  for s in program.guarded_indices):
                    raise _Retrace
                drawn = program.draw()
                loss, totals = program.run([p.data for p in self.params], numbers + _flat(drawn), indices, 1)
            except _Retrace:
                self.retraces += 1
            else:
                self._cache.move_to_end(key)
                self._latest = entry
                for p, total in zip(self.params, totals):
                    p.grad = p.grad + total
                return loss
        loss_data, _ = self._record(key, self.loss_fn, inputs, predrawn=drawn)
        return loss_data

    def _record(self, key: Any, fn: Callable[..., Value], inputs: Tuple[Any, ...], batched: bool = False,
                predrawn: Optional[List[List[float]]] = None) -> Tuple[Any, _Program]:
        numbers: List[Value] = []
        indices: List[_Index] = []
        wrapped = _wrap(list(inputs), numbers, indices, {id(p) for p in self.params})
        # Random numbers already drawn for a replay that then had to record afresh are used, not drawn again.
        recorder = _Recorder(predrawn)
        modes.tracer = recorder
        try:
            loss = fn(*wrapped)
        finally:
            modes.tracer = None
        if not isinstance(loss, Value):
            raise ReplayError(f"the traced function must return a scalar Value, got {type(loss).__name__}: {loss!r}")
        if recorder.refused:
            raise ReplayError(
                f"the traced function uses {recorder.refused[0]!r} in training mode, which updates its running "
                "statistics as a side effect that a replayed step would skip, so it is not traced. Train this "
                "model in eager mode, or switch that layer to eval mode.")
        numbers += [leaf for _, leaves in recorder.draws for leaf in leaves]  # random numbers: inputs too
        recorder.check_guardable(self.params, numbers)
        from ._grouped import (
            GroupedProgram,  # imported here: _grouped builds on this module
        )
        program = (GroupedProgram if batched else _Program)(loss, self.params, numbers, indices, recorder, batched)
        self.records += 1
        self.graph = loss
        if not batched:
            loss.backward()
            self._remember(key, program, None)
            self._latest = (program, None)
        return loss if batched else loss.data, program

    def _remember(self, key: Any, program: _Program, extra: Optional[_Program]) -> None:
        self._cache[key] = (program, extra)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    # ---------------------------------------------------- the numpy backend
    def _call_batched(self, X: Any, T: Any) -> float:
        X = np.asarray(X)
        T = np.asarray(T)
        if len(X) != len(T) or len(X) == 0:
            raise ValueError(f"numpy replay needs equal, non-zero numbers of inputs and targets, "
                             f"got {len(X)} and {len(T)}")
        n = len(X)
        key = ("batched", X.shape[1:], X.dtype.kind, T.shape[1:], T.dtype.kind)
        entry = self._cache.get(key)
        first_draws = None
        if entry is not None and any(p is not None and p.modes_changed() for p in entry):
            self.retraces += 1
            entry = None
        if entry is None:
            loss_value, program = self._record(key, self.loss_fn, (X[0], T[0]), batched=True)
            first_draws = program.recorded_draws
            del loss_value
            pen_program = self._record_penalty() if self.penalty is not None else None
            entry = (program, pen_program)
            self._remember(key, *entry)
        program, pen_program = entry
        self._latest = entry
        columns: List[Any] = []
        indices: List[Any] = []
        for x, t in ((X, T),):
            flat_x = x.reshape(n, -1)
            flat_t = t.reshape(n, -1)
            for target, block in ((columns, flat_x), (columns, flat_t)) if t.dtype.kind not in "iu" else \
                    ((columns, flat_x), (indices, flat_t)):
                target.extend(block[:, j].astype(int if target is indices else float) for j in range(block.shape[1]))
        if X.dtype.kind in "iu":
            raise ReplayError("numpy replay needs float inputs X (integer targets are fine)")
        P = [p.data for p in self.params]
        scale = 1.0 / n
        # Random numbers drawn for this call (sample 0's by a recording) are used again if it runs eagerly.
        predrawn: List[List[float]] = list(first_draws or [])
        with np.errstate(all="ignore"):
            try:
                if any(not np.all(indices[s] == program.recorded_indices[s]) for s in program.guarded_indices):
                    raise _Retrace
                if program.draws:  # sample by sample, as eager draws them; the recording drew sample 0's
                    drawn = []
                    for i in range(n):
                        sample = first_draws if first_draws is not None and i == 0 else program.draw()
                        if sample is not first_draws:
                            predrawn.extend(sample)
                        drawn.append(_flat(sample))
                    columns.extend(np.array(drawn, dtype=float).reshape(n, -1).T)
                losses, totals = program.run(P, columns, indices, scale, n)
                if pen_program is not None:  # eager visits the penalty last: its terms are added after the data's
                    pen_value, totals = pen_program.run_from(totals, P, [], [], 1)
            except _Retrace:
                self.retraces += 1
                return self._eager_batch(X, T, predrawn)
        losses = np.broadcast_to(np.asarray(losses, dtype=float), (n,))
        data_loss = float(np.cumsum(losses)[-1]) * scale  # sequential, as Python's sum
        for p, total in zip(self.params, totals):
            p.grad = p.grad + total
        return data_loss + pen_value if pen_program is not None else data_loss

    def _record_penalty(self) -> "_Program":
        """The penalty's program, its comparisons guarded like the loss's."""
        assert self.penalty is not None
        recorder = _Recorder()
        modes.tracer = recorder
        try:
            pen = self.penalty()
        finally:
            modes.tracer = None
        if not isinstance(pen, Value):
            raise ReplayError(f"penalty() must return a Value, got {type(pen).__name__}")
        if recorder.draws or recorder.refused:
            raise ReplayError("penalty() draws random numbers or uses a layer in training mode; "
                              "put that part in the per-sample loss instead")
        recorder.check_guardable(self.params, [])
        return _Program(pen, self.params, [], [], recorder, False)

    def _eager_batch(self, X: np.ndarray, T: np.ndarray, predrawn: List[List[float]]) -> float:
        """The batch in eager mode, taking the random numbers this call has drawn already first."""
        modes.tracer = _Recorder(predrawn)  # it hands those out, then draws as eager mode does
        try:
            terms = [self.loss_fn(*_wrap([x, t], [], [], set())) for x, t in zip(X, T)]
        finally:
            modes.tracer = None
        loss = _mean(terms)
        if self.penalty is not None:
            loss = loss + self.penalty()
        loss.backward()
        return loss.data


def _mean(terms: List[Value]) -> Value:
    total: Any = 0
    for term in terms:  # as Python's sum does: 0 + t0 + t1 + ...
        total = total + term
    return total * (1.0 / len(terms))


def trace(loss_fn: Callable[..., Value], params: Sequence[Value], backend: str = "python",
          penalty: Optional[Callable[[], Value]] = None, cache_size: int = 8) -> Trace:
    """Record ``loss_fn``'s graph on the first call, replay it on later calls (see the module docstring).

    ``step = trace(loss_fn, params)``; ``step(*inputs)`` does what
    ``loss = loss_fn(*inputs); loss.backward()`` does and returns ``loss.data``.
    With ``backend="numpy"``, `loss_fn` is a per-sample loss ``f(x, t)`` and
    ``step(X, T)`` is ``(sum(f(x, t) for x, t in zip(X, T)) * (1 / len(X))
    + penalty()).backward()``.
    """
    return Trace(loss_fn, params, backend, penalty, cache_size)
