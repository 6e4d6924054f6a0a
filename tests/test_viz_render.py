"""draw_graph: DOT structure, determinism, escaping, numbers, size limit, rendering."""

import re
import subprocess
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradcn import Value, examples
from microgradcn.examples import apple_tax, find
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
    return re.findall(r"^\s*(\w+) -> (\w+)", source, re.M)


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
    assert ("n0", "e1_0") in edges(book) and ("n0", "e1_1") in edges(book)
    # each edge carries its own share of the gradient: 3 and 3, summing to x.grad = 6
    assert book.count('<FONT COLOR="#c0392b">3</FONT>') == 2


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

    def edge_value(middle):
        m = re.search(rf"{middle} \[label=<<TABLE.*?<TD>(.*?)</TD>.*?#c0392b\">(.*?)</FONT>", src)
        return m.groups()

    # forward above, backward below, on each arrow; inputs named at the tails
    assert edge_value("e2_0") == ("100", "2.2")
    assert edge_value("e2_1") == ("2", "110")
    assert edge_value("e4_0") == ("200", "1.1")
    assert edge_value("e4_1") == ("1.1", "200")
    assert edge_value("e_out") == ("220", "1")
    assert src.count("label=<×>") == 2
    for name in ("苹果单价", "苹果个数", "消费税"):
        assert re.search(rf"\[label=<{name}>.*shape=plaintext", src)
    assert ("n0", "e2_0") in edges(src) and ("e2_0", "n2") in edges(src) and ("e_out", "out") in edges(src)


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
    assert 500 <= w96 <= 540  # Graphviz's own default: 516 × 177 px, blurred on today's screens
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
