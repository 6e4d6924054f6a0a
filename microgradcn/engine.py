"""The autograd engine: `Value`, its operations, and reverse-mode differentiation.

A `Value` is one scalar node of a computation graph. Every operation on Values
returns a new Value that remembers its parents and the *operation* (`Op`) that
made it. Each `Op` carries one small function, `local_grad(a, b, out)`, giving
the derivative of its output with respect to each parent. `backward()` walks
the graph from the output and applies the chain rule with those functions.

Design choices that keep the engine fast and memory-friendly (see README, 性能):

* A node points to its parents, never the other way round, and the derivative
  functions are shared per operation instead of being closures per node. So a
  graph has no reference cycles and is freed by reference counting alone; the
  cyclic garbage collector has nothing to clean up.
* Parents live in two slots (`_a`, `_b`) rather than in a tuple, so one node is
  one collector-tracked object.
* `local_grad` works on plain numbers (the fast path used by `backward`) and on
  Values (used by `grad(..., create_graph=True)` to differentiate again).
"""

from __future__ import annotations

import math
from fractions import Fraction
from numbers import Integral, Real
from . import _collector
from typing import Callable, Iterator, List, Optional, Sequence, Union

Number = Union[int, float, Fraction]
Scalar = Union["Value", int, float, Fraction]

__all__ = ["Value", "Op", "no_grad", "is_grad_enabled", "grad", "topological_order", "set_gc_pause"]

set_gc_pause = _collector.set_gc_pause


class Op:
    """One kind of operation (``*``, ``exp``, ...) and its local derivative.

    ``local_grad(a, b, out)`` receives the parents' data ``a`` and ``b`` (for a
    one-parent op, ``b`` is the op's constant argument, e.g. the exponent of
    ``x ** 3``, or None) and the op's output ``out``. It returns ``d out / d a``
    for a one-parent op and the pair ``(d out / d a, d out / d b)`` for a
    two-parent op. It must work on numbers and on Values alike.
    """

    __slots__ = ("name", "arity", "local_grad")

    def __init__(self, name: str, arity: int, local_grad: Callable) -> None:
        self.name = name
        self.arity = arity
        self.local_grad = local_grad

    def __repr__(self) -> str:
        return f"Op({self.name!r})"


def _log(v):
    return v.log() if type(v) is Value else math.log(v)


def _reciprocal(v, out):
    # 1 / 2 would be the float 0.5: when the quotient is exact, keep its derivative exact too.
    return Fraction(1, v) if type(v) is int and type(out) is Fraction else 1 / v


def _sigmoid(v):
    return v.sigmoid() if type(v) is Value else _sigmoid_float(v)


# The derivative table. `a`, `b`: the parents (or `b` = the op's constant),
# `out`: the result. Comparisons like `a > 0` work on numbers and on Values.
ADD = Op("+", 2, lambda a, b, out: (1, 1))
SUB = Op("-", 2, lambda a, b, out: (1, -1))
MUL = Op("*", 2, lambda a, b, out: (b, a))
DIV = Op("/", 2, lambda a, b, out: (_reciprocal(b, out), -out / b))
POW = Op("**", 2, lambda a, b, out: (b * a ** (b - 1), out * _log(a)))
PRELU = Op("prelu", 2, lambda a, b, out: (1, 0) if a > 0 else (b, a))
POW_CONST = Op("**", 1, lambda a, b, out: b * a ** (b - 1) if b != 0 else 0)
CONST_POW = Op("rpow", 1, lambda a, b, out: out * math.log(b))
NEG = Op("neg", 1, lambda a, b, out: -1)
ABS = Op("abs", 1, lambda a, b, out: 1 if a > 0 else (-1 if a < 0 else 0))
EXP = Op("exp", 1, lambda a, b, out: out)
LOG = Op("log", 1, lambda a, b, out: 1 / a)
SQRT = Op("sqrt", 1, lambda a, b, out: 0.5 / out)
TANH = Op("tanh", 1, lambda a, b, out: 1 - out * out)
SIGMOID = Op("sigmoid", 1, lambda a, b, out: out * (1 - out))
RELU = Op("relu", 1, lambda a, b, out: 1 if a > 0 else 0)
LEAKY_RELU = Op("leaky_relu", 1, lambda a, b, out: 1 if a > 0 else b)
ELU = Op("elu", 1, lambda a, b, out: 1 if a > 0 else out + b)
SOFTPLUS = Op("softplus", 1, lambda a, b, out: _sigmoid(a))
STEP = Op("step", 1, lambda a, b, out: 0)
MAX = Op("max", 2, lambda a, b, out: (1, 0) if a >= b else (0, 1))
MIN = Op("min", 2, lambda a, b, out: (1, 0) if a <= b else (0, 1))
DETACH = Op("detach", 1, lambda a, b, out: 0)


