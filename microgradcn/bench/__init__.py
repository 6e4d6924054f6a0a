"""Benchmarks: moons, chain, wide, and a plain-float baseline (see README, 性能).

Every workload prints figures; none asserts a time. Times are CPU seconds of
this process (`time.process_time`), the best of several repeats. The ratio engine/baseline,
measured in the same run, is the number that compares across machines.

* ``moons``: micrograd's demo, written as a user would write it: an
  ``MLP(2, [16, 16, 1])`` trained on 100 moons points with a mean hinge loss
  plus 1e-4 L2, 100 full-batch SGD steps with lr = 1.0 - 0.9 k / 100.
* ``baseline``: the same training with plain floats and hand-written
  backprop, starting from the same weights and doing the same arithmetic in
  the same order, so its final loss equals the engine's bit for bit.
* ``chain``: ``x = x * 1.0001 + 0.1`` repeated N times, then backward.
* ``wide``: a seeded random graph of mixed operations (200,000 Values).
* ``micrograd``: the moons loop on karpathy's micrograd, only if it is installed.

Run ``microgradcn bench --help`` or ``python benchmarks/run_all.py``.
"""

from __future__ import annotations

import gc
import math
import random
import resource
import sys
import time
import tracemalloc
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from .. import engine
from ..engine import Value, topological_order

MOONS_SEED = 0  # data (microgradcn.datasets.make_moons)
MODEL_SEED = 0  # initial weights
MOONS_SIZES = (16, 16, 1)
MOONS_POINTS = 100
MOONS_STEPS = 100
MOONS_NODES_PER_STEP = 65_818  # micrograd's demo graph: the same expression, node for node
WIDE_SEED = 2024

# CPU time of this process: on a shared machine, time spent waiting while other
# processes run is not ours. The collector's work is CPU time and is counted.
clock = time.process_time


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


# -------------------------------------------------------------------- moons
def make_moons(n: int = MOONS_POINTS, noise: float = 0.1, seed: int = MOONS_SEED):
    """The workload's data as plain lists: ``X`` (n rows of [x0, x1]) and labels ``y`` (-1 / +1)."""
    from ..datasets import make_moons as moons

    X, y = moons(n, noise=noise, seed=seed, signed=True)
    return X.tolist(), y.tolist()


def make_model():
    """The demo's model: 2 inputs, two ReLU layers of 16, one linear output."""
    from ..nn import MLP

    return MLP(2, list(MOONS_SIZES), seed=MODEL_SEED)


@dataclass
class TrainResult:
    """What one training run produced."""

    name: str
    steps: int
    seconds: float
    final_loss: float
    accuracy: float
    losses: List[float] = field(default_factory=list)

    @property
    def ms_per_step(self) -> float:
        return 1000 * self.seconds / self.steps


def train_moons(model, X, y, steps: int = MOONS_STEPS, value_type: type = Value) -> TrainResult:
    """micrograd's demo loop, as a user writes it (forward, backward, SGD).

    `value_type` is the scalar class of `model` (micrograd's Value for the comparison run).
    """
    params = model.parameters()

    def loss():
        inputs = [[value_type(a) for a in row] for row in X]
        scores = [model(x) for x in inputs]
        losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = 1e-4 * sum(p * p for p in params)
        total = data_loss + reg_loss
        accuracy = sum((yi > 0) == (si.data > 0) for yi, si in zip(y, scores)) / len(y)
        return total, accuracy

    history = []
    start = clock()
    for k in range(steps):
        total, accuracy = loss()
        for p in params:
            p.grad = 0
        total.backward()
        lr = 1.0 - 0.9 * k / 100
        for p in params:
            p.data -= lr * p.grad
        history.append(total.data)
    seconds = clock() - start
    return TrainResult("engine", steps, seconds, history[-1], accuracy, history)


