"""The explorer page driven in a real headless Chromium (Playwright with Debian's chromium, no download).

Skipped, with the reason, when Playwright (``pip install -e ".[browser]"``) or Chromium
(``apt-get install chromium``) is missing. Every page is opened from disk (file://) and may
make no request but for itself.
"""

import os

import pytest

from microgradcn import Value, examples
from microgradcn.examples import apple_tax
from microgradcn.functional import mse
from microgradcn.nn import MLP
from microgradcn.viz import GraphView, count_nodes, frames
from microgradcn.viz.explore import explore

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need Playwright: pip install -e '.[browser]'"
)
CHROMIUM = os.environ.get("MICROGRADCN_CHROMIUM", "/usr/bin/chromium")
if not os.access(CHROMIUM, os.X_OK):
    pytest.skip(f"browser tests need Chromium at {CHROMIUM} (Debian/Ubuntu: apt-get install chromium)",
                allow_module_level=True)

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PRICE_LINE = "∂支付金额/∂苹果单价 = ∂支付金额/∂苹果总价 × ∂苹果总价/∂苹果单价 = 1.1 × 2 = 2.2"


def xor_mlp_loss() -> Value:
    """The MSE loss of a 2-3-1 tanh MLP on the four XOR points, weights named w<layer>.<neuron>.<input>."""
    model = MLP(2, [3, 1], seed=0)
    for li, layer in enumerate(model.layers, 1):
        for ni, neuron in enumerate(layer.neurons, 1):
            for wi, w in enumerate(neuron.w, 1):
                w.label = f"w{li}.{ni}.{wi}"
            neuron.b.label = f"b{li}.{ni}"
    points = [[0, 0], [0, 1], [1, 0], [1, 1]]
    preds = [model([Value(a, label=f"x{n}₁"), Value(b, label=f"x{n}₂")]) for n, (a, b) in enumerate(points, 1)]
    loss = mse(preds, [0, 1, 1, 0])
    loss.label = "loss"
    return loss


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    with sync_api.sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True,
            args=ARGS, viewport={"width": 1280, "height": 720}, locale="zh-CN",
        )
        yield ctx
        ctx.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pages")
    biggest = max(examples.EXAMPLES, key=lambda name: count_nodes(examples.build(name)))  # the 2-2-1 network
    net = examples.build(biggest)
    return {
        "apple": explore(apple_tax()).save(folder / "apple_tax.html"),
        "network": explore(net, params=examples.parameters(biggest, net)).save(folder / "network.html"),
        "xor": explore(xor_mlp_loss(), style="book").save(folder / "xor.html"),
    }


class Opened:
    """A page opened from disk, recording every request it makes (anything but itself is aborted)."""

    def __init__(self, context, path, ready="body.ready"):
        self.url = path.resolve().as_uri()
        self.requests = []
        self.errors = []
        self.page = context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.route("**/*", self._route)
        self.page.goto(self.url)
        self.page.wait_for_selector(ready)

    def _route(self, route):
        self.requests.append(route.request.url)
        if route.request.url == self.url:
            route.continue_()
        else:
            route.abort()

    def text(self, selector):
        return self.page.inner_text(selector)

    def svg_texts(self, selector):
        return self.page.eval_on_selector_all(f"{selector} text", "ts => ts.map(t => t.textContent)")

    def frame(self):
        return int(self.page.get_attribute("body", "data-frame"))

    def classes(self, selector):
        return self.page.get_attribute(selector, "class").split()

    def close(self):
        assert self.errors == []
        assert self.requests == [self.url], "the page fetched something"
        self.page.close()


@pytest.fixture
def apple(context, pages):
    opened = Opened(context, pages["apple"])
    yield opened
    opened.close()


