"""The digits workload: train the MLP or the CNN on the handwritten digits and measure it.

One row per way of running a training step: ``eager`` (every step builds its
graph and runs backward through it), ``replay-python`` (the batch's graph
recorded once per batch size and replayed as generated Python) and
``replay-numpy`` (one sample's graph recorded once, replayed over the whole
batch with numpy), each made by ``train.make_step`` through
``train_digits(replay=...)``. Times are CPU seconds of this process spent in
the training batches (evaluation excluded), divided by the number of samples
visited; numpy's BLAS on one thread. Nothing here asserts a time.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

__all__ = ["row", "run", "show", "MODES"]

REPLAY = {"eager": None, "replay-python": "python", "replay-numpy": "numpy"}  # train_digits(replay=...) of a row


def row(kind: str = "cnn", mode: str = "eager", epochs: Optional[int] = None, seed: int = 0,
        subset: Optional[int] = None, eval_subset: Optional[int] = None) -> Dict[str, Any]:
    """Train `kind` ("mlp" or "cnn") with `mode` ("eager", "replay-python" or "replay-numpy"); one benchmark row.

    Keys: mode, model, ms_per_sample (CPU, training batches only, recordings included),
    wall_ms_per_sample, nodes_per_sample (the graph of one sample's loss, leaves
    included), test_accuracy, test_images, epochs, train_samples, seconds (wall, whole run).
    """
    from microgradcn.train import train_digits

    result = train_digits(kind, epochs=epochs, seed=seed, subset=subset, replay=REPLAY[mode], eval_subset=eval_subset)
    return {
        "mode": mode,
        "model": kind,
        "ms_per_sample": round(result.cpu_ms_per_sample, 3),
        "wall_ms_per_sample": round(result.ms_per_sample, 3),
        "nodes_per_sample": result.nodes_per_sample,
        "test_accuracy": result.test_accuracy,
        "test_images": len(result.y_test),
        "epochs": result.history.epochs,
        "train_samples": result.train_samples,
        "seconds": round(result.seconds, 2),
    }


MODES = ("eager", "replay-python", "replay-numpy")


# CPU time of a training sample in each mode, in eager training samples (rough, for the forecast only).
TRAIN_COST = {"eager": 1.0, "replay-python": 0.15, "replay-numpy": 0.05}
RECORD_COST = {"eager": 0.0, "replay-python": 400.0, "replay-numpy": 40.0}  # a recording, in eager training samples
VAL_IMAGES, TEST_IMAGES, TRAIN_IMAGES = 288, 360, 1149


def _first_sample_seconds(kind: str, seed: int) -> tuple:
    """(training, evaluation) CPU seconds of one sample of `kind`, eager: the first timed steps of the forecast."""
    import numpy as np

    from microgradcn import functional as F
    from microgradcn.engine import no_grad
    from microgradcn.train import DIGITS_MODELS, digits_model, make_sample_loss

    from .timing import clock

    model = digits_model(kind, seed=seed)
    x = np.zeros(DIGITS_MODELS[kind].input_shape)
    loss = make_sample_loss(model, F.cross_entropy)
    start = clock()
    loss(x, 0).backward()
    train = clock() - start
    start = clock()
    with no_grad():
        loss(x, 0)
    return train, clock() - start


def _forecast(models: tuple, modes: tuple, epochs: Optional[int], subset: Optional[int], eval_subset: Optional[int],
              seed: int) -> float:
    from microgradcn.train import DIGITS_MODELS

    from .timing import forecast

    seconds = 0.0
    shown = []
    for kind in models:
        train, evaluate = _first_sample_seconds(kind, seed)
        shown.append(f"{kind} {1000 * train:.0f} ms")
        n_epochs = epochs or DIGITS_MODELS[kind].epochs
        images = subset or TRAIN_IMAGES
        records = 1 + (images % DIGITS_MODELS[kind].batch_size != 0)  # a recording per batch size
        for mode in modes:
            seconds += train * (n_epochs * images * TRAIN_COST[mode] + records * RECORD_COST[mode])
            seconds += evaluate * (n_epochs * (eval_subset or VAL_IMAGES) + (eval_subset or TEST_IMAGES))
    return forecast("digits", seconds, f"a first training sample took {', '.join(shown)}; "
                    f"{len(modes)} modes x {len(models)} models")


def run(quick: bool = False, models: tuple = ("mlp", "cnn"), seed: int = 0,
        modes: tuple = MODES) -> Dict[str, Any]:
    """``{"workload": "digits", "quick": ..., "rows": {mode: {model: row}}}``; forecast first.

    Full trainings, or with `quick` 1 epoch on 64 images, validated and tested on 64 images.
    numpy's BLAS runs on one thread.
    """
    from .timing import one_thread

    epochs, subset, eval_subset = (1, 64, 64) if quick else (None, None, None)
    with one_thread():
        _forecast(models, modes, epochs, subset, eval_subset, seed)
        rows = {mode: {kind: row(kind, mode, epochs, seed, subset, eval_subset) for kind in models} for mode in modes}
    return {"workload": "digits", "quick": quick, "rows": rows}


def show(report: Dict[str, Any]) -> None:
    """Print the table of CPU ms per training sample."""
    from .timing import CLOCK

    quick = report["quick"]
    print(f"digits ({'quick: 1 epoch, 64 images, tested on 64' if quick else 'full training'}), "
          f"ms per training sample ({CLOCK})")
    for mode, per_model in report["rows"].items():
        for kind, r in per_model.items():
            print(f"  {mode:<14}{kind:<5}{r['ms_per_sample']:>9.2f} ms/sample{r['nodes_per_sample']:>9,} nodes/sample"
                  f"   test accuracy {r['test_accuracy']:.1%}")