def moons_graph(model, X, y) -> Value:
    """One step's loss graph (for counting nodes)."""
    params = model.parameters()
    inputs = [[Value(a) for a in row] for row in X]
    scores = [model(x) for x in inputs]
    losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
    return sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in params)


# ----------------------------------------------------------------- baseline
def model_weights(model) -> List[Tuple[List[List[float]], List[float]]]:
    """The model's weights as plain floats: per layer, (rows of weights, biases)."""
    layers = []
    for layer in model.layers:
        layers.append(([[w.data for w in n.w] for n in layer.neurons], [n.b.data for n in layer.neurons]))
    return layers


def train_baseline(layers, X, y, steps: int = MOONS_STEPS) -> TrainResult:
    """The demo with plain floats and hand-written backprop.

    Same arithmetic in the same order as the engine's graph and backward
    (bias first, then w0*x0, w1*x1, ...; samples accumulated in order, the
    L2 term last and added twice as p*p's two parents), so the losses agree
    bit for bit, not just approximately.
    """
    W = [[list(row) for row in weights] for weights, _ in layers]
    B = [list(biases) for _, biases in layers]
    depth = len(W)
    n = len(X)
    scale = 1.0 / n
    history = []
    start = clock()
    for k in range(steps):
        # ---- forward: keep every layer's input and pre-activation
        gW = [[[0] * len(row) for row in weights] for weights in W]
        gB = [[0] * len(biases) for biases in B]
        data_sum = 0
        correct = 0
        caches = []
        for i in range(n):
            h = X[i]
            trace = []
            for layer in range(depth):
                pre = []
                for row, b in zip(W[layer], B[layer]):
                    act = b
                    for w, x in zip(row, h):
                        act += w * x
                    pre.append(act)
                trace.append((h, pre))
                h = [a if a > 0 else 0 for a in pre] if layer < depth - 1 else pre
            score = h[0]
            margin = 1 + (-y[i]) * score
            data_sum = data_sum + (margin if margin > 0 else 0)
            correct += (y[i] > 0) == (score > 0)
            caches.append((trace, margin))
        square_sum = 0
        for layer in range(depth):
            for row, b in zip(W[layer], B[layer]):
                for w in row:
                    square_sum = square_sum + w * w
                square_sum = square_sum + b * b
        total = data_sum * scale + 1e-4 * square_sum
        # ---- backward: samples in order, then the L2 term. A zero gradient
        # is skipped (adding zeros changes no sum), as anyone writing this by hand would.
        for i in range(n):
            trace, margin = caches[i]
            if margin <= 0:
                continue
            grads = [(-y[i]) * scale]  # d total / d score
            for layer in range(depth - 1, -1, -1):
                h, pre = trace[layer]
                if layer < depth - 1:  # ReLU
                    grads = [g if a > 0 else 0 for a, g in zip(pre, grads)]
                width = range(len(h))
                gh = [0] * len(h)
                rows, grows, gbias = W[layer], gW[layer], gB[layer]
                for j, g in enumerate(grads):
                    if not g:
                        continue
                    gbias[j] += g
                    row, grow = rows[j], grows[j]
                    for m in width:
                        grow[m] += h[m] * g
                        gh[m] += row[m] * g
                grads = gh
        g_square = 1e-4
        for layer in range(depth):
            for row, grow in zip(W[layer], gW[layer]):
                for m, w in enumerate(row):
                    grow[m] += w * g_square
                    grow[m] += w * g_square
            for j, b in enumerate(B[layer]):
                gB[layer][j] += b * g_square
                gB[layer][j] += b * g_square
        # ---- SGD
        lr = 1.0 - 0.9 * k / 100
        for layer in range(depth):
            for row, grow in zip(W[layer], gW[layer]):
                for m in range(len(row)):
                    row[m] -= lr * grow[m]
            for j in range(len(B[layer])):
                B[layer][j] -= lr * gB[layer][j]
        history.append(total)
    seconds = clock() - start
    return TrainResult("baseline", steps, seconds, history[-1], correct / n, history)


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


