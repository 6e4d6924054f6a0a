"""Stage 5a, the python backend: straight-line code, one line per node (or fewer: see `code.forward_lines`).

`PythonEmitter` writes a recording's program in steps: names for the
leaves, the forward pass, the guards, the backward pass in eager mode's
order with its arithmetic, then the repeat functions, and compiles it into a
`PythonProgram`. The same code runs on plain numbers (``backend="python"``,
and the penalty of ``backend="numpy"``) or, ``batched``, on one numpy array
per node over a whole batch (the numpy backend's fallback, when a number in
the graph is not a float: see `numpy_program`).
"""

from __future__ import annotations

import operator
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

import numpy as np

from ..engine import Value
from ..ops import DETACH
from .code import Names, compile_function, elementwise, forward_lines, forward_source, sum_lines, template_form
from .graph import (
    SELECT,
    backward_order,
    check_params_used,
    count_uses,
    decision_nodes,
    fixed_selects,
    forward_order,
    inputs,
    leading,
)
from .guards import RUNTIME, GuardEmitter
from .recording import Index, Recording, Replayed
from .repeats import Repeat, find_repeats, term_repeats


class PythonProgram:
    """A compiled step of the python backend (see `program.Program`)."""

    def __init__(self, function: Callable[..., Any], source: str, emitter: "PythonEmitter") -> None:
        self.function, self.source, self.lines = function, source, emitter.n_lines
        self.batched = emitter.batched
        self.consts, self.funcs = emitter.consts, emitter.funcs
        self.guarded_indices, self.recorded_indices = emitter.guarded_indices, emitter.recorded_indices
        self.replayed = Replayed(emitter.recording.recorder)
        self.repeats = len(emitter.repeats)
        self.rows = emitter.back.rows  # rows of C belonging to each parameter, in eager's order
        self.picked = [(j, rows) for j, rows in enumerate(self.rows) if rows]  # (most parameters have none)
        self.n_terms = len(emitter.back.param_terms)

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
        for j, rows in self.picked:  # embedding rows picked by select
            total = totals[j]
            for r in rows:
                total = total + C[r]
            totals[j] = total
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


def python_program(recording: Recording, batched: bool = False) -> PythonProgram:
    """The python backend's program for `recording` (batched: over numpy arrays, one per node)."""
    return PythonEmitter(recording, batched).emit()


