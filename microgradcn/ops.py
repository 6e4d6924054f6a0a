"""The op table: every operation the engine knows, one block each.

An `Op` says everything about one operation, side by side:

* its ``name`` and the ``symbol`` drawn for it in pictures and explanations;
* ``forward``: its result on plain numbers, with the domain check and the
  error it raises outside its domain;
* ``derivative``: its local derivative(s), given the inputs and the output.
  The chain rule in `engine.py` multiplies these by the gradient arriving
  from above; an op only says what is specific to it. Derivatives are written
  so that they work on numbers, on Values (so ``grad(create_graph=True)`` can
  differentiate again) and on numpy arrays (so replay can run an op over a
  whole batch);
* ``smooth``: where it is smooth, so tests can compare it with numerical
  differentiation away from kinks and poles;
* optionally, ``forward_code`` and ``backward_code``: the same forward and
  the same gradient terms as Python expression templates, which replay
  writes straight into the code it generates (``{a} * {b}``; for each input,
  the term it receives, such as ``{b} * {g}`` with ``{g}`` the gradient
  arriving from above). An op without them is called through its functions.

One-input ops get ``forward(x)`` and ``derivative(x, out)``; ops with a
constant argument (the 3 of ``x ** 3``, the slope of ``leaky_relu``) get it
as ``k``: ``forward(x, k)``, ``derivative(x, k, out)``. Two-input ops get
``forward(a, b)`` and return the pair ``(d out/d a, d out/d b)``.

Write your own the same way and call it like a function; it is drawn,
explained and differentiated like a built-in, and
`microgradcn.testing.check_op` property-tests its derivative::

    >>> from microgradcn import Op, Value
    >>> cube = Op("cube", forward=lambda x: x ** 3, derivative=lambda x, out: 3 * x ** 2)
    >>> x = Value(2.0)
    >>> y = cube(x)
    >>> y.backward()
    >>> y.data, x.grad, y.op
    (8.0, 12.0, 'cube')
"""

from __future__ import annotations

import math
import operator
from fractions import Fraction
from typing import Any, Callable, Dict, Optional, Tuple, Union

import numpy as np

__all__ = ["Op", "OPS", "where", "branch", "exp", "log", "sigmoid", "cos", "sin", "as_float", "show"]

Smooth = Callable[..., bool]


class Op:
    """One operation: its name, symbol, forward, local derivative and smooth region.

    Calling an op applies it to Values: ``EXP(x)`` is ``x.exp()``, a custom
    ``sin(x)`` builds a ``sin`` node. ``vectorized`` says that `forward` and
    `derivative` also work on numpy arrays as written (only + - * / and
    `branch` inside); replay maps the others element by element with the very
    same Python functions, so its numbers equal eager mode's bit for bit.
    """

    def __init__(
        self,
        name: str,
        forward: Callable[..., Any],
        derivative: Callable[..., Any],
        *,
        symbol: Optional[str] = None,
        arity: int = 1,
        param: Union[bool, str] = False,
        infix: bool = False,
        smooth: Optional[Smooth] = None,
        vectorized: bool = False,
        test_params: Tuple[Any, ...] = (),
        forward_code: Optional[str] = None,
        backward_code: Optional[Tuple[str, ...]] = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"an Op needs a non-empty str name, got {name!r}")
        for what, f in (("forward", forward), ("derivative", derivative)):
            if not callable(f):
                raise TypeError(f"Op {name!r}: {what} must be callable, got {type(f).__name__}")
        if arity not in (1, 2) or (param and arity != 1):
            raise ValueError(f"Op {name!r}: arity must be 1 or 2 (param only for arity 1), got {arity!r}")
        self.name = name
        self.symbol = symbol or name
        self.arity = arity
        self.param = param
        self.infix = infix
        self.forward = forward
        self.derivative = derivative
        self.smooth: Smooth = smooth or (lambda *args: True)
        self.vectorized = vectorized
        self.test_params = test_params or ((None,) if not param else ())
        if param and not self.test_params:
            raise ValueError(f"Op {name!r} takes a constant k: give test_params, e.g. (0.1,)")
        _check_templates(name, arity, param, forward_code, backward_code)
        self.forward_code = forward_code
        self.backward_code = backward_code
        # The backward loop calls every one-input op as local(x, k, out).
        self.local: Callable[..., Any] = derivative if param or arity == 2 else _ignore_k(derivative)
        self._options = dict(symbol=symbol, arity=arity, param=param, infix=infix, smooth=smooth,
                             vectorized=vectorized, test_params=test_params, forward_code=forward_code,
                             backward_code=backward_code)  # for pickling a custom op

    def __call__(self, a: Any, b: Any = None) -> Any:
        from .engine import apply

        return apply(self, a, b)

    def label(self, k: Any = None) -> str:
        """The node's display name, with its constant: ``**3``, ``leaky_relu(0.1)``."""
        if not self.param:
            return self.name
        if self.name == "**":
            return f"**{show(k)}"
        if self.name == "rpow":
            return f"{show(k)}**"
        if self.name == "select":
            return f"select[{k[0]}]"
        return f"{self.name}({show(k)})"

    def __repr__(self) -> str:
        return f"Op({self.name!r})"

    def __reduce__(self) -> tuple:
        # A built-in op by its name in the table, so that it unpickles as the very same object (the
        # backward loop's fast path recognises + and * by identity); a custom op by what made it.
        for key, op in OPS.items():
            if op is self:
                return _table_op, (key,)
        return _custom_op, (self.name, self.forward, self.derivative, self._options)


