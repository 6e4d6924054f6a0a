"""Draw a computation graph with Graphviz, in the *node* style or the *book* style.

Colour legend (node style)
--------------------------
* input (a labelled leaf) ........ light blue   ``#dbeafe``
* parameter (leaf in ``params``) . light yellow ``#fde68a``
* constant (an unlabelled leaf) .. light grey   ``#f3f4f6``
* intermediate result ............ white
* output (the root) .............. light green  ``#bbf7d0``
* gradients are written in red (``#c0392b``), as in 深度学习入门 ch. 5; the node
  being processed (``highlight``) gets a thick red border.

The *book* style draws, as 深度学习入门 ch. 5 does, operations as circles of one
size (×, +, x², exp, ...), each forward value above its black arrow and, under
it, a red arrow pointing back with the gradient on it. Inputs are named at the
arrow tails, constants by their number, intermediate values on their own
arrows. A value used more than once goes through one arrow, carrying its summed
gradient, to a branch point, then one arrow per use; `book_layout` orders the
inputs so that these arrows do not cross where that is possible.

The *node* style draws one box per value; when one-row boxes would make the picture
wider than `MAX_WIDTH_PT` (1,100 pt), each box becomes a column.
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple, Union

import graphviz

from ..engine import Value
from .book_layout import book_layout
from .graph import DEFAULT_MAX_NODES, GraphView
from .labels import display_width, format_number, html_text, op_symbol, shorten

__all__ = ["draw_graph", "render", "pipe", "GraphvizNotFoundError", "GraphvizError", "COLORS", "FONT",
           "DEFAULT_DPI"]

DEFAULT_DPI = 150  # pixels per inch of PNG output (Graphviz's own default, 72, looks blurred)

FONT = "WenQuanYi Micro Hei,Noto Sans CJK SC,PingFang SC,Microsoft YaHei,sans-serif"
GRAD_COLOR = "#c0392b"
HIGHLIGHT_COLOR = "#e74c3c"
UNKNOWN = "?"
COLORS = {
    "input": "#dbeafe",
    "param": "#fde68a",
    "const": "#f3f4f6",
    "intermediate": "#ffffff",
    "output": "#bbf7d0",
}

INSTALL_HINT = (
    "Graphviz's `dot` program was not found, so the graph cannot be rendered to a picture. "
    "Install it: Debian/Ubuntu `sudo apt-get install graphviz fonts-wqy-microhei`, "
    "macOS `brew install graphviz`, Windows `winget install graphviz` (then reopen the terminal). "
    "The DOT source is still available as `graph.source`."
)


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's `dot` executable is not installed (the message says how to install it)."""


class GraphvizError(RuntimeError):
    """Graphviz's `dot` ran but refused the graph; the message quotes what dot said."""


class _Texts:
    """What to write on each node and edge: None hides a number, '?' marks it unknown."""

    def __init__(
        self, data: List[Optional[str]], grads: List[Optional[str]], edge_grads: Dict, highlight: set,
        widths: Optional[Dict[Tuple[str, str], int]] = None,
    ) -> None:
        self.data = data
        self.grads = grads
        self.edge_grads = edge_grads  # (consumer j, slot) -> text; (None, None) for the output edge
        self.highlight = highlight
        # 'forward' / 'backward': a step-through frame highlights only that pass's arrows (book style)
        self.phase: Optional[str] = None
        self.rankdir = "LR"  # which way the book style's arrows run (set when drawing)
        # (node id, cell) -> width in points kept free for that cell, so that every frame of a
        # step-through has one layout whether a number is known or still '?' (see cell_widths)
        self.widths = widths

    def width(self, node_id: str, cell: str) -> Optional[int]:
        return None if self.widths is None else self.widths.get((node_id, cell))