# -------------------------------------------------------------------- moons
def run_moons(steps: int = MOONS_STEPS, repeats: int = 1, pause_off_row: bool = True) -> Dict[str, object]:
    """The demo with the collector on and off, the baseline, memory and node count."""
    X, y = make_moons()
    model = make_model()
    initial = model_weights(model)

    def fresh_engine_run() -> TrainResult:
        m = make_model()
        return train_moons(m, X, y, steps)

    results: Dict[str, object] = {}
    results["nodes_per_step"] = len(topological_order(moons_graph(model, X, y)))

    def fastest(run: Callable[[], TrainResult], times: int) -> TrainResult:
        return min((run() for _ in range(times)), key=lambda r: r.seconds)

    runs = {}
    with collector(True):
        runs["engine"] = fastest(fresh_engine_run, repeats)
    with collector(False):
        runs["engine, collector off"] = fastest(fresh_engine_run, repeats)
    if pause_off_row:
        engine.set_gc_pause(False)
        try:
            with collector(True):
                runs["engine, no GC pause"] = fresh_engine_run()
        finally:
            engine.set_gc_pause(True)
    with collector(True):
        runs["baseline"] = fastest(lambda: train_baseline(initial, X, y, steps), max(repeats, 3))
    results["runs"] = runs

    # Peak heap of a few steps of the user loop (the old graph lives while the new one is built).
    peak_steps = min(steps, 3)
    with collector(True):
        results["peak_mib"] = traced_peak_mib(lambda: train_moons(make_model(), X, y, peak_steps))
        results["baseline_peak_mib"] = traced_peak_mib(lambda: train_baseline(initial, X, y, peak_steps))
    results["max_rss_mib"] = max_rss_mib()
    return results


# ---------------------------------------------------------------- micrograd
def run_micrograd(steps: int) -> Optional[Dict[str, TrainResult]]:
    """The same moons loop on karpathy's micrograd, if it is importable (never a dependency).

    Its model gets our initial weights, so its losses must match ours. Few
    steps: with the collector on, micrograd takes seconds per step.
    """
    try:
        from micrograd.engine import Value as MicrogradValue
        from micrograd.nn import MLP as MicrogradMLP
    except ImportError:
        return None
    X, y = make_moons()
    initial = model_weights(make_model())

    def fresh_model():
        model = MicrogradMLP(2, list(MOONS_SIZES))
        for layer, (weights, biases) in zip(model.layers, initial):
            for neuron, row, bias in zip(layer.neurons, weights, biases):
                for w, value in zip(neuron.w, row):
                    w.data = value
                neuron.b.data = bias
        return model

    runs = {}
    with collector(True):
        runs["micrograd"] = train_moons(fresh_model(), X, y, steps, MicrogradValue)
    with collector(False):
        runs["micrograd, collector off"] = train_moons(fresh_model(), X, y, steps, MicrogradValue)
    gc.collect()  # micrograd's graphs are cycles: free them now
    with collector(True):
        runs["microgradcn"] = train_moons(make_model(), X, y, steps)
        baselines = [train_baseline(initial, X, y, steps) for _ in range(3)]
        runs["baseline"] = min(baselines, key=lambda r: r.seconds)
    return runs


def _print_micrograd(runs: Optional[Dict[str, TrainResult]]) -> bool:
    if runs is None:
        print("micrograd: not installed, comparison skipped (pip install micrograd to add it)")
        return True
    base = runs["baseline"]
    print(f"micrograd (same machine, same run): moons, first {base.steps} steps, initial weights copied")
    for name, run in runs.items():
        ratio = run.ms_per_step / base.ms_per_step
        print(f"  {name:<26}{run.ms_per_step:>10.2f} ms/step{ratio:>10.1f} × baseline")
    worst = max(abs(a - b) for run in runs.values() for a, b in zip(run.losses, base.losses))
    print(f"  largest loss difference to the baseline over those steps: {worst:.3g}")
    return worst <= 1e-9


