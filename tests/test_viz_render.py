"""draw_graph: DOT structure, determinism, escaping, numbers, size limit, rendering."""

import itertools
import math
import re
import subprocess
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradcn import Value, examples
from microgradcn.examples import apple_tax, find
from microgradcn.testing import expressions
from microgradcn.viz import (
    COLORS,
    GraphTooLargeError,
    GraphView,
    GraphvizNotFoundError,
    display_width,
    draw_graph,
    format_number,
    html_text,
    local_gradients,
    op_symbol,
    pad,
    render,
)
from microgradcn.viz.render import pipe


def edges(source):
    """(tail, head) of every edge, ports left out: ``e2_0:f:e -> n2`` is ("e2_0", "n2")."""
    return re.findall(r"^\s*(\w+)(?::\w+)* -> (\w+)", source, re.M)


def arrow(source, middle):
    """(name, value above, gradient below) written on the book-style arrow `middle`."""
    label = re.search(rf"^\s*{middle} \[label=<(<TABLE.*?</TABLE>)>", source, re.M).group(1)
    name = re.search(r'<FONT POINT-SIZE="10" COLOR="#666666">(.*?)</FONT>', label)
    forward = re.search(r'<TD CELLPADDING="1"[^>]*>([^<]*)</TD></TR><TR><TD PORT="f"', label).group(1)
    backward = re.search(r'PORT="b".*<FONT COLOR="#c0392b">(.*?)</FONT>', label).group(1)
    return name.group(1) if name else None, forward, backward


def node_lines(source):
    return [n for n in re.findall(r"^\s*(\w+) \[", source, re.M) if n not in ("node", "edge", "graph")]


def dot_accepts(source: str, fmt: str = "svg") -> bytes:
    result = subprocess.run(["dot", f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True)
    assert result.returncode == 0, result.stderr.decode()
    assert not result.stderr, result.stderr.decode()  # no syntax warnings either
    return result.stdout


# ------------------------------------------------------------------ numbers
@pytest.mark.parametrize(
    "x, text",
    [(220.00000000000003, "220"), (2.2000000000000006, "2.2"), (110.00000000000001, "110"),
     (Fraction(11, 5), "11/5"), (Fraction(220), "220"), (-3, "-3"), (0.5, "0.5"), (-0.0, "0"),
     (1e-12, "1e-12"), (float("inf"), "inf"), (6.8813735870195432, "6.88137")],
)
def test_format_number_is_readable(x, text):
    assert format_number(x) == text


def test_format_number_full_precision_when_asked_and_rejects_non_numbers():
    assert format_number(220.00000000000003, precision=None) == "220.00000000000003"
    with pytest.raises(TypeError, match="got str"):
        format_number("1")
    with pytest.raises(ValueError, match="precision"):
        format_number(1.5, precision=0)


def test_op_symbols_and_cjk_widths():
    assert [op_symbol(o) for o in ("*", "+", "-", "/", "**2", "**-1", "**0.5", "exp", "2**")] == [
        "×", "+", "−", "÷", "x²", "x⁻¹", "x^0.5", "exp", "2ˣ"]
    assert display_width("苹果ab") == 6
    assert pad("苹果", 6) == "苹果  " and pad("ab", 4, ">") == "  ab"


def test_html_text_escapes_everything_graphviz_would_misread():
    assert html_text('a<b>&"c"\nd') == "a&lt;b&gt;&amp;&quot;c&quot;<BR/>d"
    assert html_text("\x00") == "\\u0000"


# ------------------------------------------------------------- node style
def test_node_style_has_one_box_per_value_and_one_node_per_op():
    src = draw_graph(apple_tax()).source
    assert sorted(node_lines(src)) == sorted(["n0", "n1", "n2", "n2_op", "n3", "n4", "n4_op"])
    assert sorted(edges(src)) == sorted(
        [("n0", "n2_op"), ("n1", "n2_op"), ("n2_op", "n2"), ("n2", "n4_op"), ("n3", "n4_op"), ("n4_op", "n4")])
    for text in ("苹果单价", "data 100", "grad 2.2", "支付金额", "data 220", "grad 1", "×"):
        assert text in src
    assert "220.00000000000003" not in src


def test_node_style_colours_inputs_params_constants_intermediates_output():
    x = Value(2, label="x")
    w = Value(3, label="w")
    y = (w * x + 1) * 2
    y.label = "y"
    src = draw_graph(y, params=[w]).source
    for kind in ("input", "param", "const", "intermediate", "output"):
        assert COLORS[kind] in src


def test_duplicate_parents_are_two_edges():
    x = Value(3, label="x")
    y = x * x
    y.backward()
    node = draw_graph(y).source
    assert edges(node).count(("n0", "n1_op")) == 2
    book = draw_graph(y, style="book").source
    # x reaches a branch point through one arrow, then one arrow per use
    assert ("n0", "t0") in edges(book) and ("t0", "s0") in edges(book)
    assert ("s0", "e1_0") in edges(book) and ("s0", "e1_1") in edges(book)
    # each use carries its own share of the gradient, 3 and 3; the arrow from x carries their sum
    assert arrow(book, "e1_0") == arrow(book, "e1_1") == (None, "3", "3")
    assert arrow(book, "t0") == (None, "3", "6")


def test_same_graph_gives_same_dot_text():
    assert draw_graph(apple_tax()).source == draw_graph(apple_tax()).source
    assert draw_graph(apple_tax(), style="book").source == draw_graph(apple_tax(), style="book").source


def test_hiding_data_and_grads_and_highlighting():
    pay = apple_tax()
    src = draw_graph(pay, show_data=False, show_grad=False).source
    assert "data " not in src and "grad " not in src
    hot = draw_graph(pay, highlight=find(pay, "苹果总价")).source
    assert hot.count('BORDER="3"') == 1
    with pytest.raises(ValueError, match="highlight"):
        draw_graph(pay, highlight=Value(1))


def test_exact_fractions_are_drawn_as_fractions():
    src = draw_graph(apple_tax(exact=True), style="book").source
    assert ">11/5<" in src and ">11/10<" in src and ">220<" in src


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="style must be 'node' or 'book', got 'fancy'"):
        draw_graph(apple_tax(), style="fancy")
    with pytest.raises(ValueError, match="rankdir"):
        draw_graph(apple_tax(), rankdir="XY")
    with pytest.raises(TypeError, match="expected a Value"):
        draw_graph(3.0)


