"""microgradcn: a small, exact, fast scalar reverse-mode autograd engine for learners.

>>> from microgradcn import Value
>>> x = Value(3.0, label="x")
>>> y = x * x + 2 * x
>>> y.backward()
>>> x.grad
8.0
"""

from . import datasets, functional, init, nn, optim
from .engine import (
                     AnomalyError,
                     Op,
                     Value,
                     detect_anomaly,
                     grad,
                     is_grad_enabled,
                     no_grad,
                     select,
                     set_gc_pause,
                     topological_order,
)
from .gradient_check import GradcheckError, gradcheck, numerical_diff, numerical_gradient
from .scopes import scope

__version__ = "0.1.0"

__all__ = [
    "Value",
    "Op",
    "select",
    "detect_anomaly",
    "AnomalyError",
    "grad",
    "no_grad",
    "is_grad_enabled",
    "set_gc_pause",
    "topological_order",
    "scope",
    "numerical_diff",
    "numerical_gradient",
    "gradcheck",
    "GradcheckError",
    "datasets",
    "functional",
    "init",
    "nn",
    "optim",
]
