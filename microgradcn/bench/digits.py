"""The digits workload: train the MLP or the CNN on the handwritten digits and measure it.

One row per way of running a training step. Here only ``eager`` (every step
builds its graph and runs backward through it); other rows (replayed steps)
plug in through `train_digits`'s `make_step_fn`. Times are CPU seconds of
this process spent in the training batches (evaluation excluded), divided by
the number of samples visited. Nothing here asserts a time.
"""

from __future__ import annotations

import json
import sys
from typing import Any

__all__ = ["eager_row", "main", "run"]


def eager_row(
    kind: str = "cnn", epochs: int | None = None, seed: int = 0, subset: int | None = None
) -> dict[str, Any]:
    """Train `kind` ("mlp" or "cnn") eagerly; return its figures as a dict (one benchmark row).

    Keys: mode, model, ms_per_sample (CPU), wall_ms_per_sample, nodes_per_sample
    (the graph of one sample's loss, leaves included), test_accuracy,
    test_images, epochs, train_samples, seconds (wall, whole run).
    """
    from ..train import train_digits

    result = train_digits(kind, epochs=epochs, seed=seed, subset=subset)
    return {
        "mode": "eager",
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


def run(quick: bool = False, models: tuple = ("mlp", "cnn"), seed: int = 0) -> list[dict[str, Any]]:
    """Eager rows for each model: the full training, or with `quick` 1 epoch on 64 images."""
    if quick:
        return [eager_row(kind, epochs=1, seed=seed, subset=64) for kind in models]
    return [eager_row(kind, seed=seed) for kind in models]


def main(quick: bool = False) -> int:
    """Print one JSON line: ``{"workload": "digits", "quick": ..., "rows": [...]}``."""
    try:
        rows = run(quick=quick)
    except ImportError as error:  # scikit-learn (the data extra) is missing
        print(f"microgradcn bench digits: {error}", file=sys.stderr)
        return 2
    print(json.dumps({"workload": "digits", "quick": quick, "rows": rows}, ensure_ascii=False))
    return 0