# ------------------------------------------------------------- book style
def test_book_style_apple_tax_reads_like_the_book():
    src = draw_graph(apple_tax(), style="book").source

    # forward value above, gradient below, on each arrow; inputs named at the tails,
    # the intermediate value 苹果总价 on its own arrow
    assert arrow(src, "e2_0") == (None, "100", "2.2")
    assert arrow(src, "e2_1") == (None, "2", "110")
    assert arrow(src, "e4_0") == ("苹果总价", "200", "1.1")
    assert arrow(src, "e4_1") == (None, "1.1", "200")
    assert arrow(src, "e_out") == (None, "220", "1")
    assert src.count("label=<×>") == 2
    for name in ("苹果单价", "苹果个数", "消费税"):
        assert re.search(rf"\[label=<{name}>.*shape=plaintext", src)
    assert ("n0", "e2_0") in edges(src) and ("e2_0", "n2") in edges(src) and ("e_out", "out") in edges(src)
    assert "<HR/>" not in src  # no value/gradient pair stacked like a fraction


def test_book_style_draws_a_red_arrow_back_under_each_forward_arrow():
    src = draw_graph(apple_tax(), style="book").source
    middles = ["e2_0", "e2_1", "e4_0", "e4_1", "e_out"]
    for middle in middles:
        # the forward arrow (default colour) runs through port f and points at the head
        assert re.search(rf"^\s*\w+ -> {middle}:f:w \[arrowhead=none[^\]]*\]$", src, re.M), middle
        assert re.search(rf"^\s*{middle}:f:e -> \w+ \[penwidth=1.5\]$", src, re.M), middle
        # the backward arrow, red, runs through port b below it and points back at the tail
        assert re.search(rf'^\s*\w+ -> {middle}:b:w \[arrowtail=normal color="#c0392b" dir=back', src, re.M)
        assert re.search(rf'^\s*{middle}:b:e -> \w+ \[color="#c0392b" dir=none', src, re.M), middle
    assert src.count("dir=back") == len(middles)