def _state_texts(view: GraphView, show_data: bool, show_grad: bool, precision, highlight) -> _Texts:
    nodes = view.nodes
    data = [format_number(v.data, precision) if show_data else None for v in nodes]
    grads: List[Optional[str]] = [None] * len(nodes)
    edge_grads: Dict = {}
    if show_grad:
        grads = [_fmt_grad(v.grad, precision) for v in nodes]
        for j, v in enumerate(nodes):
            for slot, d in enumerate(view.local(j)):
                edge_grads[(j, slot)] = _fmt_grad(d * v.grad, precision)
        edge_grads[(None, None)] = grads[-1]
    marked = set()
    for h in _as_list(highlight):
        if not isinstance(h, Value) or id(h) not in view.index:
            raise ValueError(f"highlight must be Values of the drawn graph, got {h!r}")
        marked.add(view.pos(h))
    return _Texts(data, grads, edge_grads, marked)


def _fmt_grad(g, precision) -> str:
    if isinstance(g, Value):  # a gradient graph from grad(create_graph=True)
        g = g.data
    return format_number(g, precision)


def _as_list(x) -> list:
    if x is None:
        return []
    if isinstance(x, Value):
        return [x]
    return list(x)


def _new_digraph(rankdir: str, fmt: str, style: str) -> graphviz.Digraph:
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"rankdir must be one of 'LR', 'TB', 'RL', 'BT', got {rankdir!r}")
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError(f"fmt must be 'svg', 'png' or 'pdf', got {fmt!r}")
    g = graphviz.Digraph("microgradcn", format=fmt)
    g.attr(rankdir=rankdir, bgcolor="white", fontname=FONT)
    if style == "book":
        g.attr(nodesep="0.35", ranksep="0.25")
    else:
        g.attr(nodesep="0.25", ranksep="0.35")
    g.attr("node", fontname=FONT, fontsize="12")
    g.attr("edge", fontname=FONT, arrowsize="0.7", color="#444444")
    return g


def _kind(view: GraphView, i: int, params: set) -> str:
    v = view.nodes[i]
    if i == len(view.nodes) - 1:
        return "output"
    if not v.is_leaf:
        return "intermediate"
    if id(v) in params or view.is_parameter(i):
        return "param"
    return "input" if v.label else "const"


def _cell(text: Optional[str], color: Optional[str] = None, bold: bool = False, width: Optional[int] = None) -> str:
    body = html_text(text or "")
    if bold:
        body = f"<B>{body}</B>"
    if color:
        body = f'<FONT COLOR="{color}">{body}</FONT>'
    return f"<TD>{body}</TD>" if width is None else f'<TD WIDTH="{width}">{body}</TD>'


_BORDER_ROOM = "0.041667,0.041667"  # 3 points, in inches


def _changing_cells(view: GraphView, texts: _Texts, style: str):
    """(node id, cell, text, cell padding, cell border) for every cell whose text a step-through changes."""
    if style == "node":
        for i in range(len(view.nodes)):
            if texts.data[i] is not None:
                yield view.node_id(i), "data", f"data {texts.data[i]}", 4, 1
            if texts.grads[i] is not None:
                yield view.node_id(i), "grad", f"grad {texts.grads[i]}", 4, 1
        return
    edges: List[Tuple[str, int, Tuple[Optional[int], Optional[int]]]] = [
        (f"e{j}_{slot}", view.pos(p), (j, slot)) for j, v in enumerate(view.nodes) for slot, p in enumerate(v.parents)
    ]
    edges.append(("e_out", len(view.nodes) - 1, (None, None)))
    for middle, i, key in edges:
        yield middle, "value", texts.data[i] or "", 1, 0
        yield middle, "value", texts.edge_grads.get(key) or "", 1, 0
    for i in range(len(view.nodes)):
        if len(view.uses[i]) > 1:  # the trunk arrow of a value used twice carries its summed gradient
            yield f"t{i}", "value", texts.data[i] or "", 1, 0
            yield f"t{i}", "value", texts.grads[i] or "", 1, 0


