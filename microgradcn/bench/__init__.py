"""Benchmarks: moons (engine, replay, float baseline, competitors), chain and wide (see README, 性能).

Every workload prints figures; none asserts a time. Times are CPU seconds of
this process (`time.process_time`), the best of several repeats. Ratios to the
plain-float baseline, measured in the same run, are the numbers that compare
across machines.

* ``moons`` (`microgradcn.bench.moons`): micrograd's demo, an ``MLP(2, [16, 16, 1])``
  trained on 100 moons points, run by the eager engine, by replay (python and numpy
  backends), by plain floats with hand-written backprop (`microgradcn.bench.baseline`)
  and, when importable, by micrograd and PyTorch; every row checked against eager, bit for bit.
* ``chain``: ``x = x * 1.0001 + 0.1`` repeated N times, then backward; plus the eager
  engine's forward cost per node at 10^4 and 10^6 nodes, and the collections during
  an optimiser step after ``backward()``.
* ``wide``: a seeded random graph of mixed operations (200,000 Values).

Run ``microgradcn bench --help`` or ``python benchmarks/run_all.py``.
"""

from __future__ import annotations

import gc
import json
import math
import random
import resource
import sys
import tracemalloc
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Sequence, Tuple

from ..engine import Value, topological_order
from .baseline import TrainResult, baseline_step, clock, model_weights, train_baseline
from .moons import (
    MODEL_SEED,
    MOONS_NODES_PER_STEP,
    MOONS_POINTS,
    MOONS_SEED,
    MOONS_SIZES,
    MOONS_STEPS,
    make_model,
    make_moons,
    moons_graph,
    run_micrograd,
    run_moons,
    train_moons,
)

__all__ = ["TrainResult", "baseline_step", "clock", "model_weights", "train_baseline", "MODEL_SEED",
           "MOONS_NODES_PER_STEP", "MOONS_POINTS", "MOONS_SEED", "MOONS_SIZES", "MOONS_STEPS", "make_model",
           "make_moons", "moons_graph", "run_micrograd", "run_moons", "train_moons", "collector",
           "run_chain", "run_flatness", "run_collections", "wide_program", "build_wide", "run_wide", "main"]

WIDE_SEED = 2024


# ------------------------------------------------------------------ helpers
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


