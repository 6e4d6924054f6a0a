"""Step-through frames: one per node and pass, only known numbers shown, saved outputs."""

import re

import pytest

from microgradcn import Value
from microgradcn.examples import apple_orange, apple_tax, network_2_2_1
from microgradcn.viz import GraphView, backward_frames, draw_frame, forward_frames, frames, save_frames, save_gif
from microgradcn.viz.steps import FrameList, save_html, stepper


@pytest.mark.parametrize("build", [apple_tax, apple_orange, network_2_2_1])
def test_one_frame_per_node_in_each_pass(build):
    root = build()
    n = len(GraphView(root))
    assert len(forward_frames(root)) == n
    assert len(backward_frames(root)) == n
    assert len(frames(root)) == 2 * n


def test_forward_frames_reveal_values_in_order():
    pay = apple_tax()
    fwd = forward_frames(pay)
    assert [f.node.label for f in fwd] == ["苹果单价", "苹果个数", "苹果总价", "消费税", "支付金额"]
    assert fwd[2].data == (100, 2, 200, None, None)
    assert all(g is None for g in fwd[-1].grads)
    assert fwd[2].text == "前向 3/5:计算 苹果总价 = 苹果单价 × 苹果个数 = 100 × 2 = 200"


def test_backward_frames_reveal_gradients_output_first():
    pay = apple_tax(exact=True)
    bwd = backward_frames(pay)
    assert bwd[0].node is pay and bwd[0].grads == (None, None, None, None, 1)
    assert [f.node.label for f in bwd][-1] == "苹果单价"
    assert bwd[-1].grads[0] == pytest.approx(2.2) and str(bwd[-1].grads[0]) == "11/5"
    assert "1.1 × 2 = 2.2" not in bwd[-1].text and "11/10 × 2 = 11/5" in bwd[-1].text


def test_backward_frames_do_not_depend_on_grad_state():
    x = Value(3, label="x")
    y = x * x
    y.label = "y"
    assert backward_frames(y)[-1].grads[0] == 6  # backward() never called
    y.backward()
    y.backward()  # leaf now holds 12; frames still show d y / d x = 6
    assert backward_frames(y)[-1].grads[0] == 6


def test_drawn_frame_highlights_the_node_and_hides_unknowns():
    pay = apple_tax()
    frame = forward_frames(pay)[2]
    node_src = draw_frame(frame).source
    assert node_src.count('BORDER="3" COLOR="#e74c3c"') == 1 and "data ?" in node_src and "grad ?" in node_src
    book_src = draw_frame(backward_frames(pay)[1], style="book").source
    assert re.search(r'e4_1 \[label=<<TABLE.*?<TD[^>]*>1\.1</TD>.*?<FONT COLOR="#c0392b">200<', book_src)
    assert re.search(r'e2_0 \[label=<<TABLE.*?<TD[^>]*>100</TD>.*?<FONT COLOR="#c0392b">\?<', book_src)
    assert "反向 2/5" in book_src


def test_save_frames_writes_numbered_svgs_and_an_html_slider(tmp_path):
    paths = save_frames(apple_tax(), tmp_path, style="book")
    assert [p.name for p in paths] == [f"step_{k:03d}.svg" for k in range(1, 11)]
    page = (tmp_path / "steps.html").read_text(encoding="utf-8")
    assert page.count('<div class="frame">') == 10 and 'type="range"' in page
    assert "<?xml" not in page and "http" not in page.split("<svg")[0]  # self-contained


def test_html(tmp_path):
    save_html(frames(apple_orange()), tmp_path / "s.html")  # the GIF: see test_gif_frames_share_one_canvas...
    assert (tmp_path / "s.html").stat().st_size > 1000


