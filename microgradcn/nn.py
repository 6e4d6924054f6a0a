"""Neural networks built from `Value`s: neurons, layers, MLPs, dropout, batch norm.

Everything here is ordinary Python on top of the engine: a `Neuron` is a list
of weight Values and a bias Value, its output is a Value expression, and
`backward()` on a loss fills every weight's `.grad`. Nothing is vectorised, so
every multiplication can be seen in the computation graph.

>>> from microgradcn.nn import MLP
>>> model = MLP(2, [4, 1], seed=0)
>>> y = model([1.0, -2.0])       # one output neuron -> a single Value
>>> y.backward()
>>> len(model.parameters())
17
"""

from __future__ import annotations

import math
import os
from numbers import Real
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import init as initialisers
from .engine import Value
from .serialization import load, save

__all__ = [
    "Module",
    "Neuron",
    "Layer",
    "MLP",
    "PReLU",
    "Dropout",
    "BatchNorm",
    "ACTIVATIONS",
    "save",
    "load",
]

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
            raise ValueError(
                f"unknown activation {activation!r}; expected a callable or one of "
                f"{sorted(ACTIVATIONS) + ['prelu']}"
            )
        return activation, ACTIVATIONS[activation]
    if callable(activation):
        return getattr(activation, "__name__", type(activation).__name__), activation
    raise TypeError(f"activation must be a name or a callable, got {type(activation).__name__}: {activation!r}")


