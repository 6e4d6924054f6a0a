"""Explore a computation graph in the browser: one self-contained, offline HTML page.

``explore(root)`` draws the graph with Graphviz in both styles, writes every
node's numbers and the step-through frames as JSON, and adds a small script of
our own (``explore.js`` / ``explore.css`` beside this file, inlined). Nothing
is fetched: the page works from disk, with no network and no third-party code.

In the page a learner can click a node (side panel: label, op, data, grad, the
local derivative to each parent and the chain-rule step in Chinese, all paths
from the output highlighted), play or step the forward and backward passes,
switch between the node and the book style, find a node by its label, and zoom
and pan.

A graph built by modules with more than 400 nodes (a network's training
step, up to 200,000 nodes) gets the page of boxes instead (`explore_scoped`):
one module call per box, opened in place, a breadcrumb back up, search by
name, the same chain rule, and gradient norms as colours.

>>> from microgradcn.examples import apple_tax
>>> page = explore(apple_tax())              # doctest: +SKIP
>>> page.save("apple_tax.html")              # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from pathlib import Path

from ..engine import Value
from .explain import _d, _num, backward_line, forward_line
from .explore_scoped import MAX_SCOPED_NODES, _asset, check_scoped_size, scoped_page
from .graph import DEFAULT_MAX_NODES, GraphTooLargeError, GraphView, _count
from .labels import format_number, op_symbol
from .render import COLORS, GRAD_COLOR, _draw, _kind, _Texts, pipe
from .steps import frames as step_frames
from .steps import reading_milliseconds

__all__ = ["Explorer", "explore", "page_data"]

STYLES = ("node", "book")

KIND_TEXT = {
    "input": "输入",
    "param": "参数",
    "const": "常数",
    "intermediate": "中间结果",
    "output": "输出",
}

OP_TEXT = {
    "+": "加法",
    "-": "减法",
    "*": "乘法",
    "/": "除法",
    "neg": "取负",
    "exp": "指数函数",
    "log": "对数函数",
    "sqrt": "平方根",
    "tanh": "双曲正切",
    "sigmoid": "sigmoid 函数",
    "relu": "ReLU",
    "abs": "绝对值",
    "max": "取较大者",
    "min": "取较小者",
}


def _fmt(x, precision: int | None) -> str:
    if isinstance(x, Value):  # a gradient graph from grad(create_graph=True)
        x = x.data
    return format_number(x, precision)


def _op_text(op: str) -> str:
    if op in OP_TEXT:
        return OP_TEXT[op]
    if op.startswith("**"):
        return "乘方"
    return op


def _first_known_frames(all_frames: list, n: int) -> tuple[list[int], list[int]]:
    """For each node, the first frame at which its value / gradient is known."""
    data_frame = [len(all_frames)] * n
    grad_frame = [len(all_frames)] * n
    for f in range(len(all_frames) - 1, -1, -1):
        frame = all_frames[f]
        for i in range(n):
            if frame.data[i] is not None:
                data_frame[i] = f
            if frame.grads[i] is not None:
                grad_frame[i] = f
    return data_frame, grad_frame


def _path_counts(view: GraphView) -> list[int]:
    """Number of paths from each node to the output (the panel's 路径数)."""
    last = len(view) - 1
    paths = [0] * len(view)
    paths[last] = 1
    for j in range(last, -1, -1):
        for p in view.nodes[j].parents:
            paths[view.pos(p)] += paths[j]
    return paths


def _node_entry(view: GraphView, i: int, grads: list, param_ids: set[int],
                precision: int | None) -> dict:
    """The page's record of node i, without its frame indices."""
    v = view.nodes[i]
    kind = _kind(view, i, param_ids)
    local = view.local(i) if v.parents else ()
    locals_ = [
        {
            "parent": view.pos(p),
            "slot": slot,
            "value": _fmt(d, precision),
            "text": f"{_d(view.name(i), view.name(view.pos(p)))} = {_fmt(d, precision)}",
        }
        for slot, (p, d) in enumerate(zip(v.parents, local))
    ]
    # d root / d node i, one term per use: what each path into this node brings back.
    terms = [
        {
            "consumer": j,
            "text": f"经 {view.name(j)}:{_num(grads[j], precision)} × {_num(view.local(j)[slot], precision)} = "
                    f"{_fmt(view.local(j)[slot] * grads[j], precision)}",
        }
        for j, slot in view.uses[i]
    ]
    return {
        "id": view.node_id(i),
        "name": view.name(i),
        "label": v.label or "",
        "op": v.op or "",
        "symbol": op_symbol(v) if v.op else "",
        "opText": _op_text(v.op) if v.op else "",
        "kind": kind,
        "kindText": KIND_TEXT[kind],
        "data": _fmt(v.data, precision),
        "grad": _fmt(grads[i], precision),
        "parents": [view.pos(p) for p in v.parents],
        "uses": [[j, slot] for j, slot in view.uses[i]],
        "locals": locals_,
        "terms": terms,
        "forward": forward_line(view, i, precision),
        "backward": backward_line(view, i, grads, precision),
    }


def _edge_entries(view: GraphView, nodes: list[dict], grads: list, data_frame: list[int],
                  grad_frame: list[int], precision: int | None) -> list[dict]:
    """The book-style arrows: one per (consumer, slot), one to the branch point of each value
    used more than once (``t<i>``), then the output's arrow."""
    edges = []
    for j, v in enumerate(view.nodes):
        for slot, (p, d) in enumerate(zip(v.parents, view.local(j) if v.parents else ())):
            i = view.pos(p)
            edges.append(
                {
                    "id": f"e{j}_{slot}",
                    "parent": i,
                    "consumer": j,
                    "slot": slot,
                    "data": nodes[i]["data"],
                    "grad": _fmt(d * grads[j], precision),
                    "dataFrame": data_frame[i],
                    "gradFrame": grad_frame[i],
                }
            )
    for i in range(len(view)):
        if len(view.uses[i]) > 1:  # the arrow to the branch point of a value used twice: its summed gradient
            edges.append(
                {
                    "id": f"t{i}",
                    "parent": i,
                    "consumer": None,
                    "slot": None,
                    "data": nodes[i]["data"],
                    "grad": nodes[i]["grad"],
                    "dataFrame": data_frame[i],
                    "gradFrame": grad_frame[i],
                }
            )
    last = len(view) - 1
    edges.append(
        {
            "id": "e_out",
            "parent": last,
            "consumer": None,
            "slot": None,
            "data": nodes[last]["data"],
            "grad": nodes[last]["grad"],
            "dataFrame": data_frame[last],
            "gradFrame": grad_frame[last],
        }
    )
    return edges


def page_data(
    root: Value | GraphView,
    params: Iterable[Value] = (),
    precision: int | None = 6,
    max_nodes: int | None = DEFAULT_MAX_NODES,
) -> dict:
    """Everything the page's script needs, as plain JSON-ready data.

    ``nodes[i]`` follows `GraphView` order (ids ``n0, n1, ...``); numbers are
    the texts the pictures show. ``frames`` are `viz.steps.frames` (forward,
    then backward); ``dataFrame[i]`` / ``gradFrame[i]`` is the first frame at
    which node i's value / gradient is known (frame ``2n`` is the finished
    graph). ``edges`` are the book-style arrows: the value on arrow i -> j
    appears with node i's value and the gradient under it at node i's
    backward frame, when d root / d node i is computed.
    """
    view = root if isinstance(root, GraphView) else GraphView(root, max_nodes)
    grads = view.gradients()
    param_ids = {id(p) for p in params}
    all_frames = step_frames(view.root, precision, max_nodes=None)  # the same order as `view`
    data_frame, grad_frame = _first_known_frames(all_frames, len(view))
    paths = _path_counts(view)
    nodes = []
    for i in range(len(view)):
        entry = _node_entry(view, i, grads, param_ids, precision)
        entry.update(paths=str(paths[i]), dataFrame=data_frame[i], gradFrame=grad_frame[i])
        nodes.append(entry)
    edges = _edge_entries(view, nodes, grads, data_frame, grad_frame, precision)
    frames = [
        {"phase": f.phase, "step": f.step, "node": f.position, "text": f.text, "ms": reading_milliseconds(f.text)}
        for f in all_frames
    ]
    return {"output": len(view) - 1, "nodes": nodes, "edges": edges, "frames": frames,
            "colors": dict(COLORS), "gradColor": GRAD_COLOR}


def _full_texts(data: dict) -> _Texts:
    """What the finished graph shows: every value and gradient (the page hides what is not known yet)."""
    nodes = data["nodes"]
    edge_grads: dict = {}
    for e in data["edges"]:
        if not e["id"].startswith("t"):  # a branch point's arrow shows the node's own gradient
            edge_grads[(e["consumer"], e["slot"])] = e["grad"]
    return _Texts([v["data"] for v in nodes], [v["grad"] for v in nodes], edge_grads, set())


_SVG_GROUP = re.compile(r'<g id="(?:node|edge)\d+" class="(node|edge)">\s*<title>([^<]*)</title>')


def _svg_with_ids(svg: str, style: str) -> str:
    """Inline-ready SVG: no XML prologue, no namespace URLs, stable ids from the DOT names.

    Graphviz numbers its groups ``node1, edge1, ...`` in drawing order; we name
    them after the DOT node names instead: ``node-n3``, ``book-e4_1`` for
    nodes and ``node-n0--n2_op`` (tail--head) for edges, so the page's script
    finds each Value's picture whatever the layout.
    """
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r'\s+xmlns(?::xlink)?="[^"]*"', "", svg, count=2)
    seen: dict[str, int] = {}

    def name(match) -> str:
        kind, title = match.group(1), html.unescape(match.group(2))
        # ports are left out: the forward arrow n0 -> e2_0:f:w and the backward arrow under it,
        # n0 -> e2_0:b:w, are both titled n0->e2_0:w and become book-n0--e2_0 and book-n0--e2_0-2
        key = f"{style}-{'--'.join(end.split(':')[0] for end in title.split('->'))}"
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:  # x * x draws two arrows between the same nodes
            key = f"{key}-{seen[key]}"
        return f'<g id="{html.escape(key)}" class="{kind}">\n<title>{match.group(2)}</title>'

    svg = svg.replace('<g id="graph0" class="graph"', f'<g id="{style}-graph" class="graph"', 1)
    return _SVG_GROUP.sub(name, svg)


