"""The autograd engine: `Value`, the one reverse-mode loop, and `grad`.

A `Value` is one scalar node of a computation graph. Every operation on
Values returns a new Value that remembers its parents and the `Op` that made
it (the ops, each one block with its forward and its local derivative, are in
`ops.py`). `backward()` orders the graph so that every node comes after all
the nodes that use it, then walks it once, multiplying each op's local
derivative by the gradient arriving from above (the chain rule) and adding
up contributions that arrive along several paths.

Why it is fast without tricks in the code you read: a node points only to
its parents (never the other way round) and derivative rules are shared per
op, so graphs contain no reference cycles and are freed by reference counting
alone. Parents live in two slots, so one node is one object.

The switches the engine consults (`no_grad`, `detect_anomaly`, and the
tracer that replay listens with) are in `modes.py`.
"""

from __future__ import annotations

import threading
from fractions import Fraction
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, Callable, Iterator, List, Optional, Sequence, Tuple, Union

from . import _collector, _pickling, modes
from .modes import AnomalyError, detect_anomaly, is_grad_enabled, no_grad
from .ops import ADD, MUL, OPS, Op, overflow_message, show_value

Number = Union[int, float, Fraction]
Scalar = Union["Value", int, float, Fraction]

__all__ = ["Value", "Op", "select", "no_grad", "is_grad_enabled", "grad", "topological_order", "detect_anomaly",
           "AnomalyError", "set_gc_pause", "apply"]

set_gc_pause = _collector.set_gc_pause


def _check_number(x: object, what: str = "data") -> Number:
    """`x` as an int, float or Fraction, or a TypeError naming it."""
    kind = type(x)
    if kind is float or kind is int or kind is Fraction:
        return x  # type: ignore[return-value]
    if isinstance(x, bool) or not isinstance(x, Real):
        raise TypeError(f"Value {what} must be a real number (int, float, Fraction or a numpy real scalar), "
                        f"got {kind.__name__}: {x!r}")
    if isinstance(x, Fraction):
        return x
    if modes.tracer is not None:  # an integer input of a traced step, used as a number: it shapes the graph
        modes.tracer.number(x)
    return int(x) if isinstance(x, Integral) else float(x)  # numpy scalars become Python numbers