def _check_templates(name: str, arity: int, param: Union[bool, str], forward_code: Optional[str],
                     backward_code: Optional[Tuple[str, ...]]) -> None:
    """Code templates come in pairs, one backward term per input, naming only the op's inputs and ``{g}``."""
    if (forward_code is None) != (backward_code is None):
        raise ValueError(f"Op {name!r}: give both forward_code and backward_code, or neither")
    if forward_code is None or backward_code is None:
        return
    if param:
        raise ValueError(f"Op {name!r}: code templates are for ops without a constant k")
    if not isinstance(forward_code, str) or not isinstance(backward_code, tuple) or len(backward_code) != arity \
            or not all(isinstance(t, str) for t in backward_code):
        raise TypeError(f"Op {name!r}: forward_code must be a str and backward_code a tuple of {arity} str "
                        f"(one term per input), got {forward_code!r} and {backward_code!r}")
    names = {"a": "a", "b": "b"} if arity == 2 else {"a": "a"}
    try:
        forward_code.format(**names)
        for term in backward_code:
            term.format(g="g", **names)
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(f"Op {name!r}: a code template may name only {{a}}{', {b}' if arity == 2 else ''} "
                         f"and (backward) {{g}}: {error!r}") from None


def _table_op(key: str) -> "Op":
    return OPS[key]


def _custom_op(name: str, forward: Callable[..., Any], derivative: Callable[..., Any], options: dict) -> "Op":
    return Op(name, forward, derivative, **options)


def _ignore_k(derivative: Callable[[Any, Any], Any]) -> Callable[[Any, Any, Any], Any]:
    return lambda x, k, out: derivative(x, out)


# ----------------------------------------------------- helpers the ops share
_ndarray = np.ndarray


def where(condition: Any, x: Any, y: Any) -> Any:
    """`x` where `condition` holds, else `y`: ``x if condition else y``, element-wise on numpy arrays."""
    if isinstance(condition, _ndarray):
        return np.where(condition, x, y)
    return x if condition else y


def branch(x: Any, if_positive: Any, otherwise: Any) -> Any:
    """`if_positive` where x > 0, `otherwise` where x <= 0, and NaN where x is NaN.

    The one way an op branches on its input, so that NaN is never turned
    into a number (relu(nan) is nan), and the same line works element by
    element on a numpy array.
    """
    if isinstance(x, _ndarray):
        return np.where(x > 0, if_positive, np.where(x <= 0, otherwise, np.nan))
    return if_positive if x > 0 else otherwise if x <= 0 else math.nan


def exp(x: Any) -> Any:
    """e ** x of a number or a Value (used by derivatives that must work on both)."""
    return x.exp() if hasattr(x, "exp") else math.exp(x)


def log(x: Any) -> Any:
    return x.log() if hasattr(x, "log") else math.log(x)


def sin(x: Any) -> Any:
    return SIN(x) if hasattr(x, "data") else math.sin(x)


def cos(x: Any) -> Any:
    return COS(x) if hasattr(x, "data") else math.cos(x)


def sigmoid(x: Any) -> Any:
    """1 / (1 + e^-x) without overflow: exp only ever sees a non-positive number."""
    if hasattr(x, "sigmoid"):
        return x.sigmoid()
    x = as_float(x)
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def as_float(x: Any) -> float:
    """`x` as a float; an int too large for one becomes ±inf (so tanh(10**400) is 1.0)."""
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf


def show(x: Any) -> str:
    """A number for an error message: Fractions as 11/10, huge ints shortened."""
    if isinstance(x, Fraction):
        return str(x)
    if isinstance(x, int) and not isinstance(x, bool) and abs(x) >= 10**30:
        return f"{'-' if x < 0 else ''}(an integer of about {int(x.bit_length() * 0.30103) + 1} digits)"
    return repr(x)


