"""A small, readable training loop and the three ready-made tasks of `microgradcn train`.

The loop is the whole story of training, one step at a time::

    outputs = [model(x) for x in inputs]     # forward: build the graph
    loss = loss_fn(outputs, targets)         # one scalar Value
    optimizer.zero_grad()                    # forget last step's gradients
    loss.backward()                          # chain rule fills every p.grad
    optimizer.step()                         # p.data -= lr * p.grad (or Adam etc.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from . import datasets, optim
from . import functional as F
from .engine import Value
from .nn import MLP, Module

__all__ = ["to_values", "fit", "History", "Task", "make_task", "make_optimizer", "OPTIMIZERS"]


def to_values(X) -> List[List[Value]]:
    """Turn rows of numbers (a numpy array or lists) into rows of leaf Values, once.

    Wrapping inputs up front (as micrograd's demo does) means each input is one
    leaf shared by all the neurons that read it, instead of a new constant per
    multiplication: smaller graphs, faster steps.
    """
    return [[Value(float(v)) for v in row] for row in np.asarray(X, dtype=float).tolist()]


@dataclass
class History:
    """Loss and accuracy after each step, and the wall time of the whole run."""

    loss: List[float] = field(default_factory=list)
    accuracy: List[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def steps(self) -> int:
        return len(self.loss)


def fit(
    model: Module,
    inputs: Sequence[Sequence],
    targets: Sequence,
    loss_fn: Callable[[list, Sequence], Value],
    optimizer: optim.Optimizer,
    steps: int,
    accuracy_fn: Optional[Callable[[list, Sequence], float]] = None,
    progress: bool = False,
    desc: str = "train",
    replay: bool = False,
) -> History:
    """Full-batch training for `steps` steps; returns the `History`.

    `loss_fn(outputs, targets)` returns the scalar loss (include any
    regularisation there); `accuracy_fn(outputs, targets)` returns a fraction
    in [0, 1]. With `progress`, a tqdm bar shows the loss and accuracy.

    With ``replay=True`` the step's graph is recorded once and replayed
    (`microgradcn.replay.trace`): the same losses and gradients, faster on long
    runs, but no Values are built, so the per-step accuracy is not computed
    (NaN; evaluate the model afterwards).
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    if replay:
        return _fit_replayed(model, inputs, targets, loss_fn, optimizer, steps, progress, desc)
    history = History()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, desc=desc, unit="step", leave=True)
    start = time.perf_counter()
    model.train()
    for _ in range(steps):
        outputs = [model(x) for x in inputs]
        loss = loss_fn(outputs, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.loss.append(float(loss.data))
        # Accuracy of the outputs this step was computed from (before the update).
        acc = accuracy_fn(outputs, targets) if accuracy_fn else float("nan")
        history.accuracy.append(acc)
        if bar is not None:
            bar.set_postfix(loss=f"{loss.data:.4f}", acc=f"{acc:.1%}")
            bar.update(1)
    history.seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    return history


def _fit_replayed(model: Module, inputs: Sequence[Sequence], targets: Sequence, loss_fn: Callable,
                  optimizer: optim.Optimizer, steps: int, progress: bool, desc: str) -> History:
    from .replay import trace

    def batch_loss(rows: Sequence, labels: Sequence) -> Value:
        return loss_fn([model(x) for x in rows], labels)  # type: ignore[operator]  # Modules are callable

    model.train()
    step = trace(batch_loss, model.parameters())
    history = History()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, desc=f"{desc} (replay)", unit="step", leave=True)
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = step(list(inputs), list(targets))
        optimizer.step()
        history.loss.append(loss)
        history.accuracy.append(float("nan"))
        if bar is not None:
            bar.set_postfix(loss=f"{loss:.4f}")
            bar.update(1)
    history.seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    return history


# ----------------------------------------------------------------- accuracy
def sign_accuracy(outputs: list, targets: Sequence) -> float:
    """Fraction of scores whose sign matches a ±1 label."""
    return sum((s.data > 0) == (t > 0) for s, t in zip(outputs, targets)) / len(targets)


def logit_accuracy(outputs: list, targets: Sequence) -> float:
    """Fraction of logits on the right side of 0 for 0/1 labels."""
    return sum((s.data > 0) == (t > 0.5) for s, t in zip(outputs, targets)) / len(targets)