def test_click_apple_price_shows_its_numbers_and_chain_rule(apple):
    assert apple.text("#panel").startswith("点一个节点")
    apple.page.click("#node-n0")
    assert apple.text("#panel-name") == "苹果单价"
    assert apple.text("#panel-data") == "100" and apple.text("#panel-grad") == "2.2"
    assert apple.text("#panel-chain") == PRICE_LINE
    assert apple.text("#panel-op") == "无(叶子节点)" and "1 条路径" in apple.text("#panel-paths")
    # the paths to the output: 苹果单价 -> × -> 苹果总价 -> × -> 支付金额, nothing else
    for on in ("#node-n0", "#node-n2_op", "#node-n2", "#node-n4_op", "#node-n4", "#node-n0--n2_op",
               "#node-n2--n4_op", "#node-n4_op--n4"):
        assert "on" in apple.classes(on), on
    for off in ("#node-n1", "#node-n3", "#node-n1--n2_op", "#node-n3--n4_op"):
        assert "on" not in apple.classes(off), off
    assert "dim" in apple.classes("#graph-node svg") and "sel" in apple.classes("#node-n0")
    apple.page.click("#node-n2")  # an interior node: its local derivatives to both parents
    assert apple.text("#panel-locals").splitlines() == ["∂苹果总价/∂苹果单价 = 2", "∂苹果总价/∂苹果个数 = 100"]
    assert apple.text("#panel-forward") == "苹果总价 = 苹果单价 × 苹果个数 = 100 × 2 = 200"
    apple.page.click("#panel .chip >> text=支付金额")  # the chips walk the graph
    assert apple.text("#panel-name") == "支付金额" and "1(反向传播的起点)" in apple.text("#panel-chain")


def test_step_the_forward_then_backward_pass_to_the_end(apple):
    steps = frames(apple_tax())
    n = len(steps) // 2
    apple.page.click("#btn-forward")
    assert apple.frame() == 0 and apple.text("#caption") == steps[0].text
    assert apple.svg_texts("#node-n2") == ["苹果总价", "data ?", "grad ?"]
    for k in range(1, 2 * n):
        apple.page.keyboard.press("ArrowRight")
        assert apple.frame() == k and apple.text("#caption") == steps[k].text
        shown = [apple.svg_texts(f"#node-n{i}")[-2:] for i in range(n)]
        view = GraphView(apple_tax())
        for i, (data, grad) in enumerate(shown):
            assert (data != "data ?") == (steps[k].data[i] is not None), (k, i, data)
            assert (grad != "grad ?") == (steps[k].grads[i] is not None), (k, i, grad)
        assert apple.text("#step-label") == ("前向 " if k < n else "反向 ") + f"{k % n + 1}/{n}"
        assert view.name(steps[k].position) == apple.text("#panel-name")  # the panel follows the step
    grads = [apple.svg_texts(f"#node-n{i}")[-1] for i in range(n)]
    assert grads == ["grad 2.2", "grad 110", "grad 1.1", "grad 200", "grad 1"]
    assert apple.text("#panel-chain") == PRICE_LINE  # the last backward step is 苹果单价's
    apple.page.keyboard.press("ArrowLeft")
    assert apple.frame() == 2 * n - 2 and apple.svg_texts("#node-n0")[-1] == "grad ?"
    apple.page.keyboard.press("End")
    assert apple.frame() == 2 * n and apple.text("#step-label") == "全部算完"


def test_book_style_shows_an_arrows_gradient_when_its_tail_gets_it(apple):
    apple.page.click("#style-book")
    assert apple.page.is_visible("#graph-book") and not apple.page.is_visible("#graph-node")
    apple.page.click("#btn-backward")  # backward 1/5: only d支付金额/d支付金额 = 1 is known
    assert apple.svg_texts("#book-e_out") == ["220", "1"]
    assert apple.svg_texts("#book-e4_0") == ["苹果总价", "200", "?"] and apple.svg_texts("#book-e4_1") == ["1.1", "?"]
    apple.page.click("#btn-next")  # 消费税
    assert apple.svg_texts("#book-e4_1") == ["1.1", "200"] and apple.svg_texts("#book-e4_0") == ["苹果总价", "200", "?"]
    apple.page.click("#btn-next")  # 苹果总价
    assert apple.svg_texts("#book-e4_0") == ["苹果总价", "200", "1.1"] and apple.svg_texts("#book-e2_0") == ["100", "?"]
    lit = ("Array.from(document.querySelectorAll('#graph-book g.edge.cur'))"
           ".map(g => [g.id, g.classList.contains('back')])")
    # a backward step lights the two pieces of the red arrow pointing back into 苹果总价, not the forward one
    assert sorted(apple.page.evaluate(lit)) == [["book-e4_0--n4-2", True], ["book-n2--e4_0-2", True]]
    apple.page.click("#btn-next")
    apple.page.click("#btn-next")
    assert apple.svg_texts("#book-e2_0") == ["100", "2.2"] and apple.svg_texts("#book-e2_1") == ["2", "110"]
    apple.page.click("#btn-forward")  # forward 1/5: only 苹果单价's value
    assert apple.svg_texts("#book-e2_0") == ["100", "?"] and apple.svg_texts("#book-e2_1") == ["?", "?"]


