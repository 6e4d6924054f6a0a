"""`Linear` (a fully connected layer in PyTorch's conventions) and `Sequential`."""

from __future__ import annotations

from typing import Callable, Iterable, List, Optional, Sequence, Union

import numpy as np

from .. import init as initialisers
from .._messages import bilingual
from ..engine import Value
from ..scopes import scope
from ._nested import as_value
from .module import Module

__all__ = ["Linear", "Sequential"]

Number = Union[Value, float, int]


class Linear(Module):
    """``y_j = b_j + Σ_i W[j][i] · x_i``: `nout` outputs from `nin` inputs.

    `.weight` is `nout` rows of `nin` Values and `.bias` a list of `nout`
    Values (absent with ``bias=False``), as in ``torch.nn.Linear``. Weights and
    biases start from `init` (default: PyTorch's U(−1/√nin, 1/√nin)). Each
    output is built as ``((b + w0*x0) + w1*x1) + ...``, the order `Neuron` uses.
    Calling it on a list of `nin` numbers or Values (numbers are wrapped into
    leaf Values once) returns a list of `nout` Values.
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        bias: bool = True,
        init: Union[str, Callable] = "fan_in_uniform",
        rng: Optional[np.random.Generator] = None,
        seed: Optional[int] = None,
    ) -> None:
        for name, n in (("nin", nin), ("nout", nout)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(bilingual(f"Linear 的 {name} 必须是正整数",
                                           f"Linear {name} must be a positive int, got {n!r}"))
        draw = initialisers.get(init)
        rng = initialisers.make_rng(seed, rng)
        self.weight = [[Value(draw(rng, nin, nout)) for _ in range(nin)] for _ in range(nout)]
        if bias:
            self.bias = [Value(draw(rng, nin, nout)) for _ in range(nout)]
        self._nin, self._nout, self._has_bias = nin, nout, bias

    def __call__(self, x: Sequence[Number]) -> List[Value]:
        if isinstance(x, np.ndarray):
            x = x.tolist()
        if len(x) != self._nin:
            raise ValueError(bilingual(f"{self!r} 需要 {self._nin} 个输入,得到 {len(x)} 个",
                                       f"{self!r} expects {self._nin} inputs, got {len(x)}"))
        # Numbers become leaves once, shared by every output (not one constant per multiplication).
        x = [v if type(v) is Value else as_value(v) for v in x]
        out = []
        for j, row in enumerate(self.weight):
            act = self.bias[j] if self._has_bias else row[0] * x[0]
            for i in range(0 if self._has_bias else 1, self._nin):
                act = act + row[i] * x[i]
            out.append(act)
        return out

    def __repr__(self) -> str:
        return f"Linear({self._nin}, {self._nout}{'' if self._has_bias else ', bias=False'})"


class Sequential(Module):
    """Modules (or any callables) applied one after another: ``Sequential(Linear(4, 8), relu, Linear(8, 2))``."""

    def __init__(self, *layers: Callable) -> None:
        if not layers:
            raise ValueError(bilingual("Sequential 至少需要一层", "Sequential needs at least one layer"))
        for k, layer in enumerate(layers):
            if not callable(layer):
                raise TypeError(bilingual(f"Sequential 的第 {k} 层必须可以调用",
                                          f"Sequential layer {k} must be callable, "
                                          f"got {type(layer).__name__}: {layer!r}"))
        self.layers = list(layers)

    def __call__(self, x):
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Module):
                x = layer(x)
            else:  # a plain function has no scope of its own: give it its place, as a module would have
                with scope(f"layers.{i}", getattr(layer, "__name__", type(layer).__name__)):
                    x = layer(x)
        return x

    def __iter__(self) -> Iterable[Callable]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, k: int) -> Callable:
        return self.layers[k]

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"
