"""Numpy replay over groups of sibling nodes: one numpy op for many structurally identical nodes.

`replay`'s batched program evaluates every scalar node of one sample's graph
as one numpy op over the batch. A layer's neurons are built alike, so many of
those nodes are siblings: the 16 ``w_j0 * x_0`` of a layer, all 256
``w_ji * h_i`` of the next one. `GroupedProgram` evaluates each such group as
ONE numpy op over an array of shape ``(group size, batch)``, gathering the
parents' rows by index, and gives the same numbers, bit for bit. When the
parents' rows follow a pattern such as "each of 16 rows, 16 times" (the
``h_i`` of ``w_ji * h_i``), the group runs as an ``(A, B, batch)`` array of
broadcast views instead, so nothing is copied.

Groups. A node's key is (its op, the op's constant, the group of each input,
whether its backward runs); leaves are grouped by kind (parameters, input
numbers, constants). Nodes with the same key have the same shape of graph
below them, so none depends on another, and a group's inputs all come from
groups made before it: the groups run in the order they were made.

Why the numbers are the same. The forward pass is element-wise, so grouping
changes no result. Backward, every contribution (a "term": ``b * g`` for the
``a`` of ``a * b``, ``local * g`` for other ops) is computed element-wise too,
with the same formula as `replay._Program`; each goes to a row of one buffer.
A node's gradient is then the sum of its terms in exactly the order eager
mode adds them, which is worked out once, at build time, by following eager's
backward loop (`replay._backward_order`). Summing is done for a whole group at
once, one numpy addition per term, from left to right (the first term plus the
second, then the third...); members with fewer terms are padded with ``-0.0``,
which leaves every float, signed zeros included, unchanged. A gradient with one
term is that term's row, and ``+`` passes its gradient on unchanged, so most
nodes need no arithmetic. The groups' backward steps run in reverse order, so
every term of a node is ready before its gradient is summed. Parameter terms
stay in the buffer as rows, in eager's order; each parameter's total adds them
sample by sample, use by use, from left to right, as `_Program._batch_totals`.

Falls back to `replay._Program` for the whole graph (``grouped`` is False) when
a constant or a parameter of the graph is not a float (a Fraction, an int too
large for a float): numpy would round it where Python computes exactly.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from .engine import Value
from .ops import ADD, DETACH, MUL, OPS, Op
from .replay import (
    SELECT,
    ReplayError,
    _any_differs,
    _backward_order,
    _compare,
    _decision_graph,
    _elementwise,
    _graph,
    _Index,
    _inputs,
    _plain,
    _Program,
    _Recorder,
    _Retrace,
    _same_number,
    fixed_selects,
    forward_source,
    guard_line,
)

__all__ = ["GroupedProgram"]

_BUILT_IN = set(OPS.values())  # vectorized built-ins return fresh arrays of their inputs' broadcast shape
_EXACT_INT = 2 ** 53


class _Unsupported(Exception):
    """The graph has something the grouped program does not handle exactly: use the per-node program."""


class _Group:
    """Structurally identical nodes, evaluated as one array of shape (len(members), batch)."""

    def __init__(self, gid: int, kind: str, first: Value, processed: bool, parents: Tuple["_Group", ...]) -> None:
        self.gid = gid
        self.kind = kind  # "param", "number", "const", "op" or "select"
        self.op = first._op if kind in ("op", "select") else None
        self.k = first._k if kind == "op" else None
        self.members: List[Value] = []
        self.processed = processed  # its backward runs (it leads to a parameter and gets a gradient)
        self.parents = parents  # the group of each input slot
        self.leads = False
        self.name = f"v{gid}"


def _is_float_exact(x: Any) -> bool:
    if type(x) is float:
        return True
    return isinstance(x, Integral) and not isinstance(x, bool) and abs(int(x)) <= _EXACT_INT


class GroupedProgram(_Program):
    """The batched program of `replay`, with structurally identical nodes evaluated together.

    Same interface as ``_Program(..., batched=True)``: ``run(P, X, I, seed, n)``
    returns ``(losses, totals)``, bit-identical to it and to eager mode.
    ``grouped`` says whether grouping was used (else the per-node program
    runs); ``n_groups`` and ``n_nodes`` say how much was grouped.
    """

    def __init__(self, root: Value, params: List[Value], numbers: List[Value], indices: List[_Index],
                 recorder: _Recorder, batched: bool = True) -> None:
        self.grouped = False
        self.keep_draws_and_modes(recorder)
        loss_nodes = _graph(root)
        nodes = loss_nodes + _decision_graph(recorder, loss_nodes)  # compared Values are computed too, to be guarded
        self.n_nodes = self.n_groups = len(nodes)
        if batched and root._op is not None:
            try:
                self._build(root, nodes, len(loss_nodes), params, numbers, indices, recorder)
                self.grouped = True
                return
            except _Unsupported:
                pass
        _Program.__init__(self, root, params, numbers, indices, recorder, batched)

    # ------------------------------------------------------------------ build
    def _build(self, root: Value, nodes: List[Value], n_loss: int, params: List[Value], numbers: List[Value],
               indices: List[_Index], recorder: _Recorder) -> None:
        self.batched = True
        param_slot = {id(p): j for j, p in enumerate(params)}
        number_slot = {id(v): j for j, v in enumerate(numbers)}
        for j, p in enumerate(params):
            if not _is_float_exact(p.data):
                raise _Unsupported(f"parameter {j} is {p.data!r}")

        # Which nodes lead to a parameter, and, following _Program's backward (eager's order), every
        # node's terms: (consumer, input slot) in the order eager adds them.
        leads = set(param_slot)
        for v in nodes:
            if any(id(p) in leads for p in _inputs(v)):
                leads.add(id(v))
        present = {id(v) for v in nodes[:n_loss] if v._op is None}
        unused = [j for j, p in enumerate(params) if id(p) not in present]
        if unused:
            raise ReplayError(f"the loss does not use the parameters at positions {unused[:10]} "
                              f"(of {len(params)}); pass only the parameters the loss depends on")
        terms: Dict[int, List[Tuple[Value, int]]] = {id(root): []}
        param_terms: Dict[int, List[Tuple[Value, int]]] = {id(p): [] for p in params}
        processed = set()
        order = _backward_order(root)
        if fixed_selects(nodes[:n_loss], order):
            raise _Unsupported("a select whose label would change eager's backward order")
        for v in order:
            if id(v) not in terms or id(v) not in leads or v._op is DETACH:
                continue
            processed.add(id(v))
            for s, parent in enumerate(_inputs(v)):
                if id(parent) not in leads:
                    continue
                if parent._op is None:
                    param_terms[id(parent)].append((v, s))
                else:
                    terms.setdefault(id(parent), []).append((v, s))

        # Groups, in the order they are made (inputs' groups first).
        groups: List[_Group] = []
        by_key: Dict[Any, _Group] = {}
        where: Dict[int, Tuple[_Group, int]] = {}  # node -> (its group, its position there)
        consts: List[Any] = []  # data of the constant leaves (and of nodes computed from constants only)

        def place(v: Value, key: Any, kind: str, parents: Tuple[_Group, ...]) -> None:
            group = by_key.get(key)
            if group is None:
                group = _Group(len(groups), kind, v, id(v) in processed, parents)
                group.leads = id(v) in leads
                by_key[key] = group
                groups.append(group)
            where[id(v)] = (group, len(group.members))
            group.members.append(v)

        for v in nodes:
            op = v._op
            if op is None:
                kind = "param" if id(v) in param_slot else "number" if id(v) in number_slot else "const"
            else:
                ins = _inputs(v)
                if op is not SELECT and all(where[id(p)][0].kind == "const" for p in ins):
                    kind = "const"  # computed from constants only: the same number at every call
                else:
                    kind = "select" if op is SELECT else "op"
            if kind == "const":
                if not _is_float_exact(v.data):
                    raise _Unsupported(f"the constant {v.data!r} is not a float")
                consts.append(v.data)
            if kind in ("param", "number", "const"):
                place(v, kind, kind, ())
                continue
            parents = tuple(where[id(p)][0] for p in _inputs(v))
            k = (type(v._k).__name__, repr(v._k)) if kind == "op" and op.param else None  # type: ignore[union-attr]
            key = (kind, id(op), k, tuple(g.gid for g in parents), id(v) in processed)
            place(v, key, kind, parents)

        # ---------------------------------------------------------- the code
        lines: List[str] = []
        self.consts = []
        self.funcs = []
        self.index_arrays: List[np.ndarray] = []

        def const(x: Any) -> str:
            self.consts.append(x)
            return f"K[{len(self.consts) - 1}]"

        def func(f: Callable, op: Op) -> str:
            self.funcs.append(_elementwise(f) if not op.vectorized else f if op in _BUILT_IN else _fitted(f))
            return f"F[{len(self.funcs) - 1}]"

        def rows(source: str, idx: List[int], length: int) -> str:
            """`source` (an array of `length` rows) at rows `idx`: a view when they are evenly spaced."""
            if len(idx) == length and idx == list(range(length)):
                return source
            if len(idx) == 1:
                return f"{source}[{idx[0]}:{idx[0] + 1}]"
            step = idx[1] - idx[0]
            if step != 0 and all(b - a == step for a, b in zip(idx, idx[1:])):
                stop = idx[-1] + step
                return f"{source}[{idx[0]}:{stop if stop >= 0 else ''}{'' if step == 1 else f':{step}'}]"
            self.index_arrays.append(np.array(idx, dtype=np.intp))
            return f"{source}[S[{len(self.index_arrays) - 1}]]"

        def operand(group: _Group, slot: int) -> str:
            parent_group = group.parents[slot]
            idx = [where[id(_inputs(v)[slot])][1] for v in group.members]
            return rows(parent_group.name, idx, len(parent_group.members))

        # Leaves: parameters (in the order of their slots in P), input numbers, constants.
        self.param_order: Optional[np.ndarray] = None
        for group in groups:
            if group.kind == "param":
                self.param_order = np.array([param_slot[id(v)] for v in group.members], dtype=np.intp)
                lines.append(f"{group.name} = P")
            elif group.kind == "number":
                xs = ", ".join(f"X[{number_slot[id(v)]}]" for v in group.members)
                lines.append(f"{group.name} = _np.array([{xs}])")
            elif group.kind == "const":
                lines.append(f"{group.name} = {const(np.array(consts, dtype=float)[:, None])}")

        # Forward, group by group. A group whose inputs are rows of a pattern such as "each of 16 rows, 16
        # times" (w_ji * h_i) runs as an (A, B, n) array: its inputs are then views, broadcast, not copies.
        operands: Dict[Tuple[int, int], str] = {}
        picks: Dict[int, str] = {}
        shape3: Dict[int, Tuple[int, int]] = {}  # group -> (A, B) when it runs in three dimensions
        for group in groups:
            if group.kind not in ("op", "select"):
                continue
            op = group.op
            assert op is not None
            me = group.name
            m = len(group.members)
            lists = [[where[id(_inputs(v)[slot])][1] for v in group.members] for slot in range(len(group.parents))]
            shape = _shape3(lists) if group.kind == "op" else None
            args = []
            for slot, idx in enumerate(lists):
                source = group.parents[slot].name
                if shape is not None:
                    text = _view3(source, idx, *shape) or ""
                    if not text:
                        self.index_arrays.append(np.array(idx, dtype=np.intp))
                        text = f"{source}[S[{len(self.index_arrays) - 1}]].reshape({shape[0]}, {shape[1]}, -1)"
                else:
                    text = rows(source, idx, len(group.parents[slot].members))
                if "[S[" in text:  # a gather: keep the copy for backward
                    lines.append(f"o{group.gid}_{slot} = {text}")
                    text = f"o{group.gid}_{slot}"
                operands[(group.gid, slot)] = text
                args.append(text)
            if group.kind == "select":
                picks[group.gid] = pick = self._pick_code(group, const, lines)
                lines.append(f"{me} = _choose_rows({pick}, ({', '.join(args)},))")
                continue
            known: Op = op
            value = forward_source(op, args, lambda: const(group.k), lambda: func(known.forward, known))  # noqa: B023
            if shape is not None:
                shape3[group.gid] = shape
                value = f"({value}).reshape({m}, -1)"
            lines.append(f"{me} = {value}")

        # Guards: the decisions taken on data while recording must come out the same.
        for value, other, result, how in recorder.decisions:
            g, i = where[id(value)]
            right = f"{where[id(other)][0].name}[{where[id(other)][1]}]" if isinstance(other, Value) \
                else const(_plain(other))
            lines.append(guard_line(f"{g.name}[{i}]", how, right, const, result, True))
        data_selected = {v._k[0].slot for v in nodes if v._op is SELECT and isinstance(v._k[0], _Index)}
        self.guarded_indices = sorted(set(recorder.index_used_as_number) | (set(range(len(indices))) - data_selected))
        self.recorded_indices = [int(i) for i in indices]

        # Backward. Rows of the buffer GT: 0 stays -0.0 (padding), 1 holds SEED, then blocks of terms.
        NEG_ZERO, SEED_ROW = 0, 1
        size = 2
        grad_row: Dict[int, int] = {id(root): SEED_ROW}  # node -> the row holding its gradient
        term_base: Dict[Tuple[int, int], int] = {}  # (group, slot) -> first row of that slot's terms
        self.zero_blocks: List[Tuple[int, int]] = []

        def term_row(consumer: Value, slot: int) -> int:
            g, i = where[id(consumer)]
            if g.op is ADD:
                return grad_row[id(consumer)]
            if g.kind == "select":
                return term_base[(g.gid, 0)] + slot * len(g.members) + i
            return term_base[(g.gid, slot)] + i

        back: List[str] = [f"GT[{SEED_ROW}] = SEED"]
        for group in reversed(groups):
            if not group.processed:
                continue
            me = group.name
            m = len(group.members)
            # Its gradient: each member's terms, summed in eager's order.
            lists = [[SEED_ROW] if v is root else [term_row(c, s) for c, s in terms[id(v)]] for v in group.members]
            width = max(len(t) for t in lists)
            shape = shape3.get(group.gid)
            if width == 1:
                for v, t in zip(group.members, lists):
                    grad_row[id(v)] = t[0]
                firsts = [t[0] for t in lists]
                if shape is None:
                    # one row for all (a node used by all of them, as + passes it on): broadcast, not copied
                    g_text = rows("GT", firsts, -1) if len(set(firsts)) > 1 else f"GT[{firsts[0]}:{firsts[0] + 1}]"
                else:
                    g_text = _view3("GT", firsts, *shape) or ""
                    if not g_text:
                        self.index_arrays.append(np.array(firsts, dtype=np.intp))
                        g_text = f"GT[S[{len(self.index_arrays) - 1}]].reshape({shape[0]}, {shape[1]}, -1)"
            else:
                # term by term (column by column), from left to right; a column of evenly spaced rows is a view
                padded = [t + [NEG_ZERO] * (width - len(t)) for t in lists]
                columns = [rows("GT", [t[w] for t in padded], -1) for w in range(width)]
                acc = f"GT[{size}:{size + m}]"
                back.append(f"_add({columns[0]}, {columns[1]}, out={acc})")
                back.extend(f"_add({acc}, {column}, out={acc})" for column in columns[2:])
                for i, v in enumerate(group.members):
                    grad_row[id(v)] = size + i
                g_text = f"GT[{size}:{size + m}]" + ("" if shape is None else f".reshape({shape[0]}, {shape[1]}, -1)")
                size += m
            if group.op is ADD:
                continue  # its terms are its gradient: both inputs' terms are these rows
            back.append(f"g = {g_text}")
            op = group.op
            assert op is not None
            leading = [s for s, parent in enumerate(group.parents) if parent.leads]
            if group.kind == "select":
                n_cand = len(group.parents)
                term_base[(group.gid, 0)] = size
                self.zero_blocks.append((size, size + n_cand * m))
                back.append(f"_scatter(GT, {size}, {m}, {picks[group.gid]}, g)")
                size += n_cand * m
                continue
            for s in leading:
                term_base[(group.gid, s)] = size
                size += m
            in3 = "" if shape is None else f".reshape({shape[0]}, {shape[1]}, -1)"
            out = {s: f"out=GT[{term_base[(group.gid, s)]}:{term_base[(group.gid, s)] + m}]{in3}" for s in leading}
            me = me + in3
            a = operands[(group.gid, 0)]
            if op is MUL:
                b = operands[(group.gid, 1)]
                for s in leading:
                    back.append(f"_mul({b if s == 0 else a}, g, {out[s]})")
            elif op.arity == 2:
                b = operands[(group.gid, 1)]
                back.append(f"_d = {func(op.local, op)}({a}, {b}, {me})")
                for s in leading:
                    back.append(f"_mul(_d[{s}], g, {out[s]})")
            elif op.param:
                back.append(f"_mul({func(op.local, op)}({a}, {const(group.k)}, {me}), g, {out[0]})")
            else:
                back.append(f"_mul({func(op.derivative, op)}({a}, {me}), g, {out[0]})")
        root_group, root_pos = where[id(root)]
        back.append(f"return {root_group.name}[{root_pos}]")
        lines.extend(back)

        # Rows of GT belonging to each parameter, in eager's order (see _Program._batch_totals).
        self.rows = [[term_row(c, s) for c, s in param_terms[id(p)]] for p in params]
        self.n_terms = size
        self.n_groups = len(groups)
        source = "def _program(P, X, I, SEED, K, F, S, GT):\n" + "\n".join("    " + line for line in lines) + "\n"
        namespace: Dict[str, Any] = {"_np": np, "_Retrace": _Retrace, "_any_differs": _any_differs,
                                     "_choose_rows": _choose_rows, "_same_number": _same_number,
                                     "_compare": _compare, "_scatter": _scatter, "_mul": np.multiply,
                                     "_add": np.add}
        exec(compile(source, "<microgradcn grouped replay>", "exec"), namespace)
        self.function = namespace["_program"]
        self.source = source
        self.lines = len(lines)
        by_uses: Dict[int, List[int]] = {}
        for j, param_rows in enumerate(self.rows):
            if param_rows:
                by_uses.setdefault(len(param_rows), []).append(j)
        self._by_uses = [(group, np.array([self.rows[j] for j in group], dtype=np.intp))
                         for group in by_uses.values()]

    def _pick_code(self, group: _Group, const: Callable[[Any], str], lines: List[str]) -> str:
        """The index each member of a select group picks, as an int array broadcastable to (members, n)."""
        specs = [v._k[0] for v in group.members]
        if all(isinstance(s, _Index) for s in specs):
            slots = [s.slot for s in specs]
            if len(set(slots)) == 1:
                return f"I[{slots[0]}][None, :]"
            lines.append(f"p{group.gid} = _np.array([{', '.join(f'I[{s}]' for s in slots)}])")
            return f"p{group.gid}"
        if not any(isinstance(s, _Index) for s in specs):
            return const(np.array([int(s) for s in specs], dtype=np.intp)[:, None])
        some = next(s.slot for s in specs if isinstance(s, _Index))  # the batch size is that of any index column
        items = ", ".join(f"I[{s.slot}]" if isinstance(s, _Index) else f"_np.full(len(I[{some}]), {int(s)})"
                          for s in specs)
        lines.append(f"p{group.gid} = _np.array([{items}])")
        return f"p{group.gid}"

    # -------------------------------------------------------------------- run
    def run(self, P: List[Any], X: List[Any], ids: List[Any], seed: Any, n: int = 0) -> Tuple[Any, List[Any]]:
        """Forward and backward over the batch: (each sample's loss, each parameter's gradient total)."""
        if not self.grouped:
            return _Program.run(self, P, X, ids, seed, n)
        buffer = np.empty((self.n_terms, n))  # every row read is written first: rows 0 and select's here
        buffer[0] = -0.0
        for start, stop in self.zero_blocks:
            buffer[start:stop] = 0.0
        params = np.asarray(P, dtype=float)
        if self.param_order is not None:
            params = params[self.param_order][:, None]
        loss = self.function(params, X, ids, seed, self.consts, self.funcs, self.index_arrays, buffer)
        return np.array(loss, dtype=float), self._totals(buffer, n)

    def _totals(self, buffer: np.ndarray, n: int) -> List[Any]:
        """Each parameter's terms summed sample by sample, use by use, from left to right (as eager adds them).

        What `_Program._batch_totals` computes, with one numpy addition per
        (sample, use) over all the parameters with that many uses, instead of a
        cumsum (which numpy runs slowly, element by element).
        """
        totals: List[Any] = [0] * len(self.rows)
        add = np.add
        for group, index in self._by_uses:
            uses = index.shape[1]
            # (parameters, uses, n) -> rows of (parameters,): sample by sample, use by use
            ordered = np.ascontiguousarray(buffer[index].transpose(2, 1, 0)).reshape(n * uses, len(group))
            total = ordered[0].copy()
            for term in ordered[1:]:
                add(total, term, out=total)
            for j, value in zip(group, total.tolist()):
                totals[j] = value
        return totals


def _affine(idx: List[int], A: int, B: int) -> Optional[Tuple[int, int, int]]:
    """(base, step_a, step_b) when ``idx[a * B + b] == base + a * step_a + b * step_b`` for all a, b; else None."""
    table = np.array(idx).reshape(A, B)
    base = int(table[0, 0])
    step_a = int(table[1, 0]) - base if A > 1 else 0
    step_b = int(table[0, 1]) - base if B > 1 else 0
    expected = base + np.arange(A)[:, None] * step_a + np.arange(B)[None, :] * step_b
    return (base, step_a, step_b) if np.array_equal(table, expected) else None


def _span(base: int, count: int, step: int) -> str:
    """A slice of `count` rows from `base`, `step` apart (step != 0)."""
    stop = base + count * step
    return f"{base}:{stop if stop >= 0 else ''}{'' if step == 1 else f':{step}'}"


def _view3(source: str, idx: List[int], A: int, B: int) -> Optional[str]:
    """Rows `idx` of `source` as an (A, B, columns) view, broadcast where rows repeat; None if it needs a copy."""
    form = _form3(idx, A, B)
    return None if form is None else form[0].format(source)


def _form3(idx: List[int], A: int, B: int) -> Optional[Tuple[str, bool, bool]]:
    """`_view3`'s text (with {} for the source) and whether it spans the A and the B axis (not broadcast)."""
    affine = _affine(idx, A, B)
    if affine is None:
        return None
    base, step_a, step_b = affine
    if step_a == 0 and step_b == 0:
        return f"{{}}[{base}:{base + 1}][None]", False, False
    if step_a == 0:
        return f"{{}}[{_span(base, B, step_b)}][None]", False, True
    if step_b == 0:
        return f"{{}}[{_span(base, A, step_a)}][:, None]", True, False
    if step_a == B * step_b:
        return f"{{}}[{_span(base, A * B, step_b)}].reshape({A}, {B}, -1)", True, True
    return None


