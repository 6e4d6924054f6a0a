"""The teaching path: `Neuron`, `Layer` and `MLP`, built exactly as micrograd builds them."""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from .. import init as initialisers
from .._messages import bilingual
from ..engine import Value
from .module import Module

__all__ = ["Neuron", "Layer", "MLP", "ACTIVATIONS", "Activation"]

Activation = Union[str, Callable[[Value], Value], None]


# ------------------------------------------------------------------ activations
def _leaky_relu(v: Value) -> Value:
    return v.leaky_relu(0.01)


# Unbound methods: calling Value.relu(v) is as fast as v.relu().
ACTIVATIONS: Dict[str, Optional[Callable[[Value], Value]]] = {
    "relu": Value.relu,
    "tanh": Value.tanh,
    "sigmoid": Value.sigmoid,
    "leaky_relu": _leaky_relu,
    "elu": Value.elu,
    "linear": None,  # identity: no node is added
}


def _activation(activation: Activation) -> Tuple[str, Optional[Callable[[Value], Value]]]:
    """(display name, function or None for identity) for an activation spec."""
    if activation is None:
        return "linear", None
    if isinstance(activation, str):
        if activation == "prelu":
            return "prelu", None  # handled by Neuron, which owns the learnable slope
        if activation not in ACTIVATIONS:
            raise ValueError(bilingual(
                f"没有叫 {activation!r} 的激活函数",
                f"unknown activation {activation!r}; expected a callable or one of "
                f"{sorted(ACTIVATIONS) + ['prelu']}"
            ))
        return activation, ACTIVATIONS[activation]
    if callable(activation):
        return getattr(activation, "__name__", type(activation).__name__), activation
    raise TypeError(bilingual("激活函数必须是名字或可调用的对象", f"activation must be a name or a callable, "
                              f"got {type(activation).__name__}: {activation!r}"))


# --------------------------------------------------------------------- Neuron
class Neuron(Module):
    """One neuron: ``activation(b + w0*x0 + w1*x1 + ...)``.

    The sum is built exactly as in micrograd, ``((b + w0*x0) + w1*x1) + ...``,
    so graphs (and node counts) match micrograd's. Weights come from `init`
    (default: micrograd's uniform(-1, 1)); the bias starts at 0. With neither
    `seed` nor `rng` they are drawn from Python's `random` module, as in
    micrograd, so ``random.seed(1337)`` first gives micrograd's numbers. With
    ``activation="prelu"`` the neuron owns a learnable slope `alpha` (0.25).
    `fan_out` (the width of the neuron's layer) only matters to initialisers
    that use it, such as Xavier.
    """

    def __init__(
        self,
        nin: int,
        activation: Activation = "relu",
        bias: bool = True,
        init: Union[str, Callable] = "uniform",
        rng: Optional[initialisers.Rng] = None,
        seed: Optional[int] = None,
        fan_out: int = 1,
    ) -> None:
        if isinstance(nin, bool) or not isinstance(nin, int) or nin < 1:
            raise ValueError(bilingual("nin(输入个数)必须是正整数",
                                       f"nin (number of inputs) must be a positive int, got {nin!r}"))
        draw = initialisers.get(init)
        rng = initialisers.micrograd_rng(seed, rng)
        self._activation_name, self._act = _activation(activation)
        self.w = [Value(draw(rng, nin, fan_out)) for _ in range(nin)]
        if bias:
            self.b = Value(0.0)
        if self._activation_name == "prelu":
            self.alpha = Value(0.25)
        self._bias = bias

    def __call__(self, x: Sequence[Union[Value, float]]) -> Value:
        if len(x) != len(self.w):
            raise ValueError(bilingual(f"{self!r} 需要 {len(self.w)} 个输入,得到 {len(x)} 个",
                                       f"{self!r} expects {len(self.w)} inputs, got {len(x)}"))
        if self._bias:
            act = self.b
            for wi, xi in zip(self.w, x):
                act = act + wi * xi
        else:
            w = self.w
            act = w[0] * x[0]
            for i in range(1, len(w)):
                act = act + w[i] * x[i]
        f = self._act
        if f is not None:
            return f(act)
        if self._activation_name == "prelu":
            return act.prelu(self.alpha)
        return act

    def __repr__(self) -> str:
        return f"Neuron({len(self.w)}, {self._activation_name}{'' if self._bias else ', bias=False'})"


# ---------------------------------------------------------------------- Layer
class Layer(Module):
    """`nout` neurons reading the same `nin` inputs; returns a list of `nout` Values."""

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: Activation = "relu",
        bias: bool = True,
        init: Union[str, Callable] = "uniform",
        rng: Optional[initialisers.Rng] = None,
        seed: Optional[int] = None,
    ) -> None:
        if isinstance(nout, bool) or not isinstance(nout, int) or nout < 1:
            raise ValueError(bilingual("nout(神经元个数)必须是正整数",
                                       f"nout (number of neurons) must be a positive int, got {nout!r}"))
        rng = initialisers.micrograd_rng(seed, rng)
        self.neurons = [Neuron(nin, activation, bias, init, rng=rng, fan_out=nout) for _ in range(nout)]

    def __call__(self, x: Sequence[Union[Value, float]]) -> List[Value]:
        return [n(x) for n in self.neurons]

    def __repr__(self) -> str:
        n = self.neurons[0]
        bias = "" if n._bias else ", bias=False"
        return f"Layer({len(n.w)} -> {len(self.neurons)}, {n._activation_name}{bias})"


# ------------------------------------------------------------------------ MLP
class MLP(Module):
    """A multi-layer perceptron: ``MLP(2, [16, 16, 1])`` = 2 inputs, two hidden layers of 16, 1 output.

    Hidden layers use `activation` (ReLU by default); the last layer uses
    `output_activation` (None = linear, as in micrograd's demo). Calling the
    model on a list of numbers or Values returns a list of Values, or a single
    Value when the last layer has one neuron.
    """

    def __init__(
        self,
        nin: int,
        sizes: Sequence[int],
        activation: Activation = "relu",
        output_activation: Activation = None,
        bias: bool = True,
        init: Union[str, Callable] = "uniform",
        rng: Optional[initialisers.Rng] = None,
        seed: Optional[int] = None,
    ) -> None:
        sizes = list(sizes)
        if not sizes:
            raise ValueError(bilingual("MLP 至少需要一层的大小", "MLP needs at least one layer size, got []"))
        _activation(activation)  # checked even when no hidden layer uses it
        rng = initialisers.micrograd_rng(seed, rng)
        dims = [nin] + sizes
        last = len(sizes) - 1
        self.layers = [
            Layer(dims[i], dims[i + 1], output_activation if i == last else activation, bias, init, rng=rng)
            for i in range(len(sizes))
        ]
        self._single = sizes[-1] == 1

    def __call__(self, x: Sequence[Union[Value, float]]) -> Union[Value, List[Value]]:
        out: List[Value] = list(x)  # type: ignore[arg-type]  # each layer makes Values of what it is given
        for layer in self.layers:
            out = layer(out)
        return out[0] if self._single else out

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"MLP(\n{inner}\n)  # {len(self.parameters())} parameters"
