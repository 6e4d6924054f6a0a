"""Text for pictures and tables: readable numbers, safe HTML-like labels, CJK widths.

Graphviz record labels break on ``| { } < > "`` and drop spaces after Chinese
characters next to ``|`` (Graphviz 2.43), so every label we emit is an
HTML-like label built from text escaped here.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Optional

from wcwidth import wcswidth, wcwidth

__all__ = ["format_number", "html_text", "op_symbol", "display_width", "pad", "shorten", "MAX_LABEL_CHARS"]

# Graphviz rejects an HTML-like label longer than 16 KiB; one character can
# take up to 6 bytes once escaped, so labels are cut well below that.
MAX_LABEL_CHARS = 200
MAX_TEXT_CHARS = 2000


def format_number(x: object, precision: Optional[int] = 6) -> str:
    """A number as a learner wants to read it.

    Fractions print as ``11/5`` (``3`` when whole), ints as themselves, and
    floats with ``precision`` significant digits so that float noise vanishes:
    ``220.00000000000003`` -> ``220``. ``precision=None`` gives the full repr.
    """
    if isinstance(x, bool) or not isinstance(x, (int, float, Fraction)):
        raise TypeError(f"format_number needs an int, float or Fraction, got {type(x).__name__}: {x!r}")
    if isinstance(x, Fraction):
        return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"
    if isinstance(x, int):
        return str(x)
    if math.isnan(x) or math.isinf(x):
        return repr(x)
    if precision is None:
        return repr(x)
    if precision < 1:
        raise ValueError(
            f"precision must be a positive number of significant digits or None, got {precision}"
        )
    text = f"{x:.{precision}g}"
    if text == "-0":
        text = "0"
    return text


def _xml_safe(ch: str) -> str:
    code = ord(ch)
    # XML 1.0 allows tab/newline/CR and the ranges below; anything else (NUL,
    # other control characters, lone surrogates, U+FFFE/U+FFFF) is shown as
    # an escape code instead of making `dot` reject the whole graph.
    if (
        code in (0x9,)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    ):
        return ch
    return f"\\u{code:04x}"


# ']' too: Graphviz 2.43's HTML lexer chokes on a bare ']' before a closing tag.
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "[": "&#91;", "]": "&#93;"}


def shorten(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    """`text` cut to at most `limit` characters for display, ending in '…' when cut.

    >>> shorten("长" * 10, 4)
    '长长长…'
    """
    if not isinstance(text, str):
        raise TypeError(f"shorten needs a str, got {type(text).__name__}: {text!r}")
    if limit < 1:
        raise ValueError(f"limit must be at least 1 character, got {limit}")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def html_text(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """`text` escaped for a Graphviz HTML-like label; newlines become line breaks.

    Text longer than `limit` characters is shortened with '…' first, so the
    label stays under Graphviz's 16 KiB limit.
    """
    if not isinstance(text, str):
        raise TypeError(f"html_text needs a str, got {type(text).__name__}: {text!r}")
    text = shorten(text, limit)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = []
    for ch in text:
        if ch == "\n":
            out.append("<BR/>")
        elif ch in _ENTITIES:
            out.append(_ENTITIES[ch])
        elif ch == "\t":
            out.append(" ")
        else:
            out.append(_xml_safe(ch))
    return "".join(out)


_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def _symbols() -> dict:
    from ..ops import OPS

    return {op.name: op.symbol for op in OPS.values() if op.symbol != op.name}


def op_symbol(op: Any) -> str:
    """The symbol drawn for an operation, from the op table: '*' -> '×', '**2' -> 'x²', 'exp' -> 'exp'.

    `op` is a node (its `Op`'s own symbol is used, so a learner's custom op
    is drawn with the symbol it was given) or an op's display name (`v.op`).
    """
    if not isinstance(op, str):  # a Value
        operation = op.operation
        if operation is None:
            return ""
        if not operation.param and operation.name not in _symbols():
            return operation.symbol
        op = op.op
    symbols = _symbols()
    if op in symbols:
        return symbols[op]
    if op.startswith("**"):
        k = op[2:]
        if k.lstrip("-").isdigit():
            return "x" + k.translate(_SUPERSCRIPT)
        return f"x^{k}"
    if op.endswith("**"):
        return f"{op[:-2]}ˣ"
    return op


def display_width(text: str) -> int:
    """Columns `text` takes in a terminal (the `wcwidth` library): wide (CJK) characters count 2,
    combining marks 0; a control character, which has no width of its own, counts 0."""
    width = wcswidth(text)
    return width if width >= 0 else sum(max(0, wcwidth(ch)) for ch in text)


def pad(text: str, width: int, align: str = "<") -> str:
    """`text` padded with spaces to `width` terminal columns ('<' left, '>' right)."""
    gap = max(0, width - display_width(text))
    return text + " " * gap if align == "<" else " " * gap + text
