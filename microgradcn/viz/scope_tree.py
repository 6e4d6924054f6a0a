"""The scopes of a graph as a tree: which module call made which nodes, and what every node is called.

`scope_tree(root)` reads the scope each node was made in (see
`microgradcn.scopes`) and returns a `ScopeTree`:

* ``tree.top``: the top-level `Scope` boxes, each with ``.children``;
* a `Scope` is the calls of one module (or one named scope) directly inside
  the calls of its parent scope, folded into one box: ``.calls`` (each a
  `Call` with its own ``.nodes``, ``.inputs`` and ``.outputs``), ``.nodes``
  (every node drawn inside the box), ``.inputs`` / ``.outputs`` (nodes that
  enter / leave the box), ``.path`` (``layers.1.neurons.3``) and ``.kind``
  (``Neuron``);
* ``tree.names[i]``: the name of node i of ``tree.view`` (`GraphView` order):
  an explicit label; a parameter's `named_parameters()` name
  (``layers.1.neurons.3.w.1``); ``path[i] · op#k`` for the k-th node of that
  op made in the i-th call of that box (``layers.1.neurons.3[0] · relu#1``);
* ``tree.place[i]``: the `Scope` node i is drawn in (None: the top level).
  Parameters sit in their owner's box; a leaf used in one call only sits in it.

Order: calls and nodes are numbered in the order of the forward pass as the
graph records it (parents first, first argument first), which is the order in
which Python evaluated them for code that computes expressions left to right.

An explorer can draw any level of a graph of any size from this tree alone.
"""

from __future__ import annotations

import difflib
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

from ..engine import Value
from ..scopes import KIND, MODULE, NAME, PARENT
from .graph import GraphView

__all__ = ["ScopeTree", "Scope", "Call", "scope_tree", "has_scopes"]


class Call:
    """One call of a module (or one entry into a named scope) that made nodes of this graph."""

    __slots__ = ("record", "parent", "scope", "index", "own", "children", "nodes", "inputs", "outputs")

    def __init__(self, record: tuple, parent: Optional["Call"]) -> None:
        self.record = record
        self.parent = parent
        self.scope: "Scope" = None  # type: ignore[assignment]  # set when folded into a box
        self.index = 0  # which call of its box: path[index]
        self.own: List[int] = []  # positions of the nodes made (or placed) directly in this call, parameters aside
        self.children: List["Call"] = []
        self.nodes: List[int] = []  # every node inside, sub-calls included, parameters aside (they are the box's)
        self.inputs: List[int] = []  # nodes from outside used inside
        self.outputs: List[int] = []  # nodes inside used outside (or the root)

    @property
    def name(self) -> str:
        """``path[index]``, e.g. ``layers.1[0]``."""
        return f"{self.scope.title}[{self.index}]"

    def __repr__(self) -> str:
        return f"Call({self.name}, {len(self.nodes)} nodes)"