def overflow_message(op: Op, a: Any, b: Any, k: Any, error: Exception) -> str:
    """The message for an OverflowError raised by `op` on Value `a` (and `b`, or its constant `k`)."""
    if op.name in str(error):
        return str(error)  # the op's own message already names it and its input
    other = b if b is not None else k
    if op.infix:
        call = f"{show_value(a)} {op.name} {show_value(other)}"
    else:
        call = f"{op.name}({', '.join(show_value(x) for x in (a, other) if x is not None)})"
    if "int too large to convert" in str(error):
        return f"{call}: an integer this large does not fit in a float, which {op.name} needs"
    return f"{call}: the result is too large for a float ({error})"


def show_value(x: Any) -> str:
    """`show` of a number, or of a Value's number."""
    return show(x.data if hasattr(x, "data") else x)


def _reciprocal(b: Any, out: Any) -> Any:
    # 1 / 2 would be the float 0.5: when the quotient is exact, keep its derivative exact too.
    return Fraction(1, b) if type(b) is int and type(out) is Fraction else 1 / b


# ================================================================== the ops
# --- arithmetic ------------------------------------------------------------
# The code templates compute what the chain rule computes from `derivative`: the local derivative times the
# gradient from above (1 * g is g and -1 * g is -g, bit for bit, for every float, int and Fraction).
ADD = Op("+", operator.add, lambda a, b, out: (1, 1), arity=2, infix=True, vectorized=True,
         forward_code="{a} + {b}", backward_code=("{g}", "{g}"))

SUB = Op("-", operator.sub, lambda a, b, out: (1, -1), symbol="−", arity=2, infix=True, vectorized=True,
         forward_code="{a} - {b}", backward_code=("{g}", "-1 * {g}"))

MUL = Op("*", operator.mul, lambda a, b, out: (b, a), symbol="×", arity=2, infix=True, vectorized=True,
         forward_code="{a} * {b}", backward_code=("{b} * {g}", "{a} * {g}"))


def _divide(a: Any, b: Any) -> Any:
    if b == 0:
        raise ZeroDivisionError(f"division by zero: {show(a)} / {show(b)}")
    return a / b


DIV = Op("/", _divide, lambda a, b, out: (_reciprocal(b, out), -out / b), symbol="÷", arity=2, infix=True,
         smooth=lambda a, b: abs(b) > 0.5)


def _power(a: Any, k: Any) -> Any:
    try:
        result = a ** k
    except ZeroDivisionError:
        raise ValueError(f"0 cannot be raised to a negative power, got {show(a)} ** {show(k)}") from None
    except OverflowError:
        raise OverflowError(f"{show(a)} ** {show(k)} is too large for a float") from None
    if isinstance(result, complex):
        raise ValueError(f"a negative number to a fractional power is not real, got {show(a)} ** {show(k)}")
    return result


# x ** k for a constant k. The derivative of x ** 0 is 0 everywhere, 0 ** -1 included.
POW_CONST = Op("**", _power, lambda x, k, out: k * x ** (k - 1) if k != 0 else 0, symbol="xʸ", param="exponent",
               smooth=lambda x, k: (x > 0.05 if k != int(k) else True) and (abs(x) > 0.05 if k < 0 else True),
               test_params=(2, 3, -1, 0.5))


def _value_power(a: Any, b: Any) -> Any:
    if a <= 0:
        raise ValueError(f"x ** y with a Value exponent needs x > 0 (d/dy = x**y * log x), got x = {show(a)}")
    return _power(a, b)


POW = Op("**", _value_power, lambda a, b, out: (b * a ** (b - 1), out * log(a)), symbol="xʸ", arity=2,
         infix=True, smooth=lambda a, b: a > 0.5 and abs(b) < 3)


def _base_power(x: Any, k: Any) -> Any:
    if not k > 0:
        raise ValueError(f"{show(k)} ** x needs a positive base to be differentiable in x, got {show(k)}")
    return _power(k, x)


# k ** x for a constant base k > 0.
CONST_POW = Op("rpow", _base_power, lambda x, k, out: out * math.log(k), symbol="kˣ", param="base",
               smooth=lambda x, k: x < 8, test_params=(2,))

NEG = Op("neg", operator.neg, lambda x, out: -1, symbol="−x", vectorized=True, forward_code="-{a}",
         backward_code=("-1 * {g}",))

ABS = Op("abs", abs, lambda x, out: branch(x, 1, branch(-x, -1, 0)), symbol="|x|", vectorized=True,
         smooth=lambda x: abs(x) > 0.05)


# --- exponentials and logarithms -------------------------------------------
def _exp(x: Any) -> Any:
    try:
        return math.exp(x)
    except OverflowError:
        raise OverflowError(f"exp({show(x)}) is too large for a float (exp overflows above x ≈ 709.78)") from None


EXP = Op("exp", _exp, lambda x, out: out, smooth=lambda x: x < 6)