def test_stepper_with_and_without_ipywidgets(monkeypatch):
    pytest.importorskip("ipywidgets", reason="ipywidgets is in the viz extra")
    widget = stepper(apple_tax())
    assert type(widget).__name__ == "VBox"
    import builtins

    real_import = builtins.__import__

    def no_ipywidgets(name, *args, **kwargs):
        if name == "ipywidgets":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ipywidgets)
    fallback = stepper(apple_tax())
    assert isinstance(fallback, FrameList) and len(fallback) == 10
    assert fallback._repr_html_().count("<svg") == 10


# ------------------------------------------------ book-style timing and canvas
def _under_arrows(source):
    """middle node id -> the red text written under that arrow."""
    return dict(re.findall(r'(e\d+_\d+|e_out|t\d+) \[label=<<TABLE.*?<FONT COLOR="#c0392b">(.*?)</FONT>', source))


def test_book_style_writes_each_backward_value_at_the_frame_that_computes_it():
    # nodes: 0 苹果单价, 1 苹果个数, 2 苹果总价 (= 0 × 1), 3 消费税, 4 支付金额 (= 2 × 3)
    pay = apple_tax()
    expected = [
        {"e2_0": "?", "e2_1": "?", "e4_0": "?", "e4_1": "?", "e_out": "1"},     # 反向 1/5: ∂支付金额/∂支付金额
        {"e2_0": "?", "e2_1": "?", "e4_0": "?", "e4_1": "200", "e_out": "1"},   # 反向 2/5: 消费税
        {"e2_0": "?", "e2_1": "?", "e4_0": "1.1", "e4_1": "200", "e_out": "1"},  # 反向 3/5: 苹果总价
        {"e2_0": "?", "e2_1": "110", "e4_0": "1.1", "e4_1": "200", "e_out": "1"},  # 反向 4/5: 苹果个数
        {"e2_0": "2.2", "e2_1": "110", "e4_0": "1.1", "e4_1": "200", "e_out": "1"},  # 反向 5/5: 苹果单价
    ]
    backward = backward_frames(pay)
    assert [f.node.label for f in backward] == ["支付金额", "消费税", "苹果总价", "苹果个数", "苹果单价"]
    for frame, want in zip(backward, expected):
        assert _under_arrows(draw_frame(frame, style="book").source) == want, frame.text
    for frame in forward_frames(pay):
        assert set(_under_arrows(draw_frame(frame, style="book").source).values()) == {"?"}


def test_a_value_used_twice_shows_both_arrows_at_its_own_frame():
    x = Value(3, label="x")
    y = x * x
    y.label = "y"
    first, second = backward_frames(y)
    # x's arrow to its branch point (t0) carries the sum, 6, from x's own frame on
    assert _under_arrows(draw_frame(first, style="book").source) == {
        "t0": "?", "e1_0": "?", "e1_1": "?", "e_out": "1"}
    assert _under_arrows(draw_frame(second, style="book").source) == {
        "t0": "6", "e1_0": "3", "e1_1": "3", "e_out": "1"}
    assert "3 + 3 = 6" in second.text


