"""The colour scale of gradient norms, shared by draw_graph's boxes and the explorer's page."""

import math
import re

from hypothesis import given
from hypothesis import strategies as st

from microgradcn.nn import MLP
from microgradcn.viz import draw_graph
from microgradcn.viz.norm_colours import NO_COLOUR, PALETTE, is_dark, norm_colour, norm_scale


def test_the_scale_runs_over_whole_powers_of_ten_around_the_norms():
    assert norm_scale([2.7e-5, 1.17]) == (-5, 1)  # a deep sigmoid network: six decades
    assert norm_scale([0.239, 1.08]) == (-3, 1)  # ReLU + He: at least MIN_DECADES (4), both near the top
    assert norm_scale([0.5]) == (-4, 0)
    assert norm_scale([1.0]) == (-4, 0)
    assert norm_scale([0.0, math.inf, math.nan, None]) == (-4, 0)  # nothing with a colour


def test_colours_go_from_the_palettes_first_stop_to_its_last():
    scale = (-5, 1)
    assert norm_colour(1e-5, scale) == "#{:02x}{:02x}{:02x}".format(*PALETTE[0])
    assert norm_colour(10.0, scale) == "#{:02x}{:02x}{:02x}".format(*PALETTE[-1])
    assert norm_colour(1e-9, scale) == norm_colour(1e-5, scale)  # below the scale: its lowest colour
    for bad in (0.0, -1.0, math.inf, math.nan, None):
        assert norm_colour(bad, scale) == NO_COLOUR and not is_dark(bad, scale)
    assert is_dark(1e-5, scale) and not is_dark(10.0, scale)


@given(st.lists(st.floats(1e-12, 1e12), min_size=1, max_size=8))
def test_a_larger_norm_never_gets_a_darker_place_on_the_scale(norms):
    scale = norm_scale(norms)
    lo, hi = scale
    assert hi - lo >= 4 and all(lo <= math.log10(n) <= hi for n in norms)
    ranked = sorted(norms)
    places = [PALETTE_INDEX(norm_colour(n, scale)) for n in ranked]
    assert places == sorted(places)


def PALETTE_INDEX(colour: str) -> float:
    """Where a colour sits on the palette's path (0 = first stop), by its distance along the stops."""
    rgb = [int(colour[k:k + 2], 16) for k in (1, 3, 5)]
    best, where = math.inf, 0.0
    for k in range(len(PALETTE) - 1):
        for step in range(101):
            f = step / 100
            point = [a + (b - a) * f for a, b in zip(PALETTE[k], PALETTE[k + 1])]
            d = sum((p - q) ** 2 for p, q in zip(point, rgb))
            if d < best - 1e-9:
                best, where = d, k + f
    return where


def test_draw_graph_colours_each_box_by_its_norm_and_explains_the_colours_in_the_legend():
    model = MLP(2, [3, 3, 1], seed=0)
    loss = model([0.5, -1.0]) ** 2
    loss.backward()
    source = draw_graph(loss, focus=model, depth=1).source
    fills = re.findall(r'<TD BGCOLOR="(#[0-9a-f]{6})"><FONT COLOR="#(?:ffffff|111111)">‖∂根/∂参数‖₂ = ([^<]+)</FONT>',
                       source)
    assert len(fills) == 3  # the three layers
    norms = [float(text) for _, text in fills]
    scale = norm_scale(norms)
    assert [colour for colour, _ in fills] == [norm_colour(n, scale) for n in norms]
    assert "log₁₀ 梯度范数" in source and f"10<SUP>{scale[0]}</SUP>" in source
    plain = draw_graph(loss, focus=model, depth=1, show_grad=False).source
    assert "‖∂根/∂参数‖₂ = " not in plain and "log₁₀ 梯度范数" not in plain  # no norms: no colours


def test_the_explorer_page_reads_the_same_palette_and_scale():
    import base64
    import gzip
    import json
    from pathlib import Path

    from microgradcn.viz import GraphView
    from microgradcn.viz.explore_scoped import box_norms, scoped_page_data  # noqa: F401

    model = MLP(2, [3, 3, 1], seed=0)
    loss = model([0.5, -1.0]) ** 2
    meta_text, _ = scoped_page_data(GraphView(loss, None))
    meta = json.loads(gzip.decompress(base64.b64decode(meta_text)))
    assert meta["palette"] == [list(rgb) for rgb in PALETTE]
    lo, hi = meta["normScale"]
    assert isinstance(lo, int) and isinstance(hi, int) and lo < hi
    js = (Path(__file__).resolve().parent.parent / "microgradcn" / "viz" / "explore_scoped.js").read_text("utf-8")
    assert "M.palette" in js and "M.normScale" in js
    assert "[68, 1, 84]" not in js  # the palette is written once, in norm_colours


def test_a_book_style_arrow_in_a_scoped_picture_is_not_drawn_as_a_fraction():
    model = MLP(2, [2, 1], seed=0)
    loss = model([0.5, -1.0]) ** 2
    loss.backward()
    source = draw_graph(loss, focus="layers.0.neurons.0", style="book").source
    assert 'COLOR="#c0392b"' in source and "<HR/>" not in source  # value above, gradient in red below, no rule
