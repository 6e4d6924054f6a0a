"""Pickling and deep-copying graphs of any depth, without recursion.

Why: pickle and `copy.deepcopy` save an object's state right after the object
itself, so a node's parents are saved inside the node, their parents inside
them, and so on: a chain of a few hundred nodes (a moons step's loss is one)
exhausts Python's recursion limit.

How: the node pickled first (the root) puts in front of its own state the list
of every interior node it depends on, parents before children. Pickle saves
that list item by item; when it reaches a node, that node's parents have
already been saved, so they are written as references and nothing recurses.
While the list is being saved, its nodes are marked, and a marked node saves
only its own fields (the root has already listed its ancestors). A marker at
the end of the root's state removes the marks that are left (nodes that were
already saved earlier in the same pickle). Unpickling is a loop in pickle
itself, so it never recurses.

What is kept: a node's number, gradient, label, op (a built-in op by its name
in the op table, a custom `Op` as pickle keeps any module-level object), its
parents and its constant. The scratch slots of the reverse-mode loop are not, nor
the scope a node was made in (a loaded graph is drawn as a hand-built one).
"""

from __future__ import annotations

import operator
import threading
import weakref
from typing import Any, List, Tuple

# The reverse-mode loop's scratch, and the scope a node was made in (it names modules by weak
# reference, which cannot be saved): never saved.
_SCRATCH = ("_pass", "_uses", "_g", "_scope", "__weakref__")
_local = threading.local()  # each thread pickles on its own


def _marked() -> "weakref.WeakSet[Any]":
    marks = getattr(_local, "marks", None)
    if marks is None:
        marks = _local.marks = weakref.WeakSet()
    return marks


def fields(cls: type) -> Tuple[str, ...]:
    """The slots of `cls` (Value) that make up a node: every slot but the scratch ones."""
    return tuple(name for name in cls.__slots__ if name not in _SCRATCH)  # type: ignore[attr-defined]


def reduce_node(node: Any, names: Tuple[str, ...]) -> tuple:
    """`node.__reduce__()`: rebuild an empty node, then set its state (see the module docstring)."""
    own = _getter(names)(node)
    marks = _marked()
    if node in marks:  # listed by a root being saved: its parents are saved already
        marks.discard(node)
        return _empty, (type(node),), (own,)
    if node._op is None:  # a leaf: nothing behind it
        return _empty, (type(node),), (own,)
    earlier = _ancestors(node)
    marks.update(earlier)
    return _empty, (type(node),), (earlier, _Unmark(earlier), own)


def set_state(node: Any, names: Tuple[str, ...], state: tuple) -> None:
    """`node.__setstate__(state)`: the last item of `state` holds the node's own fields."""
    for name, value in zip(names, state[-1]):
        object.__setattr__(node, name, value)
    node._pass = None
    node._scope = None


def _getter(names: Tuple[str, ...]) -> Any:
    getter = _GETTERS.get(names)
    if getter is None:
        getter = _GETTERS[names] = operator.attrgetter(*names)
    return getter


_GETTERS: dict = {}


def _empty(cls: type) -> Any:
    return object.__new__(cls)


def _ancestors(root: Any) -> List[Any]:
    """Every interior node `root` depends on (root excluded), each after its parents. Iterative."""
    from .engine import topological_order  # engine imports this module

    return [node for node in reversed(topological_order(root)[1:]) if node._op is not None]


class _Unmark:
    """Saved after a root's list of ancestors: takes away the marks no node used, and saves as None."""

    def __init__(self, nodes: List[Any]) -> None:
        self.nodes = nodes

    def __reduce__(self) -> tuple:
        _marked().difference_update(self.nodes)
        return _nothing, ()


def _nothing() -> None:
    return None


def copy_node(node: Any, names: Tuple[str, ...]) -> Any:
    """`copy.copy(node)`: a new node with the same fields (the same parents), without marking anything."""
    twin = _empty(type(node))
    set_state(twin, names, (_getter(names)(node),))
    return twin