def test_gif_frames_share_one_canvas_and_keep_the_picture_still(tmp_path):
    from PIL import Image, ImageChops, ImageSequence

    pay = apple_tax()
    gif = save_gif(pay, tmp_path / "a.gif")
    with Image.open(gif) as image:
        pages = [page.convert("RGB") for page in ImageSequence.Iterator(image)]
    assert len(pages) == 10 and image.width > 1000  # 150 dpi: the picture alone is ~750 px wide
    # The left edge of the drawing (the input names) stays at the same pixel column in every frame.
    lefts = set()
    for page in pages:
        band = page.crop((0, 0, page.width, page.height * 2 // 3))
        box = ImageChops.difference(band, Image.new("RGB", band.size, "white")).getbbox()
        lefts.add(box[0])
    assert len(lefts) == 1, lefts


def test_html_page_shows_each_caption_once_and_fits_the_window(tmp_path):
    import html

    all_frames = frames(apple_tax())
    page = save_html(all_frames, tmp_path / "s.html", style="book").read_text(encoding="utf-8")
    for frame in all_frames:
        assert page.count(html.escape(frame.text)) == 1, frame.text
    assert "max-width: 100%" in page and "height: auto" in page
    assert page.count("<svg") == 10


def test_draw_frame_without_caption():
    frame = frames(apple_tax())[0]
    assert frame.text.startswith("前向 1/5") and frame.text not in draw_frame(frame, caption=False).source
    assert frame.text in draw_frame(frame).source


@pytest.mark.parametrize("style", ["book", "node"])
def test_every_frame_has_the_same_layout(style):
    import json

    from microgradcn.viz.render import pipe

    layouts = set()
    for frame in frames(apple_orange()):
        layout = json.loads(pipe(draw_frame(frame, style=style, caption=False), "json"))
        layouts.add(tuple((node["name"], node["pos"], node["width"]) for node in layout["objects"]))
    assert len(layouts) == 1


def test_book_frames_highlight_the_arrows_of_their_own_pass():
    pay = apple_tax()  # node 2 is 苹果总价; its arrow to 支付金额 is e4_0
    forward = draw_frame(forward_frames(pay)[2], style="book").source
    backward = draw_frame(backward_frames(pay)[2], style="book").source
    hot_forward = re.compile(r'^\s*(?:n2 -> e4_0:f:w|e4_0:f:e -> n4) \[.*color="#2563eb".*penwidth=2\.6', re.M)
    hot_back = re.compile(r'^\s*(?:n2 -> e4_0:b:w|e4_0:b:e -> n4) \[.*color="#c0392b".*penwidth=2\.8', re.M)
    assert len(hot_forward.findall(forward)) == 2 and not hot_back.findall(forward)
    assert len(hot_back.findall(backward)) == 2 and not hot_forward.findall(backward)
    # only the current node's arrows
    assert forward.count("penwidth=2.6") == 2 and backward.count("penwidth=2.8") == 2
    # and the bar the forward arrow runs through inside its label turns blue with it
    assert forward.count('BGCOLOR="#2563eb"') == 1 and backward.count('BGCOLOR="#2563eb"') == 0


def test_gif_shows_each_frame_long_enough_to_read_and_holds_the_last(tmp_path):
    from PIL import Image, ImageSequence

    from microgradcn.viz.steps import LAST_FRAME_HOLD_MS, reading_milliseconds

    all_frames = frames(apple_tax())
    with Image.open(save_gif(all_frames, tmp_path / "a.gif", dpi=40)) as image:
        durations = [page.info["duration"] for page in ImageSequence.Iterator(image)]
    wanted = [reading_milliseconds(f.text) for f in all_frames]
    wanted[-1] += LAST_FRAME_HOLD_MS
    assert durations == wanted
    assert min(durations) == 2500  # "前向 1/5:输入 苹果单价 = 100"
    assert durations[8] == 1000 + 75 * len(all_frames[8].text) > 5000  # a 64-character chain-rule line
    with Image.open(save_gif(all_frames, tmp_path / "b.gif", dpi=40, milliseconds=3000)) as image:
        assert [page.info["duration"] for page in ImageSequence.Iterator(image)] == [3000] * 9 + [7000]


@pytest.mark.parametrize("bad", [0, 5, 2.5, "3000", True])
def test_gif_rejects_a_bad_frame_time(bad, tmp_path):
    with pytest.raises(ValueError, match="milliseconds must be"):
        save_gif(apple_tax(), tmp_path / "a.gif", milliseconds=bad)


def test_reading_time_grows_with_the_caption_within_bounds():
    from microgradcn.viz.steps import reading_milliseconds

    assert reading_milliseconds("") == reading_milliseconds("短") == 2500
    assert reading_milliseconds("字" * 40) == 4000 and reading_milliseconds("字" * 500) == 8000
    assert reading_milliseconds("字" * 45) == 4370  # 4,375 ms kept to the GIF's 10 ms steps
    with pytest.raises(TypeError, match="caption as a str"):
        reading_milliseconds(None)
