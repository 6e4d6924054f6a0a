"""draw_graph(depth=, focus=) and explain(focus=): scopes drawn as boxes, folding, stubs, norms, bad input."""

import math

import numpy as np
import pytest

from microgradcn import Value
from microgradcn import functional as F
from microgradcn.nn import GPT, MLP, Linear, Module
from microgradcn.train import digits_model
from microgradcn.viz import GraphTooLargeError, GraphView, draw_graph, explain
from microgradcn.viz.focus import select
from microgradcn.viz.render import pipe
from microgradcn.viz.scoped import Part, plan


def moons_like(n_points=3):
    model = MLP(2, [3, 2, 1], seed=0)
    rows = [[Value(0.5 * k), Value(-0.25 * k)] for k in range(n_points)]
    labels = [1 if k % 2 else -1 for k in range(n_points)]
    loss = F.hinge([model(x) for x in rows], labels) + F.l2_penalty(model.parameters(), 1e-4)
    loss.backward()
    return model, loss, rows


def picture(root, depth=None, focus=None, call=None, radius=None):
    view = GraphView(root, None)
    return plan(view, view.tree, select(view, view.tree, focus, call, radius), depth)


def titles(pic):
    return sorted(what.title for what in pic.items.values() if isinstance(what, Part))


# ------------------------------------------------------------------ depth
def test_depth_1_draws_the_top_level_boxes_and_one_arrow_per_pair():
    model, loss, _ = moons_like()
    pic = picture(loss, depth=1)
    assert titles(pic) == ["MLP ×3", "hinge", "l2_penalty"]
    assert pic.count() == 4  # three boxes and the final +
    by_title = {what.title: key for key, what in pic.items.items() if isinstance(what, Part)}
    carried = {(pic.items[t].title, pic.items[h].title): len(v) for (t, h), v in pic.edges.items()
               if isinstance(pic.items[t], Part) and isinstance(pic.items[h], Part)}
    assert carried == {("MLP ×3", "hinge"): 3, ("MLP ×3", "l2_penalty"): len(model.parameters())}
    assert pic.inside[by_title["MLP ×3"]] is None
    source = draw_graph(loss, depth=1).source
    assert "MLP ×3" in source and "label=3 " in source and f"label={len(model.parameters())} " in source


def test_parameters_and_inputs_are_drawn_inside_their_boxes():
    model, loss, rows = moons_like()
    pic = picture(loss, depth=1)
    view = pic.view
    for p in model.parameters() + [x for row in rows for x in row]:
        assert pic.item_of[view.pos(p)][0] == "box"  # never a node at the top level
    deep = picture(loss, depth=3)
    w = model.layers[1].neurons[1].w[0]
    key = deep.item_of[view.pos(w)]
    assert deep.items[key].box.path == "layers.1.neurons.1"


def test_calls_of_one_module_fold_into_one_box_with_nodes_per_call():
    model, loss, _ = moons_like(n_points=4)
    pic = picture(loss, depth=3)
    assert "layers.1.neurons.1 ×4" in titles(pic)
    source = draw_graph(loss, depth=3, max_nodes=None).source
    assert "每次 7 个节点" in source  # b + w0·x0 + w1·x1 + w2·x2 and relu: 3 × and 3 + and relu
    gpt = GPT(vocab_size=5, n_embd=8, n_head=2, seed=0)
    gpt_source = draw_graph(gpt.loss([0, 1, 2, 0]), depth=2, max_nodes=None).source
    assert "step ×3" in gpt_source and "每次 " in gpt_source and "–" in gpt_source  # positions differ in size


def test_max_nodes_counts_drawn_items():
    model, loss, _ = moons_like()
    with pytest.raises(GraphTooLargeError, match="max_nodes=3"):
        draw_graph(loss, depth=1, max_nodes=3)
    draw_graph(loss, depth=1, max_nodes=4)


@pytest.mark.parametrize("style", ["node", "book"])
def test_both_styles_draw_boxes_and_render(style):
    model, loss, _ = moons_like()
    g = draw_graph(loss, depth=2, style=style)
    assert "layers.1 ×3" in g.source
    assert pipe(g, "svg").startswith(b"<?xml")


def test_gradient_norms_of_parameter_boxes_and_of_others():
    model, loss, _ = moons_like()
    source = draw_graph(loss, depth=3, max_nodes=None).source
    neuron = model.layers[1].neurons[0]
    norm = math.sqrt(sum(p.grad ** 2 for p in neuron.parameters()))
    assert f"‖∂根/∂参数‖₂ = {norm:.6g}" in source
    assert "‖∂根/∂输出‖₂ = 1<" in draw_graph(loss, depth=1).source  # hinge's output feeds the root with weight 1