def cell_widths(view: GraphView, variants: List[_Texts], style: str, rankdir: str = "LR") -> Dict[Tuple[str, str], int]:
    """The widest each changing cell gets over `variants` (e.g. all numbers known, all '?'), in points.

    Measured by Graphviz itself in one run (``-Tjson``), with the fonts of the picture.
    """
    g = _new_digraph(rankdir, "svg", style)
    keys: List[Tuple[str, str]] = []
    for texts in variants:
        for node_id, cell, text, padding, border in _changing_cells(view, texts, style):
            g.node(f"m{len(keys)}", shape="plain", label=(
                f'<<TABLE BORDER="0" CELLBORDER="{border}" CELLSPACING="0" CELLPADDING="{padding}">'
                f"<TR><TD>{html_text(text) or ' '}</TD></TR></TABLE>>"))
            keys.append((node_id, cell))
    widths: Dict[Tuple[str, str], int] = {}
    for node in json.loads(pipe(g, "json")).get("objects", []):
        key = keys[int(node["name"][1:])]
        widths[key] = max(widths.get(key, 0), math.ceil(float(node["width"]) * 72))
    return widths


MAX_WIDTH_PT = 1100  # wider pictures shrink below readable size in a notebook (about 900 px wide)


def _levels(view: GraphView) -> List[int]:
    """Each node's longest distance, in values, to the output: the column dot puts it in (LR)."""
    level = [0] * len(view.nodes)
    for j in range(len(view.nodes) - 1, -1, -1):
        for p in view.nodes[j].parents:
            i = view.pos(p)
            level[i] = max(level[i], level[j] + 1)
    return level


def _cell_points(view: GraphView, texts: _Texts, i: int) -> List[float]:
    """About how wide (points) each cell of node i's box is: text is about 6.2 pt a column at 12 pt
    (a Chinese character is 2 columns) plus 8 pt of padding; a step-through's reserved widths are exact."""
    v = view.nodes[i]
    out = [display_width(view.name(i)) * 6.2 + 8] if v.label or not v.is_leaf else []
    for cell, text in (("data", texts.data[i]), ("grad", texts.grads[i])):
        if text is not None:
            reserved = texts.width(view.node_id(i), cell)
            out.append(reserved if reserved is not None else display_width(f"{cell} {text}") * 6.2 + 8)
    return out


def _estimated_width(view: GraphView, texts: _Texts, rankdir: str, stacked: bool) -> float:
    """About how wide (points) dot draws the node style, without running dot (it may be missing):
    the widest box of each column plus 70 pt for the operation and gaps between columns (LR), or the
    widest row of boxes (TB). Within 10 % of dot for the examples."""
    level = _levels(view)
    widest: Dict[int, float] = {}
    across: Dict[int, float] = {}
    for i in range(len(view.nodes)):
        cells = _cell_points(view, texts, i)
        box = max(cells, default=8.0) if stacked else sum(cells)
        widest[level[i]] = max(widest.get(level[i], 0.0), box)
        across[level[i]] = across.get(level[i], 0.0) + box + 18
    if rankdir in ("LR", "RL"):
        return sum(widest.values()) + 70 * (len(widest) - 1)
    return max(across.values())


def _stacked(view: GraphView, texts: _Texts, rankdir: str) -> bool:
    """Whether each box is a column (name over data over grad): when rows would make the picture wider
    than MAX_WIDTH_PT (the 2-2-1 network: 1,719 pt), so that it stays readable at notebook width.
    A step-through decides on its reserved widths, so every frame agrees."""
    return _estimated_width(view, texts, rankdir, stacked=False) > MAX_WIDTH_PT