def _sigmoid_float(x: float) -> float:
    # Two branches so that exp() only ever sees a non-positive argument.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _check_number(x: object, what: str = "data") -> Number:
    """Return `x` as an int, float or Fraction, or raise TypeError naming it."""
    kind = type(x)
    if kind is float or kind is int or kind is Fraction:
        return x  # type: ignore[return-value]
    if isinstance(x, bool) or not isinstance(x, Real):
        raise TypeError(
            f"Value {what} must be a real number (int, float, Fraction or a numpy "
            f"real scalar), got {kind.__name__}: {x!r}"
        )
    if isinstance(x, Fraction):
        return x
    # numpy scalars become plain Python numbers: faster and exact to print.
    return int(x) if isinstance(x, Integral) else float(x)


_grad_enabled = True


def is_grad_enabled() -> bool:
    """True unless inside `no_grad()`."""
    return _grad_enabled


class no_grad:
    """Context manager (and decorator) in which operations record no graph.

    Results computed inside are plain leaves: they have data but no parents,
    so nothing can be back-propagated through them. Use it for parameter
    updates and evaluation::

        with no_grad():
            y = model(x)
    """

    def __init__(self) -> None:
        self._previous: List[bool] = []  # a stack, so one instance may be nested

    def __enter__(self) -> "no_grad":
        global _grad_enabled
        self._previous.append(_grad_enabled)
        _grad_enabled = False
        _collector.wake()
        return self

    def __exit__(self, *exc_info) -> None:
        global _grad_enabled
        _grad_enabled = self._previous.pop()

    def __call__(self, func: Callable) -> Callable:
        import functools
        import inspect

        if inspect.isgeneratorfunction(func):
            # The context would end at the first yield, or span the caller's code between yields.
            raise TypeError(
                f"no_grad() cannot decorate the generator function {func.__name__!r}; "
                "use `with no_grad():` inside it"
            )

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with no_grad():
                return func(*args, **kwargs)

        return wrapper


def _fmt(x: object) -> str:
    return str(x) if isinstance(x, Fraction) else repr(x)


