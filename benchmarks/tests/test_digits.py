"""The digits benchmark: one row per way of making the step, every row training exactly eager's model."""

import pytest

from benchmarks import digits

pytest.importorskip("sklearn", reason="the digits come from scikit-learn (the data extra)")


def test_digits_rows_train_the_same_model_in_every_mode():
    rows = [digits.row("mlp", mode, epochs=1, subset=8, eval_subset=16) for mode in digits.MODES]
    assert [r["mode"] for r in rows] == ["eager", "replay-python", "replay-numpy"]
    for r in rows:
        assert set(r) == {"mode", "model", "ms_per_sample", "wall_ms_per_sample", "nodes_per_sample",
                          "test_accuracy", "test_images", "epochs", "train_samples", "seconds"}
        assert r["nodes_per_sample"] == 7_287 and r["test_images"] == 16 and r["train_samples"] == 8
        assert r["ms_per_sample"] > 0
    assert len({r["test_accuracy"] for r in rows}) == 1  # replayed training reaches exactly eager's model


def test_digits_forecast_scales_first_steps_by_the_counts():
    quick = digits._forecast(("mlp",), digits.MODES, 1, 64, 64, seed=0)
    full = digits._forecast(("mlp",), digits.MODES, None, None, None, seed=0)
    assert 0 < quick < full