# ------------------------------------------------------------------- Value
class Value:
    """A scalar that remembers how it was computed, so it can be differentiated.

    >>> a = Value(2.0, label="a")
    >>> b = a * a + 3
    >>> b.backward()
    >>> a.grad
    4.0
    """

    # _a, _b: the parents; _k: the op's constant (the 3 of x ** 3); _pass, _uses,
    # _g: scratch space of the reverse-mode loop, valid only while _pass is its token;
    # _scope: the scope (module call, loss function) open when the node was made, for pictures (scopes.py).
    __slots__ = ("data", "grad", "label", "_op", "_a", "_b", "_k", "_pass", "_uses", "_g", "_scope", "__weakref__")
    data: Any
    grad: Any
    label: str
    _op: Optional[Op]
    _a: Optional["Value"]
    _b: Optional["Value"]
    _k: Any
    _pass: object
    _uses: int
    _g: Any
    _scope: Optional[tuple]

    def __init__(self, data: Any, label: str = "") -> None:
        if type(data) is not float and type(data) is not int:
            data = _check_number(data)
        if type(label) is not str:
            raise TypeError(f"Value label must be a str, got {type(label).__name__}: {label!r}")
        self.data = data
        self.grad = 0
        self.label = label
        self._op = None
        self._a = None
        self._b = None
        self._k = None
        self._pass = None
        self._scope = _open_scope

    # ------------------------------------------------------------- the graph
    @property
    def parents(self) -> Tuple["Value", ...]:
        """The Values this one was computed from, in order, duplicates kept."""
        if self._a is None:
            return ()
        return (self._a,) if self._b is None else (self._a, self._b)

    @property
    def operation(self) -> Optional[Op]:
        """The `Op` that produced this Value (None for a leaf)."""
        return self._op

    @property
    def op(self) -> str:
        """The operation's display name: '*', 'exp', '**3', 'leaky_relu(0.1)'; '' for a leaf."""
        return "" if self._op is None else self._op.label(self._k)

    @property
    def is_leaf(self) -> bool:
        """True for Values created directly (inputs, parameters, constants)."""
        return self._op is None

    def local_grads(self) -> tuple:
        """d self / d parent for each parent, in `parents` order: the factors the chain rule multiplies by."""
        op = self._op
        if op is None:
            return ()
        a, b = self._a, self._b
        if b is None:
            return (op.local(a.data, self._k, self.data),)  # type: ignore[union-attr]
        return tuple(op.local(a.data, b.data, self.data))  # type: ignore[union-attr]

    def __repr__(self) -> str:
        label = f"{self.label!r}, " if self.label else ""
        return f"Value({label}data={_show(self.data)}, grad={_show(self.grad)})"

    def _repr_html_(self) -> Optional[str]:
        """Jupyter shows a Value as a small card (data, grad, op); the graph is one `draw_graph(v)` away."""
        try:
            from .viz.card import value_card_html
        except ImportError:  # viz is optional at import time; Jupyter then shows the repr
            return None
        return value_card_html(self)

    # Ordering compares data, so `x > 0` works on Values and numbers alike; a
    # tracer (replay) is told, because such a decision can shape the graph.
    # Equality stays identity: Values are hashable graph nodes.
    def __lt__(self, other: Scalar) -> bool:
        return modes.decide(self, other, self.data < _data(other), "<")

    def __le__(self, other: Scalar) -> bool:
        return modes.decide(self, other, self.data <= _data(other), "<=")

    def __gt__(self, other: Scalar) -> bool:
        return modes.decide(self, other, self.data > _data(other), ">")

    def __ge__(self, other: Scalar) -> bool:
        return modes.decide(self, other, self.data >= _data(other), ">=")

    def __float__(self) -> float:
        return modes.decide(self, None, float(self.data), "float")

    __hash__ = object.__hash__

    if TYPE_CHECKING:  # made from the op table after the class; declared here for readers and type checkers
        def __add__(self, other: Scalar) -> "Value": ...
        def __radd__(self, other: Scalar) -> "Value": ...
        def __sub__(self, other: Scalar) -> "Value": ...
        def __rsub__(self, other: Scalar) -> "Value": ...
        def __mul__(self, other: Scalar) -> "Value": ...
        def __rmul__(self, other: Scalar) -> "Value": ...
        def __truediv__(self, other: Scalar) -> "Value": ...
        def __rtruediv__(self, other: Scalar) -> "Value": ...
        def __neg__(self) -> "Value": ...
        def __abs__(self) -> "Value": ...
        def exp(self) -> "Value": ...
        def log(self) -> "Value": ...
        def sqrt(self) -> "Value": ...
        def tanh(self) -> "Value": ...
        def sigmoid(self) -> "Value": ...
        def softplus(self) -> "Value": ...
        def relu(self) -> "Value": ...
        def step(self) -> "Value": ...
        def detach(self) -> "Value": ...
        def sin(self) -> "Value": ...
        def cos(self) -> "Value": ...
        def max(self, other: Scalar) -> "Value": ...
        def min(self, other: Scalar) -> "Value": ...

    def __pos__(self) -> "Value":
        return self

    def prelu(self, alpha: "Value") -> "Value":
        """Parametric ReLU: leaky ReLU whose slope `alpha` is a learnable Value."""
        if not isinstance(alpha, Value):
            raise TypeError(f"prelu needs a Value alpha (a learnable slope), got {type(alpha).__name__}")
        return apply(OPS["prelu"], self, alpha)

    def leaky_relu(self, alpha: Union[float, "Value"] = 0.01) -> "Value":
        """x if x > 0 else alpha * x. A Value `alpha` is learnable (PReLU)."""
        return apply(OPS["prelu"] if isinstance(alpha, Value) else OPS["leaky_relu"], self, alpha)

    def elu(self, alpha: float = 1.0) -> "Value":
        """x if x > 0 else alpha * (e^x - 1)."""
        return apply(OPS["elu"], self, alpha)

    def __pow__(self, other: Scalar) -> "Value":
        return apply(OPS["pow"] if isinstance(other, Value) else OPS["pow_const"], self, other)

    def __rpow__(self, other: Scalar) -> "Value":
        return apply(OPS["rpow"], self, other)

    # ------------------------------------------------------------- backward
    def backward(self) -> None:
        """Fill `.grad` of every Value this one depends on with d self / d node.

        Leaves accumulate: a second call adds the gradient once more (like
        PyTorch); interior nodes hold the latest pass. All or nothing: if the
        pass fails (a derivative that is not finite, Ctrl-C), no `.grad` changes.
        """
        nodes, leaves = _chain_rule(self, create_graph=False)
        _commit(nodes, leaves)
        _collector.wake()  # the step's graph is complete: the collector may see its nodes again

    def zero_grad(self) -> None:
        """Set `.grad` to 0 for this Value and every Value it depends on."""
        for node in _walk(self):
            node.grad = 0

    # ------------------------------------------------------------- pickling
    # pickle and copy.deepcopy walk a graph of any depth without recursing (see _pickling.py).
    def __reduce__(self) -> tuple:
        return _pickling.reduce_node(self, _FIELDS)

    def __setstate__(self, state: tuple) -> None:
        _pickling.set_state(self, _FIELDS, state)

    def __copy__(self) -> "Value":
        return _pickling.copy_node(self, _FIELDS)