def _draw_node_style(g: graphviz.Digraph, view: GraphView, texts: _Texts, params: set, rankdir: str = "LR") -> None:
    stacked = _stacked(view, texts, rankdir)
    for i, v in enumerate(view.nodes):
        kind = _kind(view, i, params)
        cells = []
        node_id = view.node_id(i)
        if view.named(i):  # an unlabelled constant is just its number
            cells.append(_cell(view.name(i), None if v.label else "#888888", bold=bool(v.label)))
        if texts.data[i] is not None:
            cells.append(_cell(f"data {texts.data[i]}", width=texts.width(node_id, "data")))
        if texts.grads[i] is not None:
            cells.append(_cell(f"grad {texts.grads[i]}", GRAD_COLOR, width=texts.width(node_id, "grad")))
        hot = i in texts.highlight
        border = f'BORDER="3" COLOR="{HIGHLIGHT_COLOR}"' if hot else 'BORDER="0"'
        rows = "".join(f"<TR>{c}</TR>" for c in cells) if stacked else f"<TR>{''.join(cells)}</TR>"
        label = (
            f'<<TABLE {border} CELLBORDER="1" CELLSPACING="0" CELLPADDING="4" BGCOLOR="{COLORS[kind]}">'
            f"{rows}</TABLE>>"
        )
        if texts.widths is not None and not hot:
            # In a step-through every box keeps room for the 3-point highlight border, so nothing moves.
            g.node(node_id, label=label, shape="none", width="0", height="0", margin=_BORDER_ROOM)
        else:
            g.node(node_id, label=label, shape="plain")
        if v.parents:
            op_id = view.node_id(i) + "_op"
            hot = i in texts.highlight
            g.node(
                op_id,
                label=f"<{html_text(op_symbol(v))}>",
                shape="circle" if len(op_symbol(v)) <= 2 else "ellipse",
                style="filled",
                fillcolor="#fee2e2" if hot else "#f5f5f5",
                color=HIGHLIGHT_COLOR if hot else "#666666",
                penwidth="2" if hot else "1",
                fontsize="11",
                width="0.3",
                height="0.3",
                margin="0.02",
            )
            for p in v.parents:
                g.edge(view.node_id(view.pos(p)), op_id)
            g.edge(op_id, view.node_id(i))


_ARROW_GAP = 4  # points between the forward arrow and the backward arrow under it
# Graphviz puts ports on whole points: a 2-point bar has its middle where the arrow ends, so a
# 1.5-point arrow runs on through it as one line (a 1-point bar sat half a point off, like a double line).
_BAR = 2
_PEN = "1.5"
FORWARD_HOT = "#2563eb"  # a forward arrow being computed; red is kept for gradients
NAME_COLOR = "#666666"


def _arrow_label(name: Optional[str], forward: Optional[str], backward: Optional[str],
                 width: Optional[int] = None, across: bool = False, forward_color: str = "#444444") -> str:
    """The numbers written on one book-style arrow, as in the book's ch. 5 figures.

    From top to bottom: the value's name (small, grey; intermediate values only), the
    forward value, a black bar (port ``f``) that the forward arrow runs through, a red
    bar (port ``b``) that the backward arrow runs through, and the gradient in red.
    `across` (a picture drawn top to bottom): the same from left to right, with upright bars.
    """
    td = '<TD CELLPADDING="1">' if width is None else f'<TD CELLPADDING="1" WIDTH="{width}">'
    bar = "WIDTH" if across else "HEIGHT"  # the bars' thickness across the arrow
    cells = []
    if name:
        cells.append(f'<TD CELLPADDING="1"><FONT POINT-SIZE="10" COLOR="{NAME_COLOR}">{html_text(name)}</FONT></TD>')
    cells.append(f"{td}{html_text(forward or '') or ' '}</TD>")
    cells.append(f'<TD PORT="f" {bar}="{_BAR}" BGCOLOR="{forward_color}"></TD>')
    cells.append(f'<TD {bar}="{_ARROW_GAP}"></TD>')
    cells.append(f'<TD PORT="b" {bar}="{_BAR}" BGCOLOR="{GRAD_COLOR}"></TD>')
    cells.append(f'{td}<FONT COLOR="{GRAD_COLOR}">{html_text(backward or "") or " "}</FONT></TD>')
    body = f"<TR>{''.join(cells)}</TR>" if across else "".join(f"<TR>{c}</TR>" for c in cells)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0">{body}</TABLE>>'


