"""The chain workload: ``x = x * 1.0001 + 0.1`` repeated N times, then backward; the collector in a training loop.

* `run_chain`: forward and backward ns per operation of a chain of N steps
  (1,000,000 by default), and dx_N/dx_0 against its exact value.
* `run_flatness`: the eager engine's forward cost per node of a chain of 10^4
  and of 10^6 nodes (flat: a ratio near 1), and the collections while the long one is built.
* `run_collections`: the collections in each phase of the moons loop with `optim.SGD`.
"""

from __future__ import annotations

import gc
import math
import resource
import sys
from typing import Any, Dict, List

from microgradcn.engine import Value

from .moons import make_model, make_moons, moons_graph
from .timing import clock, collector

__all__ = ["run_chain", "run_flatness", "run_collections", "print_chain", "print_flatness", "print_collections",
           "run"]

N, QUICK_N = 1_000_000, 10_000


def max_rss_mib() -> float:
    """The process's peak resident memory so far (MiB)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


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
    from microgradcn.optim import SGD

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


# ----------------------------------------------------------------- printing
def print_chain(result: Dict[str, float]) -> None:
    print(f"chain: x = x * 1.0001 + 0.1, N = {result['n']:,} ({result['ops']:,} operations)")
    print(f"  forward {result['forward_ns_per_op']:.0f} ns/op, "
          f"backward {result['backward_ns_per_op']:.0f} ns/op, "
          f"dx_N/dx_0 relative error {result['grad_rel_error']:.2g}")
    print(f"  process max RSS {result['max_rss_mib']:.0f} MiB (the graph holds about {2 * result['ops']:,} Values: "
          "each step also lifts its 2 constants into leaves)")


def print_flatness(result: Dict[str, Any]) -> None:
    print(f"  flatness (collector on): forward {result['small_ns_per_node']:.0f} ns/node at "
          f"{result['small_nodes']:,} nodes, {result['large_ns_per_node']:.0f} ns/node at "
          f"{result['large_nodes']:,} nodes: {result['ratio']:.2f}× "
          f"(building the large one: {result['large_gc_ns_per_node']:.0f} ns/node inside "
          f"{sum(result['large_collections'].values())} collections, {result['large_collections']}; "
          f"{result['large_system_ns_per_node']:.0f} ns/node in the kernel, mapping new memory)")


def print_collections(result: Dict[str, Any]) -> None:
    parts = []
    for phase, counts in result["collections"].items():
        shown = ", ".join(f"{n} {gen}" for gen, n in counts.items() if n) or "none"
        parts.append(f"{phase}: {shown} ({result['ms_per_step'][phase]:.1f} ms)")
    print(f"  collections per phase of {result['steps']} moons steps with optim.SGD: " + "; ".join(parts))


# ---------------------------------------------------------------------- run
def _nanoseconds_per_op() -> float:
    """Forward + backward CPU ns per operation of a short chain: the first timed step the forecast scales."""
    probe = run_chain(5_000)
    return probe["forward_ns_per_op"] + probe["backward_ns_per_op"]


def run(quick: bool = False, gc_off: bool = False, repeats: int = 3) -> Dict[str, Any]:
    """The chain figures (``run_chain``, with ``flatness`` and ``collections`` inside); forecast first.

    `quick`: a chain of 10,000 steps, flatness at 1,000 and 20,000 nodes, one repeat, one moons step.
    `gc_off`: the chain itself is built with the collector off.
    """
    from .timing import forecast

    n, repeats = (QUICK_N, 1) if quick else (N, repeats)
    small, large = (1_000, 20_000) if quick else (10_000, 1_000_000)
    steps = 1 if quick else 5
    ns = _nanoseconds_per_op()
    # The flatness runs are forward only (about half of forward + backward); a moons step is ~1.3e5 operations.
    total_ops = 2 * n + (small * 10 + large) * repeats / 2 + 1.3e5 * steps
    forecast("chain", 1e-9 * ns * total_ops * 1.5, f"{ns:.0f} ns per operation in a first short chain, "
             f"{total_ops:,.0f} operations")
    with collector(False) if gc_off else collector(gc.isenabled()):
        chain: Dict[str, Any] = dict(run_chain(n))
    chain["flatness"] = run_flatness(small, large, repeats)
    chain["collections"] = run_collections(steps)
    return chain


def show(chain: Dict[str, Any]) -> None:
    """Print the chain figures."""
    print_chain(chain)
    print_flatness(chain["flatness"])
    print_collections(chain["collections"])
