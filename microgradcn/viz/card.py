"""A compact HTML card for one `Value`, for Jupyter's rich display.

Jupyter shows a Value by calling its ``_repr_html_``, which returns
`value_card_html(v)`: the label, the number, the gradient, the operation
that made it, and a hint that ``draw_graph(v)`` draws the whole graph.
"""

from __future__ import annotations

import html

from ..engine import Value
from .labels import format_number, op_symbol, shorten

__all__ = ["value_card_html"]

_GRAD_COLOR = "#c0392b"


def _number(x: object) -> str:
    if isinstance(x, Value):  # a gradient graph from grad(create_graph=True)
        return f"{_number(x.data)} (Value)"
    try:
        return format_number(x)
    except TypeError:
        return shorten(repr(x), 60)


def value_card_html(v: Value) -> str:
    """A small HTML table describing `v`: label, data, grad, op and parents; all text HTML-escaped.

    >>> from microgradcn import Value
    >>> "draw_graph(v)" in value_card_html(Value(2.0, label="x"))
    True
    """
    if not isinstance(v, Value):
        raise TypeError(f"value_card_html needs a Value, got {type(v).__name__}: {v!r}")
    esc = html.escape
    label = esc(shorten(v.label, 60)) if v.label else '<span style="color:#888">(无标签 no label)</span>'
    if v.is_leaf:
        op = "叶子 leaf(输入或参数 input or parameter)"
    else:
        n = len(v.parents)
        symbol = op_symbol(v)
        name = esc(symbol) if symbol == v.op else f"{esc(symbol)}({esc(v.op)})"
        op = f"{name},{n} 个输入 input{'s' if n != 1 else ''}"
    cell = 'style="padding:2px 8px;text-align:left"'
    head = 'style="padding:2px 8px;text-align:right;color:#555;font-weight:normal"'
    rows = [
        ("Value", f"<b>{label}</b>"),
        ("data 前向值", esc(_number(v.data))),
        ("grad 梯度", f'<span style="color:{_GRAD_COLOR}">{esc(_number(v.grad))}</span>'),
        ("op 运算", op),
    ]
    body = "".join(f"<tr><th {head}>{name}</th><td {cell}>{text}</td></tr>" for name, text in rows)
    return (
        '<div class="microgradcn-value" style="display:inline-block;border:1px solid #ccc;'
        'border-radius:4px;padding:4px 6px;font-family:monospace">'
        f'<table style="border-collapse:collapse">{body}</table>'
        '<div style="color:#666;font-size:90%;margin-top:2px">'
        "画出计算图 draw the graph: <code>from microgradcn.viz import draw_graph; draw_graph(v)</code></div>"
        "</div>"
    )