class PythonEmitter:
    """Writes one recording's program, stage by stage (`emit`)."""

    batched_repeats = False  # the repeats read computed values: one call runs them all (see _plan)

    def __init__(self, recording: Recording, batched: bool) -> None:
        self.recording, self.batched = recording, batched
        self.root = recording.loss
        self.nodes = forward_order(self.root)
        check_params_used(self.nodes, recording.params)
        self.name = Names("v")  # only the nodes the code mentions get a name
        self.param_slot = {p: j for j, p in enumerate(recording.params)}
        self.number_slot = {v: j for j, v in enumerate(recording.numbers)}
        self.consts: List[Any] = []
        self.funcs: List[Callable] = []
        self._func_names: Dict[Tuple[int, bool], str] = {}
        self.needed = {self.root}  # nodes whose number is kept in a name
        self.data_selected: Set[int] = set()  # integer inputs that only pick a select's candidate
        self.fixed_slots: Set[int] = set()  # ... and those whose label is guarded all the same
        self.uses = count_uses(self.nodes)
        # Values compared while recording but outside the loss's graph are computed too, to be guarded.
        self.extra = decision_nodes(recording.recorder, self.nodes)
        self._plan()

    def emit(self) -> PythonProgram:
        leaf_lines = self.leaves()
        interior, template_interior, raw = self.forward()
        guard_lines = self.guards()
        self.back = _Backward(self)
        backward_lines = self.back.lines()
        functions = self.repeat_functions(template_interior)
        gather = ["_p = _params(P)"] if self.batched_repeats else []  # the repeats' parameters, as one tuple
        body = (leaf_lines + gather + functions + forward_lines(interior, self.name, self.needed, raw)
                + guard_lines + backward_lines)
        return self.compile(body)

    # -------------------------------------------------------------- plan
    def _plan(self) -> None:
        """Eager's backward order, the selects whose label is guarded, and the parts that repeat."""
        self.order = backward_order(self.root, self.uses)
        # Labels that might change eager's order are guarded (every select's then), and eager's order is used.
        self.fixed: Set[Value] = fixed_selects(self.nodes, self.order)
        if self.fixed:
            self.fixed = {v for v in self.nodes if v._op is SELECT and any(c._op is not None for c in v._k[1])}
            self.order = backward_order(self.root, chosen_only=True)
        # A part that repeats (one sample's loss in a batch) is written once, as two functions, and called
        # once per repeat: shorter code, the same operations in the same order.
        self.leads = leading(self.nodes, self.recording.params)
        no_repeats = self.batched or self.recording.recorder.decisions
        self.repeats: List[Repeat] = [] if no_repeats else find_repeats(
            self.nodes, self.order, self.uses, self.param_slot, self.number_slot)
        # Repeats that read computed values (a sequence's positions), else none; their functions then
        # return the terms of those values' gradients.
        if not self.repeats and not no_repeats and not self.fixed:
            self.repeats = term_repeats(self.nodes, self.order, self.uses, self.param_slot, self.leads)
            self.batched_repeats = bool(self.repeats)
        self.member_of = {m: k for k, rep in enumerate(self.repeats) for m in rep.members}
        self.data_selected.update(slot for rep in self.repeats for slot in rep.picks)
        self.template_picks = {slot: f"_i{n}" for n, slot in enumerate(self.repeats[0].picks)} if self.repeats else {}
        # The repeat's functions are nested in the step's: parameters (the same in every repeat) and
        # the parameters' running sums are read and written where they are (batched_repeats: passed in as
        # tuples, see looped_functions); the other inputs and the picks are passed.
        self.passed = [leaf for leaf in self.repeats[0].leaves if leaf not in self.param_slot] if self.repeats else []
        self.needed |= {rep.root for rep in self.repeats[:1]}

    # ------------------------------------------------------ names and objects
    def const(self, x: Any) -> str:
        """A constant passed to the program as an object (exact: never written as text)."""
        self.consts.append(x)
        return f"K[{len(self.consts) - 1}]"

    def func(self, f: Callable, vectorized: bool) -> str:
        """A function's name in the program: one global name per function, quicker to call than F[i]."""
        key = (id(f), vectorized)
        if key not in self._func_names:
            self._func_names[key] = f"_f{len(self.funcs)}"
            self.funcs.append(elementwise(f) if self.batched and not vectorized else f)
        return self._func_names[key]

    def val(self, node: Any) -> str:
        """The name of a node's number, which is then kept (not written inline)."""
        self.needed.add(node)
        return self.name[node]

    def pick(self, index: Any, select: Optional[Value] = None) -> str:
        """A select's index: an integer input of the call (passed to a repeat's functions), or a constant."""
        if not isinstance(index, Index):
            return str(int(index))
        if select is not None and self.member_of.get(select) == 0:
            return self.template_picks[index.slot]
        return f"I[{index.slot}]"

    def repeat_arguments(self, k: int) -> str:
        """What repeat k's functions are passed: its inputs that are not parameters, then its picks."""
        rep = self.repeats[k]
        return "".join(f"{self.val(rep.image[leaf])}, " for leaf in self.passed) + "".join(
            f"I[{slot}], " for slot in rep.picks)

    # ------------------------------------------------------------ forward
    def leaves(self) -> List[str]:
        """Parameters from P, input numbers from X, constants from K."""
        lines = []
        for v in self.nodes + self.extra:
            if v._op is None:
                me = self.name[v]
                if v in self.param_slot:
                    lines.append(f"{me} = P[{self.param_slot[v]}]")
                elif v in self.number_slot:
                    lines.append(f"{me} = X[{self.number_slot[v]}]")
                else:
                    lines.append(f"{me} = {self.const(v.data)}")
        return lines

    def forward(self) -> Tuple[List[Tuple[Value, str]], List[Tuple[Value, str]], Dict[Value, str]]:
        """Each interior node's forward form (its inputs as {0}, {1}...): the step's, the first repeat's, calls."""
        raw: Dict[Value, str] = {}
        if self.batched_repeats:  # one call for all, where the last repeat's inputs are ready
            place = {v: i for i, v in enumerate(self.nodes)}
            last = max((rep.root for rep in self.repeats), key=lambda root: place[root])
            targets = ", ".join(f"({self.name[rep.root]}, _s{k})" for k, rep in enumerate(self.repeats))
            calls = "".join(f"({self.repeat_arguments(k)}), " for k in range(len(self.repeats)))
            raw[last] = f"{targets}, = _repeat_forward(({calls}), _p, K)"
        else:
            for k, rep in enumerate(self.repeats):
                raw[rep.root] = f"{self.name[rep.root]}, _s{k} = _repeat_forward({self.repeat_arguments(k)[:-2]})"
        interior: List[Tuple[Value, str]] = []
        template_interior: List[Tuple[Value, str]] = []
        waiting: List[Tuple[Value, str]] = []  # (batched_repeats) nodes that read a root before the call
        roots = {rep.root for rep in self.repeats} - set(raw)
        for v in self.nodes + self.extra:
            if v._op is None:
                continue
            repeat = self.member_of.get(v)
            if repeat is not None:
                if v in raw:
                    interior.append((v, ""))  # the call: raw[v]
                    interior.extend(waiting)
                    waiting, roots = [], set()
                if repeat:
                    continue  # written once, in the first repeat's functions
            elif roots and any(p in roots for p in inputs(v)):
                roots.add(v)  # (repeats never read these: see repeats.depends_on_roots)
                waiting.append((v, self.forward_form(v)))
                continue
            (template_interior if repeat == 0 else interior).append((v, self.forward_form(v)))
        return interior, template_interior, raw

    def forward_form(self, v: Value) -> str:
        """One node's forward, its inputs as {0}, {1}... (a name, or an expression written inline)."""
        op = v._op
        assert op is not None
        if op is SELECT:
            index, candidates = v._k
            if isinstance(index, Index):
                (self.fixed_slots if v in self.fixed else self.data_selected).add(index.slot)
            self.needed.update(candidates)
            cands = ", ".join("{%d}" % c for c in range(len(candidates)))
            pick = self.pick(index, v)
            return f"_choose({pick}, ({cands},))" if self.batched else f"({cands},)[{pick}]"
        k = v._k
        return forward_source(op, ["{0}", "{1}"], lambda: self.const(k), lambda: self.func(op.forward, op.vectorized))

    # ------------------------------------------------------------- guards
    def guards(self) -> List[str]:
        """The guards of the recorded decisions; the integer inputs to check outside the code."""
        recording = self.recording
        self.guard = emitter = GuardEmitter(self.const, self.batched)
        lines = emitter.lines(recording.recorder.decisions, self.val)
        self.guarded_indices = emitter.index_slots(recording.recorder, recording.indices, self.data_selected,
                                                   self.fixed_slots)
        self.recorded_indices = [int(i) for i in recording.indices]
        return lines

    # -------------------------------------------------------- repeats
    def repeat_functions(self, template_interior: List[Tuple[Value, str]]) -> List[str]:
        """The first repeat's forward and backward, as two functions nested in the program."""
        template = self.back.template
        if not self.repeats or template is None:
            return []
        first, name = self.repeats[0], self.name
        saved = "".join(f"{name[m]}, " for m in first.members if m in self.needed)
        passed = "".join(f"{name[leaf]}, " for leaf in self.passed) + "".join(
            f"{i}, " for i in self.template_picks.values())
        body, sums, root_grad, outgoing = template
        terms = f"({''.join(term + ', ' for _, term in outgoing)})" if outgoing else "None"
        forward = forward_lines(template_interior, name, self.needed)
        if self.batched_repeats:
            return self.looped_functions(forward, body, sums, saved, passed, root_grad, terms)
        return ([f"def _repeat_forward({passed[:-2]}):"] + [f"    {line}" for line in forward]
                + [f"    return {name[first.root]}, ({saved})", f"def _repeat_backward(_saved, {passed}{root_grad}):"]
                + ([f"    nonlocal {', '.join(f'G{j}' for j in sums)}"] if sums else [])
                + [f"    ({saved}) = _saved"] + [f"    {line}" for line in body] + [f"    return {terms}"])

    def looped_functions(self, forward: List[str], body: List[str], sums: List[int], saved: str, passed: str,
                         root_grad: str, terms: str) -> List[str]:
        """(batched_repeats) The two functions, each a loop over every repeat, in eager's order.

        They read nothing of the program's (a closure's cells, made on every
        call, keep Python's cyclic collector busy): the parameters come as a
        tuple `_p`, the running sums of their gradients as `_G` (returned),
        the constants as K.
        """
        params = "".join(f"{self.name[leaf]}, " for leaf in self.repeats[0].leaves if leaf in self.param_slot)
        unpack = [f"    ({params}) = _p"] if params else []
        running = "".join(f"G{j}, " for j in sums)
        root = self.name[self.repeats[0].root]
        forward_function = (["def _repeat_forward(_calls, _p, K):"] + unpack
                            + ["    _out = []", f"    for {passed or '_ '}in _calls:"]
                            + [f"        {line}" for line in forward]
                            + [f"        _out.append(({root}, ({saved})))", "    return _out"])
        backward_function = (["def _repeat_backward(_calls, _p, K, _G):"] + unpack
                             + [f"    ({running}) = _G", "    _out = []",
                                f"    for _saved, {passed}{root_grad} in _calls:", f"        ({saved}) = _saved"]
                             + [f"        {line}" for line in body]
                             + [f"        _out.append({terms})", f"    return _out, ({running})"])
        return forward_function + backward_function

    # ------------------------------------------------------------ compile
    def compile(self, lines: List[str]) -> PythonProgram:
        self.n_lines = len(lines)
        namespace: Dict[str, Any] = dict(RUNTIME, _choose=_choose, _where=np.where,
                                         _pick=_pick_batched if self.batched else _pick)
        namespace.update((f"_f{i}", f) for i, f in enumerate(self.funcs))
        if self.batched_repeats:
            slots = [self.param_slot[leaf] for leaf in self.repeats[0].leaves if leaf in self.param_slot]
            namespace["_params"] = lambda P, get=operator.itemgetter(*slots, 0, 0): get(P)[:-2]  # (always a tuple)
        function, source = compile_function("P, X, I, SEED, K, F, C, S", lines, namespace, "<microgradcn replay>")
        return PythonProgram(function, source, self)


