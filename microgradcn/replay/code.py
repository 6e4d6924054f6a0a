"""Writing code, for both emitters: names, an op's forward and backward from its templates, sums, compiling.

Every op's rule comes from the op table (`ops.py`): an op with code
templates (``+ - * neg``) is written inline, ``{a} * {b}``; any other op is
called through its own Python functions, so the generated code computes
exactly what eager mode computes.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import chain
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ..engine import Value
from ..ops import Op
from .graph import SELECT, inputs


class Names(dict):
    """Names for nodes, made when first asked for: prefix + a number (so only the nodes the code uses get one)."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix
        self.made: set = set()

    def __missing__(self, node: Value) -> str:
        new = f"{self.prefix}{len(self.made)}"
        self.made.add(new)
        self[node] = new
        return new


def forward_source(op: Op, args: List[str], constant: Callable[[], str], function: Callable[[], str]) -> str:
    """One op's forward as Python source: its template (``a + b``), or ``f(a, b)``, ``f(a, k)``, ``f(a)``.

    `function()` names the op's forward and `constant()` its constant, both
    asked only when the source needs them.
    """
    if op.forward_code is not None:
        return op.forward_code.format(a=args[0], b=args[1] if len(args) > 1 else "")
    if op.arity == 2:
        return f"{function()}({args[0]}, {args[1]})"
    if op.param:
        return f"{function()}({args[0]}, {constant()})"
    return f"{function()}({args[0]})"


def backward_term(template: str, g: str, operand: Callable[[str], str]) -> str:
    """One input's gradient term from the op's template: ``{b} * {g}`` -> ``v3 * g1``.

    `operand` names input ``a`` or ``b``, asked only if the template uses it.
    """
    positional, names_a, names_b = template_form(template)
    return positional.format(operand("a") if names_a else "", operand("b") if names_b else "", g)


def template_form(template: str) -> Tuple[str, bool, bool]:
    """A backward template with positional fields ({a} {b} {g} -> {0} {1} {2}), and whether it names a, b."""
    form = _FORMS.get(template)
    if form is None:  # read once per template
        positional = template.replace("{a}", "{0}").replace("{b}", "{1}").replace("{g}", "{2}")
        form = _FORMS[template] = (positional, "{a}" in template, "{b}" in template)
    return form


_FORMS: Dict[str, Tuple[str, bool, bool]] = {}


def passes_gradient_on(template: str) -> bool:
    """The term is the gradient from above itself (``+``): no arithmetic, the same number."""
    return template == "{g}"


_UFUNC = {"*": "_mul", "+": "_add", "-": "_sub"}
_BINARY = re.compile(r"^(\{\w+\}|-?\d+(?:\.\d*)?) ([*+-]) (\{\w+\}|-?\d+(?:\.\d*)?)$")


def into(template: str, g: str, operand: Callable[[str], str], out: str) -> str:
    """An input's term written into the array `out`: ``_mul(b, g, out=...)`` for ``{b} * {g}``.

    A template of one arithmetic operator becomes that numpy function with
    ``out=`` (no temporary array); any other is evaluated, then copied in.
    """
    match = _BINARY.match(template)
    if match is None:
        return f"{out}[...] = {backward_term(template, g, operand)}"
    left, symbol, right = match.groups()
    return (f"{_UFUNC[symbol]}({backward_term(left, g, operand)}, {backward_term(right, g, operand)}, "
            f"out={out})")


NUMPY_ARITHMETIC: Dict[str, Any] = {"_mul": np.multiply, "_add": np.add, "_sub": np.subtract}


def sum_lines(target: str, start: Optional[str], terms: List[str]) -> List[str]:
    """``target = start + t1 + t2 + ...`` (left to right), in lines of at most 50 terms."""
    lines = []
    for i in range(0, len(terms), 50):
        head = target if i else start
        chunk = " + ".join(terms[i:i + 50])
        lines.append(f"{target} = {chunk}" if head is None else f"{target} = {head} + {chunk}")
    return lines


def forward_lines(interior: List[Tuple[Value, str]], name: Dict[Value, str], needed: set,
                  raw: Optional[Dict[Value, str]] = None) -> List[str]:
    """The forward pass, one line per node whose number is needed later; the others written inline.

    A node used once, whose number backward does not need (the products and
    partial sums of a neuron), becomes part of its user's expression, fully
    parenthesised: the same operations on the same numbers, so the same
    result, in fewer lines to compile and run.
    """
    # (Written for speed: a GPT recording runs this loop for some 60,000 nodes.)
    uses = Counter(chain.from_iterable(inputs(v) for v, _ in interior))
    text: Dict[Value, str] = {}
    depth: Dict[Value, int] = {}
    lines: List[str] = []
    raw = raw or {}
    text_of, depth_of, uses_of, append = text.get, depth.get, uses.get, lines.append
    for v, form in interior:
        if v in raw:
            append(raw[v])
            continue
        a, b = v._a, v._b
        if b is not None and a is not None and v._op is not SELECT:  # most nodes: two inputs, written out
            name_a, name_b = name[a], name[b]  # (named first, in this order, as for any node)
            expr = form.format(text_of(a, name_a), text_of(b, name_b))
            da, db = depth_of(a, 0), depth_of(b, 0)
            d = 1 + (da if da > db else db)
        else:
            ins = inputs(v)
            expr = form.format(*[text_of(p, name[p]) for p in ins])
            d = 1 + max((depth_of(p, 0) for p in ins), default=0)
        if d > 40 or uses_of(v, 0) != 1 or v in needed:  # Python's parser nests up to ~200 deep
            append(f"{name[v]} = {expr}")
        else:
            text[v] = f"({expr})"
            depth[v] = d
    return lines


def compile_function(signature: str, lines: List[str], namespace: Dict[str, Any],
                     filename: str) -> Tuple[Callable[..., Any], str]:
    """``def _program(signature): lines`` compiled in `namespace`: (the function, its source)."""
    source = f"def _program({signature}):\n" + "".join(f"    {line}\n" for line in lines)
    exec(compile(source, filename, "exec"), namespace)
    return namespace["_program"], source


def elementwise(f: Callable) -> Callable:
    """`f` applied element by element with plain Python numbers: bit-identical to eager mode."""
    def mapped(*args: Any) -> Any:
        arrays = [a for a in args if isinstance(a, np.ndarray)]
        if not arrays:
            return f(*args)
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
        columns = [np.broadcast_to(a, shape).ravel().tolist() if isinstance(a, np.ndarray) else None
                   for a in args]
        out = [f(*(col[i] if col is not None else a for col, a in zip(columns, args)))
               for i in range(int(np.prod(shape)))]
        if out and isinstance(out[0], tuple):
            return tuple(np.array([o[j] for o in out], dtype=float).reshape(shape) for j in range(len(out[0])))
        return np.array(out, dtype=float).reshape(shape)

    return mapped
