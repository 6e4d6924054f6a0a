"""The explorer page of a graph built by modules, of any size up to `MAX_SCOPED_NODES` nodes.

The page opens at the top level (one box per module call, folded ``×N``) and
opens a box in place when it is clicked, down to single nodes. What it holds:

* the numbers as numbers: every node's data and gradient and every local
  derivative as little-endian float64, parent lists and frame indices as
  int32, all gzip-compressed and base64-encoded into the page (decompressed
  by the browser's own `DecompressionStream`, so nothing is fetched);
* names, boxes and calls as compressed JSON; the chain-rule text is written
  by the page's script from these numbers;
* frames as each node's first-known frame index (`frame_indices`): no list
  of frames;
* one layout per distinct level structure (`explore_levels`, `explore_layout`),
  reused for every call with that structure.
"""

from __future__ import annotations

import base64
import gzip
import html
import json
import math
from array import array
from importlib import resources
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .explore_layout import SIZES, layouts
from .explore_levels import Levels, levels
from .graph import GraphView
from .labels import op_symbol
from .norm_colours import PALETTE, norm_scale
from .scope_tree import ScopeTree

__all__ = ["MAX_SCOPED_NODES", "frame_indices", "box_norms", "scoped_page_data", "scoped_page"]

MAX_SCOPED_NODES = 200_000


def frame_indices(view: GraphView) -> Tuple[List[int], List[int], int]:
    """(data frame, grad frame, m) of every node, in linear time.

    The forward pass computes the m operations in graph order (frames 1..m;
    a leaf is known at frame 0); the backward pass visits them in reverse
    (frames m+1..2m, the output first). A leaf's gradient is complete when
    its last user has passed its share back: the largest frame of its users.
    """
    n = len(view)
    data = [0] * n
    grad = [0] * n
    m = 0
    for i, v in enumerate(view.nodes):
        if v.parents:
            m += 1
            data[i] = m
    for i in range(n - 1, -1, -1):
        if data[i]:
            grad[i] = 2 * m + 1 - data[i]
        else:
            grad[i] = max((grad[j] for j, _ in view.uses[i]), default=2 * m)
    return data, grad, m


def box_norms(lv: Levels, grads: Sequence[float]) -> List[Tuple[float, int]]:
    """(norm, what) per box: ‖∂root/∂p‖₂ over the parameters inside it (what = 0), or, for a box
    without parameters, the norm of the gradients of its calls' outputs (what = 1)."""
    inside: List[List[int]] = [list(ps) for ps in lv.box_params]
    for b in range(len(lv.boxes) - 1, -1, -1):  # children come after their parent
        parent = lv.boxes[b][2]
        if parent >= 0:
            inside[parent].extend(inside[b])
    outputs: Dict[int, List[int]] = {}
    for box in lv.tree.boxes():
        outputs[lv.box_of_scope[id(box)]] = box.outputs
    view = lv.view
    for c, (b, _, _) in enumerate(lv.calls):
        if b not in outputs:  # a slice: its one output
            nodes = set(lv.nodes_of[c])
            outputs[b] = [i for i in lv.nodes_of[c] if i == len(view) - 1
                          or any(j not in nodes for j, _ in view.uses[i])]
    norms = []
    for b in range(len(lv.boxes)):
        if inside[b]:
            norms.append((math.sqrt(sum(grads[p] ** 2 for p in set(inside[b]))), 0))
        else:
            norms.append((math.sqrt(sum(grads[i] ** 2 for i in outputs.get(b, []))), 1))
    return norms


def _kinds(view: GraphView, tree: ScopeTree) -> bytes:
    """Per node: 0 input, 1 parameter, 2 constant, 3 intermediate, 4 output."""
    out = bytearray(len(view))
    for i, v in enumerate(view.nodes):
        if i == len(view) - 1:
            out[i] = 4
        elif i in tree.param_names:
            out[i] = 1
        elif v.is_leaf:
            out[i] = 2 if getattr(v, "_scope", None) is not None else 0
        else:
            out[i] = 3
    return bytes(out)


class _Packer:
    """Typed arrays into one buffer (float64 first, so every array is aligned), and their index."""

    def __init__(self) -> None:
        self.parts: List[Tuple[str, str, array]] = []

    def add(self, name: str, code: str, values: Any) -> None:
        self.parts.append((name, code, array(code, values)))

    def pack(self) -> Tuple[bytes, List[list]]:
        order = sorted(self.parts, key=lambda p: -p[2].itemsize)
        index, chunks, at = [], [], 0
        for name, code, values in order:
            raw = values.tobytes()  # machine order: little-endian on every platform we run on
            index.append([name, {"d": "f64", "i": "i32", "B": "u8"}[code], at, len(values)])
            chunks.append(raw)
            at += len(raw)
        return b"".join(chunks), index


def _compressed(data: bytes) -> str:
    return base64.b64encode(gzip.compress(data, compresslevel=6, mtime=0)).decode("ascii")


def _value(x: Any) -> float:
    return float(x.data if hasattr(x, "data") else x)