def _log(x: Any) -> Any:
    if not x > 0 and x == x:
        raise ValueError(f"log is defined only for positive numbers, got log({show(x)})")
    return math.log(x)


LOG = Op("log", _log, lambda x, out: 1 / x, smooth=lambda x: x > 0.05)


def _sqrt(x: Any) -> Any:
    if x < 0:
        raise ValueError(f"sqrt is defined only for non-negative numbers, got sqrt({show(x)})")
    return math.sqrt(x)


SQRT = Op("sqrt", _sqrt, lambda x, out: 0.5 / out, symbol="√", smooth=lambda x: x > 0.05)

SOFTPLUS = Op("softplus", lambda x: max(as_float(x), 0.0) + math.log1p(math.exp(-abs(as_float(x)))),
              lambda x, out: sigmoid(x))


# --- squashing functions ---------------------------------------------------
TANH = Op("tanh", lambda x: math.tanh(as_float(x)), lambda x, out: 1 - out * out)

SIGMOID = Op("sigmoid", sigmoid, lambda x, out: out * (1 - out))

SIN = Op("sin", lambda x: math.sin(as_float(x)), lambda x, out: cos(x))

COS = Op("cos", lambda x: math.cos(as_float(x)), lambda x, out: -sin(x))


# --- rectifiers: each branches through `branch`, so NaN stays NaN -----------
RELU = Op("relu", lambda x: branch(x, x, 0), lambda x, out: branch(x, 1, 0), vectorized=True,
          smooth=lambda x: abs(x) > 0.05)

LEAKY_RELU = Op("leaky_relu", lambda x, k: branch(x, x, k * x), lambda x, k, out: branch(x, 1, k), param="alpha",
                vectorized=True, smooth=lambda x, k: abs(x) > 0.05, test_params=(0.1,))

# PReLU: leaky ReLU whose slope b is a learnable Value.
PRELU = Op("prelu", lambda a, b: branch(a, a, b * a), lambda a, b, out: (branch(a, 1, b), branch(a, 0, a)),
           arity=2, vectorized=True, smooth=lambda a, b: abs(a) > 0.05)


def _elu(x: Any, k: Any) -> Any:
    x = as_float(x)
    return x if x > 0 else k * math.expm1(x) if x <= 0 else x


# alpha * exp(x) rather than out + alpha: no cancellation for very negative x. Both arms of `branch` are
# computed, so the exponent is clipped at 0: e ** 729 would overflow in the arm that is not taken.
ELU = Op("elu", _elu, lambda x, k, out: branch(x, 1, k * exp(where(x > 0, 0, x))), param="alpha",
         smooth=lambda x, k: abs(x) > 0.05, test_params=(0.5,))

STEP = Op("step", lambda x: branch(x, 1, 0), lambda x, out: branch(x, 0, 0), vectorized=True,
          smooth=lambda x: abs(x) > 0.05)


# --- choosing and stopping -------------------------------------------------
# The gradient goes to the winner (to `a` on a tie), like relu's branch.
MAX = Op("max", lambda a, b: where(a >= b, a, where(b > a, b, math.nan)),
         lambda a, b, out: (where(a >= b, 1, where(b > a, 0, math.nan)), where(a >= b, 0, where(b > a, 1, math.nan))),
         arity=2, vectorized=True, smooth=lambda a, b: abs(a - b) > 0.05)

MIN = Op("min", lambda a, b: where(a <= b, a, where(b < a, b, math.nan)),
         lambda a, b, out: (where(a <= b, 1, where(b < a, 0, math.nan)), where(a <= b, 0, where(b < a, 1, math.nan))),
         arity=2, vectorized=True, smooth=lambda a, b: abs(a - b) > 0.05)

# The same number, but no gradient flows back through it (e.g. softmax's shift).
DETACH = Op("detach", lambda x: x, lambda x, out: 0, vectorized=True)

# candidates[i] as a node that remembers all the candidates (k = (i, candidates)): a class label
# or a token id picks one, and a replayed step can pick another without recording again.
SELECT = Op("select", lambda x, k: x, lambda x, k, out: 1, param="index", test_params=(None,))


OPS: Dict[str, Op] = {
    "add": ADD, "sub": SUB, "mul": MUL, "div": DIV, "pow": POW, "pow_const": POW_CONST, "rpow": CONST_POW,
    "neg": NEG, "abs": ABS, "exp": EXP, "log": LOG, "sqrt": SQRT, "softplus": SOFTPLUS, "tanh": TANH,
    "sigmoid": SIGMOID, "sin": SIN, "cos": COS, "relu": RELU, "leaky_relu": LEAKY_RELU, "prelu": PRELU,
    "elu": ELU, "step": STEP, "max": MAX, "min": MIN, "detach": DETACH, "select": SELECT,
}
"""Every built-in op by its method-style name; `Value`'s methods are made from this table."""