# ----------------------------------------------------------------- printing
def _print_moons(results: Dict[str, object]) -> bool:
    runs: Dict[str, TrainResult] = results["runs"]  # type: ignore[assignment]
    base = runs["baseline"]
    steps = base.steps
    print(f"moons: MLP(2, [16, 16, 1]), {MOONS_POINTS} points, {steps} steps, "
          f"{results['nodes_per_step']:,} nodes per step")
    print(f"  {'run':<26}{'ms/step':>10}{'× baseline':>12}{'final loss':>22}{'accuracy':>10}")
    for name, run in runs.items():
        print(f"  {name:<26}{run.ms_per_step:>10.2f}{run.ms_per_step / base.ms_per_step:>12.1f}"
              f"{run.final_loss:>22.17g}{run.accuracy:>10.0%}")
    print(f"  peak heap (tracemalloc, {min(steps, 3)} steps): engine {results['peak_mib']:.1f} MiB, "
          f"baseline {results['baseline_peak_mib']:.1f} MiB; "
          f"process max RSS {results['max_rss_mib']:.0f} MiB")
    worst = max(abs(run.final_loss - base.final_loss) for run in runs.values())
    agree = worst <= 1e-9
    identical = all(run.losses == base.losses for run in runs.values())
    print(f"  engine and baseline final losses differ by {worst:.3g} "
          f"({'bit-identical' if identical else 'agree to 1e-9' if agree else 'DISAGREE'})")
    return agree


def _print_chain(result: Dict[str, float]) -> None:
    print(f"chain: x = x * 1.0001 + 0.1, N = {result['n']:,} ({result['ops']:,} operations)")
    print(f"  forward {result['forward_ns_per_op']:.0f} ns/op, "
          f"backward {result['backward_ns_per_op']:.0f} ns/op, "
          f"dx_N/dx_0 relative error {result['grad_rel_error']:.2g}")
    print(f"  process max RSS {result['max_rss_mib']:.0f} MiB (the graph holds about {2 * result['ops']:,} Values: "
          "each step also lifts its 2 constants into leaves)")


def _print_wide(result: Dict[str, float]) -> None:
    print(f"wide: random mixed-op graph, {result['nodes']:,} nodes")
    print(f"  forward {result['forward_nodes_per_s'] / 1e6:.2f} M nodes/s, "
          f"backward {result['backward_nodes_per_s'] / 1e6:.2f} M nodes/s")
    print(f"  {result['bytes_per_node']:.0f} bytes/node (graph), "
          f"{result['bytes_per_node_after_backward']:.0f} after backward, "
          f"peak {result['peak_bytes_per_node']:.0f}")


def main(workload: str = "all", quick: bool = False, gc_off: bool = False) -> int:
    """Run the benchmarks and print their figures; returns 1 if engine and baseline disagree."""
    steps = 5 if quick else MOONS_STEPS
    chain_n = 10_000 if quick else 1_000_000
    wide_size = 20_000 if quick else 200_000
    repeats = 1 if quick else 3
    ok = True
    print(f"microgradcn bench ({'quick' if quick else 'full'}), Python {sys.version.split()[0]}, "
          f"collector {'off' if gc_off else 'default'} for chain and wide")
    with collector(False) if gc_off else _nothing():
        if workload in ("moons", "baseline", "all"):
            ok = _print_moons(run_moons(steps, repeats, pause_off_row=not quick))
        if workload in ("chain", "all"):
            _print_chain(run_chain(chain_n))
        if workload in ("wide", "all"):
            _print_wide(run_wide(wide_size, repeats))
        if workload in ("micrograd", "all"):
            ok = _print_micrograd(run_micrograd(2 if quick else 10)) and ok
    return 0 if ok else 1


@contextmanager
def _nothing() -> Iterator[None]:
    yield
