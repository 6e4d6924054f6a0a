"""How every benchmark measures: one clock, one thread, and a forecast printed before the run.

* `clock` is the CPU time of this process (`time.process_time`): on a shared
  machine, time other processes take is not counted.
* CPU time is only honest for code that runs on one thread: a library that
  spins extra threads (PyTorch, numpy's BLAS) would have their CPU time added
  up. `one_thread()` limits them to one thread while a benchmark runs, so every
  contender is timed the same way.
* `forecast` prints, before a benchmark starts, about how long it will take,
  from its step counts and a first timed step (on stderr: with ``--json`` the
  only line on stdout is the JSON object).
"""

from __future__ import annotations

import gc
import sys
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

__all__ = ["CLOCK", "clock", "one_thread", "collector", "best_of", "forecast", "note"]

# CPU time of this process: time other processes take on a shared machine is not counted.
clock = time.process_time
CLOCK = "CPU time of this process (time.process_time); PyTorch and numpy's BLAS on one thread"


@contextmanager
def one_thread() -> Iterator[None]:
    """PyTorch (if imported or importable) and numpy's BLAS (through threadpoolctl, if installed) on one thread."""
    torch: Any = None
    try:
        import torch
    except ImportError:
        pass
    threads = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(1)
    limits: Any = None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # then numpy's BLAS keeps its threads; the moons and digits rows use no BLAS call that size
        pass
    else:
        limits = threadpool_limits(limits=1)
    try:
        yield
    finally:
        if limits is not None:
            limits.restore_original_limits()
        if torch is not None and threads is not None:
            torch.set_num_threads(threads)


@contextmanager
def collector(enabled: bool) -> Iterator[None]:
    """Run with Python's cyclic garbage collector on or off, then restore it."""
    was_enabled = gc.isenabled()
    gc.collect()
    if enabled:
        gc.enable()
    else:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        else:
            gc.disable()


def best_of(repeats: int, func: Callable[[], float]) -> float:
    """The smallest of several timings: other processes only ever add time."""
    return min(func() for _ in range(repeats))


def note(text: str) -> None:
    """A line for the person waiting (stderr, so that stdout stays the figures or the one JSON line)."""
    print(text, file=sys.stderr, flush=True)


def forecast(workload: str, seconds: float, how: str) -> float:
    """Print "about N s" for `workload` before it runs; returns `seconds`."""
    shown = f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    if seconds >= 120:
        shown = f"{seconds / 60:.1f} min"
    note(f"{workload}: about {shown} of CPU time ({how})")
    return seconds
