"""microgradcn.interop: models exported to torch compute the same outputs and gradients (float64, within 1e-12).

PyTorch is optional. Without it every torch test is skipped with the reason
below, and only the "missing torch" behaviour is tested.
"""

import math
import sys

import numpy as np
import pytest
from hypothesis import given, settings

from microgradcn import Value, datasets
from microgradcn import functional as F
from microgradcn.nn import MLP, BatchNorm, Dropout, Layer, Linear, Module, Neuron, PReLU, Sequential
from microgradcn.testing import expressions

SKIP_REASON = 'PyTorch is not installed (optional: pip install "microgradcn[torch]" to run the interop tests)'
TOL = 1e-12


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason=SKIP_REASON)


def close(a, b, tol=TOL):
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def test_missing_torch_is_an_import_error_naming_the_extra(monkeypatch):
    from microgradcn import interop

    monkeypatch.setitem(sys.modules, "torch", None)  # what `import torch` sees when torch is not installed
    with pytest.raises(ImportError, match=r"microgradcn\[torch\]"):
        interop.to_torch(MLP(2, [1], seed=0))
    with pytest.raises(ImportError, match="torch==2.13.0"):
        interop.compare_gradients(lambda x: x * x, [1.0])


def test_importing_microgradcn_does_not_import_torch():
    import subprocess

    code = "import sys, microgradcn, microgradcn.interop, microgradcn.layers; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# ---------------------------------------------------------------- helpers
def _check_same(torch, model, torch_model, X, n_out):
    """Same outputs on every row of X, and the same gradients of a weighted sum of all outputs."""
    from microgradcn.interop import linked_parameters

    rng = np.random.default_rng(1)
    weights = rng.normal(size=(len(X), n_out))
    rows = [[Value(float(v)) for v in row] for row in X]
    model.zero_grad()
    outs = [model(r) for r in rows]
    flat = [[o] if isinstance(o, Value) else list(o) for o in outs]
    total = sum(float(c) * o for row, ws in zip(flat, weights) for o, c in zip(row, ws))
    total.backward()

    xt = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    yt = torch_model(xt)
    ours = np.array([[o.data for o in row] for row in flat])
    theirs = yt.detach().numpy().reshape(ours.shape)
    assert np.max(np.abs(ours - theirs)) <= TOL
    (yt.reshape(ours.shape) * torch.tensor(weights)).sum().backward()
    pairs = linked_parameters(model, torch_model)
    assert len(pairs) == len(model.parameters()) == sum(p.numel() for p in torch_model.parameters())
    for value, param, index in pairs:
        assert close(value.grad, param.grad[index].item()), (value, param.grad[index])
        assert value.data == param[index].item()  # copied exactly
    input_grads = np.array([[v.grad for v in r] for r in rows])
    assert np.max(np.abs(input_grads - xt.grad.numpy())) <= TOL
    return ours


def _batch(n, nin, seed=0):
    return np.random.default_rng(seed).normal(size=(n, nin))


# ----------------------------------------------------------------- to_torch
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu", "elu", "prelu", "linear"])
def test_mlp_exports_with_identical_outputs_and_gradients(torch, activation):
    from microgradcn.interop import to_torch

    model = MLP(3, [5, 4, 1], activation=activation, seed=0)
    if activation == "prelu":  # make the slopes differ, so a mix-up would show
        for k, p in enumerate(model.parameters()):
            p.data += 0.01 * k
    torch_model = to_torch(model)
    assert all(p.dtype == torch.float64 for p in torch_model.parameters())
    outs = _check_same(torch, model, torch_model, _batch(7, 3), 1)
    assert torch_model(torch.tensor(_batch(7, 3))).shape == (7,)  # one output: squeezed, like a single Value
    assert outs.shape == (7, 1)


def test_mlp_with_several_outputs_no_bias_and_output_activation(torch):
    from microgradcn.interop import to_torch

    model = MLP(2, [6, 3], activation="tanh", output_activation="sigmoid", bias=False, seed=3)
    torch_model = to_torch(model)
    assert torch_model[0].bias is None
    _check_same(torch, model, torch_model, _batch(5, 2), 3)
    assert torch_model(torch.tensor(_batch(5, 2))).shape == (5, 3)


def test_layer_neuron_linear_and_sequential(torch):
    from microgradcn.interop import to_torch

    _check_same(torch, Layer(3, 4, activation="elu", seed=1), to_torch(Layer(3, 4, activation="elu", seed=1)),
                _batch(4, 3), 4)
    neuron = Neuron(3, activation="sigmoid", seed=2)
    neuron.b.data = 0.3
    _check_same(torch, neuron, to_torch(neuron), _batch(4, 3), 1)
    linear = Linear(3, 2, seed=4)
    torch_linear = to_torch(linear)
    assert isinstance(torch_linear, torch.nn.Linear)
    assert torch_linear.weight[1, 2].item() == linear.weight[1][2].data
    _check_same(torch, linear, torch_linear, _batch(4, 3), 2)
    seq = Sequential(Linear(3, 5, seed=5), PReLU(0.1), Linear(5, 2, seed=6), Dropout(0.5))
    seq.eval()
    torch_seq = to_torch(seq)
    assert not torch_seq.training and not torch_seq[3].training
    assert isinstance(torch_seq[1], torch.nn.PReLU) and torch_seq[1].weight.item() == 0.1
    _check_same(torch, seq, torch_seq, _batch(6, 3), 2)


