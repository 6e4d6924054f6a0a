"""Scopes: where a node was made (module calls, losses, `with scope(...)`), and the names they give nodes."""

import copy
import gc
import pickle
import re
import weakref

import numpy as np
import pytest

from microgradcn import Value, scopes
from microgradcn import functional as F
from microgradcn.nn import GPT, MLP, Linear, Module, Neuron, Sequential
from microgradcn.train import digits_model
from microgradcn.viz import GraphView
from microgradcn.viz.render import _kind
from microgradcn.viz.scope_tree import scope_tree


def moons_like(n_points=3, sizes=(3, 2, 1)):
    """The moons loss on a few points: F.hinge of the scores plus F.l2_penalty of the parameters."""
    model = MLP(2, list(sizes), seed=0)
    rows = [[Value(0.5 * k), Value(-0.25 * k)] for k in range(n_points)]
    labels = [1 if k % 2 else -1 for k in range(n_points)]
    loss = F.hinge([model(x) for x in rows], labels) + F.l2_penalty(model.parameters(), 1e-4)
    return model, loss


def boxes(tree):
    return {box.title: box for box in tree.boxes()}


# ---------------------------------------------------------------- recording
def test_a_module_call_opens_a_scope_and_closes_it():
    n = Neuron(2, seed=0)
    y = n([1.0, 2.0])
    assert y._scope is not None and y._scope[scopes.MODULE]() is n
    assert scopes.innermost() is None


def test_a_scope_closes_when_the_call_fails():
    with pytest.raises(ValueError):
        Neuron(2, seed=0)([1.0])
    assert scopes.innermost() is None


def test_a_learners_own_module_gets_scopes_with_no_code():
    class Double(Module):
        def __init__(self):
            self.w = Value(2.0)

        def __call__(self, x):
            return self.w * x

    y = Double()(Value(3.0))
    tree = scope_tree(y)
    assert [box.kind for box in tree.top] == ["Double"]
    assert tree.names[GraphView(y).pos(y)] == "Double[0] · ×#1"


def test_super_call_inside_a_subclass_is_one_scope():
    class Louder(Neuron):
        def __call__(self, x):
            return super().__call__(x) * 2

    y = Louder(2, seed=0)([1.0, 2.0])
    tree = scope_tree(y)
    assert [(box.kind, len(box.calls), box.children) for box in tree.top] == [("Louder", 1, [])]


def test_hand_built_nodes_have_no_scope_and_no_tree():
    a = Value(2.0, label="a")
    y = a * a + 1
    assert y._scope is None
    view = GraphView(y)
    assert view.tree is None
    assert [view.name(i) for i in range(len(view))] == ["a", "v1", "1", "v3"]


def test_user_scopes_nest_and_take_their_kind_from_the_name():
    x = Value(1.0, label="x")
    with scopes.scope("encoder"):
        with scopes.scope("head.2"):
            y = x * 3
        z = y + 1
    tree = scope_tree(z)
    (encoder,) = tree.top
    assert (encoder.path, encoder.kind) == ("encoder", "encoder")
    (head,) = encoder.children
    assert (head.path, head.kind) == ("encoder.head.2", "head")
    assert tree.names[GraphView(z).pos(y)] == "encoder.head.2[0] · ×#1"


@pytest.mark.parametrize("name", ["", " a", "a[0]", "a · b", 3])
def test_bad_scope_names_are_refused(name):
    with pytest.raises((ValueError, TypeError)):
        scopes.scope(name)


def test_the_record_holds_no_value_and_the_graph_is_freed_by_reference_counting():
    model, loss = moons_like()
    record = loss._a._scope
    seen, stack = set(), [record]
    while stack:
        obj = stack.pop()
        assert not isinstance(obj, Value)
        if id(obj) in seen or isinstance(obj, (type, Module)):
            continue
        seen.add(id(obj))
        stack.extend(gc.get_referents(obj))
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        probe = weakref.ref(loss._a)
        loss.backward()
        del loss
        assert probe() is None
    finally:
        if was_enabled:
            gc.enable()


def test_modules_and_scoped_graphs_still_pickle():
    model, loss = moons_like()
    assert model._scope_ref() is model  # made with the module, so a call does not make a weak reference
    again = pickle.loads(pickle.dumps(model))  # the reference is not saved: the loaded module has its own
    assert again._scope_ref() is again
    twin = copy.deepcopy(model)
    y = twin([1.0, 2.0])
    assert list(scopes.records(y._scope))[-1][scopes.MODULE]() is twin and twin._scope_ref is not model._scope_ref
    assert again([1.0, 2.0]).data == model([1.0, 2.0]).data
    loaded = pickle.loads(pickle.dumps(loss))
    assert loaded.data == loss.data and loaded._scope is None  # a loaded graph is drawn as a hand-built one


