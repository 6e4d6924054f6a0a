"""Step through the forward and backward passes one node at a time.

A `Frame` says which node is being processed and which values and gradients
are known at that moment; everything else is drawn as ``?``. Frames can be
drawn, saved as numbered SVGs, a self-contained HTML page with a slider, an
animated GIF (Pillow), or stepped through in Jupyter (ipywidgets).
"""

from __future__ import annotations

import html
import io
import re
import weakref
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import graphviz

from ..engine import Value
from .explain import backward_line, forward_line
from .graph import DEFAULT_MAX_NODES, GraphTooLargeError, GraphView
from .labels import format_number, html_text
from .render import DEFAULT_DPI, FONT, UNKNOWN, _draw, _Texts, cell_widths, pipe

__all__ = ["Frame", "frames", "forward_frames", "backward_frames", "draw_frame", "save_frames",
           "save_html", "save_gif", "stepper", "reading_milliseconds", "LAST_FRAME_HOLD_MS"]

# How long a learner needs to read a caption: a short one ("前向 1/5:输入 苹果单价 = 100") 2.5 s,
# then 75 ms per character (a chain-rule line of 60 characters gets 5.5 s), at most 8 s.
# The GIF and the explorer's ▶ play both use it.
_BASE_MS, _PER_CHARACTER_MS, _MIN_MS, _MAX_MS = 1000, 75, 2500, 8000
LAST_FRAME_HOLD_MS = 4000  # the GIF's last frame, the finished graph, stays this much longer


class Frame:
    """One step: `phase` ('forward' or 'backward'), `step` (1-based), the `node`
    being processed, and what is known: `data[i]` / `grads[i]` (None = unknown)
    for each node of `view.nodes`. `text` says what happens, in Chinese."""

    __slots__ = ("view", "phase", "step", "position", "data", "grads", "text", "depth")

    def __init__(
        self, view: GraphView, phase: str, step: int, position: int, data: Tuple, grads: Tuple, text: str,
        depth: Optional[int] = None,
    ) -> None:
        self.view = view
        self.phase = phase
        self.step = step
        self.position = position
        self.data = data
        self.grads = grads
        self.text = text
        self.depth = depth  # a frame of a whole box at this depth of scopes (None: of one node)

    @property
    def node(self) -> Value:
        return self.view.nodes[self.position]

    def __repr__(self) -> str:
        return f"Frame({self.phase} {self.step}/{len(self.view)}: {self.text})"


def reading_milliseconds(text: str) -> int:
    """How long to show a frame whose caption is `text`, in milliseconds (2,500 to 8,000).

    A multiple of 10 ms, the unit a GIF stores.
    """
    if not isinstance(text, str):
        raise TypeError(f"reading_milliseconds needs the caption as a str, got {type(text).__name__}: {text!r}")
    ms = max(_MIN_MS, min(_MAX_MS, _BASE_MS + _PER_CHARACTER_MS * len(text)))
    return ms - ms % 10


def _view(root_or_view, max_nodes) -> GraphView:
    return root_or_view if isinstance(root_or_view, GraphView) else GraphView(root_or_view, max_nodes)


def forward_frames(
    root: Union[Value, GraphView], precision: Optional[int] = 6, max_nodes: Optional[int] = DEFAULT_MAX_NODES
) -> List[Frame]:
    """One frame per node, inputs first: the forward pass computing each value."""
    view = _view(root, max_nodes)
    n = len(view)
    unknown = (None,) * n
    out = []
    for k, v in enumerate(view.nodes):
        data = tuple(w.data if i <= k else None for i, w in enumerate(view.nodes))
        verb = "输入" if v.is_leaf else "计算"
        text = f"前向 {k + 1}/{n}:{verb} {forward_line(view, k, precision)}"
        out.append(Frame(view, "forward", k + 1, k, data, unknown, text))
    return out


def backward_frames(
    root: Union[Value, GraphView], precision: Optional[int] = 6, max_nodes: Optional[int] = DEFAULT_MAX_NODES
) -> List[Frame]:
    """One frame per node, output first: each gradient once all its uses are done.

    Gradients are computed by the viewer from local derivatives, so the frames
    do not depend on whether (or how often) ``backward()`` was called.
    """
    view = _view(root, max_nodes)
    n = len(view)
    all_data = tuple(v.data for v in view.nodes)
    grads = view.gradients()
    out = []
    for step, k in enumerate(range(n - 1, -1, -1), 1):
        known = tuple(g if i >= k else None for i, g in enumerate(grads))
        text = f"反向 {step}/{n}:{backward_line(view, k, grads, precision)}"
        out.append(Frame(view, "backward", step, k, all_data, known, text))
    return out


