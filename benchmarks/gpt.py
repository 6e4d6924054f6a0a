"""The GPT benchmark: microgradcn against a microgpt-style scalar engine, same model, same data, same weights.

Both engines train ``GPT(27)`` (4,192 parameters) on the same names, one name
per step, from the same initial weights, with the same Adam (lr 0.01 decaying
linearly, betas (0.85, 0.99)); the microgpt-style engine is `microgpt.py`.
Their losses must agree at every step to 1e-9 (they differ only in the order
gradients are summed). Printed: ms per step (CPU time), nodes per step, and
the ratio, with Python's garbage collector on (as a user runs them) and, in
the full run, off. The collector matters here: a microgpt-style graph keeps
every node tracked by the collector, which then spends most of the step
scanning it. Nothing here asserts a time.
"""

from __future__ import annotations

import sys
from typing import Any

from .microgpt import LR, MicroGPT, microgpt_weights, train_micro
from .timing import clock, collector

__all__ = ["run_gpt", "print_gpt", "whole_run", "run", "show"]

STEPS = 100
WHOLE_RUN_STEPS = 1000  # `microgradcn train names`: the run a learner waits for
QUICK_STEPS = 3  # three names of three lengths: three recordings, a few seconds
SEED = 0


# ------------------------------------------------------------ the benchmark
def _setup(seed: int):
    from microgradcn.nn import GPT
    from microgradcn.text import CharTokenizer, names

    tokenizer = CharTokenizer()
    encoded = [tokenizer.encode(name) for name in names(seed)]
    return tokenizer, encoded, GPT(tokenizer.vocab_size, seed=seed)


def _train_eager(model, encoded, steps: int, total_steps: int, replay: bool = False,
                 replayed_only: list | None = None, lengths: set[int] | None = None) -> tuple[float, list[float]]:
    """(CPU seconds, losses); with `replayed_only`, append (seconds, steps, recordings) of the steps that only replayed.

    `lengths`: replay only names of these token lengths, the others eagerly (``text.make_step``'s policy).
    """
    from microgradcn import optim
    from microgradcn.text import linear_decay, make_step

    opt = optim.Adam(model.parameters(), lr=linear_decay(LR, total_steps), betas=(0.85, 0.99), eps=1e-8)
    step = make_step(model, replay=replay, lengths=lengths)  # replay: recordings are counted in the time
    losses = []
    seconds = replay_seconds = 0.0
    replays = 0
    for k in range(steps):
        start = clock()
        before = getattr(step, "records", 0), getattr(step, "eager_steps", 0)
        opt.zero_grad()
        losses.append(step(encoded[k % len(encoded)]))
        opt.step()
        took = clock() - start
        seconds += took
        if replay and (step.records, getattr(step, "eager_steps", 0)) == before:  # type: ignore[attr-defined]
            replay_seconds += took
            replays += 1
    if replayed_only is not None:
        replayed_only.append((replay_seconds, replays, getattr(step, "records", 0)))
    return seconds, losses