def test_book_style_names_intermediate_values_on_their_arrows():
    assert arrow(draw_graph(examples.chain_rule(), style="book").source, "e3_0") == ("t", "3", "6")
    q, k = Value(2.0, label="q"), Value(3.0, label="k")
    score = q * k
    score.label = "q·k"
    out = score.tanh()
    out.label = "a"
    out.backward()
    src = draw_graph(out, style="book").source
    assert arrow(src, "e3_0")[0] == "q·k"
    assert re.search(r"^\s*out \[label=<a>", src, re.M)  # the output is named at the head of its arrow


def test_book_style_shows_the_summed_gradient_of_an_input_used_twice():
    for exact, total, terms in ((False, "2.94", {"0.525", "2.415"}), (True, "147/50", {"21/40", "483/200"})):
        root = examples.network_2_2_1(exact=exact)
        view = GraphView(root)
        x1 = view.pos(find(root, "x1"))
        src = draw_graph(root, style="book").source
        assert arrow(src, f"t{x1}") == (None, "1", total)
        assert {arrow(src, f"e{j}_{slot}")[2] for j, slot in view.uses[x1]} == terms
        assert find(root, "x1").grad == (Fraction(147, 50) if exact else pytest.approx(2.94))


def test_book_style_labels_constants_and_draws_every_op_the_same_size():
    root = examples.network_2_2_1()
    view = GraphView(root)
    src = draw_graph(root, style="book").source
    half = next(i for i, v in enumerate(view.nodes) if v.is_leaf and not v.label)
    assert re.search(rf'^\s*n{half} \[label=<0.5> fontcolor="#666666"', src, re.M)  # the ½ of ½(t − y)²
    assert not re.search(r"^\s*n\d+ \[.*shape=point", src, re.M)  # points are only branch points s<i>
    circles = re.findall(r"^\s*n\d+ \[label=<([^>]*)>.*shape=circle.*$", src, re.M)
    assert sorted(set(circles)) == ["+", "x²", "×", "−"]
    for line in re.findall(r"^\s*n\d+ \[.*shape=circle.*$", src, re.M):
        assert "fixedsize=true" in line and "width=0.45" in line, line
    assert re.search(r"label=<x²> .*fontsize=14", src)


def test_a_lone_leaf_can_be_drawn():
    x = Value(1.5, label="x")
    for style in ("node", "book"):
        dot_accepts(draw_graph(x, style=style).source)


# -------------------------------------------------------------- local grads
def test_local_gradients_one_number_per_edge():
    x = Value(3.0)
    assert local_gradients(x * x) == (3.0, 3.0)
    assert local_gradients(x / x) == pytest.approx((1 / 3, -1 / 3))
    assert local_gradients(x - x) == (1, -1)
    assert local_gradients(x ** 2) == (6.0,)
    assert local_gradients(x.leaky_relu(0.1)) == (1,)
    assert local_gradients(2 ** x) == pytest.approx((8 * 0.6931471805599453,))
    assert local_gradients(x) == ()


@settings(max_examples=50, deadline=None)
@given(st.floats(0.1, 5), st.floats(0.1, 5), st.sampled_from(["+", "-", "*", "/", "**", "prelu"]))
def test_local_gradients_agree_with_grad(a, b, op):
    x, y = Value(a), Value(b)
    out = {"+": x + y, "-": x - y, "*": x * y, "/": x / y, "**": x ** y, "prelu": x.prelu(y)}[op]
    from microgradcn import grad

    assert local_gradients(out) == pytest.approx(tuple(grad(out, [x, y])))


