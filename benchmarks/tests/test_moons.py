"""The moons benchmark runs, is deterministic, and the engine matches the float baseline and the competitors.

No timing is asserted anywhere: only that the code runs and the numbers agree.
"""

import json

import pytest

from benchmarks import baseline, moons
from microgradcn import Value, topological_order


def test_moons_data_is_deterministic_and_labelled_plus_minus_one():
    X1, y1 = moons.make_moons()
    X2, y2 = moons.make_moons()
    assert X1 == X2 and y1 == y2
    assert len(X1) == 100 and all(len(row) == 2 for row in X1)
    assert sorted(set(y1)) == [-1.0, 1.0] and y1.count(1.0) == 50


def test_one_moons_step_has_micrograds_node_count():
    X, y = moons.make_moons()
    root = moons.moons_graph(moons.make_model(), X, y)
    assert len(topological_order(root)) == moons.MOONS_NODES_PER_STEP == 65_818


def test_engine_and_baseline_train_to_the_same_losses():
    X, y = moons.make_moons()
    model = moons.make_model()
    initial = baseline.model_weights(model)
    engine_run = moons.train_moons(model, X, y, steps=4)
    baseline_run = baseline.train_baseline(initial, X, y, steps=4)
    assert len(engine_run.losses) == 4
    for a, b in zip(engine_run.losses, baseline_run.losses):
        assert abs(a - b) <= 1e-9
    assert engine_run.losses == baseline_run.losses  # same arithmetic, same order: bit for bit
    assert engine_run.accuracy == baseline_run.accuracy
    assert engine_run.losses[-1] < engine_run.losses[0]


def test_baseline_gradients_equal_the_engines_at_every_step():
    X, y = moons.make_moons()
    model = moons.make_model()
    params = model.parameters()
    W = [rows for rows, _ in baseline.model_weights(model)]
    B = [biases for _, biases in baseline.model_weights(model)]
    for k in range(6):
        loss = moons.moons_graph(model, X, y)
        for p in params:
            p.grad = 0
        loss.backward()
        total, correct, gW, gB = baseline.baseline_step(W, B, X, y)
        flat = [g for grows, gbias in zip(gW, gB) for grow, gb in zip(grows, gbias) for g in (*grow, gb)]
        assert total == loss.data
        assert flat == [p.grad for p in params]  # ==, not approx: the engine's order of accumulation
        assert any(g != 0 for g in flat)
        lr = 1.0 - 0.9 * k / 100
        for p in params:
            p.data -= lr * p.grad
        W = [rows for rows, _ in baseline.model_weights(model)]
        B = [biases for _, biases in baseline.model_weights(model)]


def test_eager_and_baseline_taking_turns_give_both_rows_bit_for_bit():
    X, y = moons.make_moons()
    eager, base = moons.run_eager_and_baseline(X, y, 3)
    assert (eager.name, base.name) == ("eager", "baseline")
    assert eager.losses == base.losses and len(eager.losses) == 3
    assert eager.grads == base.grads and any(g != 0 for g in base.grads)  # the last step's, every parameter
    assert eager.seconds > 0 and base.seconds > 0 and eager.timed_steps == base.timed_steps == 3
    alone = moons.run_baseline(X, y, 3)  # taking turns changes no number
    assert alone.losses == base.losses and alone.grads == base.grads


def test_baseline_adds_left_to_right_like_the_engine():
    # A compensated sum (CPython >= 3.12's sum() of floats, math.fsum) would give 1.0 here.
    assert baseline._sum([1e16, 1.0, -1e16], 0.0) == 0.0
    assert baseline._sequential_sum([1e16, 1.0, -1e16], 0.0) == 0.0
    assert baseline._sequential_sum([0.1, 0.2], 0.3) == (0.3 + 0.1) + 0.2