def run_gpt(steps: int = STEPS, seed: int = SEED, collector_off_rows: bool = True) -> dict[str, dict[str, float]]:
    """Train both engines for `steps` steps; the rows ``{"eager": {...}, "microgpt-style": {...}}``.

    Each row has ``ms_per_step`` (CPU time), ``nodes_per_step`` (mean graph
    size over those steps' names), ``ns_per_node``, ``final_loss`` and
    ``max_loss_diff`` (largest |loss difference| to the eager row over all
    steps). Both run with Python's garbage collector on, as a user runs them;
    with `collector_off_rows`, the rows ``"eager, collector off"`` and
    ``"microgpt-style, collector off"`` repeat them with ``gc.disable()``.
    """
    from microgradcn.engine import topological_order
    from microgradcn.nn import GPT

    tokenizer, encoded, model = _setup(seed)
    initial = model.state_dict()
    steps_names = [encoded[k % len(encoded)] for k in range(steps)]
    # Graph sizes, counted outside the timed runs (building a graph does not change the weights).
    counter = MicroGPT(microgpt_weights(model))
    nodes = {
        "eager": sum(len(topological_order(model.loss(t))) for t in steps_names) / steps,
        "microgpt-style": sum(len(counter.loss(t).topological_order()) for t in steps_names) / steps,
    }

    def eager() -> tuple[float, list[float]]:
        fresh = GPT(tokenizer.vocab_size, seed=seed)
        fresh.load_state_dict(initial)
        return _train_eager(fresh, encoded, steps, steps)

    steady: list = []

    def replayed() -> tuple[float, list[float]]:
        fresh = GPT(tokenizer.vocab_size, seed=seed)
        fresh.load_state_dict(initial)
        return _train_eager(fresh, encoded, steps, steps, replay=True, replayed_only=steady)

    def micro() -> tuple[float, list[float]]:
        fresh = MicroGPT(microgpt_weights(model))  # the initial weights
        start = clock()
        losses = train_micro(fresh, encoded, steps, steps)
        return clock() - start, losses

    runs = [("eager", eager, True), ("replay-python", replayed, True), ("microgpt-style", micro, True)]
    if collector_off_rows:
        runs += [("eager, collector off", eager, False), ("microgpt-style, collector off", micro, False)]
    results = {}
    for name, run, enabled in runs:
        with collector(enabled):
            results[name] = run()
    reference = results["eager"][1]
    rows: dict[str, dict[str, float]] = {}
    for name, (seconds, losses) in results.items():
        ms = 1000 * seconds / steps
        count = nodes["microgpt-style" if name.startswith("microgpt") else "eager"]
        rows[name] = {
            "ms_per_step": ms,
            "nodes_per_step": count,
            "ns_per_node": 1e6 * ms / count,
            "final_loss": losses[-1],
            "max_loss_diff": max(abs(a - b) for a, b in zip(reference, losses)),
            "bit_identical_to_eager": losses == reference,
        }
        if name == "replay-python":
            seconds_only, replays, records = steady[0]
            rows[name]["records"] = records  # one per name length met
            rows[name]["ms_per_replayed_step"] = 1000 * seconds_only / replays if replays else 0.0  # 0: none
    return rows


def print_gpt(rows: dict[str, dict[str, float]], steps: int) -> bool:
    """Print the table and the ratios; True if every run's losses agree with eager's to 1e-9 at every step."""
    base = rows["microgpt-style"]
    print(f"gpt: GPT(27) (4,192 parameters) on names, one name per step, {steps} steps, same initial weights")
    print(f"  {'run':<31}{'ms/step':>9}{'nodes/step':>12}{'ns/node':>9}{'× faster':>10}{'final loss':>22}")
    for name, row in rows.items():
        print(f"  {name:<31}{row['ms_per_step']:>9.1f}{row['nodes_per_step']:>12,.0f}{row['ns_per_node']:>9.0f}"
              f"{base['ms_per_step'] / row['ms_per_step']:>10.1f}{row['final_loss']:>22.17g}")
    print("  (CPU time of this process; × faster: microgpt-style ms/step, collector on, divided by the row's)")
    replay = rows.get("replay-python")
    if replay is not None and replay["records"] < steps:
        print(f"  replay-python: {replay['records']:.0f} of the {steps} steps recorded a new name length "
              f"(included above); a step that only replays takes {replay['ms_per_replayed_step']:.1f} ms, "
              f"{base['ms_per_step'] / replay['ms_per_replayed_step']:.0f}× faster than microgpt-style")
    if "microgpt-style, collector off" in rows:
        on = base["ms_per_step"] / rows["eager"]["ms_per_step"]
        off = rows["microgpt-style, collector off"]["ms_per_step"] / rows["eager, collector off"]["ms_per_step"]
        print(f"  eager vs microgpt-style: {on:.1f}× with the collector on, {off:.1f}× with it off in both")
    diff = max(row["max_loss_diff"] for row in rows.values())
    agree = diff <= 1e-9
    print(f"  largest loss difference to eager at any step: {diff:.3g} ({'agree to 1e-9' if agree else 'DISAGREE'})")
    return agree


def _replayed_run(steps: int, seed: int = SEED) -> tuple[float, float, int, list[float]]:
    """(CPU s, wall s, recordings, losses) of `steps` replayed steps as ``microgradcn train names`` runs them.

    As there, names of a length met fewer than ``text.RECORDING_COST_IN_STEPS`` times run eagerly
    (``text.replayed_lengths``: cheaper than recording them).
    """
    import time

    from microgradcn.text import replayed_lengths

    _, encoded, model = _setup(seed)
    lengths = replayed_lengths(encoded[k % len(encoded)] for k in range(steps))
    steady: list = []
    start = time.perf_counter()
    cpu_s, losses = _train_eager(model, encoded, steps, steps, replay=True, replayed_only=steady, lengths=lengths)
    wall_s = time.perf_counter() - start
    return cpu_s, wall_s, steady[0][2], losses