def frames(
    root: Value, precision: Optional[int] = 6, max_nodes: Optional[int] = DEFAULT_MAX_NODES,
    depth: Optional[int] = None,
) -> List[Frame]:
    """The forward frames followed by the backward frames (2 × number of nodes).

    With `depth`, a graph built by modules is stepped through box by box: one
    frame per item of ``draw_graph(root, depth=depth)`` and pass, so a deep
    network's passes take tens of frames, not thousands (`max_nodes` then
    counts those items).
    """
    if depth is not None:
        return _item_frames(root, precision, max_nodes, depth)
    view = GraphView(root, max_nodes)
    return forward_frames(view, precision) + backward_frames(view, precision)


def _item_frames(root: Value, precision: Optional[int], max_nodes: Optional[int], depth: object) -> List[Frame]:
    from .focus import check_depth
    from .scoped import item_frames

    level = check_depth(depth)
    assert level is not None
    if not isinstance(root, Value):
        raise TypeError(f"expected a Value as the root of the graph, got {type(root).__name__}: {root!r}")
    view = GraphView(root, None)
    if view.tree is None:
        raise ValueError("depth= steps through scopes box by box, but this graph was built by hand and has none; "
                         "use frames(root) for one frame per node")
    out = item_frames(view, level, precision)
    if max_nodes is not None and len(out) > 2 * max_nodes:
        raise GraphTooLargeError(f"这幅图有 {len(out) // 2} 个条目,超过 max_nodes={max_nodes}:请用更小的 depth=。"
                                 f" / The picture has {len(out) // 2} items, more than max_nodes={max_nodes}: use a "
                                 "smaller depth=.")
    return out


def _known_texts(view: GraphView, data, grads, precision: Optional[int]) -> _Texts:
    """The texts of a frame in which `data` and `grads` (None = unknown) are known."""

    def show(x):
        return UNKNOWN if x is None else format_number(x, precision)

    edge_grads: Dict[Tuple[Optional[int], Optional[int]], str] = {}
    for j, v in enumerate(view.nodes):
        g = grads[j]
        for slot, (d, p) in enumerate(zip(view.local(j), v.parents)):
            # As in the book, the gradient under the arrow p -> v is written when p's own
            # gradient is computed (p's backward frame sums these arrows), not before.
            known = grads[view.pos(p)] is not None
            edge_grads[(j, slot)] = format_number(d * g, precision) if known else UNKNOWN
    edge_grads[(None, None)] = show(grads[-1])
    return _Texts([show(x) for x in data], [show(g) for g in grads], edge_grads, set())


_WIDTHS: "weakref.WeakKeyDictionary[GraphView, Dict]" = weakref.WeakKeyDictionary()


def _reserved_widths(view: GraphView, style: str, rankdir: str, precision: Optional[int]) -> Dict:
    """For every cell a step-through changes, the widest it gets (all numbers known, or '?').

    Reserving these widths gives every frame the same layout, so pictures do not shift.
    """
    key = (style, rankdir, precision)
    cache = _WIDTHS.setdefault(view, {})
    if key not in cache:
        n = len(view)
        variants = [_known_texts(view, [v.data for v in view.nodes], view.gradients(), precision),
                    _known_texts(view, [None] * n, [None] * n, precision)]
        cache[key] = cell_widths(view, variants, style, rankdir)
    return cache[key]


def _texts(frame: Frame, precision: Optional[int]) -> _Texts:
    texts = _known_texts(frame.view, frame.data, frame.grads, precision)
    texts.highlight = {frame.position}
    texts.phase = frame.phase  # book style: a backward step highlights the arrows pointing back
    return texts