def test_moons_rows_are_bit_identical_and_shaped_for_json():
    report = moons.run_moons(steps=3, repeats=1, competitors=False)
    assert json.loads(json.dumps(report)) == report
    assert report["workload"] == "moons" and report["steps"] == 3
    assert set(report["rows"]) == {"eager", "replay-python", "replay-numpy", "baseline"}
    assert set(report["record_s"]) == {"replay-python", "replay-numpy"}
    final = report["rows"]["eager"]["final_loss"]
    assert isinstance(final, str) and float(final) > 0
    for name, row in report["rows"].items():
        assert set(row) == {"ms_per_step", "ratio_to_baseline", "final_loss", "bit_identical_to_eager",
                            "max_abs_loss_diff", "max_abs_grad_diff"}, name
        assert row["bit_identical_to_eager"] is True, name
        assert row["final_loss"] == final and row["max_abs_grad_diff"] == 0.0
    assert report["rows"]["baseline"]["ratio_to_baseline"] == 1.0


def test_a_row_that_differs_from_eager_is_flagged():
    X, y = moons.make_moons()
    eager = moons.run_eager(X, y, 2)
    other = moons.run_baseline(X, y, 2)
    assert other.losses == eager.losses and other.grads == eager.all_grads[-1]
    other.grads[5] += 1e-17 if other.grads[5] == 0 else abs(other.grads[5]) * 1e-15
    assert other.grads != eager.all_grads[-1]  # what run_moons checks for bit_identical_to_eager


def test_torch_rows_agree_with_eager():
    pytest.importorskip("torch")
    X, y = moons.make_moons()
    eager = moons.run_eager(X, y, 3)
    batched = moons.run_torch_batched(X, y, 3)
    assert batched.losses == pytest.approx(eager.losses, rel=1e-12)
    assert batched.grads == pytest.approx(eager.grads, rel=1e-9, abs=1e-15)
    scalar = moons.run_torch_scalar(X, y, 1)
    assert scalar.losses == eager.losses[:1]  # the same scalar operations in the same order
    assert scalar.grads == pytest.approx(eager.all_grads[0], rel=1e-12, abs=1e-15)


def test_micrograd_row_matches_eager_when_installed():
    pytest.importorskip("micrograd")
    X, y = moons.make_moons()
    row = moons.run_micrograd(X, y, 1)
    assert row.losses == moons.run_eager(X, y, 1).losses


def test_engine_runs_are_bit_identical():
    X, y = moons.make_moons()
    first = moons.train_moons(moons.make_model(), X, y, steps=2)
    second = moons.train_moons(moons.make_model(), X, y, steps=2)
    assert first.losses == second.losses


def test_micrograd_comparison_is_skipped_when_absent(monkeypatch):
    import sys

    for name in ("micrograd", "micrograd.engine", "micrograd.nn"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import micrograd...` fail
    X, y = moons.make_moons()
    assert moons.run_micrograd(X, y, 1) is None


def test_moons_loss_is_micrograds_demo_graph_node_for_node():
    # F.hinge + F.l2_penalty build exactly the expression micrograd's demo writes by hand.
    X, y = moons.make_moons(n=7)
    model = moons.make_model()
    params = model.parameters()
    rows = [[Value(a) for a in row] for row in X]
    ours = topological_order(moons.moons_loss(model, rows, y))
    by_hand = [(1 + -t * model(x)).relu() for x, t in zip(rows, y)]
    theirs = topological_order(sum(by_hand) * (1.0 / len(by_hand)) + 1e-4 * sum(p * p for p in params))
    assert len(ours) == len(theirs) > 7 * 337
    for a, b in zip(ours, theirs):
        assert (a.op, a.data) == (b.op, b.data)
        assert [p if p is None else (p.op, p.data) for p in a.parents] == \
            [p if p is None else (p.op, p.data) for p in b.parents]
    shared = {id(v) for v in rows[0]} | {id(p) for p in params}  # the same leaves, not copies
    assert shared <= {id(v) for v in ours}


def test_every_scalar_row_is_timed_by_one_loop_and_the_forecast_scales_a_first_step():
    X, y = moons.make_moons()
    first = moons.first_step_seconds()
    assert first > 0
    few = moons.forecast_seconds(first, 5, 1, 2, True, False)
    many = moons.forecast_seconds(first, 100, 3, 10, True, True)
    assert 0 < few < many
    row = moons.run_replay(X, y, 3, "numpy")
    assert row.record_s > 0 and row.timed_steps == 2  # the first call records; its time is apart
