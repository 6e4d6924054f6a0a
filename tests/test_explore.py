"""The explorer page without a browser: self-contained HTML, the right numbers and frames, the CLI."""

import html
import json
import os
import re

import pytest
from hypothesis import given, settings

from microgradcn import Value, examples, gradcheck
from microgradcn.cli import main
from microgradcn.examples import apple_orange, apple_tax
from microgradcn.testing import expressions
from microgradcn.viz import GraphView, explain, frames
from microgradcn.viz.explain import backward_line
from microgradcn.viz.explore import Explorer, explore, page_data

DATA = re.compile(r'<script type="application/json" id="mgc-data">(.*?)</script>', re.DOTALL)


def data_of(page: str) -> dict:
    return json.loads(DATA.search(page).group(1))


@pytest.fixture(scope="module")
def apple_page() -> str:
    return explore(apple_tax()).html


def test_page_is_one_offline_file(apple_page):
    page = apple_page
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "http://" not in page and "https://" not in page and "file:" not in page
    for fetching in ("<link", "src=", "@import", "url(", "<iframe", "fetch(", "XMLHttpRequest", "import("):
        assert fetching not in page, fetching
    assert page.count("<svg") == 2 and page.count("<script") == 2  # both pictures, the data, our script
    assert 'id="mgc-data"' in page and "explorer: our own small script" in page


def test_both_pictures_have_stable_ids_for_every_node(apple_page):
    for i in range(5):
        assert f'id="node-n{i}"' in apple_page and f'id="book-n{i}"' in apple_page
    for name in ("node-n2_op", "node-n0--n2_op", "node-n2_op--n2", "book-e2_0", "book-e4_1", "book-e_out",
                 "book-n0--e2_0", "book-e2_0--n2", "book-n4--e_out", "book-e_out--out"):
        assert f'id="{name}"' in apple_page, name
    assert 'id="node1"' not in apple_page and 'id="graph0"' not in apple_page


def test_data_holds_every_number_and_the_explain_text(apple_page):
    data = data_of(apple_page)
    nodes = data["nodes"]
    assert [v["name"] for v in nodes] == ["苹果单价", "苹果个数", "苹果总价", "消费税", "支付金额"]
    assert [v["data"] for v in nodes] == ["100", "2", "200", "1.1", "220"]
    assert [v["grad"] for v in nodes] == ["2.2", "110", "1.1", "200", "1"]
    assert [v["kind"] for v in nodes] == ["input", "input", "intermediate", "input", "output"]
    price = nodes[0]
    assert price["backward"] == "∂支付金额/∂苹果单价 = ∂支付金额/∂苹果总价 × ∂苹果总价/∂苹果单价 = 1.1 × 2 = 2.2"
    with open(os.devnull, "w") as devnull:
        assert "  " + price["backward"] in explain(apple_tax(), file=devnull)
    assert nodes[2]["forward"] == "苹果总价 = 苹果单价 × 苹果个数 = 100 × 2 = 200"
    assert [loc["text"] for loc in nodes[2]["locals"]] == ["∂苹果总价/∂苹果单价 = 2", "∂苹果总价/∂苹果个数 = 100"]
    assert [loc["text"] for loc in nodes[4]["locals"]] == ["∂支付金额/∂苹果总价 = 1.1", "∂支付金额/∂消费税 = 200"]
    assert nodes[4]["symbol"] == "×" and nodes[4]["opText"] == "乘法" and nodes[0]["op"] == ""
    assert [v["uses"] for v in nodes] == [[[2, 0]], [[2, 1]], [[4, 0]], [[4, 1]], []]
    assert data["output"] == 4


def test_frames_are_the_step_through_frames(apple_page):
    data = data_of(apple_page)
    steps = frames(apple_tax())
    assert [f["text"] for f in data["frames"]] == [f.text for f in steps]
    assert [f["node"] for f in data["frames"]] == [f.position for f in steps]
    # forward 0..4 reveal nodes 0..4; backward 5..9 go from the output (4) back to 苹果单价 (0)
    assert [v["dataFrame"] for v in data["nodes"]] == [0, 1, 2, 3, 4]
    assert [v["gradFrame"] for v in data["nodes"]] == [9, 8, 7, 6, 5]


