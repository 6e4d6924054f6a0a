"""Models and graphs pickle and copy like any Python object, however deep the graph."""

import copy
import math
import multiprocessing
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from microgradcn import Op, Value, grad, topological_order
from microgradcn.nn import ACTIVATIONS, GPT, MLP, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential
from microgradcn.ops import MUL, OPS
from microgradcn.testing import expressions


def round_trip(obj, protocol=pickle.HIGHEST_PROTOCOL):
    return pickle.loads(pickle.dumps(obj, protocol))


def same_parameters(a, b):
    named_a, named_b = list(a.named_parameters()), list(b.named_parameters())
    assert [n for n, _ in named_a] == [n for n, _ in named_b]
    assert [p.data for _, p in named_a] == [p.data for _, p in named_b]
    assert all(p is not q for (_, p), (_, q) in zip(named_a, named_b))  # a copy, not the same Values


def data(out):
    if isinstance(out, Value):
        return out.data
    return [data(o) for o in out]


# ------------------------------------------------------------------ models
MLP_ACTIVATIONS = sorted(ACTIVATIONS) + ["prelu"]


@given(activation=st.sampled_from(MLP_ACTIVATIONS), seed=st.integers(0, 2**16),
       x=st.lists(st.floats(-3, 3), min_size=3, max_size=3), protocol=st.integers(2, pickle.HIGHEST_PROTOCOL))
def test_an_mlp_with_any_activation_pickles_to_an_equal_model(activation, seed, x, protocol):
    model = MLP(3, [4, 2], activation=activation, seed=seed)
    twin = round_trip(model, protocol)
    same_parameters(model, twin)
    assert data(twin(x)) == data(model(x))
    assert repr(twin) == repr(model)


def cnn(seed):
    return Sequential(Conv2d(1, 2, 3, seed=seed), ReLU(), MaxPool2d(2), Flatten(), Linear(2 * 2 * 2, 3, seed=seed))


@given(seed=st.integers(0, 2**16), image=st.lists(st.floats(-1, 1), min_size=36, max_size=36))
def test_a_cnn_pickles_to_an_equal_model(seed, image):
    model = cnn(seed)
    twin = round_trip(model)
    same_parameters(model, twin)
    x = [[image[6 * r:6 * r + 6] for r in range(6)]]
    assert data(twin(x)) == data(model(x))


@given(seed=st.integers(0, 2**16), tokens=st.lists(st.integers(0, 5), min_size=2, max_size=5))
def test_a_gpt_pickles_to_an_equal_model(seed, tokens):
    model = GPT(6, block_size=8, n_embd=8, n_head=2, seed=seed)
    twin = round_trip(model)
    same_parameters(model, twin)
    assert twin.loss(tokens).data == model.loss(tokens).data