_FIELDS = _pickling.fields(Value)

# The innermost open scope (a module call, a loss function): every new node remembers it. Set by scopes.py.
_open_scope: Optional[tuple] = None


_show = show_value


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Value) else x


# -------------------------------------------------------- making one node
def _lift(x: Any) -> Any:
    """A Value as it is; a plain number as a constant leaf; NotImplemented for anything else."""
    if isinstance(x, Value):
        return x
    try:
        return Value(x)
    except TypeError:
        return NotImplemented


def apply(op: Op, a: Any, b: Any = None) -> Any:
    """Apply `op` to Value `a` (and to `b`: a Value or number, or the op's constant when ``op.param``)."""
    if not isinstance(a, Value):
        raise TypeError(f"{op.name} needs a Value, got {type(a).__name__}: {a!r}")
    k = None
    try:
        if op.arity == 2:
            b = _lift(b)
            if b is NotImplemented:
                return NotImplemented
            data = op.forward(a.data, b.data)
        elif op.param:
            k, b = _check_number(b, f"{op.param if isinstance(op.param, str) else 'argument'} of {op.name}"), None
            data = op.forward(a.data, k)
        else:
            data = op.forward(a.data)
    except OverflowError as error:
        raise OverflowError(overflow_message(op, a, b, k, error)) from None
    return _node(data, op, a, b, k)


_new = object.__new__


def _node(data: Any, op: Op, a: Value, b: Optional[Value], k: Any = None) -> Value:
    """The result of an op: the one place a recorded node is made."""
    if modes.blocks_open and not modes.is_grad_enabled():
        return Value(data)  # no_grad: a plain leaf
    out = _new(Value)  # as Value.__init__ does, without checking numbers an op just computed
    out.data = data
    out.grad = 0
    out.label = ""
    out._op = op
    out._a = a
    out._b = b
    out._k = k
    out._pass = None
    out._scope = _open_scope
    if not _collector.resting:
        _collector.rest(out)
    if modes.blocks_open and modes.anomaly_enabled():
        modes.note_creation(out)
    return out


def select(candidates: Sequence[Any], index: int) -> Value:
    """``candidates[index]`` as a node: the label or token id that picks it is data, not graph structure.

    Its gradient goes to the chosen candidate. A replayed step (see `replay`)
    reads the index anew at each call, so new labels need no new recording.
    """
    items = tuple(_lift(c) for c in candidates)
    if any(c is NotImplemented for c in items):
        raise TypeError(f"select() candidates must be Values or numbers, got {list(candidates)!r}")
    if isinstance(index, bool) or not isinstance(index, Integral) or not 0 <= index < len(items):
        raise ValueError(f"select() index must be an int in [0, {len(items)}), got {index!r}")
    chosen = items[int(index)]
    return _node(chosen.data, OPS["select"], chosen, None, (index, items))


def _binary(op: Op, reflected: bool = False) -> Callable[[Value, Any], Any]:
    """``a <op> b`` as a method of Value (``__add__``, ``__radd__``, ``max``...).

    The one speed measure in node making: while no mode is on and the
    collector needs nothing, the method fills the new node's slots itself,
    exactly as `_node` does (tested), because a function call per node costs
    a tenth of a network's forward pass, nearly all of whose nodes are + and *.
    """
    forward = op.forward

    def method(self: Value, other: Any) -> Any:
        if type(other) is not Value:
            other = _lift(other)
            if other is NotImplemented:
                return other
        try:
            data = forward(self.data, other.data)
        except OverflowError as error:
            raise OverflowError(overflow_message(op, self, other, None, error)) from None
        if modes.blocks_open or not _collector.resting:
            return _node(data, op, self, other)
        out = _new(Value)
        out.data = data
        out.grad = 0
        out.label = ""
        out._op = op
        out._a = self
        out._b = other
        out._k = None
        out._pass = None
        out._scope = _open_scope
        return out

    def reflected_method(self: Value, other: Any) -> Any:
        other = _lift(other)
        return other if other is NotImplemented else method(other, self)

    return reflected_method if reflected else method