@pytest.mark.parametrize("make", [
    lambda x: x.exp(), lambda x: x.log(), lambda x: x.sqrt(), lambda x: x.tanh(), lambda x: x.sigmoid(),
    lambda x: x.relu(), lambda x: x.softplus(), lambda x: x.step(), lambda x: -x, lambda x: abs(x),
    lambda x: x ** 3, lambda x: x ** Fraction(1, 2), lambda x: x ** -1.5, lambda x: 3 ** x,
    lambda x: x.leaky_relu(0.2), lambda x: x.elu(0.5)])
def test_local_gradients_of_unary_ops_agree_with_grad(make):
    from microgradcn import grad

    x = Value(1.7)
    out = make(x)
    assert local_gradients(out) == pytest.approx(tuple(grad(out, [x])))


# ---------------------------------------------------------------- escaping
nasty = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20) | st.sampled_from(
    ["", "|", "{x}", "<b>", '"', "\\", "\\n", "a\nb", "苹果 | 单价", "]", "&amp;", "<<>>", "\x00\x07", "\ufffe"])


@settings(max_examples=50, deadline=None)
@given(st.lists(nasty, min_size=4, max_size=4), st.sampled_from(["node", "book"]))
def test_dot_accepts_any_label(labels, style):
    a = Value(1.5, label=labels[0])
    b = Value(-2, label=labels[1])
    c = a * b
    c.label = labels[2]
    d = c.exp() + a
    d.label = labels[3]
    d.backward()
    dot_accepts(draw_graph(d, style=style).source)


# ------------------------------------------------------ size and rendering
def test_too_large_graph_is_refused_quickly():
    x = Value(1.0)
    for _ in range(2000):
        x = x * 1.0001
    with pytest.raises(GraphTooLargeError, match="max_nodes=400"):
        draw_graph(x)
    assert len(draw_graph(x, max_nodes=None).source) > 0


def test_missing_graphviz_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    graph = draw_graph(apple_tax())
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz.*brew install graphviz"):
        render(graph, tmp_path / "a.svg")
    assert "支付金额" in graph.source  # the DOT text is still there


@pytest.mark.parametrize("name", list(examples.EXAMPLES))
@pytest.mark.parametrize("style", ["node", "book"])
def test_every_example_renders_to_svg_and_png(name, style, tmp_path):
    root = examples.build(name)
    svg = render(root, tmp_path / "g.svg", style=style)
    assert svg.read_text(encoding="utf-8").lstrip().startswith("<?xml")
    png = render(draw_graph(root, style=style), tmp_path / "g.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_chinese_png_uses_a_cjk_font(tmp_path):
    # With the CJK font from the quick start, Chinese text renders as glyphs, not
    # as empty boxes; fc-match must find a font covering Chinese.
    match = subprocess.run(["fc-match", ":lang=zh-cn", "family"], capture_output=True, text=True).stdout
    assert any(name in match for name in ("WenQuanYi", "Noto Sans CJK", "Droid Sans Fallback")), match
    from PIL import Image

    path = render(apple_tax(), tmp_path / "apple.png", style="book")
    image = Image.open(path).convert("L")
    assert image.width > 300 and image.height > 100
    dark = sum(1 for p in image.tobytes() if p < 128)
    assert dark > 500  # text and arrows were drawn


def test_render_rejects_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match=r"\.svg, \.png or \.pdf"):
        render(apple_tax(), tmp_path / "a.gif")


# ------------------------------------------------------- resolution, long labels
def _png_size(path):
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def test_png_is_150_dpi_by_default_and_dpi_can_be_chosen(tmp_path):
    pay = apple_tax()
    w96, h96 = _png_size(render(pay, tmp_path / "a96.png", style="book", dpi=96))
    w150, h150 = _png_size(render(pay, tmp_path / "a.png", style="book"))
    w300, _ = _png_size(render(draw_graph(pay, style="book"), tmp_path / "a300.png", dpi=300))
    assert 520 <= w96 <= 560  # 541 px wide at 96 dpi (Graphviz's default, 72, is blurred on today's screens)
    assert w150 == pytest.approx(w96 * 150 / 96, rel=0.03) and h150 == pytest.approx(h96 * 150 / 96, rel=0.03)
    assert w300 == pytest.approx(w150 * 2, rel=0.03)
    assert b'width="' in render(pay, tmp_path / "a.svg", dpi=300).read_bytes()  # SVG: dpi is ignored