def argmax_accuracy(outputs: list, targets: Sequence) -> float:
    """Fraction of rows whose largest logit is the target class."""
    hits = 0
    for row, t in zip(outputs, targets):
        scores = [v.data for v in row]
        hits += scores.index(max(scores)) == t
    return hits / len(targets)


# ----------------------------------------------------------------- the tasks
OPTIMIZERS: Dict[str, type] = {
    "sgd": optim.SGD,
    "adagrad": optim.AdaGrad,
    "rmsprop": optim.RMSProp,
    "adam": optim.Adam,
    "adamw": optim.AdamW,
}


def make_optimizer(name: str, params: List[Value], lr: optim.LearningRate) -> optim.Optimizer:
    """An optimiser by name (sgd, adagrad, rmsprop, adam, adamw)."""
    try:
        cls = OPTIMIZERS[name]
    except KeyError:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {sorted(OPTIMIZERS)}") from None
    return cls(params, lr=lr)


@dataclass
class Task:
    """Everything `fit` needs for one toy problem, ready to run."""

    name: str
    model: MLP
    inputs: List[List[Value]]
    targets: list
    loss_fn: Callable
    accuracy_fn: Callable
    optimizer: optim.Optimizer
    steps: int


def _moons_loss(model: Module, alpha: float = 1e-4) -> Callable:
    # The moons benchmark loss: mean hinge + alpha * Σ p² (as in micrograd's demo).
    params = model.parameters()
    return lambda outputs, targets: F.hinge(outputs, targets) + F.l2_penalty(params, alpha)


def make_task(
    name: str,
    steps: Optional[int] = None,
    lr: Optional[float] = None,
    optimizer: Optional[str] = None,
    seed: int = 0,
) -> Task:
    """Build one of the CLI's tasks: "xor", "moons" or "spiral".

    * xor: MLP(2, [4, 1]) with tanh, BCE with logits, Adam (lr 0.05), 150 steps.
    * moons: the benchmark workload (100 points, noise 0.1, labels ±1, MLP(2, [16, 16, 1]),
      hinge + 1e-4·Σp², SGD with lr = lr0·(1 − 0.9·k/steps), lr0 = 1.0, 100 steps).
    * spiral: 3 arms of 30 points, MLP(2, [16, 16, 3]), cross-entropy, Adam (lr 0.05), 200 steps.

    `steps`, `lr` and `optimizer` override the defaults. A bad override (steps
    not a positive int, lr negative or not finite) raises ValueError before
    anything is built, so no time is spent training with it.
    """
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if lr is not None:
        optim._check("lr", lr)  # also covers moons, whose rate is a schedule checked only at each step
    if name == "xor":
        X, y = datasets.xor()
        model = MLP(2, [4, 1], activation="tanh", init="xavier_uniform", seed=seed)
        loss_fn, acc_fn = F.binary_cross_entropy_with_logits, logit_accuracy
        defaults = (150, 0.05, "adam")
    elif name == "moons":
        X, y = datasets.make_moons(100, noise=0.1, seed=seed, signed=True)
        model = MLP(2, [16, 16, 1], seed=seed)
        loss_fn, acc_fn = _moons_loss(model), sign_accuracy
        defaults = (100, 1.0, "sgd")
    elif name == "spiral":
        X, y = datasets.spiral(3, 30, noise=0.1, seed=seed)
        model = MLP(2, [16, 16, 3], init="he_uniform", seed=seed)
        loss_fn, acc_fn = F.cross_entropy, argmax_accuracy
        defaults = (200, 0.05, "adam")
    else:
        raise ValueError(f"unknown task {name!r}; expected 'xor', 'moons' or 'spiral'")
    steps = defaults[0] if steps is None else steps
    lr0 = defaults[1] if lr is None else lr
    opt_name = defaults[2] if optimizer is None else optimizer
    rate: optim.LearningRate = lr0
    if name == "moons" and opt_name == "sgd":
        rate = lambda k: lr0 * (1.0 - 0.9 * k / steps)  # noqa: E731 - micrograd's decaying rate
    opt = make_optimizer(opt_name, model.parameters(), rate)
    targets = [float(t) for t in y] if name != "spiral" else [int(t) for t in y]
    return Task(name, model, to_values(X), targets, loss_fn, acc_fn, opt, steps)


def final_accuracy(task: Task) -> float:
    """Accuracy of the task's model on its training data, now."""
    from .engine import no_grad

    task.model.eval()
    with no_grad():
        outputs = [task.model(x) for x in task.inputs]
    return task.accuracy_fn(outputs, task.targets)