def test_switch_styles_keeps_the_selection(apple):
    apple.page.click("#node-n0")
    apple.page.click("#style-book")
    assert apple.page.is_visible("#graph-book") and "active" in apple.classes("#style-book")
    assert apple.text("#panel-name") == "苹果单价" and "sel" in apple.classes("#book-n0")
    apple.page.click("#book-n3")
    assert apple.text("#panel-name") == "消费税" and apple.text("#panel-grad") == "200"
    apple.page.click("#style-node")
    assert apple.page.is_visible("#graph-node") and "sel" in apple.classes("#node-n3")


def test_find_a_node_by_label(apple):
    apple.page.fill("#search", "消费")
    apple.page.press("#search", "Enter")
    assert apple.text("#panel-name") == "消费税" and "找到" in apple.text("#search-msg")
    apple.page.fill("#search", "橘子")
    apple.page.click("#search-go")
    assert "没有找到" in apple.text("#search-msg") and apple.text("#panel-name") == "消费税"


def test_play_and_pause(apple):
    apple.page.select_option("#speed", "4")
    apple.page.click("#btn-play")  # at the end it starts again from the first step
    apple.page.wait_for_function("+document.body.dataset.frame >= 2")
    apple.page.keyboard.press(" ")  # pause
    stopped = apple.frame()
    apple.page.wait_for_timeout(600)
    assert apple.frame() == stopped < 10 and apple.text("#btn-play") == "▶ 播放"


def test_play_at_normal_speed_leaves_time_to_read_each_caption(apple):
    apple.page.click("#btn-end")
    apple.page.click("#btn-play")  # from the end it starts again at the first step
    assert apple.frame() == 0
    apple.page.wait_for_timeout(2000)  # the first caption is short: 2.5 s, so still on it
    assert apple.frame() == 0 and apple.text("#btn-play") == "❚❚ 暂停"
    apple.page.keyboard.press(" ")


def test_zoom_and_pan_the_2_2_1_network(context, pages):
    net = Opened(context, pages["network"])
    box = net.page.locator("#stage").bounding_box()

    def view_box():
        return [float(x) for x in net.page.get_attribute("#graph-node svg", "viewBox").split()]

    home = view_box()
    net.page.click("#zoom-in")
    zoomed = view_box()
    assert zoomed[2] < home[2] * 0.8
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    net.page.mouse.move(cx, cy)
    net.page.mouse.wheel(0, -300)
    assert view_box()[2] < zoomed[2]
    before = view_box()
    net.page.mouse.move(cx + 5, cy + 5)
    net.page.mouse.down()
    net.page.mouse.move(cx + 120, cy + 60, steps=5)
    net.page.mouse.up()
    after = view_box()
    assert after[0] < before[0] and after[1] < before[1] and after[2] == before[2]
    net.page.click("#zoom-fit")
    assert view_box() == home
    net.page.click("#zoom-in")
    net.page.click("#zoom-in")
    net.page.click("#btn-forward")  # stepping pans the zoomed picture to the node being computed
    for _ in range(3):
        net.page.keyboard.press("ArrowRight")
    current = net.page.evaluate("JSON.parse(document.getElementById('mgc-data').textContent).frames[3].node")
    node = net.page.locator(f"#node-n{current}").bounding_box()
    assert box["x"] <= node["x"] and node["x"] + node["width"] <= box["x"] + box["width"]
    assert box["y"] <= node["y"] and node["y"] + node["height"] <= box["y"] + box["height"]
    net.page.keyboard.press("End")
    net.page.fill("#search", "w5")
    net.page.press("#search", "Enter")
    assert net.text("#panel-name") == "w5" and net.text("#panel-grad") == "1.3125"
    net.close()


def test_xor_mlp_find_a_weight_and_see_its_paths(context, pages):
    xor = Opened(context, pages["xor"])
    assert xor.page.is_visible("#graph-book")
    xor.page.fill("#search", "w1.1.1")
    xor.page.press("#search", "Enter")
    assert xor.text("#panel-name") == "w1.1.1" and "4 条路径" in xor.text("#panel-paths")
    assert "被使用了 4 次" in xor.text("#panel-chain")
    terms = xor.text("#panel-terms").splitlines()
    assert len(terms) == 5 and all(t.startswith("经 ") for t in terms[:4]) and terms[4] == "合计 -0.0945768"
    lit = xor.page.eval_on_selector_all("#graph-book g.edge.on", "es => es.length")
    assert lit > 8
    xor.page.screenshot(path=str(pages["xor"].with_suffix(".png")))
    assert pages["xor"].with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    xor.close()


