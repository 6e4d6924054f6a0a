"""The digits workload: train the MLP or the CNN on the handwritten digits and measure it.

One row per way of running a training step: ``eager`` (every step builds its
graph and runs backward through it), ``replay-python`` (the batch's graph
recorded once per batch size and replayed as generated Python) and
``replay-numpy`` (one sample's graph recorded once, replayed over the whole
batch with numpy). Times are CPU seconds of
this process spent in the training batches (evaluation excluded), divided by
the number of samples visited. Nothing here asserts a time.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Dict, Optional

__all__ = ["row", "eager_row", "main", "run", "MODES"]


def _step_maker(mode: str) -> Any:
    """`train_digits`'s make_step_fn for a row: None (eager) or a traced step."""
    if mode == "eager":
        return None
    from ..replay import trace

    if mode == "replay-numpy":
        return lambda model, sample_loss: trace(sample_loss, model.parameters(), backend="numpy")

    def python_step(model: Any, sample_loss: Any) -> Any:
        def batch_loss(rows: Any, labels: Any) -> Any:
            total: Any = 0
            for x, t in zip(rows, labels):  # as eager's sum: 0 + l0 + l1 + ...
                total = total + sample_loss(x, t)
            return total * (1.0 / len(rows))

        return trace(batch_loss, model.parameters())

    return python_step


def row(kind: str = "cnn", mode: str = "eager", epochs: Optional[int] = None, seed: int = 0,
        subset: Optional[int] = None) -> Dict[str, Any]:
    """Train `kind` ("mlp" or "cnn") with `mode` ("eager", "replay-python" or "replay-numpy"); one benchmark row.

    Keys: mode, model, ms_per_sample (CPU, training batches only, recordings included),
    wall_ms_per_sample, nodes_per_sample (the graph of one sample's loss, leaves
    included), test_accuracy, test_images, epochs, train_samples, seconds (wall, whole run).
    """
    from ..train import train_digits

    result = train_digits(kind, epochs=epochs, seed=seed, subset=subset, make_step_fn=_step_maker(mode))
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


def eager_row(kind: str = "cnn", epochs: Optional[int] = None, seed: int = 0,
              subset: Optional[int] = None) -> Dict[str, Any]:
    """The eager row of `row`."""
    return row(kind, "eager", epochs, seed, subset)


MODES = ("eager", "replay-python", "replay-numpy")


def run(quick: bool = False, models: tuple = ("mlp", "cnn"), seed: int = 0,
        modes: tuple = MODES) -> Dict[str, Dict[str, Dict[str, Any]]]:
    """``{mode: {model: row}}`` for every mode and model: full trainings, or with `quick` 1 epoch on 64 images."""
    out: Dict[str, Dict[str, Dict[str, Any]]] = {}
    for mode in modes:
        out[mode] = {}
        for kind in models:
            out[mode][kind] = row(kind, mode, 1, seed, 64) if quick else row(kind, mode, seed=seed)
    return out


def main(quick: bool = False) -> int:
    """Print a table, then one JSON object on the last line: ``{"workload": "digits", "quick": ..., "rows": {...}}``."""
    try:
        rows = run(quick=quick)
    except ImportError as error:  # scikit-learn (the data extra) is missing
        print(f"microgradcn bench digits: {error}", file=sys.stderr)
        return 2
    print(f"digits ({'quick: 1 epoch, 64 images' if quick else 'full training'}), CPU ms per training sample")
    for mode, per_model in rows.items():
        for kind, r in per_model.items():
            print(f"  {mode:<14}{kind:<5}{r['ms_per_sample']:>9.2f} ms/sample{r['nodes_per_sample']:>9,} nodes/sample"
                  f"   test accuracy {r['test_accuracy']:.1%}")
    print(json.dumps({"workload": "digits", "quick": quick, "rows": rows}, ensure_ascii=False))
    return 0