def test_a_large_call_without_sub_scopes_opens_one_output_at_a_time():
    model = digits_model("cnn", seed=0)
    loss = F.cross_entropy(model(np.linspace(0, 1, 64).reshape(1, 8, 8)), 3)
    pic = picture(loss, focus="layers.4")
    slices = [key for key in pic.items if key[0] == "slice"]
    assert sorted(key[2] for key in slices if key[2] is not None) == list(range(10))
    assert pic.count() < 40


# ------------------------------------------------------------------ focus
def test_focus_on_a_path_draws_one_call_with_stubs():
    model, loss, _ = moons_like()
    pic = picture(loss, focus="layers.1", call=2)
    assert pic.clusters[("frame",)].title == "layers.1[2]"
    stubs = [what for key, what in pic.items.items() if key[0] == "stub"]
    # in: the layer before; out: the layer after (the parameters' other users, the other calls and the
    # penalty, are not this call's data flow)
    assert sorted(stubs) == [("in", "layers.0[2]"), ("out", "layers.2[2]")]
    same = picture(loss, focus="layers.1[2]")
    assert same.selection.nodes == pic.selection.nodes
    module = picture(loss, focus=model.layers[1], call=2)
    assert module.selection.nodes == pic.selection.nodes


def test_depth_counts_from_the_focused_scope():
    model, loss, _ = moons_like()
    pic = picture(loss, focus="MLP", depth=1)
    assert titles(pic) == ["layers.0[0]", "layers.1[0]", "layers.2[0]"]


def test_focus_on_a_value_draws_its_neighbourhood():
    model, loss, _ = moons_like()
    w = model.layers[0].neurons[0].w[0]
    pic = picture(loss, focus=w, radius=1)
    view = pic.view
    assert view.pos(w) in pic.selection.nodes
    assert len(pic.selection.nodes) == 1 + len({j for j, _ in view.uses[view.pos(w)]})
    a = Value(2.0, label="a")
    y = (a * 3 + 1) * 2
    small = picture(y, focus=a, radius=1)
    assert {pic_name for pic_name in (small.view.name(i) for i in small.selection.nodes)} == {"a", "v2"}


def test_explain_with_a_focus_explains_only_that_part():
    model, loss, _ = moons_like()
    text = explain(loss, focus="layers.2.neurons.0", call=1, file=None)
    lines = text.splitlines()[1:]
    assert lines and all("layers.2.neurons.0" in line.split(" = ")[0] for line in lines)
    assert any("∂layers.2.neurons.0.w.1 " in line for line in lines)
    with pytest.raises(GraphTooLargeError, match="max_nodes=5"):
        explain(loss, focus="MLP", max_nodes=5, file=None)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("depth", [0, -1, True, 1.5])
def test_bad_depth(depth):
    model, loss, _ = moons_like()
    before = [v.grad for v in GraphView(loss, None).nodes]
    with pytest.raises(ValueError, match="depth must be"):
        draw_graph(loss, depth=depth)
    assert [v.grad for v in GraphView(loss, None).nodes] == before


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(focus=3), TypeError, "focus must be"),
    (dict(focus="layers.7"), ValueError, "no scope 'layers.7'.*closest"),
    (dict(focus="layers.1", call=3), ValueError, r"call must be in \[0, 3\)"),
    (dict(focus="layers.1", call=-1), ValueError, r"call must be in \[0, 3\)"),
    (dict(focus=Value(1.0)), ValueError, "not a node of this graph"),
    (dict(focus="layers.1", radius=2), ValueError, "radius= only goes with a Value focus"),
    (dict(radius=2), ValueError, "radius= only goes with a Value focus"),
    (dict(call=1), ValueError, "call= picks a call of a focused scope"),
])
def test_bad_focus(kwargs, error, match):
    model, loss, _ = moons_like()
    with pytest.raises(error, match=match):
        draw_graph(loss, **kwargs)
    with pytest.raises(error, match=match):
        explain(loss, file=None, **kwargs)


def test_negative_radius():
    model, loss, _ = moons_like()
    with pytest.raises(ValueError, match="radius must be an int ≥ 0"):
        draw_graph(loss, focus=model.layers[0].neurons[0].w[0], radius=-1)


def test_a_module_of_the_model_that_made_no_nodes():
    class WithSpare(Module):
        def __init__(self):
            self.used = Linear(2, 1, seed=0)
            self.spare = Linear(2, 1, seed=1)

        def __call__(self, x):
            return self.used(x)[0]

    model = WithSpare()
    y = model([1.0, 2.0])
    with pytest.raises(ValueError, match="'spare' is a module of the model, but it made no nodes"):
        draw_graph(y, focus="spare")
    with pytest.raises(ValueError, match="made no nodes in this graph"):
        draw_graph(y, focus=model.spare)


def test_depth_on_a_hand_built_graph_is_refused_with_what_works():
    a = Value(2.0, label="a")
    with pytest.raises(ValueError, match="built by hand"):
        draw_graph(a * a, depth=1)