class Value:
    """A scalar that remembers how it was computed, so it can be differentiated.

    >>> a = Value(2.0, label="a")
    >>> b = a * a + 3
    >>> b.backward()
    >>> a.grad
    4.0
    """

    __slots__ = ("data", "grad", "label", "_op", "_a", "_b", "_k", "_pending", "__weakref__")

    def __init__(self, data: Number, label: str = "") -> None:
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, got {type(label).__name__}: {label!r}")
        self.data = _check_number(data)
        self.grad: Scalar = 0
        self.label = label
        self._op: Optional[Op] = None
        self._a: Optional[Value] = None
        self._b: Optional[Value] = None
        self._k: Optional[Number] = None
        self._pending = 0

    # ----------------------------------------------------------------- graph
    @property
    def parents(self) -> tuple:
        """The Values this one was computed from, in order, duplicates kept."""
        if self._a is None:
            return ()
        if self._b is None:
            return (self._a,)
        return (self._a, self._b)

    @property
    def op(self) -> str:
        """The name of the operation that produced this Value ('' for a leaf)."""
        op = self._op
        if op is None:
            return ""
        if op is POW_CONST:
            return f"**{_fmt(self._k)}"
        if op is CONST_POW:
            return f"{_fmt(self._k)}**"
        if self._k is not None:
            return f"{op.name}({_fmt(self._k)})"
        return op.name

    @property
    def is_leaf(self) -> bool:
        """True for Values created directly (inputs, parameters, constants)."""
        return self._op is None

    def local_grads(self) -> tuple:
        """d self / d parent for each parent, in `parents` order, as numbers.

        These are the factors the chain rule multiplies by: ``(x * y)`` gives
        ``(y.data, x.data)``; a leaf gives ``()``.
        """
        op = self._op
        if op is None:
            return ()
        a, b = self._a, self._b
        if b is None:
            return (op.local_grad(a.data, self._k, self.data),)
        return tuple(op.local_grad(a.data, b.data, self.data))

    def __repr__(self) -> str:
        label = f"{self.label!r}, " if self.label else ""
        return f"Value({label}data={_fmt(self.data)}, grad={_fmt(self.grad)})"

    def __float__(self) -> float:
        return float(self.data)

    # Ordering compares data, so `x > 0` works on Values and numbers alike.
    # Equality stays identity: Values are hashable graph nodes.
    def __lt__(self, other: Scalar) -> bool:
        return self.data < _data(other)

    def __le__(self, other: Scalar) -> bool:
        return self.data <= _data(other)

    def __gt__(self, other: Scalar) -> bool:
        return self.data > _data(other)

    def __ge__(self, other: Scalar) -> bool:
        return self.data >= _data(other)

    __hash__ = object.__hash__

    # ------------------------------------------------------- binary operations
    def __add__(self, other: Scalar) -> "Value":
        if type(other) is not Value:
            other = _lift(other)
            if other is NotImplemented:
                return other
        return _node(self.data + other.data, ADD, self, other)

    def __radd__(self, other: Scalar) -> "Value":
        other = _lift(other)
        if other is NotImplemented:
            return other
        return _node(other.data + self.data, ADD, other, self)

    def __sub__(self, other: Scalar) -> "Value":
        if type(other) is not Value:
            other = _lift(other)
            if other is NotImplemented:
                return other
        return _node(self.data - other.data, SUB, self, other)

    def __rsub__(self, other: Scalar) -> "Value":
        other = _lift(other)
        if other is NotImplemented:
            return other
        return _node(other.data - self.data, SUB, other, self)

    def __mul__(self, other: Scalar) -> "Value":
        if type(other) is not Value:
            other = _lift(other)
            if other is NotImplemented:
                return other
        return _node(self.data * other.data, MUL, self, other)

    def __rmul__(self, other: Scalar) -> "Value":
        other = _lift(other)
        if other is NotImplemented:
            return other
        return _node(other.data * self.data, MUL, other, self)

    def __truediv__(self, other: Scalar) -> "Value":
        if type(other) is not Value:
            other = _lift(other)
            if other is NotImplemented:
                return other
        return _divide(self, other)

    def __rtruediv__(self, other: Scalar) -> "Value":
        other = _lift(other)
        if other is NotImplemented:
            return other
        return _divide(other, self)

    def __pow__(self, other: Scalar) -> "Value":
        if isinstance(other, Value):
            return _power(self, other)
        try:
            k = _check_number(other, "exponent")
        except TypeError:
            return NotImplemented
        out = _node(_real_power(self.data, k), POW_CONST, self, None)
        out._k = k
        return out

    def __rpow__(self, other: Scalar) -> "Value":
        try:
            base = _check_number(other, "base")
        except TypeError:
            return NotImplemented
        if base <= 0:
            raise ValueError(
                f"{_fmt(base)} ** x needs a positive base to be differentiable in x, got {_fmt(base)}"
            )
        out = _node(_real_power(base, self.data), CONST_POW, self, None)
        out._k = base
        return out

    # -------------------------------------------------------- unary operations
    def __neg__(self) -> "Value":
        return _node(-self.data, NEG, self, None)

    def __pos__(self) -> "Value":
        return self

    def __abs__(self) -> "Value":
        return _node(abs(self.data), ABS, self, None)

    def exp(self) -> "Value":
        """e ** x. Raises OverflowError (naming x) instead of returning inf."""
        try:
            data = math.exp(self.data)
        except OverflowError:
            raise OverflowError(
                f"exp({_fmt(self.data)}) is too large for a float (exp overflows above x ≈ 709.78)"
            ) from None
        return _node(data, EXP, self, None)

    def log(self) -> "Value":
        """Natural logarithm; x must be positive."""
        x = self.data
        if x <= 0:
            raise ValueError(f"log is defined only for positive numbers, got log({_fmt(x)})")
        return _node(math.log(x), LOG, self, None)

    def sqrt(self) -> "Value":
        """Square root; x must be non-negative."""
        x = self.data
        if x < 0:
            raise ValueError(f"sqrt is defined only for non-negative numbers, got sqrt({_fmt(x)})")
        return _node(math.sqrt(x), SQRT, self, None)

    def tanh(self) -> "Value":
        return _node(math.tanh(self.data), TANH, self, None)

    def sigmoid(self) -> "Value":
        """1 / (1 + e^-x), computed without overflow for any x."""
        return _node(_sigmoid_float(self.data), SIGMOID, self, None)

    def relu(self) -> "Value":
        """max(0, x); the derivative at 0 is taken to be 0."""
        x = self.data
        return _node(x if x > 0 else 0, RELU, self, None)

    def leaky_relu(self, alpha: Union[float, "Value"] = 0.01) -> "Value":
        """x if x > 0 else alpha * x. A Value `alpha` is learnable (PReLU)."""
        x = self.data
        if isinstance(alpha, Value):
            return _node(x if x > 0 else alpha.data * x, PRELU, self, alpha)
        alpha = _check_number(alpha, "alpha")
        out = _node(x if x > 0 else alpha * x, LEAKY_RELU, self, None)
        out._k = alpha
        return out

    def prelu(self, alpha: "Value") -> "Value":
        """Parametric ReLU: leaky ReLU whose slope `alpha` is a learnable Value."""
        if not isinstance(alpha, Value):
            raise TypeError(f"prelu needs a Value alpha (a learnable slope), got {type(alpha).__name__}")
        return self.leaky_relu(alpha)

    def elu(self, alpha: float = 1.0) -> "Value":
        """x if x > 0 else alpha * (e^x - 1)."""
        alpha = _check_number(alpha, "alpha")
        x = self.data
        out = _node(x if x > 0 else alpha * math.expm1(x), ELU, self, None)
        out._k = alpha
        return out

    def softplus(self) -> "Value":
        """log(1 + e^x), computed without overflow for any x."""
        x = self.data
        return _node(max(x, 0) + math.log1p(math.exp(-abs(x))), SOFTPLUS, self, None)

    def step(self) -> "Value":
        """The perceptron's step: 1 if x > 0 else 0. Its derivative is 0."""
        return _node(1 if self.data > 0 else 0, STEP, self, None)

    def max(self, other: Scalar) -> "Value":
        """The larger of self and other; the gradient goes to the winner (self on a tie)."""
        other = _lift(other)
        return _node(self.data if self.data >= other.data else other.data, MAX, self, other)

    def min(self, other: Scalar) -> "Value":
        """The smaller of self and other; the gradient goes to the winner (self on a tie)."""
        other = _lift(other)
        return _node(self.data if self.data <= other.data else other.data, MIN, self, other)

    def detach(self) -> "Value":
        """The same number, passing no gradient back (a constant computed from the graph)."""
        return _node(self.data, DETACH, self, None)

    # -------------------------------------------------------------- backward
    def backward(self) -> None:
        """Fill `.grad` of every Value this one depends on with d self / d node.

        Leaves accumulate: a second call adds the gradient once more (like
        PyTorch). Interior nodes are reset, so they hold the latest pass.
        """
        if self._op is None:
            self.grad += 1
            return
        # Kahn's algorithm: a node is ready once every node using it has passed
        # its gradient down, so its own gradient is complete. Leaves are never
        # counted or queued: they only collect their gradient. A ready first
        # parent is taken next directly (what pushing and popping it would do).
        ready: List[Value] = []
        push = ready.append
        node = self
        try:
            _count_interior_uses(self)
            self.grad = 1
            while True:
                op = node._op
                g = node.grad
                a = node._a
                b = node._b
                if b is None:
                    a.grad += op.local_grad(a.data, node._k, node.data) * g
                else:
                    # + and * are most nodes of a network: inlined, same rules as the table.
                    if op is MUL:
                        a.grad += b.data * g
                        b.grad += a.data * g
                    elif op is ADD:
                        a.grad += g
                        b.grad += g
                    else:
                        da, db = op.local_grad(a.data, b.data, node.data)
                        a.grad += da * g
                        b.grad += db * g
                    if b._op is not None:
                        b._pending -= 1
                        if not b._pending:
                            push(b)
                if a._op is not None:
                    a._pending -= 1
                    if not a._pending:
                        node = a
                        continue
                if not ready:
                    break
                node = ready.pop()
        except BaseException as error:
            _reset_pending(self)
            _collector.wake()
            if isinstance(error, ArithmeticError):
                raise ValueError(
                    f"backward failed at {node.op!r} node with data {_fmt(node.data)}: "
                    f"its derivative is not finite there ({error})"
                ) from error
            raise

        _collector.wake()

    def zero_grad(self) -> None:
        """Set `.grad` to 0 for this Value and every Value it depends on."""
        for node in _walk(self):
            node.grad = 0