def test_book_gradient_under_an_arrow_appears_when_its_tail_gets_its_gradient(apple_page):
    edges = {e["id"]: e for e in data_of(apple_page)["edges"]}
    # arrow 苹果总价 -> 支付金额 carries 200 and, from frame 7 (苹果总价's backward step), 1.1 below it;
    # 支付金额's own gradient is known from frame 5, but the arrow's gradient waits for its tail.
    assert (edges["e4_0"]["data"], edges["e4_0"]["grad"]) == ("200", "1.1")
    assert {k: (e["dataFrame"], e["gradFrame"]) for k, e in edges.items()} == {
        "e2_0": (0, 9), "e2_1": (1, 8), "e4_0": (2, 7), "e4_1": (3, 6), "e_out": (4, 5)}
    assert (edges["e2_0"]["grad"], edges["e2_1"]["grad"], edges["e4_1"]["grad"]) == ("2.2", "110", "200")


@pytest.mark.parametrize("name", list(examples.EXAMPLES))
def test_every_example_makes_a_page_whose_reveal_frames_match(name):
    root = examples.build(name)
    page = explore(root, params=examples.parameters(name, root)).html
    data = data_of(page)
    steps = frames(root)
    view = GraphView(root)
    assert len(data["frames"]) == len(steps) == 2 * len(view)
    for f, frame in enumerate(steps):
        for i, v in enumerate(data["nodes"]):
            assert (frame.data[i] is not None) == (v["dataFrame"] <= f)
            assert (frame.grads[i] is not None) == (v["gradFrame"] <= f)
    grads = view.gradients()
    for i, v in enumerate(data["nodes"]):
        assert v["backward"] == backward_line(view, i, grads)
        assert f'id="node-n{i}"' in page and f'id="book-n{i}"' in page
    for e in data["edges"]:
        assert e["gradFrame"] == data["nodes"][e["parent"]]["gradFrame"]
        assert f'id="book-{e["id"]}"' in page
    kinds = {v["name"]: v["kind"] for v in data["nodes"]}
    assert all(kinds[p.label] == "param" for p in examples.parameters(name, root))


def test_a_value_used_twice_counts_its_paths_and_keeps_both_arrows():
    x = Value(3, label="x")
    y = x * x
    y.label = "y"
    z = y + x
    z.label = "z"
    page = explore(z).html  # backward() never called: gradients come from the local derivatives
    data = data_of(page)
    nodes = {v["name"]: v for v in data["nodes"]}
    assert nodes["x"]["grad"] == "7" and nodes["x"]["paths"] == "3" and nodes["y"]["paths"] == "1"
    assert "x 被使用了 3 次" in nodes["x"]["backward"]
    assert [t["text"] for t in nodes["x"]["terms"]] == ["经 y:1 × 3 = 3", "经 y:1 × 3 = 3", "经 z:1 × 1 = 1"]
    assert 'id="node-n0--n1_op"' in page and 'id="node-n0--n1_op-2"' in page
    assert x.grad == 0


def test_labels_cannot_break_the_page():
    a = Value(2, label="</script><b>a&b</b>")
    b = Value(3, label='"quoted" [x] {y}')
    c = a * b
    c.label = "<!-- c -->"
    page = explore(c).html
    assert page.count("</script>") == 2 and "<b>" not in page and "<!-- c" not in page
    assert [v["name"] for v in data_of(page)["nodes"]] == ["</script><b>a&b</b>", '"quoted" [x] {y}', "<!-- c -->"]


def test_book_style_first_and_fractions_stay_exact():
    page = explore(apple_tax(exact=True), style="book", title="苹果 & 税").html
    assert '<body data-style="book">' in page and "<title>苹果 &amp; 税</title>" in page
    assert data_of(page)["nodes"][0]["grad"] == "11/5"


def test_explorer_saves_and_shows_inline(tmp_path):
    page = explore(apple_orange())
    assert isinstance(page, Explorer) and "apple" not in repr(page) and "支付金额" in repr(page)
    path = page.save(tmp_path / "sub" / "p.html")
    assert path.read_text(encoding="utf-8") == page.html
    inline = page._repr_html_()
    assert inline.startswith("<iframe srcdoc=\"") and "<script" not in inline
    assert html.unescape(re.search(r'srcdoc="(.*?)"', inline, re.DOTALL).group(1)) == page.html
    with pytest.raises(ValueError, match="directory"):
        page.save(tmp_path)


