"""Weight initialisers: how the first numbers of a network are chosen.

Each initialiser is a function ``init(rng, fan_in, fan_out) -> float`` that
draws one weight. `rng` is a ``numpy.random.Generator``, so a network built
from the same seed is the same network; `Neuron`, `Layer` and `MLP` built with
neither `seed` nor `rng` draw from Python's `random` module instead, as
micrograd does (`PYTHON_RANDOM`), so ``random.seed(1337)`` before building
gives micrograd's demo its numbers. Look an initialiser up by name with `get`.
"""

from __future__ import annotations

import math
import random
from typing import Callable, Dict, Optional, Union

import numpy as np

from ._messages import bilingual

__all__ = [
    "uniform",
    "xavier_uniform",
    "xavier_normal",
    "he_uniform",
    "he_normal",
    "fan_in_uniform",
    "zeros",
    "get",
    "make_rng",
    "micrograd_rng",
    "PythonRandom",
    "PYTHON_RANDOM",
    "INITIALISERS",
]



class PythonRandom:
    """Python's `random` module as an initialiser's `rng`: ``uniform`` and ``normal`` as numpy spells them."""

    def uniform(self, low: float = 0.0, high: float = 1.0) -> float:
        return random.uniform(low, high)

    def normal(self, loc: float = 0.0, scale: float = 1.0) -> float:
        return random.gauss(loc, scale)

    def __repr__(self) -> str:
        return "PYTHON_RANDOM"

    def __reduce__(self) -> str:
        return "PYTHON_RANDOM"  # one shared object: it pickles by name


PYTHON_RANDOM = PythonRandom()
Rng = Union[np.random.Generator, PythonRandom]
Initialiser = Callable[[Rng, int, int], float]


def uniform(rng: Rng, fan_in: int, fan_out: int) -> float:
    """micrograd's choice: uniform on [-1, 1], whatever the layer size."""
    return float(rng.uniform(-1.0, 1.0))


def xavier_uniform(rng: Rng, fan_in: int, fan_out: int) -> float:
    """Glorot & Bengio (2010): U(-a, a) with a = sqrt(6 / (fan_in + fan_out)); suits tanh/sigmoid."""
    a = math.sqrt(6.0 / (fan_in + fan_out))
    return float(rng.uniform(-a, a))


def xavier_normal(rng: Rng, fan_in: int, fan_out: int) -> float:
    """Glorot normal: N(0, 2 / (fan_in + fan_out))."""
    return float(rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out))))


def he_uniform(rng: Rng, fan_in: int, fan_out: int) -> float:
    """He et al. (2015), for ReLU: U(-a, a) with a = sqrt(6 / fan_in)."""
    a = math.sqrt(6.0 / fan_in)
    return float(rng.uniform(-a, a))


def he_normal(rng: Rng, fan_in: int, fan_out: int) -> float:
    """He/Kaiming normal, for ReLU: N(0, 2 / fan_in)."""
    return float(rng.normal(0.0, math.sqrt(2.0 / fan_in)))


def fan_in_uniform(rng: Rng, fan_in: int, fan_out: int) -> float:
    """PyTorch's default for nn.Linear and nn.Conv2d: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    a = 1.0 / math.sqrt(fan_in)
    return float(rng.uniform(-a, a))


def zeros(rng: Rng, fan_in: int, fan_out: int) -> float:
    """All zeros: every neuron of a layer stays identical, so the layer never breaks symmetry."""
    return 0.0


INITIALISERS: Dict[str, Initialiser] = {
    "uniform": uniform,
    "xavier_uniform": xavier_uniform,
    "glorot_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "glorot_normal": xavier_normal,
    "he_uniform": he_uniform,
    "kaiming_uniform": he_uniform,
    "he_normal": he_normal,
    "kaiming_normal": he_normal,
    "fan_in_uniform": fan_in_uniform,
    "zeros": zeros,
}


def get(init: Union[str, Callable[..., float]]) -> Callable[..., float]:
    """The initialiser called `init` (see INITIALISERS), or `init` itself if callable."""
    if callable(init):
        return init
    try:
        return INITIALISERS[init]
    except (KeyError, TypeError):
        raise ValueError(bilingual(
            f"没有叫 {init!r} 的初始化方法",
            f"unknown initialiser {init!r}; expected a callable or one of {sorted(INITIALISERS)}"
        )) from None


_SEED_OR_RNG = bilingual("seed 和 rng 只能给一个", "give either seed or rng, not both")


def make_rng(seed: Optional[int] = None, rng: Optional[np.random.Generator] = None) -> np.random.Generator:
    """A numpy Generator: `rng` if given, else one seeded with `seed` (None = fresh entropy)."""
    if rng is not None:
        if seed is not None:
            raise ValueError(_SEED_OR_RNG)
        if not isinstance(rng, np.random.Generator):
            raise TypeError(bilingual("rng 必须是 numpy.random.Generator",
                                      f"rng must be a numpy.random.Generator, got {type(rng).__name__}"))
        return rng
    return np.random.default_rng(seed)


def micrograd_rng(seed: Optional[int] = None, rng: Optional[Rng] = None) -> Rng:
    """`make_rng(seed, rng)`; with neither, Python's `random` module (`PYTHON_RANDOM`), as in micrograd."""
    if seed is None and (rng is None or rng is PYTHON_RANDOM):
        return PYTHON_RANDOM
    if isinstance(rng, PythonRandom):
        raise ValueError(_SEED_OR_RNG)
    return make_rng(seed, rng)