def _data(x: Scalar):
    return x.data if isinstance(x, Value) else x


def _lift(x: object):
    """Wrap a plain number as a constant leaf; NotImplemented for other types."""
    kind = type(x)
    if kind is float or kind is int:  # the common case, without re-validating
        return _leaf(x)
    if isinstance(x, Value):
        return x
    try:
        return Value(x)
    except TypeError:
        return NotImplemented


_new = object.__new__


def _leaf(data: Number) -> Value:
    """A Value from already-checked data (skips __init__'s validation)."""
    out = _new(Value)
    out.data = data
    out.grad = 0
    out.label = ""
    out._op = out._a = out._b = out._k = None
    out._pending = 0
    return out


def _node(data, op: Op, a: Value, b: Optional[Value]) -> Value:
    """Make the result of `op`: a new Value with its parents recorded."""
    out = _new(Value)
    out.data = data
    out.grad = 0
    out.label = ""
    out._k = None
    out._pending = 0
    if _grad_enabled:
        out._op = op
        out._a = a
        out._b = b
        if not _collector.resting:
            _collector.rest(out)
    else:
        out._op = out._a = out._b = None
    return out


def _real_power(base, exponent):
    try:
        result = base ** exponent
    except ZeroDivisionError:
        raise ValueError(
            f"0 cannot be raised to a negative power, got {_fmt(base)} ** {_fmt(exponent)}"
        ) from None
    except OverflowError:
        raise OverflowError(f"{_fmt(base)} ** {_fmt(exponent)} is too large for a float") from None
    if isinstance(result, complex):
        raise ValueError(
            f"a negative number to a fractional power is not real, got {_fmt(base)} ** {_fmt(exponent)}"
        )
    return result