# Where an arrow enters and leaves the bars of its label, by direction of the picture.
_SIDES = {"LR": ("w", "e"), "RL": ("e", "w"), "TB": ("n", "s"), "BT": ("s", "n")}


def _op_circle(symbol: str) -> Dict[str, str]:
    """Every operation is a circle of one size; longer symbols (x², exp, tanh) get a smaller font."""
    sizes = {1: "18", 2: "14", 3: "11", 4: "9"}
    if len(symbol) in sizes:
        return {"fixedsize": "true", "width": "0.45", "fontsize": sizes[len(symbol)]}
    return {"fixedsize": "false", "width": "0.45", "fontsize": "9"}  # a custom op's long name


def _draw_book_style(g: graphviz.Digraph, view: GraphView, texts: _Texts, rankdir: str = "LR") -> None:
    last = len(view.nodes) - 1
    texts.rankdir = rankdir
    layout = book_layout(view)
    for i in range(len(view.nodes)):
        _book_node(g, view, i, i in texts.highlight)
    for i in range(len(view.nodes)):
        if len(view.uses[i]) > 1:
            # A value used more than once: one trunk arrow carries its name, value and summed
            # gradient to a branch point (the book's repeat node), then one arrow per use.
            hot = _hot_arrows(texts, i)
            _book_edge(g, view.node_id(i), f"t{i}", f"s{i}", _arrow_name(view, i), texts.data[i],
                       texts.grads[i], hot, texts)
            g.node(f"s{i}", label="", shape="point", width="0.07", color="black")
    for j, v in enumerate(view.nodes):
        for slot in layout.slots(view, j):  # ordering=in draws them in this order, top to bottom
            i = view.pos(v.parents[slot])
            shared = len(view.uses[i]) > 1
            _book_edge(g, f"s{i}" if shared else view.node_id(i), f"e{j}_{slot}", view.node_id(j),
                       None if shared else _arrow_name(view, i), texts.data[i], texts.edge_grads.get((j, slot)),
                       _hot_arrows(texts, i), texts, layout.fan.get(i, 1))
    # The output leaves through one last arrow, named at its head.
    root = view.nodes[last]
    name = shorten(root.label) if root.label and not root.is_leaf else ""  # a lone leaf is named at the tail
    g.node("out", label=f"<{html_text(name)}>", shape="plaintext", margin="0.04", width="0", fontsize="13")
    _book_edge(g, view.node_id(last), "e_out", "out", None, texts.data[last],
               texts.edge_grads.get((None, None)), _hot_arrows(texts, last), texts)


def _book_node(g: graphviz.Digraph, view: GraphView, i: int, hot: bool) -> None:
    v = view.nodes[i]
    node_id = view.node_id(i)
    if v.is_leaf:
        # An input is named at the tail of its arrow; a constant (the ½ of ½(t − y)²) by its number.
        # width=0: as wide as the name, so the arrow starts right after a short name like "x" or "2"
        g.node(node_id, label=f"<{html_text(view.name(i))}>", shape="plaintext", margin="0.04", width="0",
               fontcolor=HIGHLIGHT_COLOR if hot else ("black" if v.label else NAME_COLOR),
               fontsize="13" if v.label else "12")
        return
    symbol = op_symbol(v)
    # ordering=in: the inputs, top to bottom, in the order their arrows are declared (see book_layout)
    g.node(node_id, label=f"<{html_text(symbol)}>", shape="circle", **_op_circle(symbol), ordering="in", style="filled",
           fillcolor="#fee2e2" if hot else "white", color=HIGHLIGHT_COLOR if hot else "black",
           penwidth="2" if hot else "1.2")


