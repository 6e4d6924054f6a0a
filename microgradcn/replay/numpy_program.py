"""Stage 5b, the numpy backend: one numpy op for a whole group of sibling nodes, over the whole batch.

The numpy backend's program evaluates every scalar node of one sample's
graph over the batch. A layer's neurons are built alike, so many of those
nodes are siblings: the 16 ``w_j0 * x_0`` of a layer, all 256 ``w_ji * h_i``
of the next one. `NumpyEmitter` evaluates each such group as ONE numpy op
over an array of shape ``(group size, batch)``, gathering the parents' rows
by index (or by a broadcast view, see `numpy_views`), and gives the same
numbers as eager mode, bit for bit.

Groups. A node's key is (its op, the op's constant, the group of each input,
whether its backward runs); leaves are grouped by kind (parameters, input
numbers, constants). Nodes with the same key have the same shape of graph
below them, so none depends on another, and a group's inputs all come from
groups made before it: the groups run in the order they were made.

Why the numbers are the same. The forward pass is element-wise, so grouping
changes no result. Backward, every contribution (a "term") is computed
element-wise too, by the op's rule in the op table, and goes to a row of one
buffer. A node's gradient is then the sum of its terms in exactly the order
eager mode adds them, worked out once, at build time, by following eager's
backward loop (`graph.backward_order`). Summing is done for a whole group at
once, one numpy addition per term, from left to right; members with fewer
terms are padded with ``-0.0``, which leaves every float, signed zeros
included, unchanged. A gradient with one term is that term's row, and a
term that is the gradient itself (``+``) is that gradient's row, so most
nodes need no arithmetic. The groups' backward steps run in reverse order, so
every term of a node is ready before its gradient is summed. Parameter terms
stay in the buffer as rows, in eager's order; each parameter's total adds
them sample by sample, use by use, from left to right.

`numpy_program` raises `Unsupported` when a constant or a parameter of the
graph is not a float (a Fraction, an int too large for a float; numpy would
round it where Python computes exactly) or a label could change eager's
order; `Trace` then uses the python backend's code over arrays.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ..engine import Value
from ..ops import DETACH, OPS, Op
from .code import NUMPY_ARITHMETIC, compile_function, elementwise, forward_source, into, passes_gradient_on
from .graph import SELECT, backward_order, check_params_used, decision_nodes, fixed_selects, forward_order, inputs
from .guards import RUNTIME, GuardEmitter
from .numpy_views import shape3, slice_of, view3
from .recording import Index, Recording, Replayed

_BUILT_IN = set(OPS.values())  # vectorized built-ins return fresh arrays of their inputs' broadcast shape
_EXACT_INT = 2 ** 53
NEG_ZERO, SEED_ROW = 0, 1  # rows of the buffer GT: -0.0 (padding) and the seed; blocks of terms follow


class Unsupported(Exception):
    """The graph has something the grouped program does not handle exactly: use the per-node program."""


class NumpyProgram:
    """A compiled step of the numpy backend (see `program.Program`): ``run`` gives each sample's loss."""

    def __init__(self, function: Callable[..., Any], source: str, emitter: "NumpyEmitter") -> None:
        self.function, self.source, self.lines = function, source, emitter.n_lines
        self.consts, self.funcs, self.index_arrays = emitter.consts, emitter.funcs, emitter.index_arrays
        self.guarded_indices, self.recorded_indices = emitter.guarded_indices, emitter.recorded_indices
        self.replayed = Replayed(emitter.recording.recorder)
        self.n_nodes, self.n_groups = len(emitter.nodes), len(emitter.groups)
        self.n_terms, self.zero_blocks, self.param_order = emitter.size, emitter.zero_blocks, emitter.param_order
        self.rows = emitter.param_rows  # rows of GT belonging to each parameter, in eager's order
        by_uses: Dict[int, List[int]] = {}
        for j, param_rows in enumerate(self.rows):
            if param_rows:
                by_uses.setdefault(len(param_rows), []).append(j)
        self._by_uses = [(group, np.array([self.rows[j] for j in group], dtype=np.intp))
                         for group in by_uses.values()]

    def run(self, P: List[Any], X: List[Any], ids: List[Any], seed: Any, n: int = 0) -> Tuple[Any, List[Any]]:
        """Forward and backward over the batch: (each sample's loss, each parameter's gradient total)."""
        buffer = np.empty((self.n_terms, n))  # every row read is written first: rows 0 and select's here
        buffer[NEG_ZERO] = -0.0
        for start, stop in self.zero_blocks:
            buffer[start:stop] = 0.0
        params = np.asarray(P, dtype=float)
        if self.param_order is not None:
            params = params[self.param_order][:, None]
        loss = self.function(params, X, ids, seed, self.consts, self.funcs, self.index_arrays, buffer)
        return np.array(loss, dtype=float), self._totals(buffer, n)

    def _totals(self, buffer: np.ndarray, n: int) -> List[Any]:
        """Each parameter's terms summed sample by sample, use by use, from left to right (as eager adds them).

        One numpy addition per (sample, use) over all the parameters with that many uses.
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


def numpy_program(recording: Recording) -> NumpyProgram:
    """The numpy backend's program for one sample's recording; `Unsupported` if it cannot be exact."""
    if recording.loss._op is None:
        raise Unsupported("the loss is a leaf")
    return NumpyEmitter(recording).emit()


class _Group:
    """Structurally identical nodes, evaluated as one array of shape (len(members), batch)."""

    def __init__(self, gid: int, kind: str, first: Value, processed: bool, leads: bool,
                 parents: Tuple["_Group", ...]) -> None:
        self.gid = gid
        self.kind = kind  # "param", "number", "const", "op" or "select"
        self.op: Optional[Op] = first._op if kind in ("op", "select") else None
        self.k = first._k if kind == "op" else None
        self.members: List[Value] = []
        self.processed = processed  # its backward runs (it leads to a parameter and gets a gradient)
        self.leads = leads
        self.parents = parents  # the group of each input slot
        self.name = f"v{gid}"
        self.shape: Optional[Tuple[int, int]] = None  # (A, B) when it runs in three dimensions


def _is_float_exact(x: Any) -> bool:
    if type(x) is float:
        return True
    return isinstance(x, Integral) and not isinstance(x, bool) and abs(int(x)) <= _EXACT_INT


class NumpyEmitter:
    """Writes one recording's grouped program, stage by stage (`emit`)."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.root = recording.loss
        loss_nodes = forward_order(self.root)
        check_params_used(loss_nodes, recording.params)
        # compared Values are computed too, to be guarded
        self.nodes = loss_nodes + decision_nodes(recording.recorder, loss_nodes)
        self.param_slot = {id(p): j for j, p in enumerate(recording.params)}
        self.number_slot = {id(v): j for j, v in enumerate(recording.numbers)}
        for j, p in enumerate(recording.params):
            if not _is_float_exact(p.data):
                raise Unsupported(f"parameter {j} is {p.data!r}")
        order = backward_order(self.root)
        if fixed_selects(loss_nodes, order):
            raise Unsupported("a select whose label would change eager's backward order")
        self._terms(order)
        self._group_nodes()
        self.consts: List[Any] = []
        self.funcs: List[Callable] = []
        self.index_arrays: List[np.ndarray] = []
        self.operands: Dict[Tuple[int, int], str] = {}  # (group, input slot) -> its rows, as code
        self.picks: Dict[int, str] = {}  # select group -> the index each member picks, as code

    def emit(self) -> NumpyProgram:
        lines = self.leaves() + self.forward() + self.guards() + self.backward()
        return self.compile(lines)

    # -------------------------------------------------------------- plan
    def _terms(self, order: List[Value]) -> None:
        """Which nodes lead to a parameter; every node's terms, (consumer, input slot), in eager's order."""
        self.leads = set(self.param_slot)
        for v in self.nodes:
            if any(id(p) in self.leads for p in inputs(v)):
                self.leads.add(id(v))
        self.terms: Dict[int, List[Tuple[Value, int]]] = {id(self.root): []}
        self.param_terms: Dict[int, List[Tuple[Value, int]]] = {id(p): [] for p in self.recording.params}
        self.processed = set()
        for v in order:
            if id(v) not in self.terms or id(v) not in self.leads:
                continue
            self.processed.add(id(v))
            if v._op is DETACH:
                continue  # it passes on 0 * g: nothing, while g is finite (a guard)
            for s, parent in enumerate(inputs(v)):
                if id(parent) not in self.leads:
                    continue
                if parent._op is None:
                    self.param_terms[id(parent)].append((v, s))
                else:
                    self.terms.setdefault(id(parent), []).append((v, s))

    def _group_nodes(self) -> None:
        """The groups, in the order they are made (inputs' groups first), and where each node is."""
        self.groups: List[_Group] = []
        by_key: Dict[Any, _Group] = {}
        self.where: Dict[int, Tuple[_Group, int]] = {}  # node -> (its group, its position there)
        self.const_data: List[Any] = []  # data of the constant leaves (and of nodes computed from constants)
        for v in self.nodes:
            kind = self._kind(v)
            if kind in ("param", "number", "const"):
                key: Any = kind
                parents: Tuple[_Group, ...] = ()
            else:
                parents = tuple(self.where[id(p)][0] for p in inputs(v))
                op = v._op
                k = (type(v._k).__name__, repr(v._k)) if kind == "op" and op.param else None  # type: ignore[union-attr]
                key = (kind, id(op), k, tuple(g.gid for g in parents), id(v) in self.processed)
            group = by_key.get(key)
            if group is None:
                group = by_key[key] = _Group(len(self.groups), kind, v, id(v) in self.processed,
                                             id(v) in self.leads, parents)
                self.groups.append(group)
            self.where[id(v)] = (group, len(group.members))
            group.members.append(v)

    def _kind(self, v: Value) -> str:
        if v._op is None:
            kind = "param" if id(v) in self.param_slot else "number" if id(v) in self.number_slot else "const"
        elif v._op is SELECT:
            kind = "select"
        elif all(self.where[id(p)][0].kind == "const" for p in inputs(v)):
            kind = "const"  # computed from constants only: the same number at every call
        else:
            kind = "op"
        if kind == "const":
            if not _is_float_exact(v.data):
                raise Unsupported(f"the constant {v.data!r} is not a float")
            self.const_data.append(v.data)
        return kind

    # ------------------------------------------------------ names and objects
    def const(self, x: Any) -> str:
        """A constant passed to the program as an object (exact: never written as text)."""
        self.consts.append(x)
        return f"K[{len(self.consts) - 1}]"

    def func(self, f: Callable, op: Op) -> str:
        self.funcs.append(elementwise(f) if not op.vectorized else f if op in _BUILT_IN else _fitted(f))
        return f"F[{len(self.funcs) - 1}]"

    def gather(self, source: str, idx: List[int], shape: Optional[Tuple[int, int]] = None) -> str:
        """Rows `idx` of `source` copied by an index array (as an (A, B, n) array if `shape`)."""
        self.index_arrays.append(np.array(idx, dtype=np.intp))
        text = f"{source}[S[{len(self.index_arrays) - 1}]]"
        return text if shape is None else f"{text}.reshape({shape[0]}, {shape[1]}, -1)"

    def rows(self, source: str, idx: List[int], length: int) -> str:
        """`source` (an array of `length` rows) at rows `idx`: a view when they are evenly spaced."""
        if len(idx) == length and idx == list(range(length)):
            return source
        span = slice_of(idx)
        return f"{source}[{span}]" if span is not None else self.gather(source, idx)

    def rows3(self, source: str, idx: List[int], shape: Optional[Tuple[int, int]], length: int) -> str:
        """Rows `idx` of `source` for a group of that `shape` (2-D if None): a view where possible."""
        if shape is None:
            return self.rows(source, idx, length)
        return view3(source, idx, *shape) or self.gather(source, idx, shape)

    # ------------------------------------------------------------ forward
    def leaves(self) -> List[str]:
        """Parameters (in the order of their slots in P), input numbers, constants."""
        lines = []
        self.param_order: Optional[np.ndarray] = None
        for group in self.groups:
            if group.kind == "param":
                self.param_order = np.array([self.param_slot[id(v)] for v in group.members], dtype=np.intp)
                lines.append(f"{group.name} = P")
            elif group.kind == "number":
                xs = ", ".join(f"X[{self.number_slot[id(v)]}]" for v in group.members)
                lines.append(f"{group.name} = _np.array([{xs}])")
            elif group.kind == "const":
                lines.append(f"{group.name} = {self.const(np.array(self.const_data, dtype=float)[:, None])}")
        return lines

    def forward(self) -> List[str]:
        """Forward, group by group; a group whose inputs follow a pattern runs in three dimensions."""
        lines: List[str] = []
        for group in self.groups:
            if group.kind in ("op", "select"):
                self.forward_group(group, lines)
        return lines

    def forward_group(self, group: _Group, lines: List[str]) -> None:
        op = group.op
        assert op is not None
        lists = [[self.where[id(inputs(v)[slot])][1] for v in group.members] for slot in range(len(group.parents))]
        group.shape = shape3(lists) if group.kind == "op" else None
        args = []
        for slot, idx in enumerate(lists):
            text = self.rows3(group.parents[slot].name, idx, group.shape, len(group.parents[slot].members))
            if "[S[" in text:  # a gather: keep the copy for backward
                lines.append(f"o{group.gid}_{slot} = {text}")
                text = f"o{group.gid}_{slot}"
            self.operands[(group.gid, slot)] = text
            args.append(text)
        if group.kind == "select":
            self.picks[group.gid] = pick = self._pick_code(group, lines)
            lines.append(f"{group.name} = _choose_rows({pick}, ({', '.join(args)},))")
            return
        value = forward_source(op, args, lambda: self.const(group.k), lambda: self.func(op.forward, op))
        if group.shape is not None:
            value = f"({value}).reshape({len(group.members)}, -1)"
        lines.append(f"{group.name} = {value}")

    def _pick_code(self, group: _Group, lines: List[str]) -> str:
        """The index each member of a select group picks, as an int array broadcastable to (members, n)."""
        specs = [v._k[0] for v in group.members]
        if all(isinstance(s, Index) for s in specs):
            slots = [s.slot for s in specs]
            if len(set(slots)) == 1:
                return f"I[{slots[0]}][None, :]"
            lines.append(f"p{group.gid} = _np.array([{', '.join(f'I[{s}]' for s in slots)}])")
            return f"p{group.gid}"
        if not any(isinstance(s, Index) for s in specs):
            return self.const(np.array([int(s) for s in specs], dtype=np.intp)[:, None])
        some = next(s.slot for s in specs if isinstance(s, Index))  # the batch size is that of any index column
        items = ", ".join(f"I[{s.slot}]" if isinstance(s, Index) else f"_np.full(len(I[{some}]), {int(s)})"
                          for s in specs)
        lines.append(f"p{group.gid} = _np.array([{items}])")
        return f"p{group.gid}"

    # ------------------------------------------------------------- guards
    def guards(self) -> List[str]:
        """The guards of the recorded decisions; the integer inputs to check outside the code."""
        recording = self.recording

        def number_of(v: Value) -> str:
            group, i = self.where[id(v)]
            return f"{group.name}[{i}]"

        self.guard = GuardEmitter(self.const, True)
        lines = self.guard.lines(recording.recorder.decisions, number_of)
        data_selected = {v._k[0].slot for v in self.nodes if v._op is SELECT and isinstance(v._k[0], Index)}
        self.guarded_indices = GuardEmitter.index_slots(recording.recorder, recording.indices, data_selected)
        self.recorded_indices = [int(i) for i in recording.indices]
        return lines

    # ----------------------------------------------------------- backward
    def backward(self) -> List[str]:
        """Backward, group by group in reverse: each member's gradient (its terms summed), then its terms."""
        self.size = SEED_ROW + 1
        self.grad_row: Dict[int, int] = {id(self.root): SEED_ROW}  # node -> the row holding its gradient
        self.term_base: Dict[Tuple[int, int], int] = {}  # (group, slot) -> first row of that slot's terms
        self.zero_blocks: List[Tuple[int, int]] = []
        back = [f"GT[{SEED_ROW}] = SEED"]
        for group in reversed(self.groups):
            if group.processed:
                g_text = self.gradient(group, back)
                self.group_terms(group, g_text, back)
        root_group, root_pos = self.where[id(self.root)]
        back.append(f"return {root_group.name}[{root_pos}]")
        self.param_rows = [[self.term_row(c, s) for c, s in self.param_terms[id(p)]] for p in self.recording.params]
        return back

    def term_row(self, consumer: Value, slot: int) -> int:
        """The row of GT holding the term `consumer` passes to its input `slot`."""
        g, i = self.where[id(consumer)]
        if g.kind == "select":
            return self.term_base[(g.gid, 0)] + slot * len(g.members) + i
        assert g.op is not None
        if g.op.backward_code is not None and passes_gradient_on(g.op.backward_code[slot]):
            return self.grad_row[id(consumer)]
        return self.term_base[(g.gid, slot)] + i

    def gradient(self, group: _Group, back: List[str]) -> str:
        """Each member's gradient, its terms summed in eager's order: the code of its rows, as g."""
        m, shape = len(group.members), group.shape
        lists = [[SEED_ROW] if v is self.root else [self.term_row(c, s) for c, s in self.terms[id(v)]]
                 for v in group.members]
        width = max(len(t) for t in lists)
        if width == 1:  # one term each: its row is the gradient
            firsts = [t[0] for t in lists]
            for v, row in zip(group.members, firsts):
                self.grad_row[id(v)] = row
            if shape is None and len(set(firsts)) == 1:  # one row for all (as + passes it on): broadcast
                return f"GT[{firsts[0]}:{firsts[0] + 1}]"
            return self.rows3("GT", firsts, shape, -1)
        # term by term (column by column), from left to right; a column of evenly spaced rows is a view
        padded = [t + [NEG_ZERO] * (width - len(t)) for t in lists]
        columns = [self.rows("GT", [t[w] for t in padded], -1) for w in range(width)]
        acc = f"GT[{self.size}:{self.size + m}]"
        back.append(f"_add({columns[0]}, {columns[1]}, out={acc})")
        back.extend(f"_add({acc}, {column}, out={acc})" for column in columns[2:])
        for i, v in enumerate(group.members):
            self.grad_row[id(v)] = self.size + i
        self.size += m
        return acc + ("" if shape is None else f".reshape({shape[0]}, {shape[1]}, -1)")

    def group_terms(self, group: _Group, g_text: str, back: List[str]) -> None:
        """The terms the group passes to its inputs, each into its block of rows, by the op table's rule."""
        op, m, gid = group.op, len(group.members), group.gid
        assert op is not None
        if group.kind == "select":
            n_cand = len(group.parents)
            self.term_base[(gid, 0)] = self.size
            self.zero_blocks.append((self.size, self.size + n_cand * m))
            back.append(f"g = {g_text}")
            back.append(f"_scatter(GT, {self.size}, {m}, {self.picks[gid]}, g)")
            self.size += n_cand * m
            return
        if op is DETACH:
            back.append(self.guard.finite(g_text))
            return
        templates = op.backward_code
        leading = [s for s, parent in enumerate(group.parents) if parent.leads
                   and not (templates is not None and passes_gradient_on(templates[s]))]
        if not leading:
            return  # its terms are its gradient's rows (+)
        back.append(f"g = {g_text}")
        in3 = "" if group.shape is None else f".reshape({group.shape[0]}, {group.shape[1]}, -1)"
        out = {}
        for s in leading:
            self.term_base[(gid, s)] = self.size
            out[s] = f"GT[{self.size}:{self.size + m}]{in3}"
            self.size += m
        a, b = self.operands[(gid, 0)], self.operands.get((gid, 1))
        if templates is not None:
            operand = {"a": a, "b": b}
            back.extend(into(templates[s], "g", lambda x: operand[x] or "", out[s]) for s in leading)
            return
        me = group.name + in3
        if op.arity == 2:
            back.append(f"_d = {self.func(op.local, op)}({a}, {b}, {me})")
            back.extend(f"_mul(_d[{s}], g, out={out[s]})" for s in leading)
        elif op.param:
            back.append(f"_mul({self.func(op.local, op)}({a}, {self.const(group.k)}, {me}), g, out={out[0]})")
        else:
            back.append(f"_mul({self.func(op.derivative, op)}({a}, {me}), g, out={out[0]})")

    # ------------------------------------------------------------ compile
    def compile(self, lines: List[str]) -> NumpyProgram:
        self.n_lines = len(lines)
        namespace: Dict[str, Any] = dict(RUNTIME, **NUMPY_ARITHMETIC, _np=np, _choose_rows=_choose_rows,
                                         _scatter=_scatter)
        function, source = compile_function("P, X, I, SEED, K, F, S, GT", lines, namespace,
                                            "<microgradcn grouped replay>")
        return NumpyProgram(function, source, self)


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
