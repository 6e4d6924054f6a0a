"""Draw a graph by its scopes: module calls as boxes (`depth=`), one part of it (`focus=`).

What is drawn is a list of *items*: a closed box (a scope folded over its
calls, ``layers.1.neurons ×100``), a single node, a node that stands for the
same node of every call of a folded box that is open (``relu#1 ×100``), one
output of a large call without sub-scopes (its nodes that feed that output
alone), or a stub (a value from outside the focus, or a user outside it).
Boxes that are open are Graphviz clusters. Between two items there is at most
one arrow, labelled with the number of values it carries when more than one.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set, Tuple

import graphviz

from .focus import Selection, call_nodes
from .graph import GraphTooLargeError, GraphView
from .labels import format_number, html_text, op_symbol
from .norm_colours import is_dark, norm_colour, norm_scale
from .scope_tree import Call, Scope, ScopeTree

__all__ = ["Part", "Picture", "plan", "draw_plan", "BIG_CALL"]

BIG_CALL = 400  # a call with more nodes than this and no sub-scopes opens one output at a time
CROWDED = 12  # an open folded box with more nodes of its own than this draws one item per op
MODULE_FILL = "#ede9fe"
FUNCTION_FILL = "#ffedd5"
STUB_COLOR = "#6b7280"
HIGHLIGHT = "#e74c3c"
NORM_PARAMS = "‖∂根/∂参数‖₂"
NORM_OUTPUTS = "‖∂根/∂输出‖₂"

Key = Tuple[Any, ...]


class Part:
    """Some calls of one box (all of them, or those inside the calls of the part around it)."""

    def __init__(self, tree: ScopeTree, box: Scope, calls: List[Call], level: int) -> None:
        self.tree = tree
        self.box = box
        self.calls = calls
        self.level = level
        whole = len(calls) == len(box.calls)
        self.nodes: Set[int] = set(box.nodes) if whole else {i for c in calls for i in call_nodes(tree, c)}
        self.key: Key = ("box", id(box), tuple(id(c) for c in calls) if not whole else ())

    def children(self) -> List["Part"]:
        mine = {id(c) for c in self.calls}
        parts = []
        for child in self.box.children:
            calls = [c for c in child.calls if c.parent is not None and id(c.parent) in mine]
            if calls:
                parts.append(Part(self.tree, child, calls, self.level + 1))
        return parts

    @property
    def title(self) -> str:
        if len(self.calls) == 1:
            return self.calls[0].name if len(self.box.calls) > 1 else self.box.title
        return f"{self.box.title} ×{len(self.calls)}"

    def sizes(self) -> List[int]:
        return [len(c.nodes) for c in self.calls]


class Picture:
    """The items to draw, where each sits (in which open box) and the arrows between them."""

    def __init__(self, view: GraphView, tree: Optional[ScopeTree], selection: Selection) -> None:
        self.view = view
        self.tree = tree
        self.selection = selection
        self.item_of: Dict[int, Key] = {}  # node position -> the item drawing it
        self.items: Dict[Key, Any] = {}  # key -> Part, node position, (part, local name, [positions]), ...
        self.inside: Dict[Key, Optional[Key]] = {}  # item or cluster key -> the open box (cluster) holding it
        self.clusters: Dict[Key, Part] = {}
        self.edges: Dict[Tuple[Key, Key], Set[int]] = {}
        self._ids: Dict[Key, str] = {}

    def ident(self, key: Key) -> str:
        """The DOT name of an item or cluster: ``i0, i1, ...`` in the order first asked for."""
        if key not in self._ids:
            self._ids[key] = f"i{len(self._ids)}"
        return self._ids[key]

    def add(self, key: Key, what: Any, container: Optional[Key], positions: List[int]) -> None:
        if key not in self.items:
            self.items[key] = what
            self.inside[key] = container
        for i in positions:
            self.item_of[i] = key

    def count(self) -> int:
        return len(self.items)


def plan(view: GraphView, tree: Optional[ScopeTree], selection: Selection, depth: Optional[int]) -> Picture:
    """Decide the items of the picture: boxes down to `depth` (None: every node), then the arrows."""
    pic = Picture(view, tree, selection)
    frame: Optional[Key] = None
    if selection.call is not None:
        assert tree is not None
        part = Part(tree, selection.box, [selection.call], 0)  # type: ignore[arg-type]
        frame = ("frame",)
        pic.clusters[frame] = part
        pic.inside[frame] = None
        _open(pic, part, depth, frame, 0)
    elif tree is not None and selection.around is None:
        parts = [Part(tree, box, box.calls, 1) for box in tree.top]
        for part in parts:
            _place(pic, part, depth, None)
    for i in sorted(selection.nodes):
        if i not in pic.item_of:
            pic.add(("node", i), i, frame, [i])
    _arrows(pic)
    return pic


def _place(pic: Picture, part: Part, depth: Optional[int], container: Optional[Key]) -> None:
    """Put `part` in the picture: closed at `depth`, otherwise open with its contents."""
    if depth is not None and part.level >= depth:
        pic.add(part.key, part, container, sorted(part.nodes & pic.selection.nodes))
        return
    pic.clusters[part.key] = part
    pic.inside[part.key] = container
    _open(pic, part, depth, part.key, part.level)


def _open(pic: Picture, part: Part, depth: Optional[int], key: Key, level: int) -> None:
    children = part.children()
    for child in children:
        child.level = level + 1
        _place(pic, child, depth, key)
    inner = set().union(*(c.nodes for c in children)) if children else set()
    direct = sorted((part.nodes - inner) & pic.selection.nodes)
    if not children and max(part.sizes()) > BIG_CALL:
        _slices(pic, part, direct, key)
        return
    folded = len(part.calls) > 1
    tree = pic.tree
    crowded = folded and len(direct) > CROWDED
    for i in direct:
        if folded and tree is not None and i not in tree.param_names:
            local = tree.names[i].rpartition(" · ")[2]
            if crowded:  # many nodes made right in the call: one item per op (16 additions: one item)
                local = local.partition("#")[0]
            item = ("same", id(part), local)
            if item not in pic.items:
                pic.add(item, (part, local, []), key, [])
            pic.items[item][2].append(i)
            pic.item_of[i] = item
        else:
            pic.add(("node", i), i, key, [i])


def _slices(pic: Picture, part: Part, direct: List[int], key: Key) -> None:
    """A large call without sub-scopes: one item per output (the nodes only it depends on), one for the rest."""
    view = pic.view
    inside = set(direct)
    feeds: Dict[int, Set[int]] = {}
    outputs: Dict[int, int] = {}  # output position -> its index within its call
    for call in part.calls:
        for k, o in enumerate(call.outputs):
            outputs[o] = k
    for i in sorted(inside, reverse=True):  # users before the nodes they use
        reach = {outputs[i]} if i in outputs else set()
        for j, _ in view.uses[i]:
            if j in inside:
                reach |= feeds.get(j, set())
        feeds[i] = reach
    for i in direct:
        reach = feeds[i]
        item: Key = ("slice", id(part), next(iter(reach))) if len(reach) == 1 else ("slice", id(part), None)
        if item not in pic.items:
            pic.add(item, (part, item[2], []), key, [])
        pic.items[item][2].append(i)
        pic.item_of[i] = item


def _arrows(pic: Picture) -> None:
    """One arrow per pair of items, carrying the set of values that flow along it; stubs for the outside."""
    view = pic.view
    shown = pic.selection.nodes
    # In one call of a folded box, the parameters' other users are the other calls: not this call's data flow.
    shared = pic.tree.param_names if pic.tree is not None and pic.selection.call is not None else {}
    for j in sorted(shown):
        head = pic.item_of[j]
        for p in view.nodes[j].parents:
            i = view.pos(p)
            tail = pic.item_of[i] if i in shown else _stub(pic, i, "in")
            if tail != head:
                pic.edges.setdefault((tail, head), set()).add(i)
        if j in shared:
            continue
        for k, _ in view.uses[j]:
            if k not in shown:
                pic.edges.setdefault((head, _stub(pic, k, "out")), set()).add(j)


def _stub(pic: Picture, i: int, way: str) -> Key:
    """A value from outside the selection (or a user outside it), drawn once per outside call."""
    tree = pic.tree
    call = None
    if tree is not None and tree.place[i] is not None:
        call = _innermost_call(tree, i)
        level = pic.selection.box.depth if pic.selection.box is not None else 1
        while call.parent is not None and call.scope.depth > level:
            call = call.parent  # named after the outside call beside the focus: layers.0[2], not its neurons
    key: Key = ("stub", way, id(call)) if call is not None else ("stub", way, i)
    if key not in pic.items:
        pic.items[key] = (way, call.name if call is not None else pic.view.name(i))
        pic.inside[key] = None
    return key


def _innermost_call(tree: ScopeTree, i: int) -> Call:
    box = tree.place[i]
    assert box is not None
    for call in box.calls:
        if i in call.own or i in call.nodes:
            return call
    return box.calls[0]


# ------------------------------------------------------------------ drawing
def draw_plan(pic: Picture, style: str, g: graphviz.Digraph, show_data: bool, show_grad: bool,
              precision: Optional[int], max_nodes: Optional[int], frame: Any = None,
              hot: Optional[Set[Key]] = None) -> graphviz.Digraph:
    """Draw the planned items into `g` (made by render's `_new_digraph`); a step-through's `frame` says what is
    known and which item is being processed."""
    if max_nodes is not None and pic.count() > max_nodes:
        raise GraphTooLargeError(
            f"这幅图有 {pic.count()} 个条目,超过 max_nodes={max_nodes}:请用更小的 depth=,或用 focus= 只画一部分。"
            f" / The picture has {pic.count()} items, more than max_nodes={max_nodes}: use a smaller depth=, "
            "or focus= on one part.")
    grads = pic.view.gradients()
    texts = _Writer(pic, style, show_data, show_grad, precision, grads)
    texts.scale = norm_scale(texts.norm_value(part, all_known=True) for part in pic.items.values()
                             if isinstance(part, Part))
    texts.hot = set(hot or ())  # the items holding `highlight=` Values
    if frame is not None:
        texts.known_data, texts.known_grads = frame.data, frame.grads
        texts.hot = {pic.item_of[frame.position]}
    bodies: Dict[Optional[Key], List[str]] = {}
    for key in pic.items:
        bodies.setdefault(pic.inside[key], []).append(texts.item(key))
    _emit_clusters(g, pic, texts, bodies, None)
    for (tail, head), values in pic.edges.items():
        g.edge(pic.ident(tail), pic.ident(head), **texts.arrow(values))
    if any(isinstance(what, Part) for what in pic.items.values()) or pic.clusters:
        g.node("legend", label=_legend(texts.scale if show_grad else None), shape="plaintext", fontsize="10")
    return g


def _emit_clusters(g: Any, pic: Picture, texts: "_Writer", bodies: Dict, container: Optional[Key]) -> None:
    for line in bodies.get(container, []):
        g.body.append(line)
    for key, part in pic.clusters.items():
        if pic.inside[key] == container:
            with g.subgraph(name=f"cluster_{pic.ident(key)}") as sub:
                sub.attr(label=texts.cluster_label(part), labeljust="l", style="rounded,filled",
                         fillcolor=_fill(part.box, light=True), color="#7c3aed" if part.box.module else "#ea580c",
                         fontsize="11")
                _emit_clusters(sub, pic, texts, bodies, key)


def _fill(box: Scope, light: bool = False) -> str:
    if box.module is not None:
        return "#f5f3ff" if light else MODULE_FILL
    return "#fff7ed" if light else FUNCTION_FILL


def _legend(scale: Optional[Tuple[int, int]]) -> str:
    rows = [
        f'<TR><TD BGCOLOR="{MODULE_FILL}">模块调用(module call)</TD></TR>',
        f'<TR><TD BGCOLOR="{FUNCTION_FILL}">函数或命名作用域(function, scope)</TD></TR>',
        f"<TR><TD>{html_text(NORM_PARAMS)}:有参数的方框,其参数梯度的 2-范数(各次调用之和,即 .grad)</TD></TR>",
        f"<TR><TD>{html_text(NORM_OUTPUTS)}:无参数的方框,其输出梯度的 2-范数</TD></TR>",
        "<TR><TD>×N:同一模块的 N 次调用折叠为一个方框;箭头上的数字:经过的值的个数</TD></TR>",
    ]
    if scale is not None:
        rows.append(f"<TR><TD>{_colour_bar(scale)}</TD></TR>")
    return f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">{"".join(rows)}</TABLE>>'


def _colour_bar(scale: Tuple[int, int]) -> str:
    """The legend's row for the norm colours: log₁₀ of the norm from `lo` to `hi`, as a bar of cells."""
    lo, hi = scale
    cells = "".join(f'<TD BGCOLOR="{norm_colour(10 ** (lo + (hi - lo) * k / 10), scale)}" WIDTH="14"> </TD>'
                    for k in range(11))
    return (f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1"><TR><TD COLSPAN="13">'
            f"范数的底色 = log₁₀ 梯度范数(越暗越小,越亮越大)</TD></TR><TR><TD>10<SUP>{lo}</SUP></TD>{cells}"
            f"<TD>10<SUP>{hi}</SUP></TD></TR></TABLE>")


class _Writer:
    """The DOT text of items and arrows."""

    def __init__(self, pic: Picture, style: str, show_data: bool, show_grad: bool, precision: Optional[int],
                 grads: List[Any]) -> None:
        self.pic = pic
        self.style = style
        self.show_data = show_data
        self.show_grad = show_grad
        self.precision = precision
        self.grads = grads
        self.known_data: Optional[Sequence[Any]] = None  # a step-through's frame: None marks what is not known
        self.known_grads: Optional[Sequence[Any]] = None
        self.hot: Set[Key] = set()  # the items a step-through is at
        self.scale: Tuple[int, int] = (-1, 0)  # the norm colours' scale (norm_colours.norm_scale)

    def line(self, key: Key, **attrs: str) -> str:
        if key in self.hot:
            attrs.update(color=HIGHLIGHT, penwidth="3")
        return _line(self.pic.ident(key), **attrs)

    def data(self, i: int) -> str:
        """Node i's number, or '?' while a step-through has not computed it yet."""
        known = self.known_data
        return "?" if known is not None and known[i] is None else self.number(self.pic.view.nodes[i].data)

    def grad(self, i: int) -> str:
        known = self.known_grads
        return "?" if known is not None and known[i] is None else self.number(self.grads[i])

    def norm_of(self, positions: List[int]) -> str:
        known = self.known_grads
        if known is not None and any(known[i] is None for i in positions):
            return "?"
        return self.number(_norm(self.grads[i] for i in positions))

    def number(self, x: Any) -> str:
        return format_number(x.data if hasattr(x, "data") else x, self.precision)

    def item(self, key: Key) -> str:
        what = self.pic.items[key]
        if key[0] == "box":
            return self.line(key, label=self.box_label(what), shape="box", style="rounded,filled",
                         fillcolor=_fill(what.box), color="#4c1d95" if what.box.module else "#9a3412")
        if key[0] == "node":
            return self.node(key, what)
        if key[0] == "stub":
            way, name = what
            return self.line(key, label=f"<{html_text(('← ' if way == 'in' else '→ ') + name)}>", shape="plaintext",
                         fontcolor=STUB_COLOR, fontsize="10")
        part, local, positions = what
        if key[0] == "slice":
            title = f"{part.box.title} · 输出 {local}" if local is not None else f"{part.box.title} · 共用的节点"
        else:
            title = local
        times = f" ×{len(part.calls)}" if len(part.calls) > 1 and key[0] == "same" else ""
        count = f"{len(positions)} 个节点" if key[0] == "slice" else ("" if "#" in local else f"{len(positions)} 个")
        rows = [f"<TR><TD><B>{html_text(title + times)}</B></TD></TR>"]
        if count:
            rows.append(f"<TR><TD>{count}</TD></TR>")
        return self.line(key, label=f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0">{"".join(rows)}</TABLE>>',
                     shape="box", style="filled,dashed" if key[0] == "slice" else "filled", fillcolor="#ffffff")

    def node(self, key: Key, i: int) -> str:
        from .render import COLORS, _kind  # render imports this module

        view = self.pic.view
        v = view.nodes[i]
        kind = _kind(view, i, set())
        if self.style == "book":
            if v.is_leaf:
                return self.line(key, label=f"<{html_text(self.short_name(key, i))}>", shape="plaintext",
                                 fontsize="12")
            symbol = op_symbol(v)
            return self.line(key, label=f"<{html_text(symbol)}>", shape="circle", tooltip=view.name(i),
                         fontsize="16" if len(symbol) <= 2 else "10", width="0.45", fixedsize="true"
                         if len(symbol) <= 2 else "false")
        cells = [f"<TD><B>{html_text(self.short_name(key, i))}</B></TD>"]
        if self.show_data:
            cells.append(f"<TD>data {html_text(self.data(i))}</TD>")
        if self.show_grad:
            cells.append(f'<TD><FONT COLOR="#c0392b">grad {html_text(self.grad(i))}</FONT></TD>')
        return self.line(key, label=f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4" '
                                f'BGCOLOR="{COLORS[kind]}"><TR>{"".join(cells)}</TR></TABLE>>', shape="plain")

    def short_name(self, key: Key, i: int) -> str:
        """Node i's name, without the call's name when it sits in that call's open box (the box says it)."""
        name = self.pic.view.name(i)
        container = self.pic.inside.get(key)
        part = self.pic.clusters.get(container) if container is not None else None
        if part is not None and len(part.calls) == 1:
            head, dot, rest = name.partition(" · ")
            if dot and head == part.calls[0].name:
                return rest
        return name

    def box_label(self, part: Part) -> str:
        rows = [f"<TR><TD><B>{html_text(part.title)}</B></TD></TR>",
                f'<TR><TD><FONT POINT-SIZE="10">{html_text(part.box.kind)}</FONT></TD></TR>',
                f"<TR><TD>{html_text(_sizes(part))}</TD></TR>"]
        rows.extend(f"<TR><TD>{html_text(line)}</TD></TR>" for line in self.outputs(part))
        if self.show_grad:
            norm = self.norm_value(part)
            ink = "#ffffff" if is_dark(norm, self.scale) else "#111111"
            rows.append(f'<TR><TD BGCOLOR="{norm_colour(norm, self.scale)}"><FONT COLOR="{ink}">'
                        f"{html_text(self.norm(part))}</FONT></TD></TR>")
        return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{"".join(rows)}</TABLE>>'

    def cluster_label(self, part: Part) -> str:
        line = f"{part.title}  ({part.box.kind}, {_sizes(part)})"
        if self.show_grad:
            line += f"  {self.norm(part)}"
        return f"<{html_text(line)}>"

    def outputs(self, part: Part) -> List[str]:
        """Data and grad of the outputs of the part's first call (at most 3 written out)."""
        outs = part.calls[0].outputs
        lines = []
        prefix = "[0] " if len(part.calls) > 1 else ""
        for i in outs[:3]:
            bits = []
            if self.show_data:
                bits.append(f"data {self.data(i)}")
            if self.show_grad:
                bits.append(f"grad {self.grad(i)}")
            if bits:
                lines.append(prefix + "输出 " + ", ".join(bits))
        if len(outs) > 3:
            lines.append(f"…共 {len(outs)} 个输出")
        return lines

    def norm(self, part: Part) -> str:
        kind, positions = self.norm_positions(part)
        return f"{kind} = {self.norm_of(positions)}"

    def norm_positions(self, part: Part) -> Tuple[str, List[int]]:
        """Which norm a box shows: its parameters' gradients, or (with none) its outputs' gradients."""
        tree = self.pic.tree
        assert tree is not None
        params = [i for i in part.nodes if i in tree.param_names]
        if params:
            return NORM_PARAMS, params
        return NORM_OUTPUTS, [i for c in part.calls for i in c.outputs]

    def norm_value(self, part: Part, all_known: bool = False) -> Optional[float]:
        """The box's norm as a number; None while a step-through has not computed it (unless `all_known`)."""
        _, positions = self.norm_positions(part)
        known = None if all_known else self.known_grads
        if known is not None and any(known[i] is None for i in positions):
            return None
        return _norm(self.grads[i] for i in positions)

    def arrow(self, values: Set[int]) -> Dict[str, str]:
        if len(values) > 1:
            return {"label": str(len(values)), "fontsize": "10"}
        if self.style == "book" and (self.show_data or self.show_grad):
            (i,) = values
            top = self.data(i) if self.show_data else ""
            bottom = self.grad(i) if self.show_grad else ""
            return {"label": f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1"><TR><TD>'
                             f'{html_text(top)}</TD></TR><TR><TD><FONT COLOR="#c0392b">{html_text(bottom)}'
                             f"</FONT></TD></TR></TABLE>>", "fontsize": "10"}
        return {}


def _line(name: str, **attrs: str) -> str:
    """One DOT node statement (as graphviz would write it); HTML-like labels as they are, other values quoted."""
    parts = []
    for attr, value in attrs.items():
        if value.startswith("<") and value.endswith(">"):
            parts.append(f"{attr}={value}")
        else:
            parts.append(f'{attr}="{_quoted(value)}"')
    return f"\t{name} [{' '.join(parts)}]\n"


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _sizes(part: Part) -> str:
    sizes = part.sizes()
    low, high = min(sizes), max(sizes)
    per = f"{low}" if low == high else f"{low}–{high}"
    return f"{per} 个节点" if len(sizes) == 1 else f"每次 {per} 个节点"


def _norm(values: Iterator[Any]) -> float:
    return math.sqrt(sum(float(g.data if hasattr(g, "data") else g) ** 2 for g in values))


def draw_scoped(root: Any, style: str, rankdir: str, show_data: bool, show_grad: bool, max_nodes: Optional[int],
                fmt: str, precision: Optional[int], depth: Any, focus: Any, call: Any,
                radius: Any, highlight: Sequence[Any] = ()) -> graphviz.Digraph:
    """`draw_graph` with `depth=` or `focus=`: check every argument, plan the items, draw them."""
    from .focus import check_depth, select
    from .render import _new_digraph  # render imports this module

    depth = check_depth(depth)
    if not isinstance(root, GraphView) and not hasattr(root, "parents"):
        raise TypeError(f"expected a Value as the root of the graph, got {type(root).__name__}: {root!r}")
    view = root if isinstance(root, GraphView) else GraphView(root, None)
    tree = view.tree
    if depth is not None and tree is None and not hasattr(focus, "parents"):
        raise ValueError("depth= draws scopes as boxes, but this graph was built by hand and has none "
                         "(no node was made inside a Module call, a loss function or `with scope(...)`); "
                         "draw it whole, or focus on a Value: focus=v, radius=2")
    selection = select(view, tree, focus, call, radius)
    for h in highlight:
        if not hasattr(h, "parents") or id(h) not in view.index or view.pos(h) not in selection.nodes:
            raise ValueError(f"highlight must be Values of the drawn part of the graph, got {h!r}")
    pic = plan(view, tree, selection, depth)
    g = _new_digraph(rankdir, fmt, style)
    return draw_plan(pic, style, g, show_data, show_grad, precision, max_nodes,
                     hot={pic.item_of[view.pos(h)] for h in highlight})


def item_frames(view: GraphView, depth: int, precision: Optional[int]) -> List[Any]:
    """Forward then backward frames, one per drawn item (box or node) at `depth`, for `viz.steps.frames`.

    Items are taken in the order the arrows between them allow (the backward pass in reverse); what a
    frame knows is the values (or gradients) of the items done so far. Its `position` is a node of the
    current item.
    """
    from .focus import Selection
    from .steps import Frame

    pic = plan(view, view.tree, Selection(set(range(len(view)))), depth)
    members: Dict[Key, List[int]] = {}
    for i, key in pic.item_of.items():
        members.setdefault(key, []).append(i)
    order = _item_order(pic, members)
    grads = view.gradients()
    out = []
    data: List[Any] = [None] * len(view)
    for step, key in enumerate(order, 1):
        for i in members[key]:
            data[i] = view.nodes[i].data
        out.append(Frame(view, "forward", step, max(members[key]), tuple(data), (None,) * len(view),
                         f"前向 {step}/{len(order)}:计算 {_what(pic, key)}", depth))
    known: List[Any] = [None] * len(view)
    for step, key in enumerate(reversed(order), 1):
        for i in members[key]:
            known[i] = grads[i]
        out.append(Frame(view, "backward", step, max(members[key]), tuple(data), tuple(known),
                         f"反向 {step}/{len(order)}:求 {_what(pic, key)} 的梯度", depth))
    return out


def _item_order(pic: Picture, members: Dict[Key, List[int]]) -> List[Key]:
    """Items so that each comes after the items it reads (Kahn's algorithm; a cycle, possible between
    folded boxes, is broken at the item whose last node comes first)."""
    uses = {key: 0 for key in members}
    after: Dict[Key, List[Key]] = {key: [] for key in members}
    for tail, head in pic.edges:
        if tail in members and head in members:
            uses[head] += 1
            after[tail].append(head)
    order: List[Key] = []
    waiting = set(members)
    while waiting:
        ready = [key for key in waiting if uses[key] == 0] or [min(waiting, key=lambda k: max(members[k]))]
        key = min(ready, key=lambda k: max(members[k]))
        order.append(key)
        waiting.discard(key)
        for nxt in after[key]:
            uses[nxt] -= 1
    return order


def _what(pic: Picture, key: Key) -> str:
    what = pic.items[key]
    if isinstance(what, Part):
        return f"{what.title}({_sizes(what)})"
    if key[0] == "node":
        return pic.view.name(what)
    if key[0] == "slice":
        return f"{what[0].box.title} · 输出 {what[1]}" if what[1] is not None else f"{what[0].box.title} · 共用的节点"
    return f"{what[0].box.title} · {what[1]}"


def draw_item_frame(frame: Any, style: str, rankdir: str, fmt: str, precision: Optional[int]) -> graphviz.Digraph:
    """One frame of `item_frames`, drawn at its depth with the current item highlighted."""
    from .focus import Selection
    from .render import _new_digraph

    view = frame.view
    pic = plan(view, view.tree, Selection(set(range(len(view)))), frame.depth)
    g = _new_digraph(rankdir, fmt, style)
    return draw_plan(pic, style, g, True, True, precision, None, frame)