def test_neuron_without_bias_and_nested_sequential(torch):
    from microgradcn.interop import to_torch

    neuron = Neuron(2, activation="linear", bias=False, seed=0)
    _check_same(torch, neuron, to_torch(neuron), _batch(3, 2), 1)
    nested = Sequential(Sequential(Linear(2, 3, seed=1), PReLU()), Layer(3, 2, activation="tanh", seed=2))
    _check_same(torch, nested, to_torch(nested), _batch(3, 2), 2)


def test_batchnorm_matches_in_training_and_in_evaluation(torch):
    from microgradcn.interop import linked_parameters, to_torch

    bn = BatchNorm(3, eps=1e-5, momentum=0.2)
    for j, (g, b) in enumerate(zip(bn.gamma, bn.beta)):
        g.data, b.data = 1.0 + 0.5 * j, -0.25 * j
    torch_bn = to_torch(bn)
    assert torch_bn.training and torch_bn.momentum == 0.2
    X = _batch(6, 3)
    rows = [[Value(float(v)) for v in r] for r in X]
    out = bn(rows)
    c = np.random.default_rng(2).normal(size=X.shape)
    sum(float(c[i, j]) * out[i][j] for i in range(6) for j in range(3)).backward()
    xt = torch.tensor(X, requires_grad=True)
    yt = torch_bn(xt)
    assert np.max(np.abs(np.array([[v.data for v in r] for r in out]) - yt.detach().numpy())) <= TOL
    (yt * torch.tensor(c)).sum().backward()
    for value, param, index in linked_parameters(bn, torch_bn):
        assert close(value.grad, param.grad[index].item())
    assert np.max(np.abs(np.array([[v.grad for v in r] for r in rows]) - xt.grad.numpy())) <= 1e-11
    # Both updated their running statistics the same way (unbiased variance, momentum 0.2).
    assert np.allclose(bn.running_mean, torch_bn.running_mean.numpy(), rtol=0, atol=TOL)
    assert np.allclose(bn.running_var, torch_bn.running_var.numpy(), rtol=0, atol=TOL)
    bn.eval()
    exported = to_torch(bn)
    assert not exported.training and np.allclose(exported.running_var.numpy(), bn.running_var, atol=0)
    with torch.no_grad():
        ours = np.array([[v.data for v in r] for r in bn([[float(v) for v in r] for r in X])])
        assert np.max(np.abs(ours - exported(torch.tensor(X)).numpy())) <= TOL


def test_weights_are_copies_and_training_mode_is_copied(torch):
    from microgradcn.interop import to_torch

    model = MLP(2, [3, 1], seed=0)
    torch_model = to_torch(model)
    before = model.layers[0].neurons[0].w[0].data
    with torch.no_grad():
        torch_model[0].weight[0, 0] += 1.0
    assert model.layers[0].neurons[0].w[0].data == before
    model.layers[0].neurons[0].w[0].data += 5.0
    assert torch_model[0].weight[0, 0].item() == before + 1.0
    model.eval()
    assert not to_torch(model).training


def test_things_without_a_torch_counterpart_are_type_errors(torch):
    from microgradcn.interop import linked_parameters, register_converter, to_torch

    def swish(v):
        return v * v.sigmoid()

    with pytest.raises(TypeError, match="function of your own"):
        to_torch(MLP(2, [3, 1], activation=swish, seed=0))

    def relu(v):  # named like a known activation, but not the engine's: still refused
        return v.relu() * 2

    with pytest.raises(TypeError, match="function of your own"):
        to_torch(Neuron(2, activation=relu, seed=0))

    class Scale(Module):
        def __init__(self):
            self.k = Value(3.0)

        def __call__(self, xs):
            return [self.k * x for x in xs]

    with pytest.raises(TypeError, match=r"to_torch cannot convert Scale.*register_converter"):
        to_torch(Sequential(Linear(2, 2, seed=0), Scale()))
    with pytest.raises(TypeError, match="cannot convert"):
        to_torch(lambda xs: xs)
    with pytest.raises(ValueError, match="structure"):
        linked_parameters(MLP(2, [3, 1], seed=0), torch.nn.Linear(2, 3))

    class TorchScale(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.k = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))

        def forward(self, x):
            return self.k * x

    register_converter(Scale, lambda m: (TorchScale(), [(m.k, "k", (0,))]))
    seq = Sequential(Linear(2, 2, seed=0), Scale())
    _check_same(torch, seq, to_torch(seq), _batch(3, 2), 2)
    with pytest.raises(TypeError, match="needs a class"):
        register_converter("Scale", lambda m: None)


