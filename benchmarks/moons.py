"""The moons workload: eager engine, replay (python and numpy), the float baseline and competitors, one run.

micrograd's demo, written as a user would write it: an ``MLP(2, [16, 16, 1])``
trained on 100 moons points with a mean hinge loss plus 1e-4 L2
(``F.hinge`` + ``F.l2_penalty``), 100 full-batch SGD steps with
lr = 1.0 - 0.9 k / 100. Every row starts from the same weights; each is
checked against the eager engine: its loss at every step and its gradients at
its last step must be equal (``==``, bit for bit).

Rows (competitors only when importable, never dependencies):

* ``eager``: the engine, a fresh graph every step (``train.make_step``);
* ``replay-python``, ``replay-numpy``: ``train.make_step(..., replay=...)`` of the same
  loss; the first call records (its time, compile included, is ``record_s``), the
  ms per step are those of the replayed steps;
* ``baseline``: plain floats and hand-written backprop (`baseline.py`);
* ``micrograd``: karpathy's micrograd (``pip install micrograd``), same loop, first steps only;
* ``torch-scalar``: the same loop on 0-dim float64 tensors, first steps only;
* ``torch-batched``: the MLP as float64 matrices, the batch at once.

Every row is timed the same way: CPU time of this process from zeroing the
gradients to the end of the update, PyTorch and numpy's BLAS on one thread
(`timing.one_thread`), the best of the repeats. A row that runs fewer steps is
compared with the baseline over the same first steps.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from microgradcn import functional as F
from microgradcn import set_gc_pause
from microgradcn.engine import Value
from microgradcn.train import make_step, to_values

from .baseline import BaselineTraining, TrainResult, model_weights
from .timing import clock

MOONS_SEED = 0  # data (microgradcn.datasets.make_moons)
MODEL_SEED = 0  # initial weights
MOONS_SIZES = (16, 16, 1)
MOONS_POINTS = 100
MOONS_STEPS = 100
MOONS_NODES_PER_STEP = 65_818  # micrograd's demo graph: the same expression, node for node
COMPETITOR_STEPS = 10  # micrograd and torch-scalar take about a second per step


def make_moons(n: int = MOONS_POINTS, noise: float = 0.1, seed: int = MOONS_SEED) -> Tuple[list, list]:
    """The workload's data as plain lists: ``X`` (n rows of [x0, x1]) and labels ``y`` (-1 / +1)."""
    from microgradcn.datasets import make_moons as moons

    X, y = moons(n, noise=noise, seed=seed, signed=True)
    return X.tolist(), y.tolist()


def make_model() -> Any:
    """The demo's model: 2 inputs, two ReLU layers of 16, one linear output."""
    from microgradcn.nn import MLP

    return MLP(2, list(MOONS_SIZES), seed=MODEL_SEED)


def lr_at(k: int) -> float:
    """The learning rate of step k."""
    return 1.0 - 0.9 * k / 100


def moons_loss(model: Any, rows: Any, labels: Any, scores: Optional[list] = None) -> Value:
    """The demo's loss: ``F.hinge`` of the scores plus ``F.l2_penalty(params, 1e-4)``.

    The same graph, node for node, as micrograd's demo writes it by hand:
    ``sum((1 + -y * score).relu() ...) * (1 / n) + 1e-4 * sum(p * p ...)``.
    With `scores`, the scores are also put there (for the accuracy of the step).
    """
    outputs = [model(x) for x in rows]
    if scores is not None:
        scores[:] = outputs
    return F.hinge(outputs, labels) + F.l2_penalty(model.parameters(), 1e-4)


def moons_graph(model: Any, X: list, y: list) -> Value:
    """One step's loss graph (for counting nodes): the inputs as leaves, each shared by the neurons reading it."""
    return moons_loss(model, to_values(X), y)


def train_moons(model: Any, X: list, y: list, steps: int = MOONS_STEPS) -> TrainResult:
    """micrograd's demo loop, as a user writes it (forward, backward, SGD), with ``train.make_step``."""
    step, data, extras = _eager_step(model, X, y)
    result = _train(model.parameters(), step, data, steps, **extras)
    return TrainResult("engine", steps, result.seconds, result.losses[-1], result.accuracy, result.losses)