class _Backward:
    """The backward pass's lines, in eager mode's order and with its arithmetic (the op table's rules).

    Left out, because they only ever add exact zeros: gradients of nodes
    that lead to no parameter, and of nodes whose every contribution is zero
    (what flows through `detach`, such as softmax's shift). A node's terms
    are summed in one line when it is visited (all are ready then), in
    eager's order, from the first term on: eager starts from 0, and 0 + t
    is t (up to the sign of a zero).
    """

    def __init__(self, emitter: PythonEmitter) -> None:
        self.e = emitter
        self.grad = Names("g")
        self.leads = emitter.leads
        self.started = {emitter.root}
        self.param_terms: List[Tuple[int, str]] = []  # (parameter, contribution): rows of C, in eager's order
        # Unbatched, a parameter's contributions are added up in a local as they come, from 0 as eager's
        # loop does; batched ones, and those of embedding rows picked by `select`, go to rows of C.
        self.in_rows = set() if not emitter.batched else set(emitter.param_slot)
        for v in emitter.nodes:
            if v._op is SELECT and all(c._op is None and c in emitter.param_slot for c in v._k[1]):
                self.in_rows.update(v._k[1])
        self.summed: Dict[int, str] = {}  # parameter -> the local holding its running sum
        self.pending: Dict[Value, List[str]] = {}  # interior node -> its terms so far
        self.begun: Set[int] = set()  # parameters whose G{j} already holds a running sum
        self.out: List[str] = []  # where lines go (the step's body, or the first repeat's function)
        self.param_pending: Dict[int, List[str]] = {}  # parameter terms not yet summed, where lines go
        self.template: Optional[Tuple[List[str], List[int], str, List[Tuple[Value, str]]]] = None
        # While the first repeat's backward is written: the terms it passes to its computed inputs, returned.
        self.outgoing: Optional[List[Tuple[Value, str]]] = None

    def lines(self) -> List[str]:
        e = self.e
        self.out.append(f"{self.grad[e.root]} = SEED")
        if e.root._op is None:
            self.add(e.root, self.grad[e.root])  # the loss is a parameter itself: d loss / d loss
        for v in e.order:
            if v not in self.started or v not in self.leads:
                continue  # its gradient is zero, or reaches no parameter: nothing to pass on
            repeat = e.member_of.get(v)
            if repeat is None:
                self.node(v)
            elif v is e.repeats[repeat].root:  # (inside a repeat: its function does it)
                self.repeat_call(v, repeat)
        for j, terms in self.param_pending.items():
            self.out.extend(sum_lines(f"G{j}", f"G{j}" if j in self.begun else f"S[{j}]", terms))
        totals = ", ".join(self.summed.get(j, f"S[{j}]") for j in range(len(e.recording.params)))
        self.out.append(f"return {e.name[e.root]}, [{totals}]")
        self.rows: List[List[int]] = [[] for _ in e.recording.params]
        for r, (j, _) in enumerate(self.param_terms):
            self.rows[j].append(r)
        return self.out

    @contextmanager
    def writing_into(self, lines: List[str], param_pending: Dict[int, List[str]]) -> Iterator[None]:
        """Lines and parameter terms go to `lines` and `param_pending` for a while (a repeat's function)."""
        saved = self.out, self.param_pending
        self.out, self.param_pending = lines, param_pending
        try:
            yield
        finally:
            self.out, self.param_pending = saved

    def add(self, parent: Value, term: str) -> None:
        """`term` is one of `parent`'s gradient contributions, the next in eager's order."""
        e = self.e
        if parent._op is not None:
            if self.outgoing is not None and e.member_of.get(parent) != 0:
                self.outgoing.append((parent, term))  # an input computed outside the repeat
                return
            if term in self.grad.made and e.uses[parent] == 1:
                # its only use passes the gradient on unchanged (a chain of +): a name, not a line
                self.grad[parent] = term
            else:
                self.pending.setdefault(parent, []).append(term)
            self.started.add(parent)
            return
        j = e.param_slot[parent]
        if parent in self.in_rows:
            self.param_terms.append((j, term))
            self.out.append(f"C[{len(self.param_terms) - 1}] = {term}")
        else:
            self.param_pending.setdefault(j, []).append(term)  # summed at the end (or before a repeat), from S[j]
            self.summed[j] = f"G{j}"

    def node(self, v: Value) -> None:
        """Node v's backward lines, its gradient being complete: its terms summed, then passed on."""
        g = self.grad[v]
        if v in self.pending:
            self.out.extend(sum_lines(g, None, self.pending.pop(v)))
        op = v._op
        if op is SELECT:
            self.select(v, g)
        elif op is DETACH:  # it passes on 0 * g: nothing, while g is finite
            self.out.append(self.e.guard.finite(g))
        elif op.backward_code is not None:  # type: ignore[union-attr]
            self.template_terms(v, op.backward_code, g)  # type: ignore[union-attr]
        else:
            for parent, term in self.terms(v, g):
                self.add(parent, term)

    def template_terms(self, v: Value, templates: Tuple[str, ...], g: str) -> None:
        """Each input's term from the op's code template, such as ``{b} * {g}``, written inline."""
        a, b, val, leads = v._a, v._b, self.e.val, self.leads
        # (backward_term's work, written out: a GPT recording does this for some 60,000 nodes)
        if a in leads:
            positional, names_a, names_b = template_form(templates[0])
            self.add(a, positional.format(val(a) if names_a else "", val(b) if names_b else "", g))
        if b is not None and b in leads:
            positional, names_a, names_b = template_form(templates[1])
            self.add(b, positional.format(val(a) if names_a else "", val(b) if names_b else "", g))

    def terms(self, v: Value, g: str) -> List[Tuple[Value, str]]:
        """Each input's term (gradient contribution) through the op's functions (an op without templates)."""
        e = self.e
        op, a, b = v._op, v._a, v._b
        assert op is not None and a is not None
        ins = (a,) if b is None else (a, b)
        wanted = [p in self.leads for p in ins]
        if b is None:
            local = (f"{e.func(op.local, op.vectorized)}({e.val(a)}, {e.const(v._k)}, {e.val(v)})" if op.param
                     else f"{e.func(op.derivative, op.vectorized)}({e.val(a)}, {e.val(v)})")
            return [(a, f"{local} * {g}")] if wanted[0] else []
        d = f"d{g[1:]}"  # its own name: the terms that read it are summed later
        self.out.append(f"{d} = {e.func(op.local, op.vectorized)}({e.val(a)}, {e.val(b)}, {e.val(v)})")
        return [(p, f"{d}[{s}] * {g}") for s, (p, w) in enumerate(zip(ins, wanted)) if w]

    def select(self, v: Value, g: str) -> None:
        """A select's terms: the chosen candidate gets the gradient, the others 0."""
        e = self.e
        if v in e.fixed:
            if v._a in self.leads:
                self.add(v._a, g)  # its label is guarded: only the recorded choice
            return
        index, candidates = v._k
        pick = e.pick(index, v)
        if all(c._op is None and c in e.param_slot for c in candidates):
            # one row per candidate, next to each other: only the chosen one gets the gradient
            base = len(self.param_terms)
            self.param_terms.extend((e.param_slot[c], "0") for c in candidates)
            self.out.append(f"_pick(C, {base}, {pick}, {g})")
            return
        for c, cand in enumerate(candidates):
            if cand in self.leads:
                self.add(cand, f"_where({pick} == {c}, 1 * {g}, 0)" if e.batched else f"({g} if {pick} == {c} else 0)")

    def repeat_call(self, v: Value, repeat: int) -> None:
        """Where eager's loop reaches a repeat's root: its parameters' sums so far, then its backward's call."""
        e = self.e
        if e.batched_repeats:
            if self.template is None:  # (the first root eager reaches: every repeat, in one call)
                self.batch_call()
            return
        if v in self.pending:
            self.out.extend(sum_lines(self.grad[v], None, self.pending.pop(v)))
        if self.template is None:
            self.template = self.first_repeat(v)
        self.begin_sums(self.template[1])
        call = f"_repeat_backward(_s{repeat}, {e.repeat_arguments(repeat)}{self.grad[v]})"
        outgoing = self.template[3]
        if not outgoing:
            self.out.append(call)
            return
        self.out.append(f"_r{repeat} = {call}")
        image = e.repeats[repeat].image
        for i, (parent, _) in enumerate(outgoing):  # the terms eager adds to its inputs, in eager's order
            self.add(image[parent], f"_r{repeat}[{i}]")

    def begin_sums(self, params: List[int]) -> None:
        """The running sums of `params`, which a repeat's function adds to: what came before, eager's order."""
        for j in params:
            if j in self.param_pending:
                self.out.extend(sum_lines(f"G{j}", f"G{j}" if j in self.begun else f"S[{j}]",
                                          self.param_pending.pop(j)))
            elif j not in self.begun:
                self.out.append(f"G{j} = S[{j}]")
            self.begun.add(j)

    def batch_call(self) -> None:
        """(batched_repeats) Every repeat's backward in one call; then the terms for their inputs, repeat by repeat."""
        e = self.e
        for rep in e.repeats:  # every root's gradient is complete here (repeats._batch_keeps_eager_order)
            assert rep.root in self.started and rep.root in self.leads
            if rep.root in self.pending:
                self.out.extend(sum_lines(self.grad[rep.root], None, self.pending.pop(rep.root)))
        self.template = self.first_repeat(e.repeats[0].root)
        self.begin_sums(self.template[1])
        calls = "".join(f"(_s{k}, {e.repeat_arguments(k)}{self.grad[rep.root]}), " for k, rep in enumerate(e.repeats))
        running = "".join(f"G{j}, " for j in self.template[1])
        self.out.append(f"_r, ({running}) = _repeat_backward(({calls}), _p, K, ({running}))")
        for k, rep in enumerate(e.repeats):
            for i, (parent, _) in enumerate(self.template[3]):  # each repeat's terms, in eager's order
                self.add(rep.image[parent], f"_r[{k}][{i}]")

    def first_repeat(self, root: Value) -> Tuple[List[str], List[int], str, List[Tuple[Value, str]]]:
        """The first repeat's backward, written into its function: (lines, parameters it sums into, g's name)."""
        body: List[str] = []
        sums: Dict[int, List[str]] = {}
        outgoing: List[Tuple[Value, str]] = []
        self.outgoing = outgoing
        with self.writing_into(body, sums):
            for m in self.e.repeats[0].members:
                if m in self.started and m in self.leads:
                    self.node(m)
        self.outgoing = None
        for j, terms in sums.items():
            body.extend(sum_lines(f"G{j}", f"G{j}", terms))
        return body, sorted(sums), self.grad[root], outgoing


def _choose(index: Any, candidates: Tuple[Any, ...]) -> Any:
    return np.choose(np.asarray(index), np.broadcast_arrays(*candidates))


def _pick(C: List[Any], base: int, index: int, g: Any) -> None:
    C[base + index] = g


def _pick_batched(C: np.ndarray, base: int, index: np.ndarray, g: Any) -> None:
    C[base + index, np.arange(C.shape[1])] = g