# ---------------------------------------------------------------- paths and boxes
def test_mlp_paths_follow_named_parameters_and_calls_fold():
    model, loss = moons_like(n_points=3)
    tree = scope_tree(loss)
    assert [box.title for box in tree.top] == ["MLP", "hinge", "l2_penalty"]
    mlp = tree.top[0]
    assert len(mlp.calls) == 3 and [c.name for c in mlp.calls] == ["MLP[0]", "MLP[1]", "MLP[2]"]
    assert [box.path for box in mlp.children] == ["layers.0", "layers.1", "layers.2"]
    neuron = boxes(tree)["layers.1.neurons.1"]
    assert (neuron.kind, len(neuron.calls)) == ("Neuron", 3)
    assert {n for n, _ in model.named_parameters()} >= {tree.names[i] for i in neuron.params}
    assert sorted(tree.names[i] for i in neuron.params) == ["layers.1.neurons.1.b", "layers.1.neurons.1.w.0",
                                                            "layers.1.neurons.1.w.1", "layers.1.neurons.1.w.2"]


def test_parameters_are_named_and_badged_without_params():
    model, loss = moons_like()
    view = GraphView(loss, max_nodes=None)
    names = dict(model.named_parameters())
    for name, p in names.items():
        i = view.pos(p)
        assert view.name(i) == name
        assert _kind(view, i, set()) == "param"


def test_interior_names_count_each_op_in_creation_order():
    neuron = Neuron(3, seed=0)
    x = [Value(1.0), Value(2.0), Value(3.0)]
    y = neuron(x)
    view = GraphView(y)
    products = [v for v in view.nodes if v.op == "*"]
    by_name = {view.name(view.pos(v)): v for v in products}
    for k in range(3):  # ×#1 is w0·x0, made first
        assert by_name[f"Neuron[0] · ×#{k + 1}"].parents == (neuron.w[k], x[k])
    assert view.name(view.pos(y)) == "Neuron[0] · relu#1"


def test_the_ith_call_of_a_box_is_path_i():
    model, loss = moons_like(n_points=3)
    view = GraphView(loss, max_nodes=None)
    names = {view.name(i) for i in range(len(view))}
    assert {f"layers.1.neurons.1[{k}] · relu#1" for k in range(3)} <= names


def test_an_explicit_label_wins():
    neuron = Neuron(2, seed=0)
    neuron.w[0].label = "我的权重"
    y = neuron([1.0, 2.0])
    y.label = "输出"
    view = GraphView(y)
    assert view.name(view.pos(neuron.w[0])) == "我的权重"
    assert view.name(view.pos(y)) == "输出"


NUMBER_NAME = re.compile(r"^(v\d+|-?[\d.e+-]+)$")


def test_no_node_of_a_module_graph_is_named_by_a_number():
    model, loss = moons_like()
    view = GraphView(loss, max_nodes=None)
    for i in range(len(view)):
        if view.named(i):
            assert not NUMBER_NAME.match(view.name(i)), view.name(i)
    constants = [i for i in range(len(view)) if not view.named(i)]
    assert constants and all(view.nodes[i].is_leaf and view.nodes[i]._scope is not None for i in constants)


def test_functional_losses_open_scopes_and_moons_builds_the_same_graph():
    model, loss = moons_like(n_points=4)
    by_hand = MLP(2, [3, 2, 1], seed=0)
    rows = [[Value(0.5 * k), Value(-0.25 * k)] for k in range(4)]
    labels = [1 if k % 2 else -1 for k in range(4)]
    scores = [by_hand(x) for x in rows]
    hand = sum((1 + -y * s).relu() for y, s in zip(labels, scores)) * (1.0 / 4) \
        + 1e-4 * sum(p * p for p in by_hand.parameters())
    assert len(GraphView(loss, None)) == len(GraphView(hand, None))
    assert [v.op for v in GraphView(loss, None).nodes] == [v.op for v in GraphView(hand, None).nodes]
    assert loss.data == hand.data


def test_sequential_gives_a_plain_callable_its_place():
    def halve(xs):
        return [x * 0.5 for x in xs]

    model = Sequential(Linear(2, 2, seed=0), halve, Linear(2, 1, seed=1))
    y = model([1.0, 2.0])[0]
    tree = scope_tree(y)
    (seq,) = tree.top
    assert [(box.path, box.kind) for box in seq.children] == [("layers.0", "Linear"), ("layers.1", "halve"),
                                                              ("layers.2", "Linear")]
    view = tree.view
    assert view.name(view.pos(y)) == "layers.2[0] · +#2"
    halved = next(v for v in view.nodes if v.op == "*" and v._b.data == 0.5)
    assert view.name(view.pos(halved)) == "layers.1[0] · ×#1"