# ------------------------------------------------------------------ one row
@dataclass
class Row:
    """One measured way of running the workload."""

    name: str
    steps: int
    seconds: float  # the timed steps (for replay: the replayed ones)
    timed_steps: int
    losses: List[float]
    grads: List[float]  # every parameter's gradient at the last step, in model.parameters() order
    record_s: Optional[float] = None  # replay: the first call (record + compile + that eager step)
    accuracy: Optional[float] = None
    all_grads: List[List[float]] = field(default_factory=list, repr=False)  # eager only: every step's

    @property
    def ms_per_step(self) -> float:
        return 1000 * self.seconds / self.timed_steps


def _best(runs: List[Row]) -> Row:
    best = min(runs, key=lambda r: r.seconds / r.timed_steps)
    records = [r.record_s for r in runs if r.record_s is not None]
    if records:
        best.record_s = min(records)
    return best


@dataclass
class _Run:
    seconds: float  # every step
    first_s: float  # the first step alone (for replay: the recording)
    losses: List[float]
    grads: List[List[float]]
    accuracy: float


Data = Callable[[], tuple]  # the arguments of one step, made inside the timed part (as a user's loop makes them)


def _train(params: list, step: Callable[..., float], data: Data, steps: int, scores: Optional[list] = None,
           labels: Optional[list] = None, keep_grads: bool = False,
           between: Optional[Callable[[int], None]] = None) -> _Run:
    """The SGD loop every scalar row runs: timed from zeroing the gradients to the end of the update.

    `between(k)` runs after step k, outside the timed part (the paired baseline); with `scores`
    (filled by the step) and `labels`, the accuracy of the last step's scores is computed, untimed.
    """
    losses: List[float] = []
    grads: List[List[float]] = []
    seconds = first = 0.0
    for k in range(steps):
        start = clock()
        for p in params:
            p.grad = 0
        loss = step(*data())
        lr = lr_at(k)
        if keep_grads or k == steps - 1:
            grads.append([p.grad for p in params])
        for p in params:
            p.data -= lr * p.grad
        took = clock() - start
        seconds += took
        first = took if k == 0 else first
        losses.append(loss)
        if between is not None:
            between(k)
    accuracy = float("nan")
    if scores is not None and labels is not None:
        accuracy = sum((t > 0) == (s.data > 0) for t, s in zip(labels, scores)) / len(labels)
    return _Run(seconds, first, losses, grads, accuracy)


def _eager_step(model: Any, X: list, y: list) -> Tuple[Callable[..., float], Data, dict]:
    """(step, data, extras for `_train`): the engine's step; the inputs become leaf Values every step."""
    scores: list = []
    step = make_step(lambda rows, labels: moons_loss(model, rows, labels, scores))
    return step, lambda: (to_values(X), y), {"scores": scores, "labels": y}


def run_eager(X: list, y: list, steps: int) -> Row:
    """The engine, as a user writes the loop (every step's gradients kept, to check the other rows)."""
    model = make_model()
    step, data, extras = _eager_step(model, X, y)
    return _eager_row(_train(model.parameters(), step, data, steps, keep_grads=True, **extras), steps)


def _eager_row(run: _Run, steps: int) -> Row:
    return Row("eager", steps, run.seconds, steps, run.losses, run.grads[-1], accuracy=run.accuracy,
               all_grads=run.grads)


def run_eager_and_baseline(X: list, y: list, steps: int) -> Tuple[Row, Row]:
    """The eager rows and the baseline's, their steps taken in turns (eager step k, then baseline step k).

    Taking turns exposes both to the same moments of a shared machine, whose
    speed drifts over seconds: the ratio of the two is then much steadier.
    """
    baseline = BaselineTraining(model_weights(make_model()), X, y)
    model = make_model()
    step, data, extras = _eager_step(model, X, y)
    eager = _train(model.parameters(), step, data, steps, keep_grads=True, between=baseline.step, **extras)
    result = baseline.result()
    return _eager_row(eager, steps), Row("baseline", steps, result.seconds, steps, result.losses,
                                         baseline.gradients(), accuracy=result.accuracy)


