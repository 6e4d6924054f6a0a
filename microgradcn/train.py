"""A small, readable training loop and the three ready-made tasks of `microgradcn train`.

The loop is the whole story of training, one step at a time::

    outputs = [model(x) for x in inputs]     # forward: build the graph
    loss = loss_fn(outputs, targets)         # one scalar Value
    optimizer.zero_grad()                    # forget last step's gradients
    loss.backward()                          # chain rule fills every p.grad
    optimizer.step()                         # p.data -= lr * p.grad (or Adam etc.)

`fit` does this on the whole data set (full batch). `fit_batches` does it on
mini-batches from a `microgradcn.data.DataLoader`, epoch after epoch, with a
validation set, early stopping, and one replaceable function for the
per-batch forward and backward pass (`make_step`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, cast

import numpy as np

from . import datasets, optim
from . import functional as F
from ._progress import Progress
from .data import DataLoader, accuracy
from .engine import Value, no_grad
from .nn import MLP, Module

__all__ = [
    "to_values",
    "fit",
    "History",
    "Task",
    "make_task",
    "make_optimizer",
    "OPTIMIZERS",
    "make_sample_loss",
    "make_step",
    "evaluate",
    "make_evaluator",
    "fit_batches",
    "EpochHistory",
    "StepFn",
    "digits_model",
    "train_digits",
    "DigitsRun",
    "DIGITS_MODELS",
]


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
    last_outputs: List[list] = []  # the outputs of the last forward pass that built Values (eager steps)

    def batch_loss(rows: Sequence, labels: Sequence) -> Value:
        outputs = [model(x) for x in rows]  # type: ignore[operator]  # Module subclasses define __call__
        last_outputs[:] = [outputs]
        return loss_fn(outputs, labels)

    step = make_step(batch_loss, model.parameters(), replay="python" if replay else None)
    history = History()
    bar = Progress(steps, f"{desc} (replay)" if replay else desc, progress)
    start = time.perf_counter()
    model.train()
    rows, labels = list(inputs), list(targets)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = step(rows, labels)
        optimizer.step()
        history.loss.append(loss)
        # Accuracy of the outputs this step was computed from (before the update); a replayed step builds none.
        acc = accuracy_fn(last_outputs[0], targets) if accuracy_fn and not replay else float("nan")
        history.accuracy.append(acc)
        bar.advance(loss=f"{loss:.4f}", **({} if replay else {"acc": f"{acc:.1%}"}))
    history.seconds = time.perf_counter() - start
    bar.close()
    return history


# ----------------------------------------------------------------- one step
Step = Callable[..., float]
REPLAY_BACKENDS = ("python", "numpy")


def make_step(
    loss_fn: Callable[..., Value],
    params: Optional[Sequence[Value]] = None,
    *,
    replay: Optional[str] = None,
    per_sample: bool = False,
    penalty: Optional[Callable[[], Value]] = None,
    cache_size: int = 8,
) -> Step:
    """One training step's forward and backward pass, as one function ``step(*data) -> loss`` (a float).

    The step is called with one step's data, whatever `loss_fn` reads: ``step(rows, labels)`` (`fit`),
    ``step(X_batch, y_batch)`` (`fit_batches`), ``step(tokens)`` (a GPT's `loss`). It builds

    * ``loss = loss_fn(*data)`` (``per_sample=False``), or
    * with ``per_sample=True``, where ``loss_fn(x, t)`` is one sample's loss and the data are
      ``(X_batch, y_batch)``, their mean ``sum(loss_fn(x, t) for x, t in zip(X_batch, y_batch)) * (1 / n)``;

    plus ``penalty()`` if given (e.g. an L2 term), calls ``backward()`` on it, which *adds* to every
    parameter's ``.grad``, and returns the loss's number. It neither zeroes gradients nor updates
    parameters: the training loop does that around it.

    `replay` chooses how the step runs, with the same numbers bit for bit:

    * ``None``: eager, a new graph every call;
    * ``"python"``: `microgradcn.replay.trace` records the graph on the first call (per shape of the
      data, up to `cache_size` shapes) and replays it as generated Python;
    * ``"numpy"``: one sample's graph recorded once and replayed over the whole batch with numpy
      (needs ``per_sample=True``).

    Replay needs `params`, the parameters whose gradients the step fills; the returned step is then a
    `microgradcn.replay.Trace` (its ``records`` and ``retraces`` count recordings).
    """
    if replay not in (None,) + REPLAY_BACKENDS:
        raise ValueError(f"replay must be None (eager), 'python' or 'numpy', got {replay!r}")
    if not callable(loss_fn):
        raise TypeError(f"make_step needs a callable loss function, got {type(loss_fn).__name__}")
    if replay == "numpy" and not per_sample:
        raise ValueError("replay='numpy' replays one sample's graph over a batch: it needs per_sample=True")

    def loss_of(*data: Any) -> Value:
        if per_sample:
            X, y = data
            n = len(y)
            if n == 0:
                raise ValueError("a mini-batch needs at least one sample, got an empty batch")
            loss = cast(Value, sum(loss_fn(x, t) for x, t in zip(X, y)) * (1.0 / n))  # as eager: 0 + l0 + l1 ...
        else:
            loss = loss_fn(*data)
        return loss + penalty() if penalty is not None else loss

    if replay is None:
        def step(*data: Any) -> float:
            loss = loss_of(*data)
            loss.backward()
            return float(loss.data)

        return step
    if params is None:
        raise ValueError(f"replay={replay!r} needs params: the parameters whose gradients the step fills")
    from .replay import trace

    if replay == "numpy":
        return trace(loss_fn, params, backend="numpy", penalty=penalty, cache_size=cache_size)
    return trace(loss_of, params, cache_size=cache_size)


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

    task.model.eval()
    with no_grad():
        outputs = [task.model(x) for x in task.inputs]
    return task.accuracy_fn(outputs, task.targets)


# ------------------------------------------------------------ mini-batches
StepFn = Callable[[np.ndarray, np.ndarray], float]  # a per-batch step: step(X_batch, y_batch) -> loss
SampleLoss = Callable[[Any, Any], Value]


def _target(t: Any) -> Any:
    # numpy scalars (np.int64 labels) become Python numbers.
    return t.item() if isinstance(t, np.generic) else t


def make_sample_loss(model: Callable, loss_fn: Callable[[Any, Any], Value]) -> SampleLoss:
    """``sample_loss(x, t) = loss_fn(model(x), t)``: the loss of one sample, a scalar Value."""

    def sample_loss(x: Any, t: Any) -> Value:
        return loss_fn(model(x), _target(t))

    return sample_loss


def _label(output: Any) -> Any:
    """The predicted class: argmax of a list of logits (first on a tie); None for a single output."""
    if isinstance(output, (list, tuple)):
        scores = [v.data if isinstance(v, Value) else v for v in output]
        return scores.index(max(scores))
    return None


Evaluation = Tuple[float, float, np.ndarray]  # (mean loss, accuracy, predicted labels)


def evaluate(
    model: Any, loss_fn: Callable[[Any, Any], Value], X, y, replay: Optional[str] = None
) -> Evaluation:
    """``(mean loss, accuracy, predicted labels)`` of `model` on (X, y), in eval mode, without a graph.

    Accuracy is the argmax accuracy of list outputs (NaN for single-Value
    outputs, whose predictions are then returned as -1). The model's
    train/eval mode is restored afterwards. `replay` is how the forward
    passes run, with the same numbers bit for bit: None (eager, sample by
    sample), "numpy" (one sample recorded, the whole batch at once) or
    "python" (one sample recorded, replayed per sample); see `make_evaluator`,
    which keeps the recording for later calls.
    """
    return make_evaluator(model, loss_fn, replay=replay)(X, y)


def make_evaluator(
    model: Any, loss_fn: Callable[[Any, Any], Value], replay: Optional[str] = None
) -> Callable[[Any, Any], Evaluation]:
    """``evaluator(X, y)`` -> `evaluate`'s ``(mean loss, accuracy, predictions)``, its recording kept between calls.

    With `replay` ("numpy" or "python") the model's forward pass and the
    loss are recorded once (`microgradcn.replay.trace_forward`) and run on
    every later (X, y) of the same shape, such as the validation set after
    every epoch; the mean loss (summed sample by sample, in order, as eager
    does), the accuracy and the predictions equal eager evaluation's.
    """
    if replay not in (None,) + REPLAY_BACKENDS:
        raise ValueError(f"replay must be None (eager), 'python' or 'numpy', got {replay!r}")
    is_list: List[bool] = []  # whether the model returns a list of logits (seen at the first sample)

    def outputs(x: Any, t: Any) -> List[Value]:
        out = model(x)
        loss = loss_fn(out, _target(t))
        is_list[:] = [isinstance(out, (list, tuple))]
        return (list(out) if is_list[0] else [out]) + [loss]

    forward = None
    if replay is not None:
        from .replay import trace_forward

        forward = trace_forward(outputs, model.parameters(), backend=replay)

    def evaluator(X: Any, y: Any) -> Evaluation:
        was_training = model.training
        model.eval()
        try:
            if forward is not None:
                rows = forward(X, y)
            else:
                with no_grad():
                    rows = [tuple(v.data for v in outputs(x, t)) for x, t in zip(X, y)]
        finally:
            model.train(was_training)
        return _summary(rows, is_list[0] if is_list else False, y)

    return evaluator


def _summary(rows: List[Tuple[Any, ...]], is_list: bool, y: Any) -> Evaluation:
    """Each sample's (outputs..., loss) numbers -> (mean loss, accuracy, predictions), as eager evaluation sums."""
    if not rows:
        raise ValueError("evaluate needs at least one sample, got none")
    total = 0.0
    labels = []
    for row in rows:
        total += float(row[-1])  # in order, from 0.0: the same float sum as eager evaluation's
        label = _label(list(row[:-1])) if is_list else None
        labels.append(-1 if label is None else label)
    preds = np.asarray(labels)
    acc = accuracy(preds, np.asarray(y)) if not (preds == -1).all() else float("nan")
    return total / len(labels), acc, preds


@dataclass
class EpochHistory:
    """Per-epoch figures of `fit_batches`.

    `loss` is the mean training loss of each epoch's batches (in training
    mode, as the optimiser saw it). `val_loss` / `val_accuracy` are measured
    after each epoch in eval mode; `train_eval_loss` / `train_accuracy` too
    when ``evaluate_train=True``. `best_epoch` (1-based) has the lowest
    validation loss; with early stopping the model ends with its weights.
    """

    loss: List[float] = field(default_factory=list)
    val_loss: List[float] = field(default_factory=list)
    val_accuracy: List[float] = field(default_factory=list)
    train_eval_loss: List[float] = field(default_factory=list)
    train_accuracy: List[float] = field(default_factory=list)
    batch_loss: List[float] = field(default_factory=list)
    best_epoch: Optional[int] = None
    stopped_early: bool = False
    seconds: float = 0.0  # wall clock, evaluation included
    train_seconds: float = 0.0  # wall clock of the batches only (steps and updates)
    train_cpu_seconds: float = 0.0  # CPU time of this process during the batches

    @property
    def epochs(self) -> int:
        return len(self.loss)


def fit_batches(
    model: Any,
    loss_fn: Callable[[Any, Any], Value],
    optimizer: optim.Optimizer,
    train_loader: DataLoader,
    epochs: int,
    val: Optional[Tuple[Any, Any]] = None,
    early_stopping: Optional[int] = None,
    progress: bool = False,
    step_fn: Optional[StepFn] = None,
    penalty: Optional[Callable[[], Value]] = None,
    evaluate_train: bool = False,
    desc: str = "train",
    replay: Optional[str] = None,
) -> EpochHistory:
    """Mini-batch training for `epochs` epochs; returns the `EpochHistory`.

    Each batch: ``optimizer.zero_grad()``, ``loss = step_fn(X_batch, y_batch)``
    (forward and backward; default ``make_step(make_sample_loss(model, loss_fn), model.parameters(),
    replay=replay, per_sample=True, penalty=penalty)``: `replay` None (eager), "python" or "numpy"),
    ``optimizer.step()``. `loss_fn(output, target)` is the loss of ONE sample
    (e.g. ``functional.cross_entropy`` with a class index). After each epoch
    the model is evaluated on `val` = (X_val, y_val) if given (`evaluate`, with
    the same `replay`: the forward pass recorded once, the same numbers).

    `early_stopping` = patience: stop once the validation loss has not
    improved for that many epochs, and put back the weights of the best
    epoch. With `progress`, a tqdm bar counts batches and shows the losses.
    """
    _check_epochs(epochs, early_stopping, val, train_loader)
    if step_fn is not None and (replay is not None or penalty is not None):
        raise ValueError("give either step_fn or replay=/penalty= (they build the default step), not both")
    step = step_fn if step_fn is not None else make_step(
        make_sample_loss(model, loss_fn), model.parameters(), replay=replay, per_sample=True, penalty=penalty)
    evaluator = make_evaluator(model, loss_fn, replay=replay)
    history = EpochHistory()
    bar = Progress(epochs * len(train_loader), desc, progress, unit="batch")
    best_loss, best_state, waited = float("inf"), None, 0
    start = time.perf_counter()
    model.train()
    try:
        for epoch in range(1, epochs + 1):
            _train_epoch(step, optimizer, train_loader, history, bar)
            postfix = {"loss": f"{history.loss[-1]:.4f}"}
            if evaluate_train:
                t_loss, t_acc, _ = evaluator(train_loader.X, train_loader.y)
                history.train_eval_loss.append(t_loss)
                history.train_accuracy.append(t_acc)
            if val is not None:
                v_loss, v_acc, _ = evaluator(val[0], val[1])
                history.val_loss.append(v_loss)
                history.val_accuracy.append(v_acc)
                postfix.update(val_loss=f"{v_loss:.4f}", val_acc=f"{v_acc:.1%}")
                if v_loss < best_loss:
                    best_loss, waited, history.best_epoch = v_loss, 0, epoch
                    if early_stopping is not None:
                        best_state = model.state_dict()
                else:
                    waited += 1
            bar.show(**postfix)
            if early_stopping is not None and waited >= early_stopping:
                history.stopped_early = True
                break
        if best_state is not None and history.best_epoch != history.epochs:
            model.load_state_dict(best_state)
    finally:
        history.seconds = time.perf_counter() - start
        bar.close()
    return history


def _check_epochs(epochs: Any, early_stopping: Any, val: Any, train_loader: Any) -> None:
    """`fit_batches`' argument checks."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative int, got {epochs!r}")
    if early_stopping is not None:
        if isinstance(early_stopping, bool) or not isinstance(early_stopping, int) or early_stopping < 1:
            raise ValueError(f"early_stopping (patience in epochs) must be a positive int, got {early_stopping!r}")
        if val is None:
            raise ValueError("early_stopping needs a validation set: pass val=(X_val, y_val)")
    if not isinstance(train_loader, DataLoader):
        raise TypeError(f"train_loader must be a microgradcn.data.DataLoader, got {type(train_loader).__name__}")


def _train_epoch(step: StepFn, optimizer: optim.Optimizer, train_loader: DataLoader, history: "EpochHistory",
                 bar: Progress) -> None:
    """One pass over `train_loader`: a step per batch; the epoch's mean loss and times go into `history`."""
    total, count = 0.0, 0
    wall, cpu = time.perf_counter(), time.process_time()
    for X_batch, y_batch in train_loader:
        optimizer.zero_grad()
        loss = step(X_batch, y_batch)
        optimizer.step()
        history.batch_loss.append(loss)
        total += loss * len(y_batch)
        count += len(y_batch)
        bar.advance()
    history.train_seconds += time.perf_counter() - wall
    history.train_cpu_seconds += time.process_time() - cpu
    history.loss.append(total / count)


# ------------------------------------------------------------ digits task
@dataclass(frozen=True)
class DigitsConfig:
    """How `train_digits` trains one kind of model."""

    epochs: int
    lr: float
    batch_size: int
    input_shape: Tuple[int, ...]  # of one sample, as the model reads it


DIGITS_MODELS: Dict[str, DigitsConfig] = {
    # Linear(64, 32) -> ReLU -> Linear(32, 10)
    "mlp": DigitsConfig(epochs=10, lr=0.01, batch_size=16, input_shape=(64,)),
    # Conv2d(1, 8, 3) -> ReLU -> MaxPool2d(2, stride=1) -> Flatten -> Linear(200, 10)
    "cnn": DigitsConfig(epochs=12, lr=0.01, batch_size=16, input_shape=(1, 8, 8)),
}


def digits_model(kind: str = "cnn", seed: int = 0) -> Any:
    """The digits networks (PyTorch's default initialisation), seeded.

    * ``mlp``: Linear(64, 32) → ReLU → Linear(32, 10), 2,410 parameters.
    * ``cnn``: Conv2d(1, 8, 3) → ReLU → MaxPool2d(2, stride=1) → Flatten → Linear(200, 10):
      8 filters of 3x3 make 8 maps of 6x6, pooling keeps the largest of each
      2x2 window (5x5), and one linear layer reads the 200 numbers; 2,090 parameters.
    """
    from .nn import Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential

    rng = np.random.default_rng(seed)
    if kind == "mlp":
        return Sequential(Linear(64, 32, rng=rng), ReLU(), Linear(32, 10, rng=rng))
    if kind == "cnn":
        return Sequential(Conv2d(1, 8, 3, rng=rng), ReLU(), MaxPool2d(2, stride=1), Flatten(), Linear(200, 10, rng=rng))
    raise ValueError(f"unknown digits model {kind!r}; expected 'mlp' or 'cnn'")


@dataclass
class DigitsRun:
    """Everything `train_digits` produced."""

    kind: str
    model: Module
    history: EpochHistory
    test_accuracy: float
    test_predictions: np.ndarray
    y_test: np.ndarray
    train_samples: int
    nodes_per_sample: int
    seconds: float  # training and evaluation, wall clock

    @property
    def ms_per_sample(self) -> float:
        """Wall-clock training time per sample visited (forward, backward and update; evaluation excluded)."""
        return 1000.0 * self.history.train_seconds / max(1, self.history.epochs * self.train_samples)

    @property
    def cpu_ms_per_sample(self) -> float:
        """The same in CPU time of this process (what a benchmark on a shared machine should compare)."""
        return 1000.0 * self.history.train_cpu_seconds / max(1, self.history.epochs * self.train_samples)


def train_digits(
    kind: str = "cnn",
    epochs: Optional[int] = None,
    seed: int = 0,
    progress: bool = False,
    subset: Optional[int] = None,
    early_stopping: Optional[int] = None,
    replay: Optional[str] = None,
    eval_subset: Optional[int] = None,
) -> DigitsRun:
    """Train the `kind` model ("mlp" or "cnn") on the handwritten digits; evaluate it on the test set.

    Adam with lr decaying linearly to 0, mini-batches of 16, softmax
    cross-entropy, validation after every epoch; everything seeded by `seed`.
    `subset` trains on only the first `subset` training images (for quick
    runs); `eval_subset` validates and tests on only the first `eval_subset`
    validation and test images. `replay` is how each step and each evaluation runs (see
    `make_step` and `evaluate`): None (eager), "python" or "numpy", the same numbers in
    every case. Needs scikit-learn (the ``data`` extra).
    """
    from .engine import topological_order

    if kind not in DIGITS_MODELS:
        raise ValueError(f"unknown digits model {kind!r}; expected 'mlp' or 'cnn'")
    config = DIGITS_MODELS[kind]
    epochs = config.epochs if epochs is None else epochs
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    for name, n in (("subset", subset), ("eval_subset", eval_subset)):
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise ValueError(f"{name} must be a positive int, got {n!r}")
    start = time.perf_counter()
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = datasets.digits(seed=seed)
    X_train, y_train = X_train[:subset], y_train[:subset]  # [:None] is everything
    X_val, y_val, X_test, y_test = X_val[:eval_subset], y_val[:eval_subset], X_test[:eval_subset], y_test[:eval_subset]

    def shape(X: np.ndarray) -> np.ndarray:
        return X.reshape((len(X),) + config.input_shape)

    model = digits_model(kind, seed=seed)
    loader = DataLoader(shape(X_train), y_train, batch_size=config.batch_size, shuffle=True, seed=seed)
    total_steps = epochs * len(loader)
    lr0 = config.lr
    opt = optim.Adam(model.parameters(), lr=lambda k: lr0 * (1.0 - k / total_steps))
    sample_loss = make_sample_loss(model, F.cross_entropy)
    nodes = len(topological_order(sample_loss(shape(X_train[:1])[0], y_train[0])))
    model.zero_grad()
    history = fit_batches(model, F.cross_entropy, opt, loader, epochs, val=(shape(X_val), y_val),
                          early_stopping=early_stopping, progress=progress, replay=replay, desc=f"digits {kind}")
    _, test_acc, preds = evaluate(model, F.cross_entropy, shape(X_test), y_test, replay=replay)
    return DigitsRun(kind, model, history, test_acc, preds, y_test, len(y_train), nodes,
                     time.perf_counter() - start)
