"""On to PyTorch: export microgradcn models to ``torch.nn`` and compare gradients with ``torch.autograd``.

PyTorch is optional (``pip install "microgradcn[torch]"``); it is imported only
when a function here is called.

* `to_torch(model)` turns a `MLP`, `Layer`, `Neuron`, `Linear`, `Sequential`,
  `PReLU`, `Dropout` or `BatchNorm` into a float64 ``torch.nn.Module`` with the
  same weights. Where microgradcn takes one sample (a list of numbers), the
  torch module takes a tensor of shape (..., nin), usually a batch (N, nin);
  a model with one output (a `Neuron`, or an `MLP` ending in one neuron)
  returns shape (...,), just as microgradcn returns a single Value.
* `linked_parameters(model, torch_module)` pairs every microgradcn parameter
  with the torch entry it was copied to, to compare gradients after training.
* `compare_gradients(f, inputs)` evaluates one expression with both engines and
  puts the two sets of gradients side by side.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import TYPE_CHECKING, Any

from .engine import Value, grad
from .nn import ACTIVATIONS, MLP, BatchNorm, Dropout, Layer, Linear, Module, Neuron, PReLU, Sequential

if TYPE_CHECKING:
    import torch

__all__ = [
    "GradientComparison",
    "GradientRow",
    "compare_gradients",
    "linked_parameters",
    "register_converter",
    "to_torch",
]

INSTALL_HINT = 'pip install "microgradcn[torch]" (or pip install torch==2.13.0)'

# A link: (microgradcn parameter, name of the torch parameter, index into it).
Link = tuple[Value, str, tuple[int, ...]]
Converter = Callable[[Any], "tuple[torch.nn.Module, list[Link]]"]
_CONVERTERS: dict[type, Converter] = {}
_UNKNOWN = object()


def _torch() -> Any:
    """Import torch, or say which extra installs it."""
    try:
        import torch
    except ImportError:
        raise ImportError(f"microgradcn.interop needs PyTorch, which is optional: {INSTALL_HINT}") from None
    return torch


def register_converter(cls: type, converter: Converter) -> None:
    """Teach `to_torch` a new module type.

    ``converter(module)`` returns ``(torch_module, links)``: the float64 torch
    module (weights not yet copied), and for each microgradcn parameter a
    ``(Value, torch parameter name, index)`` link; `to_torch` copies the
    numbers along the links. A module may instead define a ``to_torch()``
    method returning the same pair.
    """
    if not isinstance(cls, type):
        raise TypeError(f"register_converter needs a class, got {type(cls).__name__}: {cls!r}")
    if not callable(converter):
        raise TypeError(f"register_converter needs a callable converter, got {converter!r}")
    _CONVERTERS[cls] = converter


# ------------------------------------------------------------------ converters
def _prefixed(links: list[Link], prefix: str) -> list[Link]:
    return [(v, f"{prefix}.{name}", index) for v, name, index in links]


def _activation(name: str, width: int, alphas: Sequence[Value]) -> tuple[Any, list[Link]]:
    """The torch module for a Neuron/Layer activation name (None for linear)."""
    nn = _torch().nn
    simple = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
    if name in simple:
        return simple[name](), []
    if name == "leaky_relu":
        return nn.LeakyReLU(0.01), []  # the slope microgradcn's "leaky_relu" uses
    if name == "elu":
        return nn.ELU(1.0), []
    if name == "linear":
        return None, []
    if name == "prelu":  # one learnable slope per neuron
        module = nn.PReLU(num_parameters=width, dtype=_torch().float64)
        return module, [(alpha, "weight", (j,)) for j, alpha in enumerate(alphas)]
    raise TypeError(
        f"cannot convert the activation {name!r} to torch: only relu, tanh, sigmoid, leaky_relu, elu, prelu "
        "and linear have a known counterpart (use register_converter for your own modules)"
    )


def _dense(neurons: Sequence[Neuron]) -> tuple[list[Any], list[Link]]:
    """[Linear, activation?] for neurons that read the same inputs (a Layer, or one Neuron)."""
    torch = _torch()
    first = neurons[0]
    name = first._activation_name
    if name != "prelu" and first._act is not ACTIVATIONS.get(name, _UNKNOWN):
        raise TypeError(
            f"cannot convert {first!r} to torch: its activation {first._act!r} is a function of your own; "
            f"use one of {sorted(ACTIVATIONS) + ['prelu']} by name"
        )
    nin, nout, bias = len(first.w), len(neurons), first._bias
    linear = torch.nn.Linear(nin, nout, bias=bias, dtype=torch.float64)
    links: list[Link] = []
    for j, neuron in enumerate(neurons):
        links += [(w, "weight", (j, i)) for i, w in enumerate(neuron.w)]
        if bias:
            links.append((neuron.b, "bias", (j,)))
    parts: list[Any] = [linear]
    alphas = [n.alpha for n in neurons] if first._activation_name == "prelu" else []
    act, act_links = _activation(first._activation_name, nout, alphas)
    if act is not None:
        parts.append(act)
    return parts, [(v, f"0.{name}", index) for v, name, index in links] + _prefixed(act_links, "1")


def _sequential(parts: list[tuple[Any, list[Link]]]) -> tuple[Any, list[Link]]:
    """A torch Sequential of (module, links relative to that module), with links renamed."""
    torch = _torch()
    links: list[Link] = []
    for k, (_, sub_links) in enumerate(parts):
        links += _prefixed(sub_links, str(k))
    return torch.nn.Sequential(*[m for m, _ in parts]), links


def _regroup(parts: list[Any], links: list[Link]) -> list[tuple[Any, list[Link]]]:
    """Split _dense's links ('0.weight', '1.weight') back onto its parts."""
    out = []
    for k, part in enumerate(parts):
        mine = [(v, name.split(".", 1)[1], index) for v, name, index in links if name.split(".", 1)[0] == str(k)]
        out.append((part, mine))
    return out