def _power(a: Value, b: Value) -> Value:
    if a.data <= 0:
        raise ValueError(
            f"x ** y with a Value exponent needs x > 0 (d/dy = x**y * log x), got x = {_fmt(a.data)}"
        )
    return _node(_real_power(a.data, b.data), POW, a, b)


def _divide(a: Value, b: Value) -> Value:
    if b.data == 0:
        raise ZeroDivisionError(f"division by zero: {_fmt(a.data)} / {_fmt(b.data)}")
    return _node(a.data / b.data, DIV, a, b)


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


def _count_uses(root: Value) -> None:
    """Set each node's `_pending` to the number of edges from nodes in the graph.

    Iterative, so graphs of any depth work. A node is first seen when its count
    goes from 0 to 1; only then are its own parents explored.
    """
    stack = [root]
    pop = stack.pop
    push = stack.append
    try:
        while stack:
            node = pop()
            a = node._a
            if a is None:
                continue
            if a._pending == 0:
                push(a)
            a._pending += 1
            b = node._b
            if b is not None:
                if b._pending == 0:
                    push(b)
                b._pending += 1
    except BaseException:
        _reset_pending(root)
        raise


def _count_interior_uses(root: Value) -> None:
    """Like `_count_uses` for backward: count only non-leaf nodes and zero their `.grad`.

    Leaves are skipped entirely (they keep accumulating), which spares
    backward the bookkeeping of every parameter and input.
    """
    stack: List[Value] = []
    push = stack.append
    node = root
    try:
        while True:
            b = node._b
            if b is not None and b._op is not None:
                if not b._pending:
                    push(b)
                    b.grad = 0
                b._pending += 1
            a = node._a
            if a._op is not None:
                if not a._pending:
                    a.grad = 0
                    a._pending = 1
                    node = a  # first seen: explore it next, without a trip through the stack
                    continue
                a._pending += 1
            if not stack:
                break
            node = stack.pop()
    except BaseException:
        _reset_pending(root)
        raise