class Scope:
    """The calls of one module (or named scope) directly inside the calls of one parent scope: one box."""

    __slots__ = ("key", "parent", "path", "kind", "module", "calls", "children", "depth", "nodes", "inputs",
                 "outputs", "params")

    def __init__(self, key: tuple, parent: Optional["Scope"], path: str, kind: str, module: Any) -> None:
        self.key = key
        self.parent = parent
        self.path = path  # '' for the outermost module's own call
        self.kind = kind
        self.module = module
        self.calls: List[Call] = []
        self.children: List["Scope"] = []
        self.depth: int = 1 if parent is None else parent.depth + 1
        self.nodes: List[int] = []
        self.inputs: List[int] = []
        self.outputs: List[int] = []
        self.params: List[int] = []  # parameters drawn in this box (directly, not in a sub-box)

    @property
    def title(self) -> str:
        """The path, or the class name for the outermost module's own call (whose path is empty)."""
        return self.path or self.kind

    def sizes(self) -> List[int]:
        """Nodes per call."""
        return [len(c.nodes) for c in self.calls]

    def walk(self) -> Iterator["Scope"]:
        """This scope and every scope inside it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()

    def __repr__(self) -> str:
        return f"Scope({self.title} ×{len(self.calls)}, {len(self.nodes)} nodes)"


def has_scopes(view: GraphView) -> bool:
    """True if some node of the graph was made inside a scope (a graph built by modules)."""
    return any(getattr(v, "_scope", None) is not None for v in view.nodes)


def scope_tree(root: Any, max_nodes: Optional[int] = None) -> "ScopeTree":
    """The scope tree of the graph of `root` (a Value or a `GraphView`); see the module docstring."""
    view = root if isinstance(root, GraphView) else GraphView(root, max_nodes)
    return ScopeTree(view)


class ScopeTree:
    """The scopes of one graph: boxes (`Scope`), calls (`Call`), node names and places."""

    def __init__(self, view: GraphView) -> None:
        self.view = view
        self.order = _forward_order(view)
        self.calls: Dict[int, Call] = {}  # id(record) -> Call
        self.roots: List[Call] = []  # calls with no enclosing call
        self._paths: Dict[int, str] = {}  # id(call) -> its module's path
        self._attributes: Dict[int, Dict[int, str]] = {}  # id(module) -> its sub-modules' names
        made_in: List[Optional[Call]] = [None] * len(view)
        for leaves in (False, True):  # calls in the order their first op ran (a constant is made on demand)
            for i in self.order:
                if view.nodes[i].is_leaf is leaves:
                    made_in[i] = self._call(getattr(view.nodes[i], "_scope", None))
        self.top: List[Scope] = []
        self._fold(self.roots, None, self.top)
        self.param_names, owners = self._parameters()
        self.place: List[Optional[Scope]] = [None] * len(view)
        home = self._homes(made_in, owners)
        for i, call in enumerate(home):
            if call is not None:
                if i in owners:
                    call.scope.params.append(i)  # a parameter belongs to the box, not to one call
                else:
                    call.own.append(i)
                self.place[i] = call.scope
        self.names = self._names(home)
        self._fill()

    # -------------------------------------------------------------- calls and boxes
    def _call(self, record: Optional[tuple]) -> Optional[Call]:
        if record is None:
            return None
        call = self.calls.get(id(record))
        if call is None:
            parent = self._call(record[PARENT])
            if parent is not None and _same_call(parent.record, record):
                call = self.calls[id(record)] = parent  # super().__call__ inside the module's own call
                return call
            call = self.calls[id(record)] = Call(record, parent)
            (parent.children if parent is not None else self.roots).append(call)
        return call

    def _fold(self, calls: List[Call], parent: Optional[Scope], into: List[Scope]) -> None:
        """Fold `calls` (all inside the calls of `parent`, in order) into boxes by module; recurse."""
        boxes: Dict[tuple, Scope] = {}
        for call in calls:
            key = _key(call.record)
            box = boxes.get(key)
            if box is None:
                path, kind, module = self._describe(call)
                box = boxes[key] = Scope(key, parent, path, kind, module)
                into.append(box)
            call.scope, call.index = box, len(box.calls)
            box.calls.append(call)
        for box in into:
            self._fold([c for call in box.calls for c in call.children], box, box.children)

    def _describe(self, call: Call) -> Tuple[str, str, Any]:
        """(path, kind, module) of a call's box."""
        record = call.record
        module = record[MODULE]() if record[MODULE] is not None else None
        if record[MODULE] is None:  # a named scope: a function, a head, `with scope(...)`
            above = call.parent.scope.path if call.parent is not None else ""
            return _join(above, record[NAME]), record[KIND], None
        cls = record[MODULE].cls.__name__  # known even if the module is gone (one made and dropped inside a call)
        base = self._module_path(call)
        if record[NAME] is None:
            return base, cls, module
        return _join(base, record[NAME]), f"{cls}.{record[NAME]}", module

    def _module_path(self, call: Call) -> str:
        """The attribute path of a call's module from the outermost module on the call stack."""
        known = self._paths.get(id(call))
        if known is None:
            known = self._paths[id(call)] = self._find_module_path(call)
        return known

    def _find_module_path(self, call: Call) -> str:
        module = call.record[MODULE]()
        if module is None:
            return call.record[MODULE].cls.__name__
        outer = call.parent
        while outer is not None and outer.record[MODULE] is None:
            outer = outer.parent
        if outer is None:
            return ""
        outer_module = outer.record[MODULE]()
        base = self._module_path(outer)
        if outer_module is module:
            return base
        name = None
        if outer_module is not None:
            if id(outer_module) not in self._attributes:
                self._attributes[id(outer_module)] = _attribute_names(outer_module)
            name = self._attributes[id(outer_module)].get(id(module))
        return _join(base, name if name is not None else type(module).__name__)

    # ------------------------------------------------------------------ parameters
    def _parameters(self) -> Tuple[Dict[int, str], Dict[int, Call]]:
        """(position -> named_parameters() name, position -> a call of the parameter's owner)."""
        index = self.view.index
        names: Dict[int, str] = {}
        owners: Dict[int, Call] = {}
        module_calls = sorted((c for c in self.calls.values() if c.record[MODULE] is not None),
                              key=lambda c: c.scope.depth)
        seen_modules = set()
        for call in module_calls:
            module = call.record[MODULE]()
            if module is None or id(module) in seen_modules:
                continue
            seen_modules.add(id(module))
            base = self._module_path(call)
            for name, p in module.named_parameters():
                i = index.get(id(p))
                if i is not None and i not in names:
                    names[i] = _join(base, name)
            for p in _own_parameters(module):
                i = index.get(id(p))
                if i is not None and i not in owners:
                    owners[i] = call  # first (outermost) call of the module holding it directly
        deepest: Dict[int, Call] = {}
        for call in sorted(module_calls, key=lambda c: -c.scope.depth):
            module = call.record[MODULE]()
            for p in _own_parameters(module) if module is not None else ():
                i = index.get(id(p))
                if i is not None and i not in deepest:
                    deepest[i] = call
        owners.update(deepest)
        return names, owners

    # ------------------------------------------------------------------ places
    def _homes(self, made_in: List[Optional[Call]], owners: Dict[int, Call]) -> List[Optional[Call]]:
        """The call each node is drawn in: where it was made; a parameter in its owner; a leaf from outside
        in the innermost call containing all its uses."""
        view = self.view
        home = list(made_in)
        for i, v in enumerate(view.nodes):
            if i in owners:
                home[i] = owners[i]
                continue
            if home[i] is not None or not v.is_leaf:
                continue
            uses = [made_in[j] for j, _ in view.uses[i]]
            home[i] = _common(uses) if uses else None
        return home

    # ------------------------------------------------------------------ names
    def _names(self, home: List[Optional[Call]]) -> List[str]:
        view = self.view
        names = [""] * len(view)
        counts: Dict[Tuple[int, str], int] = {}
        for i in self.order:
            v = view.nodes[i]
            call = home[i]
            if v.label:
                names[i] = view.name(i)
                continue
            if i in self.param_names:
                names[i] = self.param_names[i]
                continue
            if v.is_leaf:
                what = "常数" if getattr(v, "_scope", None) is not None else "输入"
            else:
                what = _op_word(v)
            key = (id(call), what)
            counts[key] = counts.get(key, 0) + 1
            names[i] = f"{what}#{counts[key]}" if call is None else f"{call.name} · {what}#{counts[key]}"
        return names

    # ------------------------------------------------------------------ contents
    def _fill(self) -> None:
        """Every call's and box's nodes, inputs and outputs."""
        view = self.view
        last = len(view) - 1
        for call in self._calls_deepest_first():
            call.nodes = sorted(call.own + [i for c in call.children for i in c.nodes])
        for box in reversed(list(self.boxes())):
            box.nodes = sorted({i for c in box.calls for i in c.nodes}.union(
                box.params, *(child.nodes for child in box.children)))
        for call in self.calls.values():
            inside = set(call.nodes)
            call.inputs = sorted({view.pos(p) for i in call.nodes for p in view.nodes[i].parents} - inside)
            call.outputs = [i for i in call.nodes if i == last or any(j not in inside for j, _ in view.uses[i])]
        for box in self.boxes():
            inside = set(box.nodes)
            box.inputs = sorted({i for c in box.calls for i in c.inputs} - inside)
            box.outputs = sorted({i for c in box.calls for i in c.outputs if i == last or
                                  any(j not in inside for j, _ in view.uses[i])})

    def _calls_deepest_first(self) -> List[Call]:
        out: List[Call] = []
        stack = list(self.roots)
        while stack:
            call = stack.pop()
            out.append(call)
            stack.extend(call.children)
        return out[::-1]

    # ------------------------------------------------------------------ lookup
    def boxes(self) -> Iterator[Scope]:
        """Every box, depth first."""
        for box in self.top:
            yield from box.walk()

    def find(self, path: str) -> List[Scope]:
        """The boxes whose path (or, at the top, class name) is `path`; ValueError naming the closest if none."""
        if not isinstance(path, str):
            raise TypeError(f"a scope path must be a str, got {type(path).__name__}: {path!r}")
        found = [box for box in self.boxes() if box.title == path]
        if not found and path in self._model_paths():
            raise ValueError(f"{path!r} is a module of the model, but it made no nodes in this graph")
        if not found:
            titles = sorted({box.title for box in self.boxes()})
            close = difflib.get_close_matches(path, titles, n=3, cutoff=0.5)
            hint = f"; closest: {', '.join(close)}" if close else (f"; it has: {', '.join(titles[:8])}"
                                                                  + ("…" if len(titles) > 8 else "")
                                                                  if titles else "; it has no scopes")
            raise ValueError(f"no scope {path!r} made nodes in this graph{hint}")
        return found


    def _model_paths(self) -> Set[str]:
        """Every sub-module's attribute path in the modules that made this graph."""
        paths: Set[str] = set()
        for call in self.calls.values():
            module = call.record[MODULE]() if call.record[MODULE] is not None else None
            if module is not None:
                base = self._module_path(call)
                paths.update(_join(base, name) for name in _attribute_names(module).values())
        return paths