def _squeeze() -> Any:
    from ._torch_modules import SqueezeLast

    return SqueezeLast()


def _convert_neuron(neuron: Neuron) -> tuple[Any, list[Link]]:
    parts, links = _dense([neuron])
    return _sequential(_regroup(parts, links) + [(_squeeze(), [])])


def _convert_layer(layer: Layer) -> tuple[Any, list[Link]]:
    parts, links = _dense(layer.neurons)
    return _sequential(_regroup(parts, links))


def _convert_mlp(mlp: MLP) -> tuple[Any, list[Link]]:
    parts: list[tuple[Any, list[Link]]] = []
    for layer in mlp.layers:
        dense, links = _dense(layer.neurons)
        parts += _regroup(dense, links)
    if mlp._single:
        parts.append((_squeeze(), []))
    return _sequential(parts)


def _convert_linear(linear: Linear) -> tuple[Any, list[Link]]:
    torch = _torch()
    module = torch.nn.Linear(linear._nin, linear._nout, bias=linear._has_bias, dtype=torch.float64)
    links: list[Link] = [(w, "weight", (j, i)) for j, row in enumerate(linear.weight) for i, w in enumerate(row)]
    if linear._has_bias:
        links += [(b, "bias", (j,)) for j, b in enumerate(linear.bias)]
    return module, links


def _convert_sequential(seq: Sequential) -> tuple[Any, list[Link]]:
    return _sequential([_convert(layer) for layer in seq.layers])


def _convert_prelu(prelu: PReLU) -> tuple[Any, list[Link]]:
    torch = _torch()
    return torch.nn.PReLU(num_parameters=1, dtype=torch.float64), [(prelu.alpha, "weight", (0,))]


def _convert_dropout(dropout: Dropout) -> tuple[Any, list[Link]]:
    return _torch().nn.Dropout(float(vars(dropout)["p"])), []


def _convert_batchnorm(bn: BatchNorm) -> tuple[Any, list[Link]]:
    torch = _torch()
    nf = len(bn.gamma)
    module = torch.nn.BatchNorm1d(nf, eps=bn.eps, momentum=bn.momentum, dtype=torch.float64)
    with torch.no_grad():
        module.running_mean.copy_(torch.tensor(bn.running_mean, dtype=torch.float64))
        module.running_var.copy_(torch.tensor(bn.running_var, dtype=torch.float64))
    links: list[Link] = [(g, "weight", (j,)) for j, g in enumerate(bn.gamma)]
    links += [(b, "bias", (j,)) for j, b in enumerate(bn.beta)]
    return module, links


_CONVERTERS.update({
    MLP: _convert_mlp,
    Layer: _convert_layer,
    Neuron: _convert_neuron,
    Linear: _convert_linear,
    Sequential: _convert_sequential,
    PReLU: _convert_prelu,
    Dropout: _convert_dropout,
    BatchNorm: _convert_batchnorm,
})


def _convert(module: Any) -> tuple[Any, list[Link]]:
    for cls in type(module).__mro__:
        if cls in _CONVERTERS:
            torch_module, links = _CONVERTERS[cls](module)
            break
    else:
        method = getattr(module, "to_torch", None)
        if not callable(method):
            known = ", ".join(sorted(c.__name__ for c in _CONVERTERS))
            raise TypeError(
                f"to_torch cannot convert {type(module).__name__}: {module!r}; it knows {known} "
                "(teach it others with register_converter)"
            )
        torch_module, links = method()
    if isinstance(module, Module):
        torch_module.train(module.training)
    return torch_module, links


def _resolve(torch_module: Any, name: str) -> Any:
    target = torch_module
    for part in name.split("."):
        target = getattr(target, part) if not part.isdigit() else target[int(part)]
    return target