def test_inline_jupyter_view_works_inside_its_iframe(context, tmp_path):
    notebook = tmp_path / "cell.html"
    notebook.write_text("<!DOCTYPE html><body>" + explore(apple_tax())._repr_html_() + "</body>", encoding="utf-8")
    opened = Opened(context, notebook, ready="iframe")
    inner = opened.page.frame_locator("iframe")
    inner.locator("body.ready").wait_for()
    inner.locator("#node-n0").click()
    assert inner.locator("#panel-chain").inner_text() == PRICE_LINE
    opened.close()


def test_the_request_monitor_sees_a_page_that_fetches(context, tmp_path):
    leaky = tmp_path / "leaky.html"
    leaky.write_text('<body class="ready"><img src="http://example.invalid/a.png"></body>', encoding="utf-8")
    opened = Opened(context, leaky)
    opened.page.wait_for_timeout(200)
    assert "http://example.invalid/a.png" in opened.requests
    opened.page.close()


# ---------------------------------------------------------------------------- the page of boxes (real models)
PALETTE = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]


def norm_colour(norm, lo, hi):
    """The page's colour for a gradient norm: log10(norm) on the legend's scale, through the palette."""
    import math

    u = min(1.0, max(0.0, (math.log10(norm) - lo) / (hi - lo)))
    x = u * (len(PALETTE) - 1)
    k = min(len(PALETTE) - 2, int(x))
    f = x - k
    r, g, b = (round(a + (c - a) * f) for a, c in zip(PALETTE[k], PALETTE[k + 1]))
    return f"rgb({r}, {g}, {b})"


@pytest.fixture(scope="module")
def moons(tmp_path_factory):
    """The moons step's page (65,818 nodes) and, alive, its model with `.grad` filled by backward()."""
    from microgradcn.viz.step_graphs import step_graph

    loss, model = step_graph("moons")
    page = explore(loss)
    path = page.save(tmp_path_factory.mktemp("moons") / "moons.html")
    loss.backward()
    return path, model, page


@pytest.fixture
def moons_page(context, moons):
    opened = Opened(context, moons[0])
    yield opened
    opened.close()


def crumbs(opened):
    return opened.page.eval_on_selector_all("#crumbs .crumb", "bs => bs.map(b => b.textContent)")


def box_titles(opened):
    return opened.page.eval_on_selector_all("#level g.k2", "gs => gs.map(g => g.dataset.title)")


def test_moons_page_opens_at_the_top_level_and_opens_a_neuron_down_to_its_weights(moons_page, moons):
    page, model = moons_page.page, moons[1]
    assert box_titles(moons_page) == ["MLP", "hinge", "l2_penalty"] and crumbs(moons_page) == ["顶层"]
    assert page.text_content('[data-title="MLP"] .name') == "MLP ×100"
    page.click('[data-title="MLP"]')
    page.click('[data-title="layers.1"]')
    assert len(box_titles(moons_page)) == 16
    page.click('[data-title="layers.1.neurons.3"]')
    assert crumbs(moons_page) == ["顶层", "MLP[0]", "layers.1[0]", "layers.1.neurons.3[0]"]
    page.click('[data-name="layers.1.neurons.3.w.1"]')
    w1 = model.layers[1].neurons[3].w[1]
    assert moons_page.text("#panel-name") == "layers.1.neurons.3.w.1" and moons_page.text("#panel-kind") == "参数"
    chain_sum = float(page.get_attribute("body", "data-chain-sum"))
    assert chain_sum == pytest.approx(w1.grad, rel=1e-12, abs=1e-15)
    assert "共 102 项" in moons_page.text("#panel-chain")  # 100 samples and twice in the L2 penalty
    assert float(moons_page.text("#panel-grad")) == pytest.approx(w1.grad, rel=1e-5)
    assert float(moons_page.text("#panel-sum").lstrip("= ")) == pytest.approx(w1.grad, rel=1e-5)
    page.click("#crumbs .crumb >> text=MLP[0]")  # the breadcrumb leads back up
    assert crumbs(moons_page) == ["顶层", "MLP[0]"] and box_titles(moons_page) == ["layers.0", "layers.1", "layers.2"]


def test_a_folded_box_has_a_call_chooser(moons_page):
    page = moons_page.page
    page.click('[data-title="MLP"]')
    assert page.is_visible("#chooser") and page.eval_on_selector("#chooser", "s => s.options.length") == 100
    page.select_option("#chooser", label="MLP[37]")
    page.click('[data-title="layers.0"]')
    assert crumbs(moons_page) == ["顶层", "MLP[37]", "layers.0[37]"]