@pytest.mark.parametrize("dpi", [0, -5, 5000, "150", True])
def test_bad_dpi_is_named(dpi, tmp_path):
    with pytest.raises(ValueError, match="dpi must be"):
        render(apple_tax(), tmp_path / "a.png", dpi=dpi)


@pytest.mark.parametrize("style", ["node", "book"])
def test_a_10000_character_label_is_shortened_and_renders(style, tmp_path):
    x = Value(2.0, label="长" * 10000)
    y = x * 3
    y.label = "y" * 10000
    y.backward()
    graph = draw_graph(y, style=style)
    assert "长" * 199 + "…" in graph.source and "长" * 200 not in graph.source
    svg = render(graph, tmp_path / "long.svg").read_text(encoding="utf-8")
    assert "…" in svg
    from microgradcn.viz import backward_frames, draw_frame

    frame = backward_frames(y)[-1]  # the caption names both labels
    assert pipe(draw_frame(frame, style=style), "svg").startswith(b"<?xml")


def test_a_dot_failure_is_a_clear_error_even_when_dot_cuts_a_character_in_half():
    import graphviz

    from microgradcn.viz import GraphvizError

    # Over 16 KiB of HTML label: dot refuses it and quotes the start, cut mid-character.
    bad = graphviz.Source("digraph { a [label=<" + "长" * 10000 + ">] }")
    with pytest.raises(GraphvizError, match="dot could not draw this graph.*16384") as error:
        pipe(bad, "svg")
    assert "\n" not in str(error.value)  # one line, fit for the command line
    with pytest.raises(GraphvizError, match="syntax error"):
        pipe(graphviz.Source("digraph { a -> }"), "png")


def test_shorten_keeps_short_text_and_marks_cut_text():
    from microgradcn.viz import shorten

    assert shorten("苹果", 2) == "苹果" and shorten("苹果单价", 3) == "苹果…"
    assert len(shorten("x" * 1000)) == 200
    with pytest.raises(ValueError, match="limit must be at least 1"):
        shorten("abc", 0)


def test_display_width_counts_wide_combining_and_control_characters():
    assert display_width("苹果") == 4 and display_width("e\u0301") == 1 and display_width("ｱ") == 1
    assert display_width("a\x07b") == 2 and display_width("") == 0
    assert pad("苹果", 5, ">") == " 苹果"


# ------------------------------------------------------ the 2-2-1 network layout
def test_inputs_used_twice_sit_left_of_every_weight_in_book_style():
    root = examples.network_2_2_1()
    view = GraphView(root)
    graph = draw_graph(root, style="book")
    plain = pipe(graph, "plain").decode("utf-8")
    x = {parts[1]: float(parts[2]) for parts in (line.split() for line in plain.splitlines()) if parts[0] == "node"}
    where = {view.nodes[i].label: x[view.node_id(i)] for i in range(len(view)) if view.nodes[i].is_leaf
             and view.nodes[i].label}
    weights = [where[f"w{k}"] for k in range(1, 5)]
    assert max(where["x1"], where["x2"]) < min(weights)
    # and each arrow's numbers stand in the column right before the × they enter, beside its weight's numbers
    x1_into = [x[f"e{j}_{slot}"] for j, slot in view.uses[view.pos(examples.find(root, "x1"))]]
    w1_into = [x[f"e{j}_{slot}"] for j, slot in view.uses[view.pos(examples.find(root, "w1"))]]
    assert x1_into[0] == pytest.approx(w1_into[0])
    assert graph.source == draw_graph(examples.network_2_2_1(), style="book").source  # deterministic


