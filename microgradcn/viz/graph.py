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
    seen = {id(root)}
    stack = [root]
    while stack:
        for parent in stack.pop().parents:
            if id(parent) not in seen:
                seen.add(id(parent))
                if limit is not None and len(seen) > limit:
                    return len(seen)
                stack.append(parent)
    return len(seen)


def check_size(root: Value, max_nodes: Optional[int]) -> None:
    if max_nodes is None:
        return
    n = count_nodes(root, max_nodes)
    if n > max_nodes:
        raise GraphTooLargeError(
            f"the graph has more than max_nodes={max_nodes} Values; Graphviz would spend minutes on the "
            f"layout and the picture would be unreadable. Draw a smaller part (one neuron, one layer) "
            f"or pass a larger max_nodes (None for no limit) if you really want it."
        )


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
