"""The interface every generated program offers to `Trace` (stage 6); both backends' programs implement it.

A program is compiled once from one recording and run at every replayed
call. It runs the recorded step's forward pass, its guards and its backward
pass on new numbers::

    outputs, totals = program.run(P, X, I, seed, n)

``P`` holds the parameters' numbers, ``X`` the input numbers (one array per
input number over the batch, for the numpy backend), ``I`` the integer
inputs, ``seed`` the gradient of the output (1, or 1/n for a batch mean),
``n`` the batch size (0: not batched). ``outputs`` is the loss (an array of
per-sample losses when batched); ``totals`` holds each parameter's gradient
contribution, summed in eager mode's order. A failed guard raises `Retrace`.

Besides `run`, `Trace` reads what is checked outside the code: which integer
inputs must keep their recorded values (``guarded_indices`` against
``recorded_indices``) and the random draws and layer modes (``replayed``);
and what a reader sees: ``source`` and ``lines``.

Room is left for a forward-only program with several outputs (for
evaluation): its ``run`` would return the outputs as a tuple and no
``totals`` (an empty list), with everything else as here.
"""

from __future__ import annotations

from typing import Any, List, Protocol, Tuple, runtime_checkable

from .recording import Replayed


@runtime_checkable
class Program(Protocol):
    """What `Trace` needs from a compiled step (see the module docstring)."""

    source: str  # the generated code
    lines: int  # its number of lines
    guarded_indices: List[int]  # the integer inputs that must keep their recorded value...
    recorded_indices: List[int]  # ...which is this
    replayed: Replayed  # random draws to make anew and layer modes to check

    def run(self, P: List[Any], X: List[Any], ids: List[Any], seed: Any, n: int = 0) -> Tuple[Any, List[Any]]:
        """Forward, guards and backward on new numbers: (outputs, each parameter's gradient total)."""
        ...