def _layout(graph):
    """Graphviz's own layout (-Tjson): node name -> (x, y), and each edge's sampled curve."""
    import json

    data = json.loads(pipe(graph, "json"))
    objects = data["objects"]
    where = {o["name"]: tuple(map(float, o["pos"].split(","))) for o in objects}
    curves = []
    for e in data["edges"]:
        points = [p for op in e["_draw_"] if op["op"] == "b" for p in op["points"]]
        sampled = []
        for k in range(0, len(points) - 3, 3):  # cubic Bézier pieces, 16 straight segments each
            p0, p1, p2, p3 = points[k:k + 4]
            for s in range(17):
                t = s / 16
                sampled.append(tuple((1 - t) ** 3 * a + 3 * (1 - t) ** 2 * t * b + 3 * (1 - t) * t ** 2 * c
                                     + t ** 3 * d for a, b, c, d in zip(p0, p1, p2, p3)))
        curves.append((objects[e["tail"]]["name"], objects[e["head"]]["name"], sampled))
    return where, curves


def _cross(p, q, r, s) -> bool:
    """Do the segments pq and rs properly cross (touching at an end does not count)?"""
    def side(a, b, c):
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    d1, d2, d3, d4 = side(r, s, p), side(r, s, q), side(p, q, r), side(p, q, s)
    return d1 * d2 < 0 and d3 * d4 < 0


def _input_arrows(view, curves, label):
    """The drawn curves (forward and backward) from input `label` to the operations that use it."""
    i = next(k for k, v in enumerate(view.nodes) if v.label == label)
    parts = {f"n{i}", f"t{i}", f"s{i}"} | {f"e{j}_{slot}" for j, slot in view.uses[i]}
    return [c for tail, head, c in curves if tail in parts and (head in parts or head.startswith("n"))]


def test_the_2_2_1_network_has_no_crossing_input_arrows():
    root = examples.network_2_2_1()
    view = GraphView(root)
    _, curves = _layout(draw_graph(root, style="book"))
    inputs = ["x1", "x2", "w1", "w2", "w3", "w4"]
    arrows = {label: _input_arrows(view, curves, label) for label in inputs}
    assert len(arrows["x1"]) == 2 * (2 + 2 * 2) and len(arrows["w1"]) == 2 * 2  # forward and back, every piece
    for a, b in itertools.combinations(inputs, 2):
        for ca in arrows[a]:
            for cb in arrows[b]:
                assert not any(_cross(p, q, r, s) for p, q in zip(ca, ca[1:]) for r, s in zip(cb, cb[1:])), (a, b)


def test_the_2_2_1_network_writes_every_number_beside_its_own_row():
    root = examples.network_2_2_1()
    view = GraphView(root)
    where, _ = _layout(draw_graph(root, style="book"))
    products = [j for j, v in enumerate(view.nodes) if v.op == "*" and all(p.is_leaf for p in v.parents)]
    assert len(products) == 4
    for j in products:
        for slot in range(2):
            x, y = where[f"e{j}_{slot}"]
            # in the column right before its ×, and nearer to its own × than to any other row
            assert where[f"n{j}"][0] - 60 < x < where[f"n{j}"][0]
            nearest = min(products, key=lambda k: abs(where[f"n{k}"][1] - y))
            assert nearest == j, (view.nodes[j].label, slot)


def test_book_layout_counts_interleaving_uses_and_nests_them_in_the_network():
    from microgradcn.viz.book_layout import _interleavings, book_layout

    assert _interleavings([0, 1, 0, 1], [0, 1]) == 1  # x1 x2 x1 x2: their arrows must cross
    assert _interleavings([0, 1, 1, 0], [0, 1]) == 0  # nested
    assert _interleavings([0, 0, 1, 1], [0, 1]) == 0  # one after the other
    layout = book_layout(GraphView(examples.network_2_2_1()))
    assert layout.crossings == 0 and layout.order  # some inputs swapped to get there
    assert book_layout(GraphView(apple_tax())).order == {}  # nothing shared: argument order kept
    # a layer whose neurons all share three inputs cannot avoid crossings: no long fans then either
    from microgradcn.nn import MLP

    out = MLP(3, [4, 1], seed=0)([Value(1.0), Value(2.0), Value(-1.0)])
    out = out[0] if isinstance(out, list) else out
    dense = book_layout(GraphView(out))
    assert dense.crossings > 0 and dense.fan == {}