def run_replay(X: list, y: list, steps: int, backend: str) -> Row:
    """``train.make_step(..., replay=backend)`` of the same loss: step 0 records, the other steps replay."""
    import numpy as np

    model = make_model()
    params = model.parameters()
    if backend == "python":
        step = make_step(lambda rows, labels: moons_loss(model, rows, labels), params, replay="python")
    else:  # one sample's hinge term, replayed over the batch; the mean and the L2 penalty as F.hinge + F.l2_penalty
        step = make_step(lambda x, t: (1 + -t * model(x)).relu(), params, replay="numpy", per_sample=True,
                         penalty=lambda: F.l2_penalty(params, 1e-4))
    Xa, ya = np.array(X), np.array(y)
    run = _train(params, step, lambda: (Xa, ya), steps)
    if step.retraces:  # type: ignore[attr-defined]  # a replayed step is a Trace
        raise RuntimeError(f"replay-{backend} recorded afresh {step.retraces} times on moons "  # type: ignore
                           "(expected 0)")
    return Row(f"replay-{backend}", steps, run.seconds - run.first_s, max(steps - 1, 1), run.losses, run.grads[-1],
               record_s=run.first_s)


def run_baseline(X: list, y: list, steps: int) -> Row:
    """Plain floats and hand-written backprop, on its own."""
    run = BaselineTraining(model_weights(make_model()), X, y)
    for k in range(steps):
        run.step(k)
    result = run.result()
    return Row("baseline", steps, result.seconds, steps, result.losses, run.gradients(), accuracy=result.accuracy)


# -------------------------------------------------------------- competitors
def run_micrograd(X: list, y: list, steps: int) -> Optional[Row]:
    """The same loop on karpathy's micrograd with our initial weights, or None if it is not installed."""
    try:
        from micrograd.engine import Value as MicrogradValue
        from micrograd.nn import MLP as MicrogradMLP
    except ImportError:
        return None
    model = MicrogradMLP(2, list(MOONS_SIZES))
    for layer, (weights, biases) in zip(model.layers, model_weights(make_model())):
        for neuron, row, bias in zip(layer.neurons, weights, biases):
            for w, value in zip(neuron.w, row):
                w.data = value
            neuron.b.data = bias
    params = model.parameters()

    def step(rows: list, labels: list) -> float:  # micrograd's demo, as its README writes it
        scores = [model(x) for x in rows]
        total = sum((1 + -t * s).relu() for t, s in zip(labels, scores)) * (1.0 / len(scores)) \
            + 1e-4 * sum(p * p for p in params)
        total.backward()
        return total.data

    run = _train(params, step, lambda: ([[MicrogradValue(a) for a in row] for row in X], y), steps)
    gc.collect()  # micrograd's graphs are reference cycles: free them now
    return Row("micrograd", steps, run.seconds, steps, run.losses, run.grads[-1])


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch


def _torch_layers(torch: Any) -> List[Tuple[Any, Any]]:
    return [(torch.tensor(w, dtype=torch.float64, requires_grad=True),
             torch.tensor(b, dtype=torch.float64, requires_grad=True)) for w, b in model_weights(make_model())]


def _torch_train(torch: Any, params: list, loss_of: Callable[[], Any], steps: int,
                 flat_grads: Callable[[], List[float]]) -> Tuple[float, List[float], List[float]]:
    """(seconds, losses, last grads) of PyTorch's SGD loop, timed from zeroing the gradients to the update."""
    losses: List[float] = []
    grads: List[float] = []
    seconds = 0.0
    for k in range(steps):
        start = clock()
        for p in params:
            p.grad = None
        total = loss_of()
        total.backward()
        if k == steps - 1:
            grads = flat_grads()
        lr = lr_at(k)
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
        loss = total.item()
        seconds += clock() - start
        losses.append(loss)
    return seconds, losses, grads