def whole_run(microgpt_ms_per_step: float, steps: int = WHOLE_RUN_STEPS, seed: int = SEED) -> dict[str, float]:
    """The replayed run `train names` makes, timed whole: recordings included, sampling left out.

    Same weights, same name order and same Adam as ``microgradcn train names``. `microgpt_ms_per_step` is the
    microgpt-style engine's CPU ms per step over the first steps of the same order (`run_gpt`'s row), scaled
    to `steps`: running it for 1,000 steps would take minutes and say nothing more.
    """
    replay_s, wall_s, records, _ = _replayed_run(steps, seed)
    microgpt_style_s = steps * microgpt_ms_per_step / 1000
    return {"steps": steps, "replay_s": replay_s, "wall_s": wall_s, "records": records,
            "microgpt_style_s": microgpt_style_s, "ratio": microgpt_style_s / replay_s}


def print_whole_run(whole: dict[str, float]) -> None:
    """One line: the whole run's CPU and wall time against the microgpt-style engine's."""
    print(f"  whole run, {whole['steps']:.0f} steps as `microgradcn train names`: replay {whole['replay_s']:.1f} s CPU "
          f"({whole['wall_s']:.1f} s wall, {whole['records']:.0f} recordings included); microgpt-style "
          f"{whole['microgpt_style_s']:.0f} s (its ms/step above × {whole['steps']:.0f}): "
          f"{whole['ratio']:.1f}× faster")


# CPU time of each part of the run, in first eager (or first microgpt-style) steps: rough, for the forecast only.
# A microgpt-style step costs about twice its first one once the collector has its graphs to scan.
RELATIVE_COST = {"micro": 2.0, "record": 25.0, "replayed": 0.15, "count_nodes": 0.5, "count_micro": 1.0,
                 "eager_off": 1.0, "micro_off": 0.7}


def _forecast(steps: int, collector_off_rows: bool, seed: int = SEED) -> float:
    """Print about how long `run_gpt` takes: a first eager and a first microgpt-style step, scaled by the counts."""
    from .timing import forecast

    tokenizer, encoded, model = _setup(seed)
    start = clock()
    model.loss(encoded[0]).backward()
    eager = clock() - start
    micro_model = MicroGPT(microgpt_weights(model))
    start = clock()
    micro_model.loss(encoded[0]).backward()
    micro = clock() - start
    records = len({len(encoded[k % len(encoded)]) for k in range(steps)})  # one recording per name length
    c = RELATIVE_COST
    seconds = steps * (eager * (1 + c["count_nodes"]) + micro * (c["micro"] + c["count_micro"]))
    seconds += eager * (steps * c["replayed"] + records * c["record"])
    if collector_off_rows:
        seconds += steps * (eager * c["eager_off"] + micro * c["micro_off"])
        whole_records = len({len(encoded[k % len(encoded)]) for k in range(WHOLE_RUN_STEPS)})
        seconds += eager * (WHOLE_RUN_STEPS * c["replayed"] + whole_records * c["record"])
    return forecast("gpt", seconds, f"a first step took {1000 * eager:.0f} ms eager, {1000 * micro:.0f} ms "
                    f"microgpt-style; {steps} steps, {records} recordings")


def run(quick: bool = False, steps: int | None = None) -> dict[str, Any]:
    """``{"workload": "gpt", "steps": ..., "rows": ..., "whole_run": ...}``: 100 steps and a 1,000-step `whole_run`.

    `quick`: 3 steps, without the collector-off rows and without `whole_run`.
    """
    steps = (QUICK_STEPS if quick else STEPS) if steps is None else steps
    _forecast(steps, collector_off_rows=not quick)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))  # the recursive sort goes as deep as the graph
    try:
        rows = run_gpt(steps, collector_off_rows=not quick)
        report: dict[str, Any] = {"workload": "gpt", "steps": steps, "rows": rows}
        if not quick:
            report["whole_run"] = whole_run(rows["microgpt-style"]["ms_per_step"])
    finally:
        sys.setrecursionlimit(limit)
    return report


def show(report: dict[str, Any]) -> bool:
    """Print the table; True if every run's losses agree with eager's to 1e-9 at every step."""
    agree = print_gpt(report["rows"], report["steps"])
    if "whole_run" in report:
        print_whole_run(report["whole_run"])
    return agree