# ------------------------------------------------------ node style width
def _svg_width(graph) -> float:
    svg = pipe(graph, "svg").decode("utf-8")
    return float(re.search(r'<svg width="([0-9.]+)pt"', svg).group(1))


@pytest.mark.parametrize("name", list(examples.EXAMPLES))
def test_node_style_is_at_most_1100_pt_wide_and_estimated_within_10_percent(name):
    from microgradcn.viz.render import MAX_WIDTH_PT, _estimated_width, _state_texts

    root = examples.build(name)
    graph = draw_graph(root, params=examples.parameters(name, root))
    width = _svg_width(graph)
    assert width <= MAX_WIDTH_PT == 1100
    stacked = "</TD></TR><TR><TD" in graph.source  # boxes as columns: name over data over grad
    assert stacked == (name == "network_2_2_1")  # 1,719 pt wide with boxes as rows
    view = GraphView(root)
    estimate = _estimated_width(view, _state_texts(view, True, True, 6, None), "LR", stacked)
    assert estimate == pytest.approx(width, rel=0.1)


def test_the_network_drawn_with_rows_would_be_too_wide():
    from microgradcn.viz.render import _estimated_width, _state_texts

    view = GraphView(examples.network_2_2_1())
    assert _estimated_width(view, _state_texts(view, True, True, 6, None), "LR", stacked=False) > 1600
    # drawn top to bottom the ranks are rows: boxes stand side by side, so the estimate sums them
    tall = draw_graph(examples.network_2_2_1(), rankdir="TB")
    assert _svg_width(tall) <= 1100


def test_an_input_used_twice_with_an_input_between_its_uses_is_drawn_without_crossing():
    # notebook 01's packing fee c: 苹果单价 = 苹果原价 + c, 橘子单价 = 橘子原价 + c
    c = Value(1, label="c")
    apple = Value(100, label="苹果原价") + c
    orange = Value(150, label="橘子原价") + c
    total = apple * 2 + orange * 3
    total.label = "合计"
    total.backward()
    view = GraphView(total)
    _, curves = _layout(draw_graph(total, style="book"))
    arrows = {label: _input_arrows(view, curves, label) for label in ("c", "苹果原价", "橘子原价")}
    for a, b in itertools.combinations(arrows, 2):
        for ca in arrows[a]:
            for cb in arrows[b]:
                assert not any(_cross(p, q, r, s) for p, q in zip(ca, ca[1:]) for r, s in zip(cb, cb[1:])), (a, b)


@pytest.mark.parametrize("rankdir, enter, leave", [("LR", "w", "e"), ("RL", "e", "w"), ("TB", "n", "s"),
                                                   ("BT", "s", "n")])
def test_book_arrows_run_through_their_labels_in_every_direction(rankdir, enter, leave):
    src = draw_graph(apple_tax(), style="book", rankdir=rankdir).source
    for port in ("f", "b"):
        assert src.count(f"e4_0:{port}:{enter}") == 1 and src.count(f"e4_0:{port}:{leave}") == 1
    # top to bottom, the bars stand upright beside the numbers: one row of cells
    assert ('<TD PORT="f" WIDTH="2"' in src) == (rankdir in ("TB", "BT"))
    dot_accepts(src)


@settings(max_examples=40, deadline=None)
@given(expressions(n_inputs=(1, 3), n_ops=(2, 8)))
def test_the_arrow_to_a_branch_point_carries_the_sum_of_its_branches(expr):
    root = expr(*[Value(x, label=f"x{k}") for k, x in enumerate(expr.inputs)])
    root.backward()
    view = GraphView(root)
    src = draw_graph(root, style="book", precision=None).source
    grads = view.gradients()
    shared = [i for i in range(len(view)) if len(view.uses[i]) > 1]
    for i in shared:
        total = float(arrow(src, f"t{i}")[2])
        branches = [float(arrow(src, f"e{j}_{slot}")[2]) for j, slot in view.uses[i]]
        assert total == float(grads[i])
        assert math.isclose(total, math.fsum(branches), rel_tol=1e-9, abs_tol=1e-9), (total, branches)