def run_torch_scalar(X: list, y: list, steps: int) -> Optional[Row]:
    """The same loop with every number a 0-dim float64 tensor (PyTorch as a scalar engine)."""
    torch = _torch()
    if torch is None:
        return None
    layers = []  # per layer, per neuron: ([w...], b), each a 0-dim tensor
    for rows, biases in model_weights(make_model()):
        layers.append([([torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in row],
                        torch.tensor(b, dtype=torch.float64, requires_grad=True)) for row, b in zip(rows, biases)])
    params = [p for layer in layers for ws, b in layer for p in (*ws, b)]
    last = len(layers) - 1

    def model(h: list) -> Any:
        for i, layer in enumerate(layers):
            h = [sum((w * x for w, x in zip(ws, h)), b) for ws, b in layer]
            h = [a.relu() for a in h] if i < last else h
        return h[0]

    def loss_of() -> Any:
        inputs = [[torch.tensor(a, dtype=torch.float64) for a in row] for row in X]
        hinge = [(1 + -t * model(x)).relu() for x, t in zip(inputs, y)]
        return sum(hinge) * (1.0 / len(hinge)) + 1e-4 * sum(p * p for p in params)

    seconds, losses, grads = _torch_train(torch, params, loss_of, steps, lambda: [p.grad.item() for p in params])
    return Row("torch-scalar", steps, seconds, steps, losses, grads)


def run_torch_batched(X: list, y: list, steps: int) -> Optional[Row]:
    """The MLP as float64 matrices: the whole batch in a few tensor operations per layer."""
    torch = _torch()
    if torch is None:
        return None
    layers = _torch_layers(torch)
    params = [p for pair in layers for p in pair]
    Xt = torch.tensor(X, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.float64)
    last = len(layers) - 1

    def loss_of() -> Any:
        h = Xt
        for i, (W, b) in enumerate(layers):
            h = h @ W.T + b
            if i < last:
                h = h.relu()
        hinge = (1 + -yt * h[:, 0]).relu()
        return hinge.sum() * (1.0 / len(y)) + 1e-4 * sum((W * W).sum() + (b * b).sum() for W, b in layers)

    def flat_grads() -> List[float]:
        return [g for W, b in layers for grow, gb in zip(W.grad.tolist(), b.grad.tolist()) for g in (*grow, gb)]

    seconds, losses, grads = _torch_train(torch, params, loss_of, steps, flat_grads)
    return Row("torch-batched", steps, seconds, steps, losses, grads)
# ------------------------------------------------------------------- the run
# CPU time of one step of each row, in eager steps (rough, measured on a 2-core machine): only for the forecast.
RELATIVE_COST = {"eager": 1.0, "baseline": 0.35, "replay-python": 0.6, "replay-numpy": 0.15, "record": 12.0,
                 "micrograd": 1.5, "torch-scalar": 40.0, "torch-batched": 0.05}


def first_step_seconds() -> float:
    """CPU seconds of one eager step on a fresh model: the first timed step the forecast scales."""
    X, y = make_moons()
    model = make_model()
    step, data, extras = _eager_step(model, X, y)
    return _train(model.parameters(), step, data, 1).seconds


def forecast_seconds(first: float, steps: int, repeats: int, competitor_steps: int, competitors: bool,
                     gc_pause_row: bool) -> float:
    """About how long `run_moons` takes with these counts, from one eager step of `first` seconds."""
    c = RELATIVE_COST
    ours = repeats * (steps * (c["eager"] + c["baseline"] + c["replay-python"] + c["replay-numpy"])
                      + 2 * c["record"])
    ours += steps if gc_pause_row else 0
    if competitors:
        k = min(steps, competitor_steps)
        ours += k * (3 * c["baseline"] + c["micrograd"] + c["torch-scalar"]) + steps * c["torch-batched"]
    return first * ours