def test_save_and_load_agree_with_the_unpickled_model(tmp_path):
    model = MLP(2, [3, 1], seed=1)
    twin = round_trip(model)
    model.save(tmp_path / "a.json")
    twin.save(tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    fresh = MLP(2, [3, 1], seed=2)
    fresh.load(tmp_path / "b.json")
    same_parameters(model, fresh)


def test_deepcopy_of_a_model_is_independent():
    model = MLP(2, [3, 1], seed=1)
    twin = copy.deepcopy(model)
    same_parameters(model, twin)
    twin.parameters()[0].data += 1.0
    assert model.parameters()[0].data != twin.parameters()[0].data


# ------------------------------------------------------------------ graphs
def leaves(root):
    return [v for v in reversed(topological_order(root)) if v.is_leaf]


@given(expr=expressions(n_inputs=(1, 3), n_ops=(1, 10)), how=st.sampled_from(["pickle", "deepcopy"]))
def test_a_random_graph_round_trips_and_backward_gives_the_same_gradients(expr, how):
    y = expr(*[Value(x) for x in expr.inputs])
    twin = round_trip(y) if how == "pickle" else copy.deepcopy(y)
    assert [(v.data, v.op) for v in topological_order(twin)] == [(v.data, v.op) for v in topological_order(y)]
    y.backward()
    twin.backward()
    assert [v.grad for v in leaves(twin)] == [v.grad for v in leaves(y)]


def test_a_built_in_op_unpickles_as_the_table_entry_itself():
    for op in OPS.values():
        assert round_trip(op) is op
        assert copy.deepcopy(op) is op
    y = round_trip(Value(2.0) * Value(3.0))
    assert y.operation is MUL  # so the backward loop's fast path still recognises it


def test_values_shared_between_pickled_objects_stay_shared():
    w = Value(0.5, label="w")
    h = w * 2
    y = h + w
    y2, w2, h2 = round_trip((y, w, h))
    assert y2.parents == (h2, w2) and h2.parents[0] is w2
    assert w2.label == "w"
    y2.backward()
    assert w2.grad == 3.0


def test_gradients_and_labels_are_kept_and_scratch_space_is_not():
    x = Value(3.0, label="x")
    y = (x * x).tanh()
    y.backward()
    y2 = round_trip(y)
    x2 = y2.parents[0].parents[0]
    assert (x2.grad, x2.label, y2.grad) == (x.grad, "x", 1)
    assert y2._pass is None


def test_a_copy_is_a_new_node_with_the_same_parents():
    a, b = Value(1.0), Value(2.0)
    y = a * b
    twin = copy.copy(y)
    assert twin is not y and twin.parents == (a, b) and twin.data == y.data and twin.operation is y.operation


def test_a_graph_with_select_and_second_derivatives_round_trips():
    from microgradcn import select

    xs = [Value(float(i)) for i in range(4)]
    picked = select([x * x for x in xs], 2)
    (g,) = grad(picked, [xs[2]], create_graph=True)
    g2 = round_trip(g)
    assert g2.data == 4.0


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_a_graph_100_000_ops_deep_pickles_and_copies_without_recursion(how):
    x = Value(1.0)
    y = x
    for _ in range(50_000):
        y = y * 1.0001 + 0.1
    twin = round_trip(y) if how == "pickle" else copy.deepcopy(y)
    twin.backward()
    (x2,) = [v for v in leaves(twin) if v.data == 1.0]
    y.backward()
    assert x2.grad == x.grad == pytest.approx(1.0001 ** 50_000)


# --------------------------------------------------------------- custom ops
def _cube(x):
    return x ** 3


def _cube_derivative(x, out):
    return 3 * x ** 2


CUBE = Op("cube", _cube, _cube_derivative, symbol="x³")


def test_a_custom_op_made_of_module_level_functions_pickles():
    y = CUBE(Value(2.0))
    y2 = round_trip(y)
    assert (y2.data, y2.op, y2.operation.symbol) == (8.0, "cube", "x³")
    y2.backward()
    assert y2.parents[0].grad == 12.0


def test_a_custom_op_made_of_lambdas_does_not_pickle_as_any_lambda_does_not():
    square = Op("square", lambda x: x * x, lambda x, out: 2 * x)
    with pytest.raises((pickle.PicklingError, AttributeError), match="lambda"):
        pickle.dumps(square(Value(2.0)))


# ------------------------------------------------------------ multiprocessing
def _kfold_data():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(24, 2))
    y = np.where(X[:, 0] * X[:, 1] > 0, 1.0, -1.0)
    return X.tolist(), y.tolist()


def train_fold(job):
    """One fold: train a copy of the model on the training rows, return its validation hinge loss."""
    model, X, y, train, val = job
    params = model.parameters()
    for _ in range(15):
        losses = [(1 + -y[i] * model(X[i])).relu() for i in train]
        loss = sum(losses) * (1.0 / len(losses))
        model.zero_grad()
        loss.backward()
        for p in params:
            p.data -= 0.1 * p.grad
    val_loss = sum((1 + -y[i] * model(X[i])).relu() for i in val) * (1.0 / len(val))
    return val_loss.data, [p.data for p in params]


@pytest.mark.slow
def test_a_kfold_trained_in_a_pool_of_two_processes_equals_a_serial_run():
    from microgradcn.data import kfold

    X, y = _kfold_data()
    model = MLP(2, [4, 1], seed=3)
    jobs = [(model, X, y, train.tolist(), val.tolist()) for train, val in kfold(len(X), k=4, seed=0)]
    serial = [train_fold(copy.deepcopy(job)) for job in jobs]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        parallel = pool.map(train_fold, jobs)
    assert parallel == serial
    assert all(math.isfinite(loss) for loss, _ in serial) and len({loss for loss, _ in serial}) > 1


def test_a_pickled_graph_grows_linearly_with_its_depth():
    def chain(n):
        y = Value(1.0)
        for _ in range(n):
            y = y * 1.0001 + 0.1
        return y

    small, large = (len(pickle.dumps(chain(n))) for n in (500, 5_000))
    assert large < 12 * small  # each node once: 10x the nodes, about 10x the bytes (not 100x)