def test_tied_weights_take_the_first_name():
    class Tied(Module):
        def __init__(self):
            self.first = Linear(2, 2, bias=False, seed=0)
            self.second = self.first

        def __call__(self, x):
            return self.second(self.first(x))

    model = Tied()
    y = model([1.0, 2.0])[0]
    tree = scope_tree(y)
    (tied,) = tree.top
    (first,) = tied.children
    assert first.path == "first" and len(first.calls) == 2  # the same module: one box, two calls
    view = tree.view
    assert view.name(view.pos(model.first.weight[0][1])) == "first.weight.0.1"


def test_a_module_built_inside_another_modules_call_gets_its_attribute_path():
    class Lazy(Module):
        def __call__(self, x):
            if not hasattr(self, "fc"):
                self.fc = Linear(2, 1, seed=0)  # built at the first call, inside it
            return self.fc(x)[0]

    model = Lazy()
    y = model([1.0, 2.0])
    tree = scope_tree(y)
    (lazy,) = tree.top
    (fc,) = lazy.children
    assert (fc.path, fc.kind) == ("fc", "Linear")
    view = tree.view
    assert view.name(view.pos(model.fc.weight[0][1])) == "fc.weight.0.1"
    assert tree.place[view.pos(model.fc.weight[0][1])] is fc


def test_a_module_made_and_dropped_inside_a_call_is_named_after_its_class():
    class Maker(Module):
        def __call__(self, x):
            return Linear(2, 1, seed=0)(x)[0]  # gone after the call: no attribute path, no parameter names

    y = Maker()([1.0, 2.0])
    tree = scope_tree(y)
    (maker,) = tree.top
    (inner,) = maker.children
    assert (inner.path, inner.kind) == ("Linear", "Linear")
    assert tree.view.name(tree.view.pos(y)) == "Linear[0] · +#2"


def test_cnn_sample_boxes():
    model = digits_model("cnn", seed=0)
    image = np.linspace(0, 1, 64).reshape(1, 8, 8)
    loss = F.cross_entropy(model(image), 3)
    tree = scope_tree(loss)
    assert [box.title for box in tree.top] == ["Sequential", "cross_entropy"]
    seq = tree.top[0]
    assert [(b.path, b.kind) for b in seq.children] == [
        ("layers.0", "Conv2d"), ("layers.1", "ReLU"), ("layers.2", "MaxPool2d"), ("layers.4", "Linear")]
    names = {tree.view.name(i) for i in boxes(tree)["layers.0"].params}
    assert "layers.0.weight.7.0.2.2" in names and "layers.0.bias.7" in names
    assert boxes(tree)["cross_entropy.log_softmax"].kind == "log_softmax"


def test_gpt_step_boxes_with_one_scope_per_head():
    model = GPT(vocab_size=5, n_embd=8, n_head=2, seed=0)
    loss = model.loss([0, 1, 2, 0])
    tree = scope_tree(loss)
    found = boxes(tree)
    assert [box.title for box in tree.top] == ["loss"]
    assert found["loss"].kind == "GPT.loss"
    assert (found["step"].kind, len(found["step"].calls)) == ("GPT.step", 3)
    assert found["blocks.0.step"].kind == "Block.step"
    assert found["blocks.0.attn.step"].kind == "CausalSelfAttention.step"
    assert {p for p in found if re.fullmatch(r".*head\.\d", p)} == {"blocks.0.attn.step.head.0",
                                                                    "blocks.0.attn.step.head.1"}
    assert found["blocks.0.attn.step.head.1"].kind == "head"
    assert "blocks.0.attn.step.head.1.softmax" in found
    assert found["blocks.0.attn.wq"].kind == "Linear" and found["lm_head"].kind == "Linear"
    assert "loss.nll" in found
    sizes = found["step"].sizes()
    assert len(set(sizes)) > 1  # later positions attend to more keys
    view = tree.view
    assert view.name(view.pos(model.blocks[0].attn.wq.weight[3][2])) == "blocks.0.attn.wq.weight.3.2"


def test_a_module_made_without_its_constructor_still_opens_scopes():
    n = object.__new__(Neuron)  # as some loaders make objects
    n.__dict__.update(Neuron(2, seed=0).__getstate__())
    y = n([1.0, 2.0])
    assert y._scope[scopes.MODULE]() is n and n._scope_ref() is n