def run_moons(steps: int = MOONS_STEPS, repeats: int = 3, competitor_steps: int = COMPETITOR_STEPS,
              competitors: bool = True, gc_pause_row: bool = False) -> Dict[str, Any]:
    """Every row in one run (PyTorch and BLAS on one thread); bit-identity to eager and ratio to the baseline."""
    from .timing import one_thread

    X, y = make_moons()
    k = min(steps, competitor_steps)
    rows: Dict[str, Row] = {}
    with one_thread():
        pairs = [run_eager_and_baseline(X, y, steps) for _ in range(repeats)]
        rows["eager"] = _best([eager for eager, _ in pairs])
        for backend in ("python", "numpy"):
            rows[f"replay-{backend}"] = _best([run_replay(X, y, steps, backend) for _ in range(repeats)])
        rows["baseline"] = _best([baseline for _, baseline in pairs])
        if gc_pause_row:
            set_gc_pause(False)
            try:
                row = run_eager(X, y, steps)
            finally:
                set_gc_pause(True)
            row.name = "eager-no-gc-pause"
            rows[row.name] = row
        short_baseline = rows["baseline"]
        if competitors:
            short_baseline = _best([run_baseline(X, y, k) for _ in range(3)])
            makers: List[Tuple[str, Callable[[list, list, int], Optional[Row]], int]] = [
                ("micrograd", run_micrograd, k), ("torch-scalar", run_torch_scalar, k),
                ("torch-batched", run_torch_batched, steps)]
            for name, make, n in makers:
                found = make(X, y, n)
                if found is not None:
                    rows[name] = found
    return _report(rows, short_baseline, steps)


def _report(rows: Dict[str, Row], short_baseline: Row, steps: int) -> Dict[str, Any]:
    """The JSON report: per row its ms per step, ratio to the baseline over the same steps, bit-identity to eager."""
    eager = rows["eager"]
    report: Dict[str, Any] = {"workload": "moons", "steps": steps, "record_s": {}, "rows": {}}
    for name, row in rows.items():
        base = rows["baseline"] if row.steps == rows["baseline"].steps else short_baseline
        entry: Dict[str, Any] = {
            "ms_per_step": round(row.ms_per_step, 3),
            "ratio_to_baseline": round(row.ms_per_step / base.ms_per_step, 3),
            "final_loss": repr(row.losses[-1]),
            "bit_identical_to_eager": (row.losses == eager.losses[:row.steps]
                                       and row.grads == eager.all_grads[row.steps - 1]),
        }
        if row.steps != steps:
            entry["steps"] = row.steps
        entry["max_abs_loss_diff"] = float(max(abs(a - b) for a, b in zip(row.losses, eager.losses)))
        entry["max_abs_grad_diff"] = float(max(abs(a - b) for a, b in zip(row.grads, eager.all_grads[row.steps - 1])))
        if row.record_s is not None:
            report["record_s"][name] = round(row.record_s, 4)
        report["rows"][name] = entry
    return report


def run(quick: bool = False) -> Dict[str, Any]:
    """The moons report: 100 steps, best of 3, competitors over 10 steps (`quick`: 5 steps, once, 2); forecast first."""
    from .timing import forecast

    settings: Dict[str, Any] = dict(steps=5, repeats=1, competitor_steps=2, competitors=True, gc_pause_row=False) \
        if quick else dict(steps=MOONS_STEPS, repeats=3, competitor_steps=COMPETITOR_STEPS, competitors=True,
                           gc_pause_row=True)
    first = first_step_seconds()
    repeats = "once" if settings["repeats"] == 1 else f"best of {settings['repeats']}"
    forecast("moons", forecast_seconds(first, **settings),
             f"a first eager step took {1000 * first:.0f} ms; {settings['steps']} steps per row, {repeats}")
    return run_moons(**settings)


def show(report: Dict[str, Any]) -> bool:
    """Print the moons table; True if our rows (eager, replay, baseline) are bit-identical to eager."""
    from .timing import CLOCK

    rows = report["rows"]
    print(f"moons: MLP(2, [16, 16, 1]), {MOONS_POINTS} points, {report['steps']} steps, "
          f"{MOONS_NODES_PER_STEP:,} nodes per step ({CLOCK}; the best of the repeats)")
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
    if missing:
        print(f"  not installed, not measured: {', '.join(missing)}")
    print("  rows with fewer steps are compared with the baseline over the same first steps")
    return all(rows[name]["bit_identical_to_eager"] for name in ("eager", "replay-python", "replay-numpy", "baseline"))
