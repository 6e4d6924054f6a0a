"""See the graph: Graphviz pictures, step-through frames and chain-rule explanations.

>>> from microgradcn.examples import apple_tax
>>> from microgradcn.viz import draw_graph
>>> g = draw_graph(apple_tax(), style="book")   # a graphviz.Digraph
>>> "支付金额" in g.source
True
"""

from .graph import GraphTooLargeError, GraphView, count_nodes, local_gradients
from .labels import display_width, format_number, html_text, op_symbol, pad, shorten
from .render import COLORS, DEFAULT_DPI, GraphvizError, GraphvizNotFoundError, draw_graph, render

__all__ = [
    "draw_graph",
    "render",
    "GraphTooLargeError",
    "GraphvizNotFoundError",
    "GraphvizError",
    "DEFAULT_DPI",
    "GraphView",
    "COLORS",
    "count_nodes",
    "local_gradients",
    "format_number",
    "html_text",
    "op_symbol",
    "display_width",
    "pad",
    "shorten",
]

from .card import value_card_html  # noqa: E402
from .explain import explain  # noqa: E402
from .steps import (  # noqa: E402
    Frame,
    backward_frames,
    draw_frame,
    forward_frames,
    frames,
    save_frames,
    save_gif,
    save_html,
    stepper,
)

__all__ += [
    "value_card_html",
    "explain",
    "Frame",
    "frames",
    "forward_frames",
    "backward_frames",
    "draw_frame",
    "save_frames",
    "save_html",
    "save_gif",
    "stepper",
]

from .explore import Explorer, explore  # noqa: E402

__all__ += ["explore", "Explorer"]

from .norm_colours import norm_colour, norm_scale  # noqa: E402  the gradient-norm colours of boxes

__all__ += ["norm_colour", "norm_scale"]

from .scope_tree import Call, Scope, ScopeTree, scope_tree  # noqa: E402

__all__ += ["scope_tree", "ScopeTree", "Scope", "Call"]
