"""nn: neurons, layers, MLPs, initialisers, dropout, batch norm, save/load."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from microgradcn import Value, gradcheck, init, topological_order
from microgradcn.functional import hinge, l2_penalty, sum_squared_error
from microgradcn.nn import MLP, BatchNorm, Dropout, Layer, Module, Neuron, PReLU, load, save
from microgradcn.optim import SGD


def _set(values, numbers):
    for v, x in zip(values, numbers):
        v.data = x


# ------------------------------------------------------ worked examples
def network_2_2_1():
    """Two linear neurons without bias feeding one linear output neuron (the 2-2-1 backprop example)."""
    hidden = Layer(2, 2, activation="linear", bias=False, seed=0)
    output = Neuron(2, activation="linear", bias=False, seed=0)
    _set(hidden.neurons[0].w, [0.5, 1.5])  # w1, w2
    _set(hidden.neurons[1].w, [2.3, 3.0])  # w3, w4
    _set(output.w, [1.0, 1.0])  # w5, w6
    weights = hidden.neurons[0].w + hidden.neurons[1].w + output.w
    return (lambda x: output(hidden(x))), weights


def test_network_2_2_1_forward_backward_and_one_sgd_step():
    net, w = network_2_2_1()
    x, t = [1.0, 0.5], 4.0
    y = net(x)
    assert y.data == pytest.approx(5.05)
    error = sum_squared_error(y, t)
    assert error.data == pytest.approx(0.55125)
    error.backward()
    assert [p.grad for p in w] == pytest.approx([1.05, 0.525, 1.05, 0.525, 1.3125, 3.99])
    SGD(w, lr=0.1).step()
    assert [p.data for p in w] == pytest.approx([0.395, 1.4475, 2.195, 2.9475, 0.86875, 0.601])
    y2 = net(x)
    assert round(y2.data, 4) == 3.1768
    assert round(sum_squared_error(y2, t).data, 4) == 0.3388


def test_book_three_layer_sigmoid_network():
    W1, b1 = [[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]], [0.1, 0.2, 0.3]
    W2, b2 = [[0.1, 0.4], [0.2, 0.5], [0.3, 0.6]], [0.1, 0.2]
    W3, b3 = [[0.1, 0.3], [0.2, 0.4]], [0.1, 0.2]
    model = MLP(2, [3, 2, 2], activation="sigmoid", output_activation="linear", seed=0)
    for layer, W, b in zip(model.layers, (W1, W2, W3), (b1, b2, b3)):
        for j, neuron in enumerate(layer.neurons):  # neuron j reads column j of W
            _set(neuron.w, [row[j] for row in W])
            neuron.b.data = b[j]
    y = model([1.0, 0.5])
    assert [v.data for v in y] == pytest.approx([0.31682708, 0.69627909], abs=1e-8)


# ------------------------------------------------------------------ contract
def test_mlp_default_contract_relu_hidden_linear_output_uniform_init_zero_bias():
    model = MLP(2, [16, 16, 1], seed=3)
    assert [n._activation_name for n in model.layers[0].neurons] == ["relu"] * 16
    assert model.layers[-1].neurons[0]._activation_name == "linear"
    weights = [p.data for name, p in model.named_parameters() if ".w." in name]
    biases = [p.data for name, p in model.named_parameters() if name.endswith(".b")]
    assert len(weights) == 2 * 16 + 16 * 16 + 16 and len(biases) == 33
    assert all(-1 <= w <= 1 for w in weights) and min(weights) < -0.8 and max(weights) > 0.8
    assert biases == [0.0] * 33
    assert len(model.parameters()) == 337


def test_mlp_is_reproducible_with_seed_and_differs_across_seeds():
    a = [p.data for p in MLP(2, [4, 1], seed=7).parameters()]
    b = [p.data for p in MLP(2, [4, 1], seed=7).parameters()]
    c = [p.data for p in MLP(2, [4, 1], seed=8).parameters()]
    assert a == b and a != c
    rng_a = [p.data for p in MLP(2, [4, 1], rng=np.random.default_rng(7)).parameters()]
    assert rng_a == a


def test_neuron_builds_micrograds_sum_b_plus_w0x0_plus_w1x1():
    n = Neuron(2, activation="linear", seed=0)
    _set(n.w, [2.0, 3.0])
    n.b.data = 1.0
    out = n([Value(10.0), Value(100.0)])
    assert out.data == 321.0
    # ((b + w0*x0) + w1*x1): the last op adds the w1*x1 product to (b + w0*x0).
    left, right = out.parents
    assert out.op == "+" and right.op == "*" and right.parents[0] is n.w[1]
    assert left.op == "+" and left.parents[0] is n.b


def test_moons_step_graph_has_micrograds_node_count():
    model = MLP(2, [16, 16, 1], seed=0)
    rng = np.random.default_rng(0)
    inputs = [list(map(Value, row)) for row in rng.normal(size=(100, 2)).tolist()]
    labels = [1.0 if i % 2 else -1.0 for i in range(100)]
    scores = [model(x) for x in inputs]
    loss = hinge(scores, labels) + l2_penalty(model.parameters(), 1e-4)
    assert len(topological_order(loss)) == 65818


def test_mlp_returns_single_value_for_one_output_and_list_otherwise():
    assert isinstance(MLP(2, [3, 1], seed=0)([1, 2]), Value)
    out = MLP(2, [3, 2], seed=0)([1.0, Value(2.0)])
    assert isinstance(out, list) and len(out) == 2


def test_named_parameters_are_stable_dotted_paths():
    names = [n for n, _ in MLP(2, [4, 1], seed=0).named_parameters()]
    assert names[:3] == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b"]
    assert "layers.0.neurons.3.w.1" in names and names[-1] == "layers.1.neurons.0.b"
    assert len(names) == len(set(names)) == 17


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("xs", [[1.0], [1.0, 2.0, 3.0], []])
def test_neuron_rejects_a_wrong_number_of_inputs(bias, xs):
    neuron = Neuron(2, bias=bias, seed=0)
    with pytest.raises(ValueError, match=f"expects 2 inputs, got {len(xs)}"):
        neuron(xs)
    with pytest.raises(ValueError, match=f"expects 2 inputs, got {len(xs)}"):
        MLP(2, [3, 1], bias=bias, seed=0)(xs)


class Tied(Module):
    """A weight-tied model: one Layer and one Value, each reachable under two names."""

    def __init__(self):
        self.encoder = Layer(2, 2, seed=0)
        self.decoder = self.encoder
        self.scale = Value(2.0)
        self.parts = [self.scale, Value(3.0)]


def test_tied_parameters_are_listed_once_under_the_first_name():
    model = Tied()
    names = [n for n, _ in model.named_parameters()]
    assert names == [
        "encoder.neurons.0.w.0", "encoder.neurons.0.w.1", "encoder.neurons.0.b",
        "encoder.neurons.1.w.0", "encoder.neurons.1.w.1", "encoder.neurons.1.b",
        "scale", "parts.1",
    ]
    params = model.parameters()
    assert len({id(p) for p in params}) == len(params) == 8
    assert list(model.state_dict()) == names


def test_a_tied_parameter_gets_one_optimiser_update_per_step():
    model = Tied()
    opt = SGD(model.parameters(), lr=0.1)
    (model.scale * model.parts[0]).backward()  # d/d scale of scale² = 2·scale = 4
    opt.step()
    assert model.scale.data == pytest.approx(2.0 - 0.1 * 4.0)


def test_zero_grad_and_repr():
    model = MLP(2, [3, 1], seed=0)
    model([1.0, 2.0]).backward()
    assert any(p.grad != 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0 for p in model.parameters())
    text = repr(model)
    assert "Layer(2 -> 3, relu)" in text and "Layer(3 -> 1, linear)" in text and "13 parameters" in text
    assert repr(Neuron(3, "tanh", bias=False, seed=0)) == "Neuron(3, tanh, bias=False)"


@pytest.mark.parametrize(
    "name, x, expected",
    [
        ("relu", -2.0, 0.0),
        ("relu", 2.0, 2.0),
        ("tanh", 0.5, math.tanh(0.5)),
        ("sigmoid", 0.5, 1 / (1 + math.exp(-0.5))),
        ("leaky_relu", -2.0, -0.02),
        ("elu", -1.0, math.exp(-1) - 1),
        ("linear", -2.0, -2.0),
    ],
)
def test_activations_by_name(name, x, expected):
    n = Neuron(1, activation=name, seed=0)
    n.w[0].data = 1.0
    assert n([x]).data == pytest.approx(expected)


def test_activation_callable_and_unknown_name():
    n = Neuron(1, activation=lambda v: v * v, seed=0)
    n.w[0].data = 3.0
    assert n([2.0]).data == 36.0
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        Neuron(1, activation="swish")
    with pytest.raises(ValueError, match="nin"):
        Neuron(0)


def test_prelu_slope_is_learnable_in_neuron_and_module():
    n = Neuron(1, activation="prelu", seed=0)
    n.w[0].data = 1.0
    assert [name for name, _ in n.named_parameters()] == ["w.0", "b", "alpha"]
    out = n([-2.0])
    assert out.data == pytest.approx(-0.5)
    out.backward()
    assert n.alpha.grad == pytest.approx(-2.0)
    act = PReLU(0.1)
    ys = act([Value(-3.0), 2.0])
    assert [y.data for y in ys] == pytest.approx([-0.3, 2.0])
    ys[0].backward()
    assert act.alpha.grad == pytest.approx(-3.0)
    assert act.parameters() == [act.alpha]


# --------------------------------------------------------------- initialisers
@pytest.mark.parametrize(
    "name, std",
    [
        ("uniform", 1 / math.sqrt(3)),
        ("xavier_uniform", math.sqrt(2 / (50 + 30))),
        ("xavier_normal", math.sqrt(2 / (50 + 30))),
        ("he_uniform", math.sqrt(2 / 50)),
        ("he_normal", math.sqrt(2 / 50)),
    ],
)
def test_initialiser_spread_matches_its_formula(name, std):
    layer = Layer(50, 30, init=name, seed=0)
    ws = np.array([p.data for n, p in layer.named_parameters() if ".w." in n])
    assert abs(ws.mean()) < 0.1 * std
    assert ws.std() == pytest.approx(std, rel=0.05)


def test_zeros_init_never_breaks_symmetry():
    model = MLP(2, [3, 1], init="zeros", seed=0)
    out = model([1.0, 2.0])
    out.backward()
    first = model.layers[0].neurons
    assert all(p.data == 0 for p in model.parameters())
    assert len({(n.w[0].grad, n.w[1].grad) for n in first}) == 1  # every hidden neuron identical


def test_unknown_initialiser_and_seed_with_rng():
    with pytest.raises(ValueError, match="unknown initialiser 'lecun'"):
        MLP(2, [1], init="lecun")
    with pytest.raises(ValueError, match="either seed or rng"):
        init.make_rng(1, np.random.default_rng(1))


# -------------------------------------------------------------------- dropout
def test_dropout_preserves_expectation_and_drops_with_rate_p():
    drop = Dropout(0.3, seed=0)
    xs = [Value(2.0) for _ in range(20000)]
    ys = [y.data for y in drop(xs)]
    assert np.mean(ys) == pytest.approx(2.0, rel=0.02)
    assert np.mean([y == 0 for y in ys]) == pytest.approx(0.3, abs=0.015)
    assert set(np.round(ys, 12)) == {0.0, round(2.0 / 0.7, 12)}


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("training", [True, False])
def test_dropout_returns_values_in_both_modes(p, training):
    drop = Dropout(p, seed=0).train(training)
    ys = drop([1.0, 2.0, 3])
    assert all(type(y) is Value for y in ys)
    assert type(drop(2.0)) is Value
    if not training:
        assert [y.data for y in ys] == [1.0, 2.0, 3]
        x = Value(4.0)
        assert drop(x) is x  # eval mode adds no node


def test_dropout_eval_is_identity_and_p_edges():
    xs = [Value(float(i)) for i in range(5)]
    drop = Dropout(0.5, seed=0).eval()
    assert drop(xs) == xs
    assert Dropout(0.0)(xs) == xs
    assert [y.data for y in Dropout(1.0)(xs)] == [0.0] * 5
    with pytest.raises(ValueError, match="p must be a number in \\[0, 1\\]"):
        Dropout(1.5)


def test_dropout_is_seeded_and_backprops_through_kept_units():
    a = [y.data for y in Dropout(0.5, seed=4)([1.0] * 50)]
    b = [y.data for y in Dropout(0.5, seed=4)([1.0] * 50)]
    assert a == b
    x = Value(3.0)
    y = Dropout(0.5, seed=0)([x] * 10)
    sum(y).backward()
    assert x.grad == pytest.approx(2.0 * sum(v.data != 0 for v in y))


# ----------------------------------------------------------------- batch norm
def test_batchnorm_train_normalises_each_feature_and_updates_running_stats():
    bn = BatchNorm(2, momentum=0.1)
    batch = [[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [6.0, 60.0]]
    out = bn(batch)
    for j in range(2):
        col = [row[j].data for row in out]
        assert np.mean(col) == pytest.approx(0.0, abs=1e-12)
        assert np.var(col) == pytest.approx(1.0, rel=1e-3)
    assert bn.running_mean == pytest.approx([0.1 * 3.0, 0.1 * 30.0])
    expected_var = [0.9 + 0.1 * np.var(col, ddof=1) for col in ([1, 2, 3, 6], [10, 20, 30, 60])]
    assert bn.running_var == pytest.approx(expected_var)


def test_batchnorm_eval_uses_running_stats():
    bn = BatchNorm(1, eps=0.0 + 1e-5)
    bn._running_mean, bn._running_var = [2.0], [4.0]
    bn.gamma[0].data, bn.beta[0].data = 3.0, 1.0
    bn.eval()
    out = bn([6.0, 2.0])
    assert [v.data for v in out] == pytest.approx([3.0 * 4.0 / math.sqrt(4 + 1e-5) + 1.0, 1.0])
    assert bn.running_mean == [2.0]  # eval does not update the statistics


def test_batchnorm_gradients_match_numerical_differentiation():
    bn = BatchNorm(1)
    weights = [0.3, -1.2, 2.0, 0.7]

    def f(x0, x1, x2, x3, gamma, beta):
        bn.gamma[0], bn.beta[0] = gamma, beta
        out = bn([x0, x1, x2, x3])
        return sum(w * y for w, y in zip(weights, out)) + out[0] * out[1]

    gradcheck(f, [0.5, -1.0, 2.0, 0.1, 1.5, 0.2])


def test_batchnorm_rejects_bad_batches():
    with pytest.raises(ValueError, match="at least 2 rows"):
        BatchNorm(1)([1.0])
    with pytest.raises(ValueError, match="row of 3 features"):
        BatchNorm(2)([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])


def test_train_eval_switch_reaches_submodules():
    class Net(Module):
        def __init__(self):
            self.body = MLP(2, [2], seed=0)
            self.parts = [Dropout(0.5), BatchNorm(2)]

    net = Net().eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    names = [n for n, _ in net.named_parameters()]
    assert names[0] == "body.layers.0.neurons.0.w.0" and "parts.1.gamma.1" in names


# ------------------------------------------------------------------ save/load
def test_save_load_round_trip(tmp_path):
    path = tmp_path / "model.json"
    model = MLP(2, [4, 3], seed=1)
    save(model, path)
    other = MLP(2, [4, 3], seed=2)
    other.load(path)
    assert [p.data for p in other.parameters()] == [p.data for p in model.parameters()]
    assert [v.data for v in other([0.3, -0.7])] == [v.data for v in model([0.3, -0.7])]
    assert not [f for f in tmp_path.iterdir() if f.name != "model.json"]  # no temp file left behind


def test_save_load_round_trip_keeps_batchnorm_running_stats(tmp_path):
    bn = BatchNorm(1)
    bn([1.0, 5.0])
    bn.save(tmp_path / "bn.json")
    fresh = BatchNorm(1)
    fresh.load(tmp_path / "bn.json")
    assert fresh.running_mean == bn.running_mean and fresh.running_var == bn.running_var


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not a valid JSON"),
        ("[1, 2]", "not a microgradcn model file"),
        ('{"format": "microgradcn-state", "version": 99, "state": {}}', "unsupported file version"),
    ],
)
def test_load_rejects_corrupt_files_and_leaves_model_unchanged(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    model = MLP(2, [3, 1], seed=0)
    before = [p.data for p in model.parameters()]
    with pytest.raises(ValueError, match=message):
        load(model, path)
    assert [p.data for p in model.parameters()] == before


def test_load_rejects_mismatched_architecture_and_bad_numbers(tmp_path):
    path = tmp_path / "small.json"
    save(MLP(2, [3, 1], seed=0), path)
    model = MLP(2, [4, 1], seed=5)
    before = [p.data for p in model.parameters()]
    with pytest.raises(ValueError, match="do not match this model's architecture: missing 'layers.0.neurons.3"):
        model.load(path)
    assert [p.data for p in model.parameters()] == before

    small = MLP(2, [3, 1], seed=5)
    payload = json.loads(path.read_text())
    payload["state"]["layers.1.neurons.0.b"] = "oops"
    path.write_text(json.dumps(payload))
    before = [p.data for p in small.parameters()]
    with pytest.raises(ValueError, match="layers.1.neurons.0.b.*finite number"):
        small.load(path)
    assert [p.data for p in small.parameters()] == before


def test_custom_initialiser_callable_gets_fan_in_and_fan_out():
    calls = []

    def constant(rng, fan_in, fan_out):
        calls.append((fan_in, fan_out))
        return 0.25

    layer = Layer(3, 2, init=constant, seed=0)
    assert calls == [(3, 2)] * 6
    assert [p.data for n, p in layer.named_parameters() if ".w." in n] == [0.25] * 6


def test_numpy_rows_work_as_inputs():
    model = MLP(2, [3, 1], seed=0)
    row = np.array([0.5, -1.5])
    assert model(row).data == model([0.5, -1.5]).data


def test_without_seed_or_rng_weights_come_from_pythons_random_as_in_micrograd():
    import random

    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    random.seed(1337)
    draws = [random.uniform(-1, 1) for _ in range(2 * 16 + 16 * 16 + 16)]  # micrograd: nin weights per neuron
    weights = [p.data for name, p in model.named_parameters() if ".w." in name]
    assert weights == draws
    assert all(p.data == 0.0 for name, p in model.named_parameters() if name.endswith(".b"))
    random.seed(1337)
    assert [p.data for p in MLP(2, [16, 16, 1]).parameters()] == [p.data for p in model.parameters()]
    assert MLP(2, [3], seed=5).parameters()[0].data == MLP(2, [3], seed=5).parameters()[0].data  # seed= as before
    random.seed(1337)
    neuron = Neuron(3)
    random.seed(1337)
    assert [w.data for w in neuron.w] == [random.uniform(-1, 1) for _ in range(3)]


def test_micrograd_with_the_same_python_seed_gives_the_same_weights():
    micrograd_nn = pytest.importorskip("micrograd.nn")
    import random

    random.seed(1337)
    theirs = micrograd_nn.MLP(2, [16, 16, 1])
    random.seed(1337)
    ours = MLP(2, [16, 16, 1])
    assert [p.data for p in ours.parameters()] == [p.data for p in theirs.parameters()]


# ------------------------------------------------------- errors a learner reads: Chinese first
def _bad_calls():
    from microgradcn import nn

    gpt = nn.GPT(5, block_size=2, seed=0)
    return [
        (lambda: BatchNorm(2)([[1.0, 2.0]]), ValueError,
         "BatchNorm in training needs a batch of at least 2 rows, got 1"),
        (lambda: BatchNorm(2)([[1.0], [2.0]]), ValueError, "BatchNorm(2) got a row of 1 features"),
        (lambda: BatchNorm(0), ValueError, "num_features must be a positive int, got 0"),
        (lambda: BatchNorm(2, momentum=2), ValueError, "momentum must be in [0, 1], got 2"),
        (lambda: Dropout(1.5), ValueError, "dropout probability p must be a number in [0, 1], got 1.5"),
        (lambda: Neuron(2, seed=0)([1.0]), ValueError, "expects 2 inputs, got 1"),
        (lambda: Neuron(0), ValueError, "nin (number of inputs) must be a positive int, got 0"),
        (lambda: Layer(2, 0), ValueError, "nout (number of neurons) must be a positive int, got 0"),
        (lambda: MLP(2, []), ValueError, "MLP needs at least one layer size, got []"),
        (lambda: MLP(2, [1], activation="swish"), ValueError, "unknown activation 'swish'"),
        (lambda: Neuron(2, activation=3), TypeError, "activation must be a name or a callable, got int: 3"),
        (lambda: MLP(2, [1], seed=0).load_state_dict({}), ValueError, "do not match this model's architecture"),
        (lambda: nn.Linear(2, 3, seed=0)([1.0]), ValueError, "expects 2 inputs, got 1"),
        (lambda: nn.Linear(0, 3), ValueError, "Linear nin must be a positive int, got 0"),
        (lambda: nn.Sequential(), ValueError, "Sequential needs at least one layer"),
        (lambda: nn.LayerNorm(3)([1.0, 2.0]), ValueError, "expects 3 features, got 2"),
        (lambda: nn.LayerNorm(3, eps=0), ValueError, "LayerNorm eps must be a positive number, got 0"),
        (lambda: nn.Conv2d(1, 2, 3, seed=0)([[[1.0, 2.0], [3.0, 4.0]]]), ValueError,
         "is smaller than the kernel size 3"),
        (lambda: nn.Conv2d(2, 2, 1, seed=0)([[[1.0]]]), ValueError, "expects 2 input channels, got 1"),
        (lambda: nn.Maxout(2, 1, pieces=0), ValueError, "Maxout pieces must be a positive int, got 0"),
        (lambda: nn.RReLU(0.5, 0.1), ValueError, "RReLU needs 0 <= lower <= upper"),
        (lambda: nn.CausalSelfAttention(6, 4, seed=0), ValueError, "attention dim 6 must be divisible by n_head 4"),
        (lambda: nn.GPT(5, seed=0, rng=np.random.default_rng(0)), ValueError, "give either seed or rng, not both"),
        (lambda: gpt.generate(0, temperature=0), ValueError, "temperature must be a positive number, got 0"),
        (lambda: nn.RMSNorm(3, eps=-1), ValueError, "RMSNorm eps must be a finite positive number, got -1"),
        (lambda: MLP(2, [1], init="glorot"), ValueError, "unknown initialiser 'glorot'"),
        (lambda: MLP(2, [1], rng=3), TypeError, "rng must be a numpy.random.Generator, got int"),
    ]


def test_nn_errors_are_chinese_first_with_the_english_kept():
    """A learner reads the Chinese first; the whole English message follows in parentheses (so `match=` finds it)."""
    for call, kind, english in _bad_calls():
        with pytest.raises(kind) as info:
            call()
        message = str(info.value)
        chinese = message.split(" (")[0]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese), message
        assert english in message and message.endswith(")"), message