def test_bad_arguments_say_what_was_expected():
    with pytest.raises(ValueError, match="style must be 'node' or 'book', got 'fancy'"):
        explore(apple_tax(), style="fancy")
    with pytest.raises(TypeError, match="expected a Value.*got int"):
        explore(3)


@settings(max_examples=60)
@given(expressions(n_inputs=(1, 3), n_ops=(1, 6)))
def test_page_gradients_match_backward_and_numerical_differentiation(expr):
    xs = [Value(x) for x in expr.inputs]
    out = expr(*xs)
    out.backward()
    data = page_data(out, precision=None)
    view = GraphView(out)
    for x in xs:
        if id(x) not in view.index:  # an input the output does not depend on
            continue
        shown = float(data["nodes"][view.pos(x)]["grad"])
        assert shown == pytest.approx(x.grad, rel=1e-9, abs=1e-12)
    # ...and those gradients against numbers, as the engine's own property does (its step sizes and tolerance
    # cope with steep functions such as sin(x**-3) near 0.25, where one fixed central difference is 0.1% off).
    gradcheck(expr, expr.inputs)


@pytest.mark.parametrize("name", list(examples.EXAMPLES))
def test_cli_explore_writes_a_page_for_every_example(name, tmp_path, capsys):
    path = tmp_path / f"{name}.html"
    assert main(["explore", name, "-o", str(path), "--style", "book"]) == 0
    assert str(path) in capsys.readouterr().out
    page = path.read_text(encoding="utf-8")
    assert '<body data-style="book">' in page and data_of(page)["nodes"]


def test_cli_explore_errors_are_one_line(tmp_path, capsys):
    assert main(["explore", "nope", "-o", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown example 'nope'" in err and "apple_tax" in err
    assert main(["explore", "apple_tax", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "directory" in err


def test_cli_explore_follows_the_output_rule(tmp_path, capsys):
    """-o never creates folders (as render and train) and must name an .html file; nothing is written."""
    missing = tmp_path / "missing" / "dir" / "x.html"
    assert main(["explore", "apple_tax", "-o", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err and not (tmp_path / "missing").exists()
    assert main(["explore", "apple_tax", "-o", str(tmp_path / "page.txt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ".html" in err and not (tmp_path / "page.txt").exists()


def test_cli_explore_default_path(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["explore", "chain_rule"]) == 0
    assert (tmp_path / "microgradcn-output" / "chain_rule_explore.html").exists()


def test_a_lone_leaf_is_its_own_output():
    data = data_of(explore(Value(3, label="x"), style="book").html)
    assert [(v["name"], v["data"], v["grad"], v["kind"]) for v in data["nodes"]] == [("x", "3", "1", "output")]
    assert [e["id"] for e in data["edges"]] == ["e_out"] and data["nodes"][0]["backward"] == "∂x/∂x = 1(反向传播的起点)"
    assert [f["text"] for f in data["frames"]] == ["前向 1/1:输入 x = 3", "反向 1/1:∂x/∂x = 1(反向传播的起点)"]


def test_book_page_has_the_branch_arrow_of_an_input_used_twice():
    root = examples.network_2_2_1()
    view = GraphView(root)
    x1 = view.pos(examples.find(root, "x1"))
    page = explore(root).html
    trunk = {e["id"]: e for e in data_of(page)["edges"]}[f"t{x1}"]
    assert (trunk["data"], trunk["grad"], trunk["parent"]) == ("1", "2.94", x1)
    # the forward arrow and the red arrow pointing back get one id each, ports left out
    for name in (f"book-n{x1}--t{x1}", f"book-n{x1}--t{x1}-2", f"book-t{x1}--s{x1}", f"book-s{x1}"):
        assert f'id="{name}"' in page, name


def test_each_step_is_played_long_enough_to_read_its_caption(apple_page):
    from microgradcn.viz.steps import reading_milliseconds

    steps = data_of(apple_page)["frames"]
    assert [f["ms"] for f in steps] == [reading_milliseconds(f["text"]) for f in steps]
    assert min(f["ms"] for f in steps) == 2500 and max(f["ms"] for f in steps) > 5000  # the chain-rule lines