def test_trained_moons_mlp_evaluates_identically_in_torch(torch):
    from microgradcn.interop import to_torch
    from microgradcn.optim import SGD
    from microgradcn.train import to_values

    X, y = datasets.make_moons(40, noise=0.1, seed=0, signed=True)
    inputs, labels = to_values(X), y.tolist()
    model = MLP(2, [8, 8, 1], seed=0)
    opt = SGD(model.parameters(), lr=0.1)
    for _ in range(20):
        scores = [model(x) for x in inputs]
        loss = F.hinge(scores, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    ours = np.array([model(x).data for x in inputs])
    torch_model = to_torch(model).eval()
    with torch.no_grad():
        theirs = torch_model(torch.from_numpy(X)).numpy()
    assert np.max(np.abs(ours - theirs)) <= TOL
    assert np.array_equal(ours > 0, theirs > 0)
    our_loss = F.hinge([Value(s) for s in ours], labels).data
    their_loss = torch.clamp(1 - torch.from_numpy(y) * torch.from_numpy(theirs), min=0).mean().item()
    assert close(our_loss, their_loss)


# ------------------------------------------------------------ compare_gradients
def test_compare_gradients_table_by_hand(torch):
    from microgradcn.interop import compare_gradients

    report = compare_gradients(lambda x, y: (x * y + x ** 2).tanh(), [2.0, -3.0])
    t = math.tanh(2.0 * -3.0 + 4.0)
    assert close(report.output_microgradcn, t) and close(report.output_torch, t)
    d = 1 - t * t
    assert [r.name for r in report.rows] == ["x", "y"]
    assert close(report.rows[0].microgradcn, d * (-3.0 + 4.0)) and close(report.rows[0].torch, d * 1.0)
    assert close(report.rows[1].microgradcn, d * 2.0) and close(report.rows[1].torch, d * 2.0)
    assert report.max_abs_diff <= TOL
    text = str(report)
    assert "microgradcn" in text and "torch.autograd" in text and "∂/∂x" in text and "∂/∂y" in text
    unused = compare_gradients(lambda a, b: a * 3.0, [1.0, 2.0], names=["苹果", "橘子"])
    assert [(r.name, r.microgradcn, r.torch) for r in unused.rows] == [("苹果", 3.0, 3.0), ("橘子", 0.0, 0.0)]


def test_compare_gradients_apple_tax(torch):
    from microgradcn.interop import compare_gradients

    report = compare_gradients(lambda price, count, tax: price * count * tax, [100, 2, 1.1])
    assert [r.microgradcn for r in report.rows] == [r.torch for r in report.rows]
    assert close(report.rows[0].microgradcn, 2.2) and report.rows[2].microgradcn == 200.0


def test_compare_gradients_rejects_what_it_cannot_compare(torch):
    from microgradcn.interop import compare_gradients

    with pytest.raises(TypeError, match="operations both engines have"):
        compare_gradients(lambda x: x.softplus(), [1.0])
    with pytest.raises(TypeError, match="finite real numbers"):
        compare_gradients(lambda x: x, ["1"])
    with pytest.raises(ValueError, match="2 names for 1 inputs"):
        compare_gradients(lambda x: x, [1.0], names=["a", "b"])
    with pytest.raises(ValueError, match="at least one input"):
        compare_gradients(lambda: Value(1.0), [])


SHARED_OPS = [
    "neg", "abs", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "pow_const(2)", "pow_const(3)",
    "pow_const(-1)", "pow_const(0.5)", "rpow", "sin", "cos", "max", "min", "add", "sub", "mul", "div",
    "pow",
]


def _build(name, *args):
    """One step of an expression with operators and methods that Values and torch tensors both have."""
    import operator

    if name.startswith("pow_const("):
        return args[0] ** float(name[len("pow_const("):-1])
    infix = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv,
             "pow": operator.pow}
    if name in infix:
        return infix[name](*args)
    if name in ("max", "min"):
        return getattr(args[0], name)(args[1])
    return {"neg": operator.neg, "abs": abs, "rpow": lambda v: 2 ** v}.get(name, lambda v: getattr(v, name)())(*args)


def _replay(expr, xs):
    slots = list(xs)
    for name, args in expr.steps:
        slots.append(_build(name, *(slots[i] for i in args)))
    return slots[-1]


@settings(derandomize=True, database=None, max_examples=200)
@given(expressions(ops=SHARED_OPS, n_ops=(1, 6)))
def test_random_expressions_give_the_same_gradients_as_torch_autograd(expr):
    pytest.importorskip("torch", reason=SKIP_REASON)
    from microgradcn.interop import compare_gradients

    report = compare_gradients(lambda *xs: _replay(expr, xs), expr.inputs)
    for row in report.rows:
        assert close(row.microgradcn, row.torch, 1e-10), (expr, str(report))
    assert close(report.output_microgradcn, report.output_torch, 1e-10)