def scoped_page_data(view: GraphView) -> Tuple[str, str]:
    """(compressed JSON, compressed numbers) of the page for the scoped graph `view`."""
    from .explore import _op_text  # the words of the page of nodes (imported here: explore imports this module)

    tree = view.tree
    assert tree is not None
    lv = levels(view, tree)
    grads = [_value(g) for g in view.gradients()]
    data_frame, grad_frame, m = frame_indices(view)
    symbols = {v.op: op_symbol(v) for v in view.nodes if v.op}
    ops = sorted(symbols)
    op_code = {op: k + 1 for k, op in enumerate(ops)}
    packer = _Packer()
    packer.add("data", "d", (_value(v.data) for v in view.nodes))
    packer.add("grad", "d", grads)
    parents: List[int] = []
    local: List[float] = []
    for j, v in enumerate(view.nodes):
        if v.parents:
            parents.extend(view.pos(p) for p in v.parents)
            local.extend(_value(d) for d in view.local(j))
    packer.add("local", "d", local)
    packer.add("parents", "i", parents)
    packer.add("nparents", "B", (len(v.parents) for v in view.nodes))
    packer.add("op", "B", (op_code.get(v.op, 0) for v in view.nodes))
    packer.add("kind", "B", _kinds(view, tree))
    packer.add("dataFrame", "i", data_frame)
    packer.add("gradFrame", "i", grad_frame)
    packer.add("home", "i", lv.home)
    packer.add("callBox", "i", (c[0] for c in lv.calls))
    packer.add("callNumber", "i", (c[1] for c in lv.calls))
    packer.add("callParent", "i", (c[2] for c in lv.calls))
    packer.add("callSize", "i", (len(nodes) for nodes in lv.nodes_of))
    packer.add("callFwd", "i", (max((data_frame[i] for i in nodes), default=0) for nodes in lv.nodes_of))
    packer.add("callBwd", "i", (max((grad_frame[i] for i in nodes), default=0) for nodes in lv.nodes_of))
    packer.add("levelStructure", "i", lv.call_structure)
    packer.add("levelStart", "i", _starts(lv.call_items))
    packer.add("levelItems", "i", (ref for items in lv.call_items for ref in items))
    norms = box_norms(lv, grads)
    packer.add("boxNorm", "d", (norm for norm, _ in norms))  # a number, even inf or nan (JSON has neither)
    numbers, index = packer.pack()
    meta = {
        "arrays": index,
        "n": len(view),
        "m": m,
        "ops": [""] + ops,
        "symbols": [""] + [symbols[op] for op in ops],
        "opTexts": [""] + [_op_text(op) for op in ops],
        "names": tree.names,
        "boxes": [[t, k, p, d, norms[b][1]] for b, (t, k, p, d) in enumerate(lv.boxes)],
        "structures": [{"kinds": list(s[0]), "arrows": [list(a) for a in s[2]], "layout": lay}
                       for s, lay in zip(lv.structures, layouts(lv.structures))],
        "sizes": {str(k): [w * 72, h * 72] for k, (w, h) in SIZES.items()},
        "palette": [list(rgb) for rgb in PALETTE],  # the colours of box norms: the same rule as draw_graph's
        "normScale": list(norm_scale(norm for norm, _ in norms)),
    }
    return _compressed(json.dumps(meta, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")), \
        _compressed(numbers)


def _starts(lists: List[List[int]]) -> List[int]:
    out = [0]
    for items in lists:
        out.append(out[-1] + len(items))
    return out


def _asset(name: str) -> str:
    """A file shipped beside this module (the page's script and style), as text."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{css}
</style></head>
<body class="scoped">
<header>
  <h1>{title}</h1>
  <p class="hint">{n} 个节点。点击方框把它打开,点击节点看它的数值和链式法则;上方的路径可以回到上一层。
  前向/反向按钮在当前这一层逐步播放。</p>
</header>
<div class="toolbar">
  <nav id="crumbs" aria-label="当前位置"></nav>
  <label id="chooser-label" hidden>第几次调用 <select id="chooser"></select></label>
  <div class="group">
    <button id="btn-forward" title="从前向传播的第一步开始">前向传播</button>
    <button id="btn-backward" title="从反向传播的第一步开始">反向传播</button>
    <button id="btn-prev" title="上一步 (←)">◀ 上一步</button>
    <button id="btn-play" title="播放 / 暂停">▶ 播放</button>
    <button id="btn-next" title="下一步 (→)">下一步 ▶</button>
    <button id="btn-end" title="显示全部数值">全部 ▶▶</button>
  </div>
  <div class="group search">
    <input id="search" type="search" placeholder="按名字查找节点" autocomplete="off">
    <button id="search-go">查找</button>
  </div>
  <div class="group">
    <button id="zoom-in" title="放大">＋</button><button id="zoom-out" title="缩小">－</button>
    <button id="zoom-fit" title="整层">适应</button>
  </div>
</div>
<p id="caption" class="caption"></p>
<main>
  <div id="stage"><div id="scroller"><svg id="level" xmlns="http://www.w3.org/2000/svg"></svg></div>
    <div id="legend"></div>
    <p id="search-msg" class="toast" role="status"></p></div>
  <aside id="panel" aria-live="polite"></aside>
</main>
<script type="application/octet-stream" id="mgc-meta">{meta}</script>
<script type="application/octet-stream" id="mgc-numbers">{numbers}</script>
<script>
{js}
</script>
</body></html>
"""


def scoped_page(view: GraphView, title: str) -> str:
    """The whole HTML page (see the module docstring)."""
    meta, numbers = scoped_page_data(view)
    return _PAGE.format(title=html.escape(title), n=f"{len(view):,}", css=_asset("explore.css") +
                        _asset("explore_scoped.css"), meta=meta, numbers=numbers,
                        js=_asset("explore_scoped.js").replace("</", "<\\/"))


def check_scoped_size(n: int, limit: Optional[int] = MAX_SCOPED_NODES) -> None:
    """ValueError (Chinese first) for a graph over the page's limit."""
    if limit is not None and n > limit:
        raise ValueError(f"图有 {n:,} 个节点,探索页面最多 {limit:,} 个;可以用 draw_graph(root, depth=1) 或 "
                         f"focus= 只画一部分 (the graph has {n:,} nodes; the explorer page takes at most {limit:,}; "
                         f"draw it with draw_graph(root, depth=1), or one part with focus=)")