def _unary(op: Op) -> Callable[[Value], Value]:
    """``x.<op>()`` as a method of Value (``exp``, ``relu``, ``__neg__``...)."""

    def method(self: Value) -> Value:
        return apply(op, self)

    method.__doc__ = f"{op.name}(x): a new node (its forward and derivative are in ops.py)."
    return method


def _method(name: str, function: Callable) -> None:
    # Named as if written in the class, so that pickle finds it as Value.<name> (a model stores Value.relu).
    function.__name__, function.__qualname__ = name, f"Value.{name}"
    setattr(Value, name, function)


# Value's operators and methods come from the op table.
for _name, _dunder in (("add", "add"), ("sub", "sub"), ("mul", "mul"), ("div", "truediv")):
    _method(f"__{_dunder}__", _binary(OPS[_name]))
    _method(f"__r{_dunder}__", _binary(OPS[_name], reflected=True))
for _name in ("neg", "abs", "exp", "log", "sqrt", "tanh", "sigmoid", "softplus", "relu", "step", "detach", "sin",
              "cos"):
    _method(f"__{_name}__" if _name in ("neg", "abs") else _name, _unary(OPS[_name]))
for _name in ("max", "min"):
    _method(_name, _binary(OPS[_name]))


# --------------------------------------------------- the reverse-mode loop
_pass_lock = threading.RLock()


def _chain_rule(root: Value, create_graph: bool, table_only: bool = False) -> Tuple[List[Value], List[Value]]:
    """d root / d node for every node of root's graph, left in each node's `_g`.

    Kahn's algorithm: count how often each interior node is used inside the
    graph; visit from the root; a node's gradient is complete (it is ready)
    once every node using it has passed its contribution down. A ready first
    parent is visited next. Returns (interior nodes in the order visited,
    leaves). Nothing outside the scratch slots changes, so an interrupted pass
    leaves no trace: they are only trusted while `_pass` holds its token.

    The engine's one speed measure in backward: + and *, nearly all of a
    network's nodes, apply their rule from the op table written out here
    rather than through ``op.local``. ``table_only`` turns it off (tests
    compare the two), as do ``create_graph`` and anomaly detection.
    """
    with _pass_lock:
        token = object()
        leaves = _count_uses(root, token)
        root._g = 1
        if root._op is None:
            return [], leaves
        order: List[Value] = []
        visit = order.append
        ready: List[Value] = []
        anomaly = modes.blocks_open and modes.anomaly_enabled()
        fast = not (create_graph or anomaly or table_only)
        mul, add = (MUL, ADD) if fast else (None, None)  # the fast path below only without create_graph/anomaly
        node = root
        try:
            while True:
                visit(node)
                op: Any = node._op  # an interior node: it has an op and a first parent
                g = node._g
                a: Any = node._a
                b: Any = node._b
                if op is mul:  # the fast path: + and * are most nodes of a network (rules as in ops.py)
                    a._g += b.data * g
                    b._g += a.data * g
                elif op is add:
                    a._g += g
                    b._g += g
                else:
                    if create_graph:  # derivatives as Values, so they can be differentiated again
                        local = op.local(a, node._k, node) if b is None else op.local(a, b, node)
                    elif b is None:
                        local = op.local(a.data, node._k, node.data)
                    else:
                        local = op.local(a.data, b.data, node.data)
                    if b is None:
                        a._g = _plus(a._g, _times(local, g))
                    else:
                        a._g = _plus(a._g, _times(local[0], g))
                        b._g = _plus(b._g, _times(local[1], g))
                    if anomaly:
                        modes.check_gradients(node, (a, b))
                if b is not None and b._op is not None:
                    b._uses -= 1
                    if not b._uses:
                        ready.append(b)
                if a._op is not None:
                    a._uses -= 1
                    if not a._uses:
                        node = a
                        continue
                if not ready:
                    return order, leaves
                node = ready.pop()
        except ArithmeticError as error:
            raise ValueError(f"backward failed at {node.op!r} node with data {_show(node.data)}: "
                             f"its derivative is not finite there ({error})") from error


