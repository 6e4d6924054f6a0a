"""The wide workload: a seeded random graph of mixed operations (200,000 Values), forward and backward.

Reports forward and backward nodes per second (CPU time, the best of the
repeats) and the bytes per node of the graph (tracemalloc).
"""

from __future__ import annotations

import gc
import math
import random
import tracemalloc
from typing import Any, Callable, Dict, List, Sequence, Tuple

from microgradcn.engine import Value, topological_order

from .timing import clock

__all__ = ["WIDE_SEED", "wide_program", "build_wide", "run_wide", "print_wide", "run"]

WIDE_SEED = 2024
SIZE, QUICK_SIZE = 200_000, 20_000


_UNARY = (Value.tanh, Value.sigmoid, Value.relu, Value.__neg__)
_BINARY = (Value.__add__, Value.__sub__, Value.__mul__)


def wide_program(size: int = 200_000, leaves: int = 1_000, seed: int = WIDE_SEED) -> Tuple[List[float], list]:
    """A seeded random graph: `leaves` inputs and `size - leaves` operations.

    Each operation takes the previous node (so the last node depends on all of
    them) and, for + - *, a second node drawn from everything made so far, so
    nodes are shared widely. Returns (leaf data, [(function, i, j or -1)]).
    """
    rng = random.Random(seed)
    data = [rng.uniform(-1, 1) for _ in range(leaves)]
    program: List[Tuple[Callable[..., Value], int, int]] = []
    for k in range(leaves, size):
        if rng.random() < 0.4:
            program.append((rng.choice(_UNARY), k - 1, -1))
        else:
            program.append((rng.choice(_BINARY), k - 1, rng.randrange(k)))
    return data, program


def build_wide(data: Sequence[float], program: list) -> Value:
    nodes = [Value(d) for d in data]
    push = nodes.append
    for func, i, j in program:
        push(func(nodes[i]) if j < 0 else func(nodes[i], nodes[j]))
    return nodes[-1]


def run_wide(size: int = 200_000, repeats: int = 3) -> Dict[str, float]:
    """Forward and backward nodes/s (best of `repeats`) and bytes per node."""
    data, program = wide_program(size)
    forward = backward = math.inf
    for _ in range(repeats):
        start = clock()
        root = build_wide(data, program)
        built = clock()
        root.backward()
        done = clock()
        forward = min(forward, built - start)
        backward = min(backward, done - built)
        del root
    nodes = len(topological_order(build_wide(data, program)))

    # Memory: the graph alone (held by its root), then after backward filled the grads.
    gc.collect()
    tracemalloc.start()
    try:
        root = build_wide(data, program)
        graph_bytes = tracemalloc.get_traced_memory()[0]
        root.backward()
        after_backward, peak = tracemalloc.get_traced_memory()
        del root
    finally:
        tracemalloc.stop()
    return {
        "nodes": nodes,
        "forward_nodes_per_s": len(program) / forward,
        "backward_nodes_per_s": nodes / backward,
        "bytes_per_node": graph_bytes / nodes,
        "bytes_per_node_after_backward": after_backward / nodes,
        "peak_bytes_per_node": peak / nodes,
    }


def print_wide(result: Dict[str, float]) -> None:
    print(f"wide: random mixed-op graph, {result['nodes']:,} nodes")
    print(f"  forward {result['forward_nodes_per_s'] / 1e6:.2f} M nodes/s, "
          f"backward {result['backward_nodes_per_s'] / 1e6:.2f} M nodes/s")
    print(f"  {result['bytes_per_node']:.0f} bytes/node (graph), "
          f"{result['bytes_per_node_after_backward']:.0f} after backward, "
          f"peak {result['peak_bytes_per_node']:.0f}")


def run(quick: bool = False, repeats: int = 3) -> Dict[str, Any]:
    """The wide figures: 20,000 Values once with `quick`, else 200,000 Values, the best of `repeats`; forecast first."""
    from .timing import forecast

    size, repeats = (QUICK_SIZE, 1) if quick else (SIZE, repeats)
    data, program = wide_program(size // 20, leaves=50)
    start = clock()
    build_wide(data, program).backward()
    first = 20 * (clock() - start)  # a first timed step: one twentieth of the graph, forward and backward
    # `repeats` timed builds, one to count the nodes, one under tracemalloc (about 3x slower), the program itself.
    forecast("wide", first * (repeats + 5), f"a twentieth of the graph took {first / 20:.3f} s")
    return run_wide(size, repeats)
