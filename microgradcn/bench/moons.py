"""The moons workload: eager engine, replay (python and numpy), the float baseline and competitors, one run.

micrograd's demo, written as a user would write it: an ``MLP(2, [16, 16, 1])``
trained on 100 moons points with a mean hinge loss plus 1e-4 L2, 100
full-batch SGD steps with lr = 1.0 - 0.9 k / 100. Every row starts from the
same weights; each is checked against the eager engine: its loss at every step
and its gradients at its last step must be equal (``==``, bit for bit).

Rows (competitors only when importable, never dependencies):

* ``eager``: the engine, a fresh graph every step;
* ``replay-python``, ``replay-numpy``: ``microgradcn.replay.trace`` of the same
  loss; the first call records (its time, compile included, is ``record_s``), the
  ms per step are those of the replayed steps;
* ``baseline``: plain floats and hand-written backprop (`baseline.py`);
* ``micrograd``: karpathy's micrograd (``pip install micrograd``), same loop, first steps only;
* ``torch-scalar``: the same loop on 0-dim float64 tensors, first steps only;
* ``torch-batched``: the MLP as float64 matrices, the batch at once.

A row that runs fewer steps is compared with the baseline over the same first steps.
Times are CPU seconds of this process (`time.process_time`), the best of the repeats.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from .. import engine
from ..engine import Value
from .baseline import BaselineTraining, TrainResult, clock, model_weights

MOONS_SEED = 0  # data (microgradcn.datasets.make_moons)
MODEL_SEED = 0  # initial weights
MOONS_SIZES = (16, 16, 1)
MOONS_POINTS = 100
MOONS_STEPS = 100
MOONS_NODES_PER_STEP = 65_818  # micrograd's demo graph: the same expression, node for node
COMPETITOR_STEPS = 10  # micrograd and torch-scalar take about a second per step


def make_moons(n: int = MOONS_POINTS, noise: float = 0.1, seed: int = MOONS_SEED) -> Tuple[list, list]:
    """The workload's data as plain lists: ``X`` (n rows of [x0, x1]) and labels ``y`` (-1 / +1)."""
    from ..datasets import make_moons as moons

    X, y = moons(n, noise=noise, seed=seed, signed=True)
    return X.tolist(), y.tolist()


def make_model() -> Any:
    """The demo's model: 2 inputs, two ReLU layers of 16, one linear output."""
    from ..nn import MLP

    return MLP(2, list(MOONS_SIZES), seed=MODEL_SEED)


def lr_at(k: int) -> float:
    """The learning rate of step k."""
    return 1.0 - 0.9 * k / 100


def moons_loss(model: Any, rows: Any, labels: Any) -> Value:
    """The demo's loss: mean hinge of the scores plus 1e-4 times the sum of squared parameters."""
    params = model.parameters()
    losses = [(1 + -t * model(x)).relu() for x, t in zip(rows, labels)]
    return sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in params)


def moons_graph(model: Any, X: list, y: list) -> Value:
    """One step's loss graph (for counting nodes)."""
    return moons_loss(model, [[Value(a) for a in row] for row in X], y)


def train_moons(model: Any, X: list, y: list, steps: int = MOONS_STEPS, value_type: type = Value) -> TrainResult:
    """micrograd's demo loop, as a user writes it (forward, backward, SGD).

    `value_type` is the scalar class of `model` (micrograd's Value for the comparison run).
    """
    result = _train_scalar(model, X, y, steps, value_type)
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
class _ScalarRun:
    seconds: float
    losses: List[float]
    grads: List[List[float]]
    accuracy: float


def _train_scalar(model: Any, X: list, y: list, steps: int, value_type: Any = Value,
                  keep_grads: bool = False, between: Optional[Callable[[int], None]] = None) -> _ScalarRun:
    """The training loop; `between(k)` runs after step k, outside the timed part (the paired baseline)."""
    params = model.parameters()
    losses: List[float] = []
    grads: List[List[float]] = []
    accuracy = 0.0
    seconds = 0.0
    for k in range(steps):
        start = clock()
        inputs = [[value_type(a) for a in row] for row in X]
        scores = [model(x) for x in inputs]
        hinge = [(1 + -t * s).relu() for t, s in zip(y, scores)]
        total = sum(hinge) * (1.0 / len(hinge)) + 1e-4 * sum(p * p for p in params)
        accuracy = sum((t > 0) == (s.data > 0) for t, s in zip(y, scores)) / len(y)
        for p in params:
            p.grad = 0
        total.backward()
        if keep_grads or k == steps - 1:
            grads.append([p.grad for p in params])
        lr = lr_at(k)
        for p in params:
            p.data -= lr * p.grad
        losses.append(total.data)
        del inputs, scores, hinge, total  # freed inside the timed part, as a loop that reassigns them does
        seconds += clock() - start
        if between is not None:
            between(k)
    return _ScalarRun(seconds, losses, grads, accuracy)


def run_eager(X: list, y: list, steps: int) -> Row:
    """The engine, as a user writes the loop (every step's gradients kept, to check the other rows)."""
    return _eager_row(_train_scalar(make_model(), X, y, steps, keep_grads=True), steps)