def draw_frame(frame: Frame, style: str = "node", rankdir: str = "LR", fmt: str = "svg",
               precision: Optional[int] = 6, caption: bool = True) -> graphviz.Digraph:
    """The graph as it stands at `frame`, its current node highlighted, with the
    frame's text as a caption underneath (``caption=False`` leaves it out)."""
    if style not in ("node", "book"):
        raise ValueError(f"style must be 'node' or 'book', got {style!r}")
    if frame.depth is not None:
        from .scoped import draw_item_frame

        g = draw_item_frame(frame, style, rankdir, fmt, precision)
        if caption:
            g.attr(label=f"<{html_text(frame.text)}>", labelloc="b", fontsize="13")
        return g
    texts = _texts(frame, precision)
    texts.widths = _reserved_widths(frame.view, style, rankdir, precision)
    g = _draw(frame.view, texts, style, rankdir, fmt)
    if caption:
        g.attr(label=f"<{html_text(frame.text)}>", labelloc="b", fontsize="13")
    return g


def _svg(graph: graphviz.Digraph) -> str:
    text = pipe(graph, "svg").decode("utf-8")
    return text[text.index("<svg"):]  # drop the XML prologue so it can sit inside HTML


def save_frames(root: Union[Value, List[Frame]], directory: Union[str, Path], style: str = "node",
                precision: Optional[int] = 6) -> List[Path]:
    """Write every frame as ``step_001.svg, step_002.svg, ...`` plus ``steps.html``; return the SVG paths."""
    all_frames = root if isinstance(root, list) else frames(root, precision)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, frame in enumerate(all_frames, 1):
        path = directory / f"step_{k:03d}.svg"
        path.write_bytes(pipe(draw_frame(frame, style, precision=precision), "svg"))
        paths.append(path)
    save_html(all_frames, directory / "steps.html", style, precision)
    return paths


