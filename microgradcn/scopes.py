"""Scopes: where a node was made (which module call, which loss function, which ``with scope(...)``).

While a scope is open, every node the engine makes remembers it (one slot of
`Value`, ``_scope``). Pictures use this to draw a network as boxes, one per
module call, and to give every node a name such as
``layers.1.neurons.3[0] · relu#1`` instead of a number (see
`microgradcn.viz.scope_tree`).

Where scopes come from:

* every call of an `nn.Module` subclass (installed once by `Module`, so your
  own modules get scopes with no code of their own);
* methods that build a graph, marked with `method_scope` (``GPT.loss``, ``GPT.step``...);
* functions marked with `function_scope` (``functional.hinge``, ``softmax``...);
* ``with scope("name"):`` in your own code.

The record of an open scope is a plain tuple ``(parent, module, name,
kind)``: the enclosing record, a weak reference to the module (or None), the
scope's own name (None for a module's ``__call__``) and what it is (a str;
None for a module, whose weak reference knows its class). It holds no Value
and a module only weakly, so graphs are still freed by reference counting
alone. Nothing is computed while recording: a module call costs one tuple
(about a third of a microsecond), and paths, call numbers and names are
worked out only when a picture asks for them. A `Module` keeps its weak
reference in ``_scope_ref``, made with the module (and not pickled), so that a
call does not make one. Scopes are recorded for the whole process: building
graphs in several threads at once may mix up their names (never their numbers).
"""

from __future__ import annotations

import functools
import inspect
import weakref
from typing import Any, Callable, Iterator, Optional, TypeVar

from . import engine

__all__ = ["scope", "function_scope", "method_scope", "module_call", "innermost", "module_ref"]

F = TypeVar("F", bound=Callable[..., Any])

# The innermost open scope's record lives in the engine's namespace, as `engine._open_scope`: the engine
# reads it for every node, and reading its own global is the cheapest read there is (one bytecode).
_engine = vars(engine)


def innermost() -> Optional[tuple]:
    """The record of the innermost open scope (None outside every scope)."""
    return _engine["_open_scope"]


# Positions in a record.
PARENT, MODULE, NAME, KIND = range(4)


class ModuleRef(weakref.ref):
    """A weak reference to a module that also remembers its class (to name the box once the module is gone)."""

    __slots__ = ("cls",)
    cls: type


def module_ref(module: Any) -> ModuleRef:
    """A weak reference to `module` that knows its class (`Module` keeps one in ``_scope_ref``)."""
    ref = ModuleRef(module)
    ref.cls = type(module)
    return ref


class scope:
    """``with scope("encoder"):`` puts the nodes made inside into a scope of that name.

    Scopes nest; a scope's path is its parent's path and its name, joined by a
    dot. `kind` is what a picture writes under the name (default: the name
    without a trailing number, so ``head.2`` is a ``head``).

    >>> from microgradcn import Value
    >>> with scope("double"):
    ...     y = Value(3.0) * 2
    """

    __slots__ = ("name", "kind", "_saved")

    def __init__(self, name: str, kind: Optional[str] = None) -> None:
        if not isinstance(name, str) or not name or name != name.strip() or "[" in name or "·" in name:
            raise ValueError(f"a scope name must be a non-empty str without spaces at its ends, '[' or '·', "
                             f"got {name!r}")
        if kind is not None and not isinstance(kind, str):
            raise TypeError(f"scope kind must be a str or None, got {type(kind).__name__}: {kind!r}")
        self.name = name
        self.kind = kind if kind is not None else _kind_of(name)
        self._saved: list = []  # a stack, so one instance may be nested

    def __enter__(self) -> "scope":
        parent = _engine["_open_scope"]
        self._saved.append(parent)
        _engine["_open_scope"] = (parent, None, self.name, self.kind)
        return self

    def __exit__(self, *exc_info: object) -> None:
        _engine["_open_scope"] = self._saved.pop()


def _kind_of(name: str) -> str:
    head, _, tail = name.rpartition(".")
    return head if head and tail.isdigit() else name


def function_scope(function: F) -> F:
    """Decorate a function (a loss, a softmax) so that each call is a scope named after it."""
    name = function.__name__

    @functools.wraps(function)
    def scoped(*args: Any, **kwargs: Any) -> Any:
        parent = _engine["_open_scope"]
        _engine["_open_scope"] = (parent, None, name, name)
        try:
            return function(*args, **kwargs)
        finally:
            _engine["_open_scope"] = parent

    return scoped  # type: ignore[return-value]


def method_scope(method: F) -> F:
    """Decorate a module's method that builds a graph (``GPT.step``): each call is a scope ``<path>.step``."""
    name = method.__name__

    @functools.wraps(method)
    def scoped(self: Any, *args: Any, **kwargs: Any) -> Any:
        parent = _engine["_open_scope"]
        _engine["_open_scope"] = (parent, _module_ref_of(self), name, None)
        try:
            return method(self, *args, **kwargs)
        finally:
            _engine["_open_scope"] = parent

    return scoped  # type: ignore[return-value]


def module_call(call: F) -> F:
    """Wrap a Module subclass's ``__call__`` so that each call opens a scope (done by `Module` itself).

    The usual ``__call__(self, x)`` gets a wrapper of that shape: packing
    arguments for a general one would cost a moons step one percent more. (A
    ``__call__`` that calls ``super().__call__`` opens a second scope of the
    same module inside the first; the pictures count them as one.)
    """
    if _takes_one_argument(call):
        def scoped_one(self: Any, x: Any) -> Any:
            parent = _engine["_open_scope"]
            try:
                module = self._scope_ref
            except AttributeError:  # made without Module.__new__ (object.__new__): make it now
                module = self.__dict__["_scope_ref"] = module_ref(self)
            _engine["_open_scope"] = (parent, module, None, None)
            try:
                return call(self, x)
            finally:
                _engine["_open_scope"] = parent

        scoped: Any = functools.wraps(call)(scoped_one)
    else:
        @functools.wraps(call)
        def scoped(self: Any, *args: Any, **kwargs: Any) -> Any:
            parent = _engine["_open_scope"]
            _engine["_open_scope"] = (parent, _module_ref_of(self), None, None)
            try:
                return call(self, *args, **kwargs)
            finally:
                _engine["_open_scope"] = parent

    scoped._opens_scope = True
    return scoped


def _module_ref_of(module: Any) -> ModuleRef:
    """The weak reference a module keeps (made now if it was made without Module.__new__)."""
    ref = module.__dict__.get("_scope_ref")
    if ref is None:
        ref = module.__dict__["_scope_ref"] = module_ref(module)
    return ref


def _takes_one_argument(function: Callable) -> bool:
    """Whether `function` is ``f(self, x)``: two positional parameters, no defaults, nothing else."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return False
    return len(parameters) == 2 and all(p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty
                                        for p in parameters)


def records(record: Optional[tuple]) -> Iterator[tuple]:
    """`record` and the records enclosing it, innermost first."""
    while record is not None:
        yield record
        record = record[PARENT]
