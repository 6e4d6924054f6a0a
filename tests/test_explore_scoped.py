"""The explorer page of boxes (graphs built by modules), without a browser: its numbers, levels and frames."""

import base64
import gzip
import json
import math
import re
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradcn import Value
from microgradcn import functional as F
from microgradcn.nn import MLP
from microgradcn.viz import GraphView
from microgradcn.viz.explore import explore
from microgradcn.viz.explore_levels import NODE, PARAM, levels
from microgradcn.viz.explore_scoped import box_norms, check_scoped_size, frame_indices, scoped_page_data

META = re.compile(r'<script type="application/octet-stream" id="mgc-meta">(.*?)</script>', re.DOTALL)
NUMBERS = re.compile(r'<script type="application/octet-stream" id="mgc-numbers">(.*?)</script>', re.DOTALL)


def mlp_loss(sizes=(3, 3, 1), points=3, seed=0):
    """(loss, model): an MLP on a few points, hinge + L2 as the moons step (a graph built by modules)."""
    model = MLP(2, list(sizes), seed=seed)
    rows = [[Value(0.3 * k - 0.4), Value(0.5 - 0.2 * k)] for k in range(points)]
    labels = [1.0 if k % 2 else -1.0 for k in range(points)]
    return F.hinge([model(x) for x in rows], labels) + F.l2_penalty(model.parameters(), 1e-4), model


def decode(meta_b64: str, numbers_b64: str):
    """The page's meta JSON and typed arrays, decoded the way the page's script does."""
    meta = json.loads(gzip.decompress(base64.b64decode(meta_b64)))
    raw = gzip.decompress(base64.b64decode(numbers_b64))
    arrays = {}
    for name, kind, at, length in meta["arrays"]:
        code = {"f64": "d", "i32": "i", "u8": "B"}[kind]
        values = array(code)
        values.frombytes(raw[at:at + length * values.itemsize])
        arrays[name] = values
    return meta, arrays


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.integers(1, 3), st.integers(0, 5))
def test_the_numbers_in_the_page_are_the_graphs_exactly(hidden, points, seed):
    loss, model = mlp_loss(tuple(hidden) + (1,), points, seed)
    view = GraphView(loss, None)
    meta, A = decode(*scoped_page_data(view))
    grads = view.gradients()
    assert list(A["data"]) == [v.data for v in view.nodes]
    assert list(A["grad"]) == [float(g) for g in grads]
    k = 0
    for j, v in enumerate(view.nodes):
        assert A["nparents"][j] == len(v.parents)
        for p, d in zip(v.parents, view.local(j) if v.parents else ()):
            assert A["parents"][k] == view.pos(p) and A["local"][k] == d
            k += 1
    assert meta["names"] == [view.name(i) for i in range(len(view))]
    assert not any(re.fullmatch(r"v\d+|-?[\d.]+", name) for name in meta["names"])  # no number as a name


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.integers(1, 3))
def test_every_node_is_drawn_on_its_home_level_and_every_op_on_exactly_one(hidden, points):
    loss, model = mlp_loss(tuple(hidden) + (1,), points)
    view = GraphView(loss, None)
    lv = levels(view, view.tree)
    seen = [0] * len(view)
    for c in range(-1, len(lv.calls)):
        kinds = lv.structures[lv.call_structure[c + 1]][0]
        for kind, ref in zip(kinds, lv.call_items[c + 1]):
            if kind == NODE:
                seen[ref] += 1
                assert lv.home[ref] == c
            if kind == PARAM:
                assert lv.calls[lv.home[ref]][0] == lv.calls[c][0]  # a parameter: on each call of its box
    assert all(seen[i] == 1 for i in range(len(view)) if i not in view.tree.param_names)


def test_frames_are_first_known_indices_in_the_order_of_both_passes():
    loss, _ = mlp_loss()
    view = GraphView(loss, None)
    data, grad, m = frame_indices(view)
    assert sorted(d for d in data if d) == list(range(1, m + 1))
    for j, v in enumerate(view.nodes):
        for p in v.parents:
            assert data[view.pos(p)] < data[j]  # a value is known after its inputs
            assert grad[view.pos(p)] >= grad[j]  # a gradient after those of its users
    assert grad[len(view) - 1] == m + 1 and max(grad) == 2 * m


def test_a_box_with_parameters_shows_the_norm_of_their_gradients():
    loss, model = mlp_loss((3, 3, 1))
    loss.backward()
    view = GraphView(loss, None)
    lv = levels(view, view.tree)
    norms = box_norms(lv, [float(g) for g in view.gradients()])
    by_title = {title: norms[b] for b, (title, *_) in enumerate(lv.boxes)}
    for k, layer in enumerate(model.layers):
        expected = math.sqrt(sum(p.grad ** 2 for p in layer.parameters()))
        assert by_title[f"layers.{k}"] == (pytest.approx(expected, rel=1e-12), 0)
    assert by_title["hinge"][1] == 1  # no parameters: the norm of its outputs' gradients


def test_a_level_structure_is_laid_out_once_and_reused():
    loss, _ = mlp_loss((3, 3, 1), points=4)
    view = GraphView(loss, None)
    lv = levels(view, view.tree)
    neuron_calls = [c for c, (b, _, _) in enumerate(lv.calls) if lv.boxes[b][0] == "layers.1.neurons.0"]
    assert len(neuron_calls) == 4 and len({lv.call_structure[c + 1] for c in neuron_calls}) == 1
    assert len(lv.structures) < len(lv.calls) / 3