def to_torch(model: Any) -> torch.nn.Module:
    """A float64 ``torch.nn.Module`` computing what `model` computes, with the same weights.

    `model` is an `MLP`, `Layer`, `Neuron`, `Linear`, `Sequential` (of those),
    `PReLU`, `Dropout` or `BatchNorm` (or a type taught with
    `register_converter`). The torch module takes a float64 tensor of shape
    (..., nin); a one-output MLP or a Neuron returns shape (...,). The
    training/evaluation mode is copied too. The weights are copies: training
    one model afterwards does not change the other.

    Raises ImportError (naming the ``torch`` extra) if PyTorch is missing and
    TypeError for a module, or an activation function, with no torch counterpart.
    """
    torch = _torch()
    torch_module, links = _convert(model)
    with torch.no_grad():
        for value, name, index in links:
            _resolve(torch_module, name)[index] = float(value.data)
    return torch_module


def linked_parameters(model: Any, torch_module: Any) -> list[tuple[Value, Any, tuple[int, ...]]]:
    """``(microgradcn parameter, torch parameter, index)`` for every parameter of `model`.

    `torch_module` must come from ``to_torch(model)`` (same architecture). After
    a backward pass in both, ``value.grad`` and ``tensor.grad[index]`` are the
    same derivative.
    """
    _torch()
    _, links = _convert(model)
    try:
        return [(value, _resolve(torch_module, name), index) for value, name, index in links]
    except (AttributeError, IndexError, TypeError):
        raise ValueError(f"{type(torch_module).__name__} does not have the structure of to_torch({model!r})") from None


# ------------------------------------------------------------ comparing grads
@dataclass(frozen=True)
class GradientRow:
    """One input: its value and the two engines' partial derivatives."""

    name: str
    value: float
    microgradcn: float
    torch: float

    @property
    def abs_diff(self) -> float:
        return abs(self.microgradcn - self.torch)


@dataclass(frozen=True)
class GradientComparison:
    """`compare_gradients`'s result: the output of both engines and one row per input. Print it for a table."""

    rows: list[GradientRow]
    output_microgradcn: float
    output_torch: float

    @property
    def max_abs_diff(self) -> float:
        """The largest difference, over the output and every gradient."""
        diffs = [abs(self.output_microgradcn - self.output_torch)] + [r.abs_diff for r in self.rows]
        return max(diffs)

    def __str__(self) -> str:
        width = max([len("output")] + [len(r.name) for r in self.rows]) + 2
        lines = [f"{'':<{width}}{'value':>14}{'microgradcn':>24}{'torch.autograd':>24}{'|diff|':>10}"]
        lines.append(
            f"{'output':<{width}}{'':>14}{self.output_microgradcn:>24.17g}{self.output_torch:>24.17g}"
            f"{abs(self.output_microgradcn - self.output_torch):>10.1e}"
        )
        for r in self.rows:
            lines.append(
                f"{'∂/∂' + r.name:<{width}}{r.value:>14.6g}{r.microgradcn:>24.17g}{r.torch:>24.17g}{r.abs_diff:>10.1e}"
            )
        return "\n".join(lines)


def _input_names(f: Callable, n: int) -> list[str]:
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        params = []
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return positional if len(positional) == n else [f"x{i}" for i in range(n)]


def compare_gradients(f: Callable, inputs: Sequence[float], names: Sequence[str] | None = None) -> GradientComparison:
    """Evaluate ``f(*inputs)`` with microgradcn and with torch.autograd (float64); gradients side by side.

    `f` must use only operations both engines have: ``+ - * / **``, ``abs``,
    ``.exp() .log() .sqrt() .tanh() .sigmoid() .relu()``, ``a.max(b)``,
    ``a.min(b)``. `names` label the inputs (default: f's argument names).

    >>> print(compare_gradients(lambda x, y: (x * y + x ** 2).tanh(), [2.0, -3.0]))  # doctest: +SKIP
    """
    torch = _torch()
    point: list[float] = []
    for x in inputs:
        if isinstance(x, bool) or not isinstance(x, Real) or not math.isfinite(float(x)):
            raise TypeError(f"compare_gradients inputs must be finite real numbers, got {x!r}")
        point.append(float(x))
    if not point:
        raise ValueError("compare_gradients needs at least one input")
    labels = list(names) if names is not None else _input_names(f, len(point))
    if len(labels) != len(point):
        raise ValueError(f"got {len(labels)} names for {len(point)} inputs")

    leaves = [Value(x) for x in point]
    out = f(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"compare_gradients' f must return a Value for Value inputs, got {type(out).__name__}")
    ours = [float(g) for g in grad(out, leaves)]

    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in point]
    try:
        t_out = f(*tensors)
    except (AttributeError, TypeError) as error:
        raise TypeError(
            f"f could not run on torch tensors ({error}); use only operations both engines have "
            "(+ - * / **, abs, exp, log, sqrt, tanh, sigmoid, relu, max, min)"
        ) from None
    if not isinstance(t_out, torch.Tensor) or t_out.numel() != 1:
        raise TypeError(f"f must return a single number for tensor inputs, got {t_out!r}")
    theirs = torch.autograd.grad(t_out, tensors, allow_unused=True)
    rows = [
        GradientRow(name, x, g, 0.0 if t is None else float(t))
        for name, x, g, t in zip(labels, point, ours, theirs)
    ]
    return GradientComparison(rows, float(out.data), float(t_out.detach()))