def _arrow_name(view: GraphView, i: int) -> Optional[str]:
    """An intermediate value's name (苹果总价, t, q·k) on its arrow; inputs are named at the tail."""
    v = view.nodes[i]
    return shorten(v.label, 40) if v.label and not v.is_leaf else None


def _hot_arrows(texts: _Texts, i: int) -> Tuple[bool, bool]:
    """(forward, backward): which arrows leaving node i are drawn highlighted.

    A forward step highlights the forward arrows that carry the new value; a backward
    step the red arrows that carry gradients back into node i.
    """
    if i not in texts.highlight:
        return False, False
    return texts.phase != "backward", texts.phase != "forward"


def _book_edge(g, tail: str, middle: str, head: str, name: Optional[str], forward, backward,
               hot: Tuple[bool, bool], texts: _Texts, length: int = 1) -> None:
    across = texts.rankdir in ("TB", "BT")
    enter, leave = _SIDES[texts.rankdir]
    label = _arrow_label(name, forward, backward, texts.width(middle, "value"), across,
                         FORWARD_HOT if hot[0] else "#444444")
    g.node(middle, label=label, shape="plain")
    ahead = {"color": FORWARD_HOT, "penwidth": "2.6"} if hot[0] else {"penwidth": _PEN}
    back = {"color": GRAD_COLOR, "penwidth": "2.8" if hot[1] else _PEN}
    span = {"minlen": str(length)} if length != 1 else {}
    if tail.startswith("n") and head.startswith("n") and length == 1:
        span["weight"] = "3"  # keep a name level with its arrow: without it, w2 of the 2-2-1 network curls
    g.edge(tail, f"{middle}:f:{enter}", arrowhead="none", **ahead, **span)
    g.edge(f"{middle}:f:{leave}", head, **ahead)
    # Declared tail -> head like the forward arrow (so the layout keeps its ranks) but drawn
    # pointing back: the arrowhead sits at the tail.
    g.edge(tail, f"{middle}:b:{enter}", dir="back", arrowtail="normal", **back, **span)
    g.edge(f"{middle}:b:{leave}", head, dir="none", **back)


def draw_graph(
    root: Value,
    style: str = "node",
    rankdir: str = "LR",
    show_data: bool = True,
    show_grad: bool = True,
    highlight: Union[Value, Iterable[Value], None] = None,
    params: Iterable[Value] = (),
    max_nodes: Optional[int] = DEFAULT_MAX_NODES,
    fmt: str = "svg",
    precision: Optional[int] = 6,
    depth: Optional[int] = None,
    focus: Union[str, Value, object, None] = None,
    call: Optional[int] = None,
    radius: Optional[int] = None,
) -> graphviz.Digraph:
    """Draw the graph that computed `root`; returns a `graphviz.Digraph`.

    In Jupyter the result displays inline as SVG; ``.render()`` / `render`
    write files and ``.source`` is the DOT text (identical for identical graphs).

    Args:
        style: ``"node"`` (each Value a box with label, data, grad; each op a
            small node) or ``"book"`` (深度学习入门 ch. 5: op circles, forward
            values above the arrows, gradients below in red).
        show_data / show_grad: write ``.data`` / ``.grad`` (call backward() first).
        highlight: Value(s) to mark, e.g. the node a step-through is at.
        params: leaves to colour as parameters (node style).
        max_nodes: refuse graphs with more Values (GraphTooLargeError); None = no limit. With
            `depth` or `focus`, the limit counts drawn items (boxes, nodes, stubs).
        precision: significant digits for floats (None = full repr); Fractions stay exact.
        depth: draw scopes (module calls, loss functions, ``with scope(...)``) nested `depth` deep as
            boxes (see `microgradcn.viz.scoped`); None draws every node.
        focus: draw one part: a scope path (``"layers.1"``, ``"layers.1[3]"``), a Module, or a Value
            (with `radius`, default 2 edges either way). Values from outside are drawn as stubs.
        call: which call of a focused scope folded over several calls (default 0).
        radius: with a Value `focus`, how many edges away from it to draw.
    """
    if style not in ("node", "book"):
        raise ValueError(f"style must be 'node' or 'book', got {style!r}")
    if depth is not None or focus is not None or call is not None or radius is not None:
        from .scoped import draw_scoped

        return draw_scoped(root, style, rankdir, show_data, show_grad, max_nodes, fmt, precision, depth, focus,
                           call, radius, _as_list(highlight))
    view = GraphView(root, max_nodes)
    texts = _state_texts(view, show_data, show_grad, precision, highlight)
    return _draw(view, texts, style, rankdir, fmt, params)