def test_explore_chooses_the_page_by_size_and_scopes():
    small, _ = mlp_loss((2, 1), points=1)
    assert "mgc-data" in explore(small).html  # small: the page of nodes, as before
    page = explore(small, boxes=True).html
    assert META.search(page) and NUMBERS.search(page) and "<svg id=\"level\"" in page
    big, _ = mlp_loss((8, 8, 1), points=4)
    assert "mgc-meta" in explore(big).html and "mgc-data" not in explore(big).html


def test_bad_boxes_arguments_are_refused():
    x = Value(2.0, label="x")
    with pytest.raises(ValueError, match="boxes=True needs a graph built by modules"):
        explore(x * x, boxes=True)
    with pytest.raises(TypeError, match="boxes must be None, True or False"):
        explore(x * x, boxes="yes")
    with pytest.raises(ValueError, match="最多 10 个.*at most 10"):
        check_scoped_size(11, 10)
    check_scoped_size(10, 10)


def test_the_page_has_no_whole_graph_svg_and_fetches_nothing():
    loss, _ = mlp_loss((4, 4, 1), points=4)
    page = explore(loss, boxes=True).html
    without_namespaces = page.replace('"http://www.w3.org/2000/svg"', "")  # a name, not an address
    assert "<g id=\"node" not in page and "http://" not in without_namespaces
    assert "https://" not in page and "fetch(" not in page and "XMLHttpRequest" not in page


def test_one_arrow_between_two_items_labelled_with_the_values_it_carries():
    points = 3
    loss, model = mlp_loss((3, 3, 1), points)
    view = GraphView(loss, None)
    lv = levels(view, view.tree)
    kinds, _, arrows = lv.structures[lv.call_structure[0]]
    title = {k: lv.boxes[lv.calls[ref][0]][0] for k, ref in enumerate(lv.call_items[0]) if kinds[k] == 2}
    carried = {(title.get(a), title.get(b)): n for a, b, n in arrows}
    assert carried[("MLP", "hinge")] == points  # one score per point
    assert carried[("MLP", "l2_penalty")] == len(model.parameters())  # every parameter, squared
    assert len(arrows) == len({(a, b) for a, b, _ in arrows})


def test_a_non_finite_gradient_does_not_break_the_page():
    loss, _ = mlp_loss((2, 1), points=2)
    big = loss * 1e308 * 10  # overflows to inf: the norms are inf, the page still encodes them
    meta, arrays = decode(*scoped_page_data(GraphView(big, None)))  # the JSON part stays strict JSON
    assert any(math.isinf(norm) for norm in arrays["boxNorm"]) and len(arrays["boxNorm"]) == len(meta["boxes"])


def test_a_big_call_without_sub_scopes_opens_one_output_at_a_time_with_its_weight_row():
    from microgradcn.nn import Linear

    layer = Linear(200, 3, rng=__import__("numpy").random.default_rng(0))
    out = layer([Value(0.01 * k) for k in range(200)])
    loss = out[0] + out[1] * out[2]
    view = GraphView(loss, None)
    lv = levels(view, view.tree)
    slices = [b for b, (_, kind, _, _) in enumerate(lv.boxes) if kind == "输出切片"]
    assert len(slices) == 3
    for k, b in enumerate(slices):
        row = {view.tree.names[p] for p in lv.box_params[b]}
        assert row == {f"weight.{k}.{j}" for j in range(200)} | {f"bias.{k}"}, sorted(row)[:3]
        (call,) = [c for c, (box, _, _) in enumerate(lv.calls) if box == b]
        assert len(lv.nodes_of[call]) == 400  # 200 products and 200 sums: only what output k depends on


def test_a_level_too_big_for_dot_is_laid_out_in_columns_along_its_arrows():
    from microgradcn.viz.explore_layout import columns

    kinds = (0,) * 5 + (2,)
    lay = columns((kinds, ("+",) * 5 + ("",), ((0, 1, 1), (1, 2, 1), (0, 3, 1), (3, 5, 2), (5, 3, 1))))
    x = [item[0] for item in lay["items"]]
    assert x[0] < x[1] < x[2] and x[0] < x[3]  # every arrow not on a cycle goes right
    assert len(lay["arrows"]) == 5 and all(len(a) == 8 for a in lay["arrows"])
    assert lay["w"] > max(x) and lay["h"] > 0


def test_a_large_hand_built_graph_keeps_the_page_of_nodes_and_its_limit():
    from microgradcn.viz import GraphTooLargeError

    x = Value(1.0, label="x")
    y = x
    for _ in range(201):  # 403 nodes
        y = y * 1.0001 + 0.1
    with pytest.raises(GraphTooLargeError) as refused:
        explore(y)  # no scopes: refused as before, naming what works for explore (it has no depth= or focus=)
    message = str(refused.value)
    assert message.startswith("这个图有超过 max_nodes=400 个节点") and "/ The graph has more than" in message
    assert "with scope(" in message and "draw_graph(root, focus=v, radius=2)" in message
    assert "max_nodes=None" in message and "explore(root, depth" not in message
    assert 'id="mgc-data"' in explore(y, max_nodes=None).html  # asked for: the page of nodes, as before