def _forward_order(view: GraphView) -> List[int]:
    """Positions in the order the forward pass made them: depth first from the root, parents first, in order."""
    index = view.index
    nodes = view.nodes
    done = [False] * len(nodes)
    order: List[int] = []
    stack: List[Tuple[int, int]] = [(len(nodes) - 1, 0)]
    while stack:
        i, k = stack.pop()
        parents = nodes[i].parents
        if k < len(parents):
            stack.append((i, k + 1))
            j = index[id(parents[k])]
            if not done[j]:
                done[j] = True  # marked when first reached, so a shared node is made once
                stack.append((j, 0))
        else:
            order.append(i)
    return order


def _same_call(outer: tuple, inner: tuple) -> bool:
    """Whether `inner` is the same module's ``__call__`` opened again inside `outer` (a super() call)."""
    return inner[MODULE] is not None and inner[MODULE] is outer[MODULE] and inner[NAME] is None \
        and outer[NAME] is None


def _key(record: tuple) -> tuple:
    """What makes two calls the same box: the same module (and method), or the same scope name."""
    return (id(record[MODULE]), record[NAME], record[KIND])  # a weak reference lives as long as its record


def _join(base: str, name: Optional[str]) -> str:
    if not name:
        return base
    return f"{base}.{name}" if base else name