def _script_safe(text: str) -> str:
    """JSON or JS that cannot end its <script> element early."""
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{css}
</style></head>
<body data-style="{style}">
<header>
  <h1>{title}</h1>
  <p class="hint">点击任意节点,看它的数值和链式法则;播放或单步走完前向与反向传播。键盘:← → 单步,空格 播放/暂停。</p>
</header>
<div class="toolbar">
  <div class="group" role="group" aria-label="画法">
    <button id="style-node" class="seg">节点画法</button><button id="style-book" class="seg">书的画法</button>
  </div>
  <div class="group">
    <button id="btn-forward" title="从前向传播的第一步开始">前向传播</button>
    <button id="btn-backward" title="从反向传播的第一步开始">反向传播</button>
  </div>
  <div class="group">
    <button id="btn-prev" title="上一步 (←)">◀ 上一步</button>
    <button id="btn-play" title="播放 / 暂停 (空格)">▶ 播放</button>
    <button id="btn-next" title="下一步 (→)">下一步 ▶</button>
    <button id="btn-end" title="跳到结束:显示全部数值">全部 ▶▶</button>
    <label>速度 <select id="speed">
      <option value="0.5">0.5×</option><option value="1" selected>1×</option>
      <option value="2">2×</option><option value="4">4×</option></select></label>
  </div>
  <div class="group search">
    <input id="search" type="search" list="labels" placeholder="按名字查找节点" autocomplete="off">
    <datalist id="labels"></datalist>
    <button id="search-go">查找</button>
  </div>
  <div class="group">
    <button id="zoom-in" title="放大">＋</button><button id="zoom-out" title="缩小">－</button>
    <button id="zoom-fit" title="整张图">适应</button>
  </div>
