"""`Module`: the base class of every network piece (parameters, train/eval, save/load)."""

from __future__ import annotations

import math
import os
from numbers import Real
from typing import Dict, Iterator, List, Tuple, Union

from .._messages import bilingual
from ..engine import Value
from ..scopes import module_call
from ..serialization import load, save

__all__ = ["Module"]


class Module:
    """Base class: finds parameters in attributes, switches train/eval mode.

    Parameters are the `Value`s stored in public attributes, directly, inside
    lists, or inside sub-modules. Their names follow the attribute path, e.g.
    ``layers.0.neurons.3.w.1`` (layer 0, neuron 3, weight 1), and are stable:
    they depend only on the architecture, so they can key a saved file.
    A parameter or sub-module reachable under several names (tied weights)
    is listed once, under the first name, as in PyTorch.

    Every call of a subclass opens a scope (see `microgradcn.scopes`), so the
    pictures can draw the call as one box and name its nodes after it.
    """

    training: bool = True

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        call = cls.__dict__.get("__call__")
        if call is not None and not getattr(call, "_opens_scope", False):
            cls.__call__ = module_call(call)  # type: ignore[method-assign]

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
            raise ValueError(bilingual("参数状态必须是“名字 -> 数”的字典",
                                       f"a state must be a dict of name -> number, got {type(state).__name__}"))
        expected = list(self.state_dict())
        missing = [n for n in expected if n not in state]
        known = set(expected)
        unexpected = [n for n in state if n not in known]
        if missing or unexpected:
            raise ValueError(bilingual(
                f"保存的参数与这个模型的结构不符:缺少 {len(missing)} 项,多出 {len(unexpected)} 项",
                "the saved parameters do not match this model's architecture: "
                f"missing {_few(missing)}, unexpected {_few(unexpected)} "
                f"(model has {len(expected)} entries, file has {len(state)})"
            ))
        for name in expected:
            x = state[name]
            if isinstance(x, bool) or not isinstance(x, Real) or not math.isfinite(x):
                raise ValueError(bilingual(f"{name!r} 的保存值必须是有限的数",
                                           f"saved value for {name!r} must be a finite number, got {x!r}"))
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