def test_search_finds_a_deep_parameter_opening_the_boxes_on_the_way(moons_page, moons):
    page = moons_page.page
    page.fill("#search", "layers.1.neurons.15.b")
    page.click("#search-go")
    assert moons_page.text("#panel-name") == "layers.1.neurons.15.b"
    assert crumbs(moons_page)[-1] == "layers.1.neurons.15[0]"
    assert "sel" in moons_page.classes('[data-name="layers.1.neurons.15.b"]')
    page.fill("#search", "neurons.2[5] · relu")  # part of a name: the first node whose name contains it
    page.click("#search-go")
    assert moons_page.text("#panel-name") == "layers.0.neurons.2[5] · relu#1"
    assert crumbs(moons_page)[1:] == ["MLP[5]", "layers.0[5]", "layers.0.neurons.2[5]"]


def test_backward_at_module_level_lights_each_box_with_its_norm_colour(moons_page, moons):
    import math

    page, model = moons_page.page, moons[1]
    page.click('[data-title="MLP"]')
    page.click("#btn-backward")
    lit_order = []
    last = int(page.evaluate("document.querySelectorAll('#level g.item').length"))  # a bound on the steps
    for _ in range(last + 2):
        lit = page.eval_on_selector_all('#level g.k2[data-lit="1"]', "gs => gs.map(g => g.dataset.title)")
        lit_order += [t for t in lit if t not in lit_order]
        if "done" in moons_page.classes("#caption"):
            break
        page.click("#btn-next")
    assert lit_order == ["layers.2", "layers.1", "layers.0"]  # the gradient flows from the output back
    lo = float(page.get_attribute("#legend", "data-lo"))
    hi = float(page.get_attribute("#legend", "data-hi"))
    for k, layer in enumerate(model.layers):
        norm = math.sqrt(sum(p.grad ** 2 for p in layer.parameters()))
        box = f'[data-title="layers.{k}"]'
        assert float(page.get_attribute(box, "data-norm")) == pytest.approx(norm, rel=1e-12)
        fill = page.eval_on_selector(f"{box} rect", "r => getComputedStyle(r).fill")
        assert fill == norm_colour(norm, lo, hi), (k, norm)


def test_stepping_inside_a_neuron_shows_each_value_when_it_is_computed(moons_page):
    page = moons_page.page
    for box in ("MLP", "layers.0", "layers.0.neurons.2"):
        page.click(f'[data-title="{box}"]')
    relu = '[data-name="layers.0.neurons.2[0] · relu#1"]'
    page.click("#btn-forward")
    assert "开始" in moons_page.text("#caption") and page.text_content(f"{relu} .nums") == "? | ∇ ?"
    while "算出 layers.0.neurons.2[0] · relu#1" not in moons_page.text("#caption"):
        page.click("#btn-next")
    assert not page.text_content(f"{relu} .nums").startswith("?")  # its value, not yet its gradient
    assert page.text_content(f"{relu} .nums").endswith("∇ ?")
    page.click(relu)
    assert len(page.query_selector_all("#level .arrow.on")) == 2  # from the last sum, out of the neuron


def test_the_page_of_boxes_works_inside_a_notebook_iframe(context, moons, tmp_path):
    notebook = tmp_path / "cell.html"
    notebook.write_text("<!DOCTYPE html><body>" + moons[2]._repr_html_() + "</body>", encoding="utf-8")
    opened = Opened(context, notebook, ready="iframe")
    inner = opened.page.frame_locator("iframe")
    inner.locator("body.ready").wait_for()
    inner.locator('[data-title="MLP"]').click()
    assert inner.locator("#crumbs .crumb").all_inner_texts() == ["顶层", "MLP[0]"]
    opened.close()


def test_zoom_shows_a_whole_level_and_back(moons_page):
    page = moons_page.page
    for box in ("MLP", "layers.1", "layers.1.neurons.3"):
        page.click(f'[data-title="{box}"]')
    start = float(page.get_attribute("body", "data-zoom"))
    assert start >= 0.75  # readable: the long neuron scrolls rather than shrinks
    page.click("#zoom-fit")
    fitted = float(page.get_attribute("body", "data-zoom"))
    width = page.evaluate("document.getElementById('level').getBoundingClientRect().width")
    assert fitted < start and width <= page.evaluate("document.getElementById('scroller').clientWidth") + 1
    page.click("#zoom-in")
    assert float(page.get_attribute("body", "data-zoom")) == pytest.approx(fitted * 1.25, rel=1e-2)