# ----------------------------------------------------------------------- Module
class Module:
    """Base class: finds parameters in attributes, switches train/eval mode.

    Parameters are the `Value`s stored in public attributes, directly, inside
    lists, or inside sub-modules. Their names follow the attribute path, e.g.
    ``layers.0.neurons.3.w.1`` (layer 0, neuron 3, weight 1), and are stable:
    they depend only on the architecture, so they can key a saved file.
    A parameter or sub-module reachable under several names (tied weights)
    is listed once, under the first name, as in PyTorch.
    """

    training: bool = True

    def named_parameters(self, prefix: str = "") -> Iterator[Tuple[str, Value]]:
        """Yield (dotted name, Value) for every distinct parameter, in a fixed order."""
        seen = set()  # ids: a tied parameter must not be updated twice per step
        for name, p in self._all_named_parameters(prefix):
            if id(p) not in seen:
                seen.add(id(p))
                yield name, p

    def _all_named_parameters(self, prefix: str) -> Iterator[Tuple[str, Value]]:
        for name, item in vars(self).items():
            if not name.startswith("_"):
                yield from _named(item, prefix + name)

    def parameters(self) -> List[Value]:
        """All parameters as a list (the order of `named_parameters`)."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix: str = "") -> Iterator[Tuple[str, float]]:
        """Non-learnable state saved with the model (BatchNorm's running statistics)."""
        for name, item in vars(self).items():
            if not name.startswith("_"):
                for sub_name, module in _modules(item, prefix + name):
                    yield from module.named_buffers(sub_name + ".")

    def modules(self) -> Iterator["Module"]:
        """This module and every sub-module, depth first."""
        yield self
        for name, item in vars(self).items():
            if not name.startswith("_"):
                for _, module in _modules(item, name):
                    yield from module.modules()

    def zero_grad(self) -> None:
        """Set every parameter's gradient to 0 (call before each backward)."""
        for p in self.parameters():
            p.grad = 0

    def train(self, mode: bool = True) -> "Module":
        """Training mode (Dropout drops, BatchNorm uses batch statistics). Returns self."""
        for module in self.modules():
            module.training = bool(mode)
        return self

    def eval(self) -> "Module":
        """Evaluation mode: Dropout is the identity, BatchNorm uses running statistics."""
        return self.train(False)

    # ------------------------------------------------------------ save / load
    def state_dict(self) -> Dict[str, float]:
        """{name: number} for every parameter and buffer."""
        state = {name: p.data for name, p in self.named_parameters()}
        state.update(self.named_buffers())
        return state

    def load_state_dict(self, state: Dict[str, float]) -> None:
        """Copy numbers into the parameters; all-or-nothing.

        The names must be exactly those of `state_dict()` and every value a
        finite real number; otherwise ValueError, and the model is unchanged.
        """
        if not isinstance(state, dict):
            raise ValueError(f"a state must be a dict of name -> number, got {type(state).__name__}")
        expected = list(self.state_dict())
        missing = [n for n in expected if n not in state]
        known = set(expected)
        unexpected = [n for n in state if n not in known]
        if missing or unexpected:
            raise ValueError(
                "the saved parameters do not match this model's architecture: "
                f"missing {_few(missing)}, unexpected {_few(unexpected)} "
                f"(model has {len(expected)} entries, file has {len(state)})"
            )
        for name in expected:
            x = state[name]
            if isinstance(x, bool) or not isinstance(x, Real) or not math.isfinite(x):
                raise ValueError(f"saved value for {name!r} must be a finite number, got {x!r}")
        # Checked everything: now write.
        for name, p in self.named_parameters():
            p.data = float(state[name])
        for module_name, module in self._buffer_owners():
            module._set_buffers({k[len(module_name):]: float(state[k]) for k in state if k.startswith(module_name)})

    def _buffer_owners(self) -> Iterator[Tuple[str, "Module"]]:
        yield from _buffer_owners(self, "")

    def _set_buffers(self, values: Dict[str, float]) -> None:  # overridden by modules with buffers
        pass

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write the parameters to `path` as JSON (see `save`)."""
        save(self, path)

    def load(self, path: Union[str, os.PathLike]) -> None:
        """Read parameters written by `save` (see `load`)."""
        load(self, path)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _named(item: object, name: str) -> Iterator[Tuple[str, Value]]:
    if type(item) is Value:
        yield name, item
    elif isinstance(item, Module):
        yield from item._all_named_parameters(name + ".")
    elif isinstance(item, (list, tuple)):
        for i, sub in enumerate(item):
            yield from _named(sub, f"{name}.{i}")


def _modules(item: object, name: str) -> Iterator[Tuple[str, Module]]:
    if isinstance(item, Module):
        yield name, item
    elif isinstance(item, (list, tuple)):
        for i, sub in enumerate(item):
            yield from _modules(sub, f"{name}.{i}")


def _buffer_owners(module: Module, prefix: str) -> Iterator[Tuple[str, Module]]:
    yield prefix, module
    for name, item in vars(module).items():
        if not name.startswith("_"):
            for sub_name, sub in _modules(item, prefix + name):
                yield from _buffer_owners(sub, sub_name + ".")


def _few(names: List[str]) -> str:
    if not names:
        return "none"
    shown = ", ".join(repr(n) for n in names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


# --------------------------------------------------------------------- Neuron
class Neuron(Module):
    """One neuron: ``activation(b + w0*x0 + w1*x1 + ...)``.

    The sum is built exactly as in micrograd, ``((b + w0*x0) + w1*x1) + ...``,
    so graphs (and node counts) match micrograd's. Weights come from `init`
    (default: micrograd's uniform(-1, 1)); the bias starts at 0. With
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
        rng: Optional[np.random.Generator] = None,
        seed: Optional[int] = None,
        fan_out: int = 1,
    ) -> None:
        if isinstance(nin, bool) or not isinstance(nin, int) or nin < 1:
            raise ValueError(f"nin (number of inputs) must be a positive int, got {nin!r}")
        draw = initialisers.get(init)
        rng = initialisers.make_rng(seed, rng)
        self._activation_name, self._act = _activation(activation)
        self.w = [Value(draw(rng, nin, fan_out)) for _ in range(nin)]
        if bias:
            self.b = Value(0.0)
        if self._activation_name == "prelu":
            self.alpha = Value(0.25)
        self._bias = bias

    def __call__(self, x: Sequence[Union[Value, float]]) -> Value:
        if len(x) != len(self.w):
            raise ValueError(f"{self!r} expects {len(self.w)} inputs, got {len(x)}")
        if self._bias:
            act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
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
        rng: Optional[np.random.Generator] = None,
        seed: Optional[int] = None,
    ) -> None:
        if isinstance(nout, bool) or not isinstance(nout, int) or nout < 1:
            raise ValueError(f"nout (number of neurons) must be a positive int, got {nout!r}")
        rng = initialisers.make_rng(seed, rng)
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
        rng: Optional[np.random.Generator] = None,
        seed: Optional[int] = None,
    ) -> None:
        sizes = list(sizes)
        if not sizes:
            raise ValueError("MLP needs at least one layer size, got []")
        rng = initialisers.make_rng(seed, rng)
        dims = [nin] + sizes
        last = len(sizes) - 1
        self.layers = [
            Layer(dims[i], dims[i + 1], output_activation if i == last else activation, bias, init, rng=rng)
            for i in range(len(sizes))
        ]
        self._single = sizes[-1] == 1

    def __call__(self, x: Sequence[Union[Value, float]]) -> Union[Value, List[Value]]:
        for layer in self.layers:
            x = layer(x)
        return x[0] if self._single else x

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"MLP(\n{inner}\n)  # {len(self.parameters())} parameters"


# ---------------------------------------------------------------------- PReLU
class PReLU(Module):
    """Parametric ReLU on a list of Values: x if x > 0 else alpha * x, one learnable alpha."""

    def __init__(self, alpha: float = 0.25) -> None:
        self.alpha = Value(float(alpha))

    def __call__(self, xs):
        if isinstance(xs, Value):
            return xs.prelu(self.alpha)
        return [_as_value(x).prelu(self.alpha) for x in xs]

    def __repr__(self) -> str:
        return f"PReLU(alpha={self.alpha.data:g})"