def _reset_pending(root: Value) -> None:
    for node in _walk(root):
        node._pending = 0


def topological_order(root: Value) -> List[Value]:
    """All Values `root` depends on, each after every Value that uses it.

    `root` comes first and the leaves last: the order in which backward
    visits the graph. Reverse it for the order of the forward pass.
    """
    _count_uses(root)
    order = []
    ready = [root]
    try:
        while ready:
            node = ready.pop()
            order.append(node)
            for parent in (node._a, node._b):
                if parent is not None:
                    parent._pending -= 1
                    if parent._pending == 0:
                        ready.append(parent)
    except BaseException:  # e.g. Ctrl-C: leave no stale counts for the next backward
        _reset_pending(root)
        raise
    return order


def grad(
    output: Value, inputs: Sequence[Value], create_graph: bool = False
) -> List[Scalar]:
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
    try:
        return _gradients(output, inputs, create_graph)
    finally:
        _collector.wake()


def _gradients(output: Value, inputs: List[Value], create_graph: bool) -> List[Scalar]:
    grads = {id(output): 1}
    for node in topological_order(output):
        op = node._op
        g = grads.get(id(node))
        if op is None or g is None:
            continue
        a, b = node._a, node._b
        if create_graph:
            if b is None:
                local = (op.local_grad(a, node._k, node),)
            else:
                local = op.local_grad(a, b, node)
        elif b is None:
            local = (op.local_grad(a.data, node._k, node.data),)
        else:
            local = op.local_grad(a.data, b.data, node.data)
        for parent, d in zip((a, b), local):
            # Skipping `* 1` keeps create_graph gradient graphs small and readable.
            contribution = d if type(g) is int and g == 1 else d * g
            key = id(parent)
            grads[key] = grads[key] + contribution if key in grads else contribution
    result = [grads.get(id(x), 0) for x in inputs]
    if create_graph:  # constants too, so that grad() can be applied again
        result = [g if isinstance(g, Value) else Value(g) for g in result]
    return result