_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif; margin: 1.5em; }}
.frame {{ display: none; }} .frame.on {{ display: block; }}
.frame svg {{ display: block; max-width: 100%; height: auto; }}
.picture {{ min-height: {picture_height}pt; }}
.controls {{ display: flex; flex-wrap: wrap; gap: .6em; align-items: center; margin-bottom: 1em; }}
input[type=range] {{ width: min(24em, 60vw); }}
.caption {{ font-size: 1.1em; margin: .5em 0; min-height: 2.8em; overflow-wrap: anywhere; }}
</style></head><body>
<h2>{title}</h2>
<div class="controls"><button id="prev">◀ 上一步</button>
<input id="slider" type="range" min="0" max="{last}" value="0"><button id="next">下一步 ▶</button>
<span id="counter"></span></div>
{frames}
<script>
const frames = document.querySelectorAll('.frame');
const slider = document.getElementById('slider');
function show(k) {{
  k = Math.max(0, Math.min(frames.length - 1, k));
  frames.forEach((f, i) => f.classList.toggle('on', i === k));
  slider.value = k; document.getElementById('counter').textContent = (k + 1) + ' / ' + frames.length;
}}
slider.addEventListener('input', () => show(+slider.value));
document.getElementById('prev').onclick = () => show(+slider.value - 1);
document.getElementById('next').onclick = () => show(+slider.value + 1);
document.addEventListener('keydown', e => {{
  if (e.key === 'ArrowLeft') show(+slider.value - 1);
  if (e.key === 'ArrowRight') show(+slider.value + 1);
}});
show(0);
</script></body></html>
"""


def save_html(root: Union[Value, List[Frame]], path: Union[str, Path], style: str = "node",
              precision: Optional[int] = 6, title: str = "一步一步看前向与反向传播") -> Path:
    """A self-contained HTML page (SVGs inline, no network) with a slider over all frames.

    Each frame shows its caption once, above the picture; pictures shrink to
    the window's width (no horizontal scrollbar) and keep one height.
    """
    all_frames = root if isinstance(root, list) else frames(root, precision)
    blocks, heights = [], [0.0]
    for frame in all_frames:
        svg = _svg(draw_frame(frame, style, precision=precision, caption=False))
        match = re.search(r'height="([0-9.]+)pt"', svg[:300])
        if match:
            heights.append(float(match.group(1)))
        blocks.append(f'<div class="frame"><p class="caption">{html.escape(frame.text)}</p>'
                      f'<div class="picture">{svg}</div></div>')
    page = _PAGE.format(title=html.escape(title), last=len(all_frames) - 1, frames="\n".join(blocks),
                        picture_height=f"{max(heights):g}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _caption_png(text: str, dpi: float) -> bytes:
    """The caption alone, drawn by Graphviz in the same font as the pictures."""
    g = graphviz.Digraph("caption")
    g.attr(bgcolor="white", pad="0.1")
    g.node("c", label=f"<{html_text(text)}>", shape="plaintext", fontname=FONT, fontsize="13")
    return pipe(g, "png", dpi)


def save_gif(root: Union[Value, List[Frame]], path: Union[str, Path], style: str = "book",
             precision: Optional[int] = 6, milliseconds: Optional[int] = None, dpi: Optional[float] = None,
             depth: Optional[int] = None) -> Path:
    """An animated GIF of all frames (needs Pillow: ``pip install "microgradcn[viz]"``).

    Every frame has the same canvas: the picture at a fixed place on top, the
    caption centred in a band of fixed height below, so nothing jumps as the
    captions change. `dpi` defaults to 150 pixels per inch.

    Each frame stays long enough to read its caption (`reading_milliseconds`:
    2.5 s for a short one, longer for a long one); `milliseconds` shows every
    frame that long instead. The last frame is held `LAST_FRAME_HOLD_MS` longer
    before the animation starts again.
    """
    if milliseconds is not None and (isinstance(milliseconds, bool) or not isinstance(milliseconds, int)
                                     or milliseconds < 20):
        raise ValueError(f"milliseconds must be a whole number of milliseconds (at least 20) or None, "
                         f"got {milliseconds!r}")
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError('save_gif needs Pillow: pip install "microgradcn[viz]" (or pip install pillow)') from error
    all_frames = root if isinstance(root, list) else frames(root, precision, depth=depth)
    if not all_frames:
        raise ValueError("save_gif needs at least one frame, got an empty list")

    def image(png: bytes):  # on white: Graphviz leaves the margin transparent
        picture = Image.open(io.BytesIO(png)).convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", picture.size, "white"), picture).convert("RGB")

    pictures = [image(pipe(draw_frame(f, style, precision=precision, caption=False), "png", dpi))
                for f in all_frames]
    captions = [image(_caption_png(f.text, DEFAULT_DPI if dpi is None else dpi)) for f in all_frames]
    width = max(im.width for im in pictures + captions)
    picture_height = max(im.height for im in pictures)
    height = picture_height + max(im.height for im in captions)
    left = (width - max(im.width for im in pictures)) // 2  # one left edge for every picture
    canvas = []
    for picture, caption in zip(pictures, captions):
        page = Image.new("RGB", (width, height), "white")
        page.paste(picture, (left, (picture_height - picture.height) // 2))
        page.paste(caption, ((width - caption.width) // 2, picture_height))
        canvas.append(page)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    durations = [reading_milliseconds(f.text) if milliseconds is None else milliseconds for f in all_frames]
    durations[-1] += LAST_FRAME_HOLD_MS
    canvas[0].save(path, save_all=True, append_images=canvas[1:], duration=durations, loop=0)
    return path


class FrameList(list):
    """A list of frame pictures that Jupyter shows one under another."""

    def _repr_html_(self) -> str:
        return "".join(
            f"<p>{html.escape(frame.text)}</p>{_svg(graph)}" for frame, graph in self
        )


def stepper(root: Value, style: str = "node", precision: Optional[int] = 6, depth: Optional[int] = None):
    """A Jupyter stepper: a slider with previous/next buttons over all frames.

    Without ipywidgets it returns a `FrameList` of (frame, Digraph) pairs,
    which Jupyter displays as all the pictures in order.
    """
    all_frames = frames(root, precision, depth=depth)
    try:
        import ipywidgets as widgets
    except ImportError:
        return FrameList((f, draw_frame(f, style, precision=precision, caption=False)) for f in all_frames)
    pictures = {}

    def picture(k: int) -> str:
        if k not in pictures:
            frame = all_frames[k]
            svg = _svg(draw_frame(frame, style, precision=precision, caption=False))
            pictures[k] = f"<p>{html.escape(frame.text)}</p>{svg}"
        return pictures[k]

    slider = widgets.IntSlider(value=0, min=0, max=len(all_frames) - 1, description="步骤")
    prev_button = widgets.Button(description="◀ 上一步")
    next_button = widgets.Button(description="下一步 ▶")
    view = widgets.HTML(picture(0))
    slider.observe(lambda change: setattr(view, "value", picture(change["new"])), names="value")
    prev_button.on_click(lambda _: setattr(slider, "value", max(0, slider.value - 1)))
    next_button.on_click(lambda _: setattr(slider, "value", min(slider.max, slider.value + 1)))
    return widgets.VBox([widgets.HBox([prev_button, slider, next_button]), view])