def _as_value(x) -> Value:
    return x if isinstance(x, Value) else Value(x)


# -------------------------------------------------------------------- Dropout
class Dropout(Module):
    """Inverted dropout: in training keep each input with probability 1 - p and scale it by 1/(1 - p).

    The scaling keeps every output's expectation equal to its input, so eval
    mode is simply the identity. p = 0 is the identity; p = 1 drops everything.
    `seed` makes the masks reproducible. The output is always made of Values
    (numbers are wrapped, Values pass through unchanged in eval mode), so code
    that reads ``.data`` works in both modes.
    """

    def __init__(self, p: float = 0.5, seed: Optional[int] = None, rng: Optional[np.random.Generator] = None):
        if isinstance(p, bool) or not isinstance(p, Real) or not 0 <= p <= 1:
            raise ValueError(f"dropout probability p must be a number in [0, 1], got {p!r}")
        self.p = float(p)
        self._rng = initialisers.make_rng(seed, rng)

    def __call__(self, xs):
        single = isinstance(xs, Value) or isinstance(xs, Real)
        items = [xs] if single else list(xs)
        if not self.training or self.p == 0:
            out = [_as_value(x) for x in items]
        elif self.p == 1:
            out = [_as_value(x) * 0.0 for x in items]
        else:
            scale = 1.0 / (1.0 - self.p)
            keep = self._rng.random(len(items)) >= self.p
            out = [_as_value(x) * (scale if k else 0.0) for x, k in zip(items, keep)]
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"Dropout(p={self.p:g})"


# ------------------------------------------------------------------ BatchNorm
class BatchNorm(Module):
    """Batch normalisation over a batch of scalar features.

    Input: a batch of rows, each a list of `num_features` Values (or, when
    num_features is 1, a batch of single Values). In training each feature is
    normalised with the batch mean and (biased) variance, then scaled by the
    learnable gamma and shifted by beta; running statistics are updated as
    ``running = (1 - momentum) * running + momentum * batch`` (variance
    unbiased, as PyTorch does). In eval the running statistics are used.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"num_features must be a positive int, got {num_features!r}")
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps!r}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be in [0, 1], got {momentum!r}")
        self.eps = eps
        self.momentum = momentum
        self.gamma = [Value(1.0) for _ in range(num_features)]
        self.beta = [Value(0.0) for _ in range(num_features)]
        self._running_mean = [0.0] * num_features
        self._running_var = [1.0] * num_features

    @property
    def running_mean(self) -> List[float]:
        return list(self._running_mean)

    @property
    def running_var(self) -> List[float]:
        return list(self._running_var)

    def named_buffers(self, prefix: str = "") -> Iterator[Tuple[str, float]]:
        for i, m in enumerate(self._running_mean):
            yield f"{prefix}running_mean.{i}", m
        for i, v in enumerate(self._running_var):
            yield f"{prefix}running_var.{i}", v

    def _set_buffers(self, values: Dict[str, float]) -> None:
        for i in range(len(self.gamma)):
            self._running_mean[i] = values[f"running_mean.{i}"]
            self._running_var[i] = values[f"running_var.{i}"]

    def __call__(self, batch):
        nf = len(self.gamma)
        scalar_rows = nf == 1 and all(isinstance(r, (Value, Real)) for r in batch)
        rows = [[r] for r in batch] if scalar_rows else [list(r) for r in batch]
        for r in rows:
            if len(r) != nf:
                raise ValueError(f"BatchNorm({nf}) got a row of {len(r)} features")
        n = len(rows)
        columns = []
        for j in range(nf):
            xs = [row[j] for row in rows]
            if self.training:
                if n < 2:
                    raise ValueError(f"BatchNorm in training needs a batch of at least 2 rows, got {n}")
                mean = sum(xs) * (1.0 / n)
                centred = [x - mean for x in xs]
                var = sum(c * c for c in centred) * (1.0 / n)
                inv_std = (var + self.eps) ** -0.5
                m = self.momentum
                batch_mean = float(_data(mean))
                self._running_mean[j] = (1 - m) * self._running_mean[j] + m * batch_mean
                self._running_var[j] = (1 - m) * self._running_var[j] + m * float(_data(var)) * n / (n - 1)
                normed = [c * inv_std for c in centred]
            else:
                inv = 1.0 / math.sqrt(self._running_var[j] + self.eps)
                normed = [(x - self._running_mean[j]) * inv for x in xs]
            columns.append([self.gamma[j] * z + self.beta[j] for z in normed])
        out = [list(r) for r in zip(*columns)]
        return [r[0] for r in out] if scalar_rows else out

    def __repr__(self) -> str:
        return f"BatchNorm({len(self.gamma)}, eps={self.eps:g}, momentum={self.momentum:g})"


def _data(x) -> float:
    return x.data if isinstance(x, Value) else x