def _plus(total: Any, term: Any) -> Any:
    # The first term replaces the starting 0, so create_graph gradients carry no `0 +` nodes.
    return term if type(total) is int and total == 0 else total + term


def _times(local: Any, g: Any) -> Any:
    # Skipping `* 1` keeps create_graph gradient graphs small; for floats x * 1 == x anyway.
    return local if type(g) is int and g == 1 else local * g


def _count_uses(root: Value, token: object) -> List[Value]:
    """Mark every node of root's graph with `token` and zero its `_g`; count each interior node's uses.

    Iterative, so graphs of any depth work. Leaves are only listed (they just
    collect gradients). Returns the leaves.
    """
    root._pass, root._uses, root._g = token, 0, 0
    if root._op is None:
        return [root]
    leaves: List[Value] = []
    add_leaf = leaves.append
    stack: List[Value] = []
    push = stack.append
    node = root
    while True:
        a: Any = node._a
        b = node._b
        if b is not None:
            if b._pass is not token:
                b._pass, b._g = token, 0
                if b._op is not None:
                    b._uses = 1
                    push(b)
                else:
                    add_leaf(b)
            elif b._op is not None:
                b._uses += 1
        if a._pass is not token:
            a._pass, a._g = token, 0
            if a._op is not None:
                a._uses = 1
                node = a
                continue  # first seen: explore it next, without a trip through the stack
            add_leaf(a)
        elif a._op is not None:
            a._uses += 1
        if not stack:
            return leaves
        node = stack.pop()


def _commit(nodes: List[Value], leaves: List[Value]) -> None:
    """Write the pass's gradients into `.grad`, all or nothing: if interrupted, finish it, then stop."""
    totals = [leaf.grad + leaf._g for leaf in leaves]  # may fail (e.g. a str in .grad): before any write
    try:
        _write(nodes, leaves, totals)
    except KeyboardInterrupt:
        _write(nodes, leaves, totals)  # writing a value twice is harmless
        raise


def _write(nodes: List[Value], leaves: List[Value], totals: List[Any]) -> None:
    for node in nodes:
        node.grad = node._g
    for leaf, total in zip(leaves, totals):
        leaf.grad = total


def _walk(root: Value) -> Iterator[Value]:
    """Every Value `root` depends on (root included), each once, in no set order."""
    seen = {id(root)}
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        for parent in (node._a, node._b):
            if parent is not None and id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)


def topological_order(root: Value) -> List[Value]:
    """All Values `root` depends on, each after every Value that uses it.

    `root` comes first and the leaves last: the order in which backward
    visits the graph. Reverse it for the order of the forward pass.
    """
    if not isinstance(root, Value):
        raise TypeError(f"topological_order needs a Value, got {type(root).__name__}: {root!r}")
    uses = {id(root): 0}
    for node in _walk(root):
        for parent in node.parents:
            uses[id(parent)] = uses.get(id(parent), 0) + 1
    order: List[Value] = []
    ready = [root]
    while ready:
        node = ready.pop()
        order.append(node)
        for parent in node.parents:
            uses[id(parent)] -= 1
            if not uses[id(parent)]:
                ready.append(parent)
    return order


def grad(output: Value, inputs: Sequence[Value], create_graph: bool = False) -> List[Any]:
    """d output / d input for each input, without touching any `.grad`.

    With ``create_graph=True`` the gradients are Values built from the graph of
    `output`, so they can be differentiated again (second derivatives, Newton's
    method). An input that `output` does not depend on gets 0.
    """
    if not isinstance(output, Value):
        raise TypeError(f"grad() needs a Value output, got {type(output).__name__}: {output!r}")
    inputs = list(inputs)
    for x in inputs:
        if not isinstance(x, Value):
            raise TypeError(f"grad() inputs must be Values, got {type(x).__name__}: {x!r}")
    with _pass_lock:
        nodes, leaves = _chain_rule(output, create_graph)
        token = output._pass
        result = [x._g if x._pass is token else 0 for x in inputs]
        if create_graph:  # scratch gradients are Values that use these nodes: drop them, or they form cycles
            for node in nodes + leaves:
                node._g = None
    if create_graph:  # constants too, so that grad() can be applied again
        result = [g if isinstance(g, Value) else Value(g) for g in result]
    return result