def _draw(view: GraphView, texts: _Texts, style: str, rankdir: str, fmt: str, params: Iterable[Value] = ()):
    g = _new_digraph(rankdir, fmt, style)
    if style == "book":
        _draw_book_style(g, view, texts, rankdir)
    else:
        _draw_node_style(g, view, texts, {id(p) for p in params}, rankdir)
    return g


def _check_dpi(dpi: object) -> float:
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not 10 <= dpi <= 1200:
        raise ValueError(f"dpi must be a number of pixels per inch between 10 and 1200, got {dpi!r}")
    return float(dpi)


def pipe(graph: Union[graphviz.Digraph, graphviz.Source], fmt: Optional[str] = None,
         dpi: Optional[float] = None) -> bytes:
    """The rendered picture as bytes.

    `dpi` (pixels per inch) applies to PNG only; it defaults to `DEFAULT_DPI`.
    Raises GraphvizNotFoundError if `dot` is missing and GraphvizError, quoting
    dot's message, if dot rejects the graph.
    """
    fmt = fmt or graph.format or "svg"
    command = [getattr(graph, "engine", None) or "dot", f"-T{fmt}"]
    if fmt == "png":
        command.append(f"-Gdpi={_check_dpi(DEFAULT_DPI if dpi is None else dpi):g}")
    try:
        done = subprocess.run(command, input=graph.source.encode("utf-8"), capture_output=True, check=False)
    except FileNotFoundError as error:
        raise GraphvizNotFoundError(INSTALL_HINT) from error
    if done.returncode != 0:
        # dot may cut a UTF-8 character in half when it quotes the bad line: decode leniently.
        message = done.stderr.decode("utf-8", errors="replace").strip() or f"exit status {done.returncode}"
        message = " / ".join(line.strip() for line in message.splitlines() if line.strip())  # one line
        raise GraphvizError(f"Graphviz's dot could not draw this graph: {shorten(message, 500)}")
    return done.stdout


def render(graph_or_root: Union[graphviz.Digraph, Value], path: Union[str, Path], dpi: Optional[float] = None,
           **draw_options) -> Path:
    """Write a picture to `path`; the format comes from its suffix (.svg, .png, .pdf).

    `graph_or_root` is a Digraph from `draw_graph` or a Value (then
    `draw_options` go to `draw_graph`). `dpi` sets the resolution of a PNG
    (default `DEFAULT_DPI` = 150 pixels per inch). Missing folders are
    created. Raises GraphvizNotFoundError, with
    install instructions, when Graphviz is missing.
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError(f"the file name must end in .svg, .png or .pdf, got {str(path)!r}")
    if dpi is not None:
        _check_dpi(dpi)
    graph = graph_or_root
    if isinstance(graph_or_root, Value):
        graph = draw_graph(graph_or_root, fmt=fmt, **draw_options)
    elif draw_options:
        raise TypeError("draw options can only be given with a Value, not with an already drawn graph")
    data = pipe(graph, fmt, dpi)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