def test_too_large_without_scopes_says_what_works_chinese_first():
    x = Value(1.0, label="x")
    y = x
    for _ in range(300):
        y = y * 1.01 + 0.1
    with pytest.raises(GraphTooLargeError) as error:
        draw_graph(y)
    message = str(error.value)
    assert message.startswith("计算图的节点超过 max_nodes=400")
    assert message.index(" / The graph") > 0
    assert "focus=v, radius=2" in message and "depth=1" in message
    source = draw_graph(y, focus=x, radius=2).source  # what the message suggests works
    assert ">x<" in source


def test_too_large_with_scopes_suggests_depth():
    model, loss, _ = moons_like(n_points=20)
    with pytest.raises(GraphTooLargeError, match="depth=1"):
        draw_graph(loss)


# ------------------------------------------------------------------ a property
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(1, 3), min_size=1, max_size=3), points=st.integers(1, 3),
       depth=st.integers(1, 4))
def test_every_node_is_drawn_once_and_every_arrow_carries_the_values_crossing_it(sizes, points, depth):
    model = MLP(2, sizes + [1], seed=0)
    scores = [model([Value(0.3 * k), Value(-0.7)]) for k in range(points)]
    loss = F.mse(scores, [0.0] * points) + F.l2_penalty(model.parameters(), 1e-3)
    pic = picture(loss, depth=depth)
    view = pic.view
    assert set(pic.item_of) == set(range(len(view)))  # every node belongs to exactly one item
    for key, what in pic.items.items():
        if isinstance(what, Part):
            assert {i for i, k in pic.item_of.items() if k == key} == what.nodes
    tree = pic.tree
    for i in tree.param_names:  # a parameter is drawn in its owner's box (or in a closed box around it)
        what = pic.items[pic.item_of[i]]
        box = what.box if isinstance(what, Part) else pic.clusters[pic.inside[pic.item_of[i]]].box
        owners = []
        owner = tree.place[i]
        while owner is not None:
            owners.append(owner)
            owner = owner.parent
        assert box in owners and (isinstance(what, Part) or box is tree.place[i])
    crossing = {}
    for j, v in enumerate(view.nodes):
        for p in v.parents:
            tail, head = pic.item_of[view.pos(p)], pic.item_of[j]
            if tail != head:
                crossing.setdefault((tail, head), set()).add(view.pos(p))
    assert crossing == pic.edges


# ------------------------------------------------------------------ step-through, box by box
def test_frames_at_depth_step_box_by_box_in_dependency_order():
    from microgradcn.viz import draw_frame, frames

    model, loss, _ = moons_like(n_points=5)
    steps = frames(loss, depth=2)
    texts = [f.text for f in steps]
    forward = [t for t in texts if t.startswith("前向")]
    backward = [t for t in texts if t.startswith("反向")]
    assert len(forward) == len(backward) == len(steps) // 2 < len(GraphView(loss, None)) / 3
    layers = [t.split(":")[1] for t in forward if "layers." in t]
    assert layers == [f"计算 layers.{k} ×5(每次 {n} 个节点)" for k, n in ((0, 17), (1, 14), (2, 4))]
    assert backward[0].endswith("+#1 的梯度")  # backward starts at the root, and meets the layers last to first
    met = [t.split("求 ")[1].split(" ×")[0] for t in backward if "layers." in t]
    assert met == ["layers.2", "layers.1", "layers.0"]
    first = draw_frame(steps[0]).source
    assert "data ?" in first or ", grad ?" in first  # later boxes are not computed yet
    assert 'penwidth="3"' in first
    last = draw_frame(steps[-1]).source
    assert "= ?" not in last and "grad ?" not in last
    with pytest.raises(ValueError, match="depth must be"):
        frames(loss, depth=0)
    a = Value(1.0, label="a")
    with pytest.raises(ValueError, match="built by hand"):
        frames(a * 2, depth=1)


def test_one_moons_step_at_depth_1_is_a_handful_of_items():
    from benchmarks import moons

    X, y = moons.make_moons()
    model = moons.make_model()
    loss = moons.moons_graph(model, X, y)
    pic = picture(loss, depth=1)
    assert len(pic.view) == moons.MOONS_NODES_PER_STEP
    assert titles(pic) == ["MLP ×100", "hinge", "l2_penalty"] and pic.count() == 4 <= 60
    source = draw_graph(loss, depth=1).source  # the default max_nodes=400 counts items, not nodes
    assert "每次 642 个节点" in source


def test_highlight_marks_the_item_holding_the_value():
    model, loss, _ = moons_like()
    w = model.layers[1].neurons[0].w[0]
    source = draw_graph(loss, depth=2, highlight=w).source
    marked = [line for line in source.splitlines() if 'penwidth="3"' in line]
    assert len(marked) == 1 and "layers.1 ×3" in marked[0]
    with pytest.raises(ValueError, match="highlight must be Values of the drawn part"):
        draw_graph(loss, focus="layers.2", highlight=w)