def _common(calls: List[Optional[Call]]) -> Optional[Call]:
    """The innermost call containing every call of `calls` (None: the top level)."""
    chains = []
    for call in calls:
        chain = []
        while call is not None:
            chain.append(call)
            call = call.parent
        chains.append(chain[::-1])
    common: Optional[Call] = None
    for level in zip(*chains):
        if all(c is level[0] for c in level):
            common = level[0]
        else:
            break
    return common


def _op_word(v: Value) -> str:
    op = v.operation
    assert op is not None
    return op.name if op.name.isidentifier() else op.symbol


def _attribute_names(module: Any) -> Dict[int, str]:
    """id(sub-module) -> its attribute path inside `module` (``layers.1``), the first name when tied."""
    names: Dict[int, str] = {}
    stack: List[Tuple[str, Any]] = [(name, item) for name, item in reversed(list(vars(module).items()))
                                    if not name.startswith("_")]
    from ..nn.module import Module

    while stack:
        name, item = stack.pop()
        if isinstance(item, Module):
            names.setdefault(id(item), name)
        elif isinstance(item, (list, tuple)):
            stack.extend((f"{name}.{k}", sub) for k, sub in reversed(list(enumerate(item))))
    return names


def _own_parameters(module: Any) -> Iterator[Value]:
    """The parameters `module` holds itself (in attributes and lists), not through sub-modules."""
    stack = [item for name, item in vars(module).items() if not name.startswith("_")]
    while stack:
        item = stack.pop()
        if type(item) is Value:
            yield item
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
