"""A read-only view of a computation graph: stable order, uses, local derivatives.

Only the engine's public API is used (``parents``, ``op``, ``data``,
``topological_order``, ``local_grads``); the graph is never changed.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ..engine import Value, grad, topological_order
from .labels import format_number, shorten

__all__ = ["GraphView", "GraphTooLargeError", "local_gradients", "count_nodes"]

DEFAULT_MAX_NODES = 400


class GraphTooLargeError(ValueError):
    """The graph has more Values than the drawing limit allows."""


def count_nodes(root: Value, limit: Optional[int] = None) -> int:
    """Number of distinct Values `root` depends on; stops counting past `limit`."""
    return _count(root, limit)[0]


def _count(root: Value, limit: Optional[int]) -> Tuple[int, bool]:
    """(number of Values, up to just past `limit`; whether one of those counted was made inside a scope)."""
    seen = {id(root)}
    scoped = getattr(root, "_scope", None) is not None
    stack = [root]
    while stack:
        for parent in stack.pop().parents:
            if id(parent) not in seen:
                seen.add(id(parent))
                scoped = scoped or getattr(parent, "_scope", None) is not None
                if limit is not None and len(seen) > limit:
                    return len(seen), scoped
                stack.append(parent)
    return len(seen), scoped


def check_size(root: Value, max_nodes: Optional[int]) -> None:
    if max_nodes is None:
        return
    n, scoped = _count(root, max_nodes)
    if n > max_nodes:
        raise GraphTooLargeError(too_large_message(max_nodes, scoped))


def too_large_message(max_nodes: int, scoped: bool) -> str:
    """Why a graph is refused and what works instead: Chinese first, then English."""
    if scoped:
        zh = ("用 depth=1 把模块调用画成方框(再用 depth=2、3 逐层展开),或用 focus= 只画一部分:"
              "一个作用域路径(focus=\"layers.1\")、一个模块,或一个 Value 及其附近(focus=v, radius=2)")
        en = ('draw module calls as boxes with depth=1 (then depth=2, 3 to open them), or draw one part with '
              'focus=: a scope path (focus="layers.1"), a Module, or a Value and its neighbours (focus=v, radius=2)')
    else:
        zh = ("这个图是手工搭建的,没有作用域;用 focus=v, radius=2 只画某个 Value 附近的节点,"
              "或在 with scope(\"名字\"): 中搭建它,再用 depth=1 画成方框")
        en = ("this graph was built by hand and has no scopes: draw the neighbourhood of one Value with "
              'focus=v, radius=2, or build it inside with scope("name"): blocks and draw them as boxes with depth=1')
    return (f"计算图的节点超过 max_nodes={max_nodes} 个,整张图画出来既慢又看不清。{zh};"
            f"确实要画整张图,请传入更大的 max_nodes(None 表示不限)。 / "
            f"The graph has more than max_nodes={max_nodes} Values: drawn whole, it would take minutes to lay out "
            f"and be unreadable. Instead, {en}; or pass a larger max_nodes (None for no limit) if you really want "
            f"it.")


def local_gradients(node: Value) -> Tuple:
    """d node / d parent for each parent edge, in parent order (duplicates kept).

    For ``x * x`` this is ``(x, x)``: one number per edge, which is what the
    book-style picture writes under each arrow.
    """
    return node.local_grads()


class GraphView:
    """The Values of a graph in forward order with stable ids ``n0, n1, ...``.

    Ids follow the topological position, never ``id()``, so the same graph
    always gives the same DOT text.
    """

    def __init__(self, root: Value, max_nodes: Optional[int] = DEFAULT_MAX_NODES) -> None:
        if not isinstance(root, Value):
            raise TypeError(f"expected a Value as the root of the graph, got {type(root).__name__}: {root!r}")
        check_size(root, max_nodes)
        self.root = root
        self.nodes: List[Value] = list(reversed(topological_order(root)))
        self.index: Dict[int, int] = {id(v): i for i, v in enumerate(self.nodes)}
        # uses[i]: (consumer position, parent slot) for every edge leaving node i.
        self.uses: List[List[Tuple[int, int]]] = [[] for _ in self.nodes]
        for j, v in enumerate(self.nodes):
            for slot, p in enumerate(v.parents):
                self.uses[self.index[id(p)]].append((j, slot))
        self._local: Dict[int, Tuple] = {}
        self._tree: Any = None  # the scope tree, made when first needed (scope_tree.py)

    def __len__(self) -> int:
        return len(self.nodes)

    def pos(self, v: Value) -> int:
        return self.index[id(v)]

    def node_id(self, i: int) -> str:
        return f"n{i}"

    def name(self, i: int) -> str:
        """The node's label (shortened to 200 characters with '…' for display).

        Without a label: in a graph built by modules, the name its scope gives it (a parameter's
        ``layers.1.neurons.3.w.1``, ``layers.1.neurons.3[0] · relu#1``; see `scope_tree`); in a
        graph built by hand, an unlabelled constant is named by its number, others ``v<i>``.
        """
        v = self.nodes[i]
        if v.label:
            return shorten(v.label)
        tree = self.tree
        if tree is not None:
            return shorten(tree.names[i])
        if v.is_leaf:
            return format_number(v.data)
        return f"v{i}"

    @property
    def tree(self) -> Any:
        """The graph's `ScopeTree`, or None for a graph built by hand (no node made inside a scope)."""
        if self._tree is None:
            from .scope_tree import ScopeTree, has_scopes

            self._tree = ScopeTree(self) if has_scopes(self) else False
        return self._tree or None

    def named(self, i: int) -> bool:
        """Whether node i has a name worth showing: a label, an op, or (in a graph built by modules) a
        parameter or an input; a constant is shown by its number."""
        v = self.nodes[i]
        if v.label or not v.is_leaf:
            return True
        return self.tree is not None and (self.is_parameter(i) or getattr(v, "_scope", None) is None)

    def is_parameter(self, i: int) -> bool:
        """True if node i is a parameter of a module that made this graph (named by `named_parameters`)."""
        tree = self.tree
        return tree is not None and i in tree.param_names

    def local(self, j: int) -> Tuple:
        if j not in self._local:
            self._local[j] = local_gradients(self.nodes[j])
        return self._local[j]

    def gradients(self) -> List:
        """d root / d node for every node, by the engine's own reverse-mode loop (no ``.grad`` is touched)."""
        return grad(self.root, self.nodes)