def _eager_row(run: _ScalarRun, steps: int) -> Row:
    return Row("eager", steps, run.seconds, steps, run.losses, run.grads[-1], accuracy=run.accuracy,
               all_grads=run.grads)


def run_eager_and_baseline(X: list, y: list, steps: int) -> Tuple[Row, Row]:
    """The eager rows and the baseline's, their steps taken in turns (eager step k, then baseline step k).

    Taking turns exposes both to the same moments of a shared machine, whose
    speed drifts over seconds: the ratio of the two is then much steadier.
    """
    baseline = BaselineTraining(model_weights(make_model()), X, y)
    eager = _eager_row(_train_scalar(make_model(), X, y, steps, keep_grads=True, between=baseline.step), steps)
    result = baseline.result()
    return eager, Row("baseline", steps, result.seconds, steps, result.losses, baseline.gradients(),
                      accuracy=result.accuracy)


def run_replay(X: list, y: list, steps: int, backend: str) -> Row:
    """`trace` of the same loss: step 0 records, the other steps replay."""
    import numpy as np

    from ..replay import trace

    model = make_model()
    params = model.parameters()
    if backend == "python":
        step = trace(lambda rows, labels: moons_loss(model, rows, labels), params)
    else:
        step = trace(lambda x, t: (1 + -t * model(x)).relu(), params, backend="numpy",
                     penalty=lambda: 1e-4 * sum(p * p for p in params))
    Xa, ya = np.array(X), np.array(y)
    losses = []
    record_s = seconds = 0.0
    for k in range(steps):
        start = clock()
        for p in params:
            p.grad = 0
        loss = step(Xa, ya)
        grads = [p.grad for p in params] if k == steps - 1 else []
        lr = lr_at(k)
        for p in params:
            p.data -= lr * p.grad
        took = clock() - start
        if k == 0:
            record_s = took
        else:
            seconds += took
        losses.append(loss)
    if step.retraces:
        raise RuntimeError(f"replay-{backend} recorded afresh {step.retraces} times on moons (expected 0)")
    return Row(f"replay-{backend}", steps, seconds, max(steps - 1, 1), losses, grads, record_s=record_s)


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
    run = _train_scalar(model, X, y, steps, MicrogradValue)
    del model
    gc.collect()  # micrograd's graphs are reference cycles: free them now
    return Row("micrograd", steps, run.seconds, steps, run.losses, run.grads[-1], accuracy=run.accuracy)


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch


def _torch_layers(torch: Any) -> List[Tuple[Any, Any]]:
    return [(torch.tensor(w, dtype=torch.float64, requires_grad=True),
             torch.tensor(b, dtype=torch.float64, requires_grad=True)) for w, b in model_weights(make_model())]


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

    losses: List[float] = []
    grads: List[float] = []
    start = clock()
    for k in range(steps):
        inputs = [[torch.tensor(a, dtype=torch.float64) for a in row] for row in X]
        hinge = [(1 + -t * model(x)).relu() for x, t in zip(inputs, y)]
        total = sum(hinge) * (1.0 / len(hinge)) + 1e-4 * sum(p * p for p in params)
        for p in params:
            p.grad = None
        total.backward()
        if k == steps - 1:
            grads = [p.grad.item() for p in params]
        lr = lr_at(k)
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
        losses.append(total.item())
    return Row("torch-scalar", steps, clock() - start, steps, losses, grads)


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
    losses: List[float] = []
    grads: List[float] = []
    start = clock()
    for k in range(steps):
        h = Xt
        for i, (W, b) in enumerate(layers):
            h = h @ W.T + b
            if i < last:
                h = h.relu()
        hinge = (1 + -yt * h[:, 0]).relu()
        total = hinge.sum() * (1.0 / len(y)) + 1e-4 * sum((W * W).sum() + (b * b).sum() for W, b in layers)
        for p in params:
            p.grad = None
        total.backward()
        if k == steps - 1:
            grads = [g for W, b in layers for grow, gb in zip(W.grad.tolist(), b.grad.tolist())
                     for g in (*grow, gb)]
        lr = lr_at(k)
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
        losses.append(total.item())
    return Row("torch-batched", steps, clock() - start, steps, losses, grads)


# ------------------------------------------------------------------- the run
def run_moons(steps: int = MOONS_STEPS, repeats: int = 3, competitor_steps: int = COMPETITOR_STEPS,
              competitors: bool = True, gc_pause_row: bool = False) -> Dict[str, Any]:
    """Every row in one run; each row's bit-identity to eager and its ratio to the baseline."""
    X, y = make_moons()
    k = min(steps, competitor_steps)
    rows: Dict[str, Row] = {}
    pairs = [run_eager_and_baseline(X, y, steps) for _ in range(repeats)]
    rows["eager"] = _best([eager for eager, _ in pairs])
    for backend in ("python", "numpy"):
        rows[f"replay-{backend}"] = _best([run_replay(X, y, steps, backend) for _ in range(repeats)])
    rows["baseline"] = _best([baseline for _, baseline in pairs])
    if gc_pause_row:
        engine.set_gc_pause(False)
        try:
            row = run_eager(X, y, steps)
        finally:
            engine.set_gc_pause(True)
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