def _shape3(lists: List[List[int]]) -> Optional[Tuple[int, int]]:
    """(A, B) with A * B members that turns the most row gathers into views, if any does; None to stay 2-D."""
    m = len(lists[0])

    def evenly_spaced(idx: List[int]) -> bool:
        return len(idx) == 1 or (idx[1] != idx[0] and all(b - a == idx[1] - idx[0] for a, b in zip(idx, idx[1:])))

    gathers = sum(not evenly_spaced(idx) for idx in lists)
    best: Optional[Tuple[int, int]] = None
    for B in range(2, m // 2 + 1):
        if m % B:
            continue
        A = m // B
        cost, cover_a, cover_b = 0, False, False
        for idx in lists:
            form = _form3(idx, A, B)
            if form is None:  # gathered: a copy of shape (A, B, columns)
                cost += 1
                cover_a = cover_b = True
            else:
                cover_a = cover_a or form[1]
                cover_b = cover_b or form[2]
        if cover_a and cover_b and cost < gathers:  # every (a, b) of the result is computed
            best, gathers = (A, B), cost
    return best


def _fitted(f: Callable) -> Callable:
    """A vectorized op's own function, its result(s) broadcast to its array inputs' shape (a constant, a view)."""
    def fitted(*args: Any) -> Any:
        out = f(*args)
        shapes = [a.shape for a in args if isinstance(a, np.ndarray)]
        if not shapes:
            return out
        shape = np.broadcast_shapes(*shapes)
        if isinstance(out, tuple):
            return tuple(np.array(np.broadcast_to(o, shape), dtype=float) for o in out)
        return np.array(np.broadcast_to(out, shape), dtype=float)

    return fitted


def _choose_rows(pick: np.ndarray, candidates: Tuple[np.ndarray, ...]) -> np.ndarray:
    """candidates[pick] element by element (np.choose, for any number of candidates)."""
    if len(candidates) <= 32:
        return np.choose(pick, candidates)
    arrays = np.broadcast_arrays(pick, *candidates)
    return np.take_along_axis(np.stack(arrays[1:]), arrays[0][None], axis=0)[0]


def _scatter(GT: np.ndarray, base: int, members: int, pick: np.ndarray, g: np.ndarray) -> None:
    """Select's terms: candidate c of member i is row base + c * members + i; only the chosen one gets g."""
    g = np.asarray(g)
    pick = np.broadcast_to(pick, g.shape)
    GT[base + pick * members + np.arange(members)[:, None], np.arange(g.shape[1])[None, :]] = g