def traced_peak_mib(func: Callable[[], object]) -> float:
    """Peak Python heap (tracemalloc, MiB) while `func` runs, above what was live before."""
    gc.collect()
    tracemalloc.start()
    try:
        func()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def max_rss_mib() -> float:
    """The process's peak resident memory so far (MiB)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def best_of(repeats: int, func: Callable[[], float]) -> float:
    """The smallest of several timings: other processes only ever add time."""
    return min(func() for _ in range(repeats))


# -------------------------------------------------------------------- chain
def run_chain(n: int) -> Dict[str, float]:
    """``x = x * 1.0001 + 0.1`` n times from one leaf, then backward.

    Each step records 2 operations (and lifts 2 constants into leaf Values).
    Times are per recorded operation.
    """
    x0 = Value(1.0)
    start = clock()
    x = x0
    for _ in range(n):
        x = x * 1.0001 + 0.1
    built = clock()
    x.backward()
    done = clock()
    expected_grad = 1.0001**n  # d x_n / d x_0
    ops = 2 * n
    rss = max_rss_mib()
    return {
        "max_rss_mib": rss,
        "n": n,
        "ops": ops,
        "forward_ns_per_op": 1e9 * (built - start) / ops,
        "backward_ns_per_op": 1e9 * (done - built) / ops,
        "grad_rel_error": abs(x0.grad - expected_grad) / expected_grad,
    }


def run_flatness(small: int = 10_000, large: int = 1_000_000, repeats: int = 3) -> Dict[str, Any]:
    """The eager engine's forward ns per recorded node of a chain of `small` and of `large` nodes.

    The collector on, as a user runs (best of `repeats`; the small chain is
    also repeated enough to time it reliably). Flat cost: ``ratio`` near 1.
    ``large_collections``: the collections (by generation) while the large chain was built;
    ``large_gc_ns_per_node``: the part of its ns/node spent inside them; ``large_system_ns_per_node``: the
    part spent in the kernel (page faults of fresh memory: the small chain reuses memory already mapped).
    """
    collections = [0, 0, 0]
    in_gc = [0.0, 0.0]  # CPU seconds inside the collector, when the current collection started
    spent: List[Any] = [0.0, [0, 0, 0], 0.0]  # the best repeat's seconds in the collector, collections, system time

    def count(event: str, info: Dict[str, Any]) -> None:
        if event == "start":
            collections[info["generation"]] += 1
            in_gc[1] = clock()
        else:
            in_gc[0] += clock() - in_gc[1]

    def forward_ns(nodes: int, times: int) -> float:
        best = math.inf
        for _ in range(times):
            gc.collect()
            collections[:] = [0, 0, 0]
            in_gc[0] = 0.0
            x = Value(1.0)
            gc.callbacks.append(count)
            before = resource.getrusage(resource.RUSAGE_SELF)
            start = clock()
            for _ in range(nodes // 2):
                x = x * 1.0001 + 0.1
            took = clock() - start
            after = resource.getrusage(resource.RUSAGE_SELF)
            gc.callbacks.remove(count)
            if took < best:
                best, spent[0], spent[1] = took, in_gc[0], list(collections)
                spent[2] = after.ru_stime - before.ru_stime  # the kernel's part: mostly first touches of new memory
            del x
        return 1e9 * best / nodes

    with collector(True):
        small_ns = forward_ns(small, max(repeats, 1) * 10)
        large_ns = forward_ns(large, repeats)
    return {"small_nodes": small, "large_nodes": large, "small_ns_per_node": small_ns,
            "large_ns_per_node": large_ns, "ratio": large_ns / small_ns,
            "large_collections": dict(zip(("gen0", "gen1", "gen2"), spent[1])),
            "large_gc_ns_per_node": 1e9 * spent[0] / large, "large_system_ns_per_node": 1e9 * spent[2] / large}


def run_collections(steps: int = 5) -> Dict[str, Any]:
    """How many collections (by generation) run in each phase of the moons loop with `optim.SGD`.

    Counted with `gc.callbacks` over `steps` steps, the collector on. The
    optimiser's step should not pay a collection of the graph ``backward()`` just used.
    """
    from ..optim import SGD

    X, y = make_moons()
    model = make_model()
    opt = SGD(model.parameters(), lr=0.1)
    phases = ("forward", "backward", "opt.step")
    counts = {phase: [0, 0, 0] for phase in phases}
    seconds = {phase: 0.0 for phase in phases}
    current = ["none"]

    def count(event: str, info: Dict[str, Any]) -> None:
        if event == "start" and current[0] in counts:
            counts[current[0]][info["generation"]] += 1

    with collector(True):
        gc.callbacks.append(count)
        try:
            for _ in range(steps):
                current[0] = "forward"
                start = clock()
                loss = moons_graph(model, X, y)
                seconds["forward"] += clock() - start
                current[0] = "backward"
                start = clock()
                opt.zero_grad()
                loss.backward()
                seconds["backward"] += clock() - start
                current[0] = "opt.step"
                start = clock()
                opt.step()
                seconds["opt.step"] += clock() - start
                current[0] = "none"
        finally:
            gc.callbacks.remove(count)
    return {"steps": steps,
            "collections": {phase: dict(zip(("gen0", "gen1", "gen2"), c)) for phase, c in counts.items()},
            "ms_per_step": {phase: 1000 * s / steps for phase, s in seconds.items()}}


# --------------------------------------------------------------------- wide
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


# ----------------------------------------------------------------- printing
def _print_moons(report: Dict[str, Any]) -> bool:
    rows = report["rows"]
    print(f"moons: MLP(2, [16, 16, 1]), {MOONS_POINTS} points, {report['steps']} steps, "
          f"{MOONS_NODES_PER_STEP:,} nodes per step (CPU time, best of the repeats)")
    print(f"  {'row':<19}{'steps':>6}{'ms/step':>10}{'× baseline':>12}{'final loss':>22}  bit-identical to eager")
    for name, row in rows.items():
        print(f"  {name:<19}{row.get('steps', report['steps']):>6}{row['ms_per_step']:>10.2f}"
              f"{row['ratio_to_baseline']:>12.2f}{float(row['final_loss']):>22.17g}  "
              f"{'yes' if row['bit_identical_to_eager'] else 'no'}"
              + ("" if row["bit_identical_to_eager"] else f" (largest difference: loss "
                 f"{row['max_abs_loss_diff']:.2g}, gradient {row['max_abs_grad_diff']:.2g})"))
    for name, seconds in report["record_s"].items():
        print(f"  {name}: first call (record + compile + one eager step) {seconds:.3f} s")
    missing = [name for name in ("micrograd", "torch-scalar", "torch-batched") if name not in rows]
    if missing and report.get("competitors", True):
        print(f"  not installed, not measured: {', '.join(missing)}")
    print("  rows with fewer steps are compared with the baseline over the same first steps")
    ours = ("eager", "replay-python", "replay-numpy", "baseline")
    return all(rows[name]["bit_identical_to_eager"] for name in ours)


def _print_chain(result: Dict[str, float]) -> None:
    print(f"chain: x = x * 1.0001 + 0.1, N = {result['n']:,} ({result['ops']:,} operations)")
    print(f"  forward {result['forward_ns_per_op']:.0f} ns/op, "
          f"backward {result['backward_ns_per_op']:.0f} ns/op, "
          f"dx_N/dx_0 relative error {result['grad_rel_error']:.2g}")
    print(f"  process max RSS {result['max_rss_mib']:.0f} MiB (the graph holds about {2 * result['ops']:,} Values: "
          "each step also lifts its 2 constants into leaves)")


def _print_flatness(result: Dict[str, Any]) -> None:
    print(f"  flatness (collector on): forward {result['small_ns_per_node']:.0f} ns/node at "
          f"{result['small_nodes']:,} nodes, {result['large_ns_per_node']:.0f} ns/node at "
          f"{result['large_nodes']:,} nodes: {result['ratio']:.2f}× "
          f"(building the large one: {result['large_gc_ns_per_node']:.0f} ns/node inside "
          f"{sum(result['large_collections'].values())} collections, {result['large_collections']}; "
          f"{result['large_system_ns_per_node']:.0f} ns/node in the kernel, mapping new memory)")


def _print_collections(result: Dict[str, Any]) -> None:
    parts = []
    for phase, counts in result["collections"].items():
        shown = ", ".join(f"{n} {gen}" for gen, n in counts.items() if n) or "none"
        parts.append(f"{phase}: {shown} ({result['ms_per_step'][phase]:.1f} ms)")
    print(f"  collections per phase of {result['steps']} moons steps with optim.SGD: " + "; ".join(parts))


def _print_wide(result: Dict[str, float]) -> None:
    print(f"wide: random mixed-op graph, {result['nodes']:,} nodes")
    print(f"  forward {result['forward_nodes_per_s'] / 1e6:.2f} M nodes/s, "
          f"backward {result['backward_nodes_per_s'] / 1e6:.2f} M nodes/s")
    print(f"  {result['bytes_per_node']:.0f} bytes/node (graph), "
          f"{result['bytes_per_node_after_backward']:.0f} after backward, "
          f"peak {result['peak_bytes_per_node']:.0f}")


def main(workload: str = "all", quick: bool = False, gc_off: bool = False, as_json: bool = False) -> int:
    """Run the benchmarks and print their figures; returns 1 if one of our moons rows is not bit-identical.

    With `as_json`, the last line printed is one JSON object: the moons report
    (``workload``, ``steps``, ``record_s``, ``rows``) for ``moons``; for the
    other workloads ``{"workload": ..., ...}`` with their figures.
    """
    steps = 5 if quick else MOONS_STEPS
    chain_n = 10_000 if quick else 1_000_000
    wide_size = 20_000 if quick else 200_000
    repeats = 1 if quick else 3
    ok = True
    summary: Dict[str, Any] = {}
    print(f"microgradcn bench ({'quick' if quick else 'full'}), Python {sys.version.split()[0]}, "
          f"collector {'off' if gc_off else 'default'} for chain and wide")
    if workload in ("moons", "all"):
        report = run_moons(steps, repeats, competitor_steps=2 if quick else 10, gc_pause_row=not quick)
        ok = _print_moons(report)
        summary["moons"] = report
    with collector(False) if gc_off else _nothing():
        if workload in ("chain", "all"):
            chain = run_chain(chain_n)
            _print_chain(chain)
            summary["chain"] = chain
    if workload in ("chain", "all"):
        flatness = run_flatness(1_000 if quick else 10_000, 20_000 if quick else 1_000_000, repeats)
        _print_flatness(flatness)
        collections = run_collections(1 if quick else 5)
        _print_collections(collections)
        summary["chain"].update({"flatness": flatness, "collections": collections})
    with collector(False) if gc_off else _nothing():
        if workload in ("wide", "all"):
            wide = run_wide(wide_size, repeats)
            _print_wide(wide)
            summary["wide"] = wide
    if as_json:
        if workload == "moons":
            print(json.dumps(summary["moons"]))
        else:
            print(json.dumps({"workload": workload, **summary}))
    return 0 if ok else 1


@contextmanager
def _nothing() -> Iterator[None]:
    yield