</div>
<div class="timeline"><input id="timeline" type="range" min="0" max="{frames}" value="{frames}">
<span id="step-label"></span></div>
<p id="caption" class="caption"></p>
<main>
  <div id="stage">
    <div class="canvas" id="graph-node" data-style="node">
{svg_node}
    </div>
    <div class="canvas" id="graph-book" data-style="book">
{svg_book}
    </div>
    <p id="search-msg" class="toast" role="status"></p>
  </div>
  <aside id="panel" aria-live="polite"></aside>
</main>
<script type="application/json" id="mgc-data">{data}</script>
<script>
{js}
</script>
</body></html>
"""


def _scoped_view(root: Value, boxes: bool | None) -> GraphView | None:
    """The view for the page of boxes, or None when the page of single nodes is wanted."""
    if not isinstance(root, Value):
        raise TypeError(f"expected a Value as the root of the graph, got {type(root).__name__}: {root!r}")
    n, scoped = _count(root, MAX_SCOPED_NODES)  # stops counting just past the limit
    if boxes is None and n <= DEFAULT_MAX_NODES:
        return None
    if not scoped:
        if boxes:
            raise ValueError("boxes=True 需要由模块搭建的图,这个图没有作用域 "
                             "(boxes=True needs a graph built by modules; this one has no scopes)")
        return None  # a hand-built graph: the page of nodes, which refuses it if it is too large
    check_scoped_size(n)
    return GraphView(root, None)


def _node_page_view(root: Value, max_nodes: int | None) -> GraphView:
    """The view for the page of single nodes, refused past `max_nodes` with what works for `explore`."""
    try:
        return GraphView(root, max_nodes)
    except GraphTooLargeError:
        raise GraphTooLargeError(
            f"这个图有超过 max_nodes={max_nodes} 个节点,而且是手工搭建的(没有作用域),探索页面只能一个个节点地画它。"
            "在 with scope(\"名字\"): 中搭建它,探索页面就会画成可以打开的方框;或用 draw_graph(root, focus=v, "
            "radius=2) 只画一个 Value 附近的节点;确实要看整张图,请传入 max_nodes=None。 / "
            f"The graph has more than max_nodes={max_nodes} Values and was built by hand (no scopes), so the page "
            "can only draw it node by node. Build it inside with scope(\"name\"): blocks and the page draws boxes "
            "you can open; or draw the neighbourhood of one Value with draw_graph(root, focus=v, radius=2); or "
            "pass max_nodes=None to see it whole.") from None


class Explorer:
    """An interactive page for one graph: shows inline in Jupyter, ``.save(path)`` writes it.

    ``.html`` is the whole self-contained page (no network, no third-party code).
    """

    def __init__(self, page: str, title: str, height: int = 680) -> None:
        self.html = page
        self.title = title
        self.height = height

    def save(self, path: str | Path) -> Path:
        """Write the page to `path` (UTF-8) and return the path; open it in any browser, offline."""
        path = Path(path)
        if path.is_dir():
            raise ValueError(f"expected a file name for the page, got the directory {str(path)!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.html, encoding="utf-8")
        return path

    def _repr_html_(self) -> str:
        # An iframe keeps the page's ids, styles and keys apart from the notebook's.
        return (
            f'<iframe srcdoc="{html.escape(self.html, quote=True)}" title="{html.escape(self.title)}" '
            f'style="width:100%;height:{self.height}px;border:1px solid #ddd;border-radius:6px"></iframe>'
        )

    def __repr__(self) -> str:
        return f"Explorer({self.title!r}, {len(self.html)} characters)"


def explore(
    root: Value,
    style: str = "node",
    params: Iterable[Value] = (),
    precision: int | None = 6,
    max_nodes: int | None = DEFAULT_MAX_NODES,
    title: str | None = None,
    rankdir: str = "LR",
    boxes: bool | None = None,
) -> Explorer:
    """An offline HTML page to explore the graph of `root`; returns an `Explorer`.

    A graph built by modules with more than `DEFAULT_MAX_NODES` (400) nodes,
    up to 200,000, gets the page of boxes (`explore_scoped`): it opens at the
    top level, one box per module call, and opens a box in place when it is
    clicked. `boxes=True` asks for that page for a smaller graph built by
    modules, `boxes=False` for the page of single nodes.

    Both styles are drawn into the page (`style` is the one shown first), so
    the style switch needs no server. Gradients are computed from each
    operation's local derivative, as in `explain` and `frames` (no ``.grad``
    is read or changed).

    Args:
        style: ``"node"`` or ``"book"``, the picture shown when the page opens.
        params: leaves to colour as parameters (node style).
        precision: significant digits for floats (None = full repr); Fractions stay exact. The page of
            boxes stores every number as float64 and shows 6 significant digits; it has one style.
        max_nodes: refuse graphs with more Values (GraphTooLargeError); None = no limit.
        title: the page title (default: 探索计算图:<output name>).
        boxes: None (choose by size), True (boxes page; the graph must be built by modules) or False.

    Raises GraphvizNotFoundError (with install instructions) when Graphviz is missing.
    """
    if style not in STYLES:
        raise ValueError(f"style must be 'node' or 'book', got {style!r}")
    if boxes not in (None, True, False):
        raise TypeError(f"boxes must be None, True or False, got {type(boxes).__name__}: {boxes!r}")
    if boxes is not False:
        scoped = _scoped_view(root, boxes)
        if scoped is not None:
            name = scoped.name(len(scoped) - 1)
            page_title = title if title is not None else f"探索计算图:{name}"
            return Explorer(scoped_page(scoped, page_title), page_title)
    view = _node_page_view(root, max_nodes)
    params = list(params)
    data = page_data(view, params, precision)
    texts = _full_texts(data)
    svgs = {}
    for s in STYLES:
        graph = _draw(view, texts, s, rankdir, "svg", params)
        svgs[s] = _svg_with_ids(pipe(graph, "svg").decode("utf-8"), s)
    if title is None:
        title = f"探索计算图:{view.name(len(view) - 1)}"
    page = _PAGE.format(
        title=html.escape(title),
        style=style,
        css=_asset("explore.css"),
        js=_script_safe(_asset("explore.js")),
        data=json.dumps(data, ensure_ascii=False).replace("<", "\\u003c"),  # no tag can start inside
        frames=len(data["frames"]),
        svg_node=svgs["node"],
        svg_book=svgs["book"],
    )
    return Explorer(page, title)
