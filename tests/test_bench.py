"""The benchmarks run, are deterministic, and the engine matches the float baseline.

No timing is asserted anywhere: only that the code runs and the numbers agree.
"""

import json
import math

import pytest

from microgradcn import Value, bench, topological_order
from microgradcn.bench import baseline, moons
from microgradcn.cli import main as cli_main


def test_moons_data_is_deterministic_and_labelled_plus_minus_one():
    X1, y1 = bench.make_moons()
    X2, y2 = bench.make_moons()
    assert X1 == X2 and y1 == y2
    assert len(X1) == 100 and all(len(row) == 2 for row in X1)
    assert sorted(set(y1)) == [-1.0, 1.0] and y1.count(1.0) == 50


def test_one_moons_step_has_micrograds_node_count():
    X, y = bench.make_moons()
    root = bench.moons_graph(bench.make_model(), X, y)
    assert len(topological_order(root)) == bench.MOONS_NODES_PER_STEP == 65_818


def test_engine_and_baseline_train_to_the_same_losses():
    X, y = bench.make_moons()
    model = bench.make_model()
    initial = bench.model_weights(model)
    engine_run = bench.train_moons(model, X, y, steps=4)
    baseline_run = bench.train_baseline(initial, X, y, steps=4)
    assert len(engine_run.losses) == 4
    for a, b in zip(engine_run.losses, baseline_run.losses):
        assert abs(a - b) <= 1e-9
    assert engine_run.losses == baseline_run.losses  # same arithmetic, same order: bit for bit
    assert engine_run.accuracy == baseline_run.accuracy
    assert engine_run.losses[-1] < engine_run.losses[0]


def test_baseline_gradients_equal_the_engines_at_every_step():
    X, y = bench.make_moons()
    model = bench.make_model()
    params = model.parameters()
    W = [rows for rows, _ in bench.model_weights(model)]
    B = [biases for _, biases in bench.model_weights(model)]
    for k in range(6):
        loss = bench.moons_graph(model, X, y)
        for p in params:
            p.grad = 0
        loss.backward()
        total, correct, gW, gB = bench.baseline_step(W, B, X, y)
        flat = [g for grows, gbias in zip(gW, gB) for grow, gb in zip(grows, gbias) for g in (*grow, gb)]
        assert total == loss.data
        assert flat == [p.grad for p in params]  # ==, not approx: the engine's order of accumulation
        assert any(g != 0 for g in flat)
        lr = 1.0 - 0.9 * k / 100
        for p in params:
            p.data -= lr * p.grad
        W = [rows for rows, _ in bench.model_weights(model)]
        B = [biases for _, biases in bench.model_weights(model)]


def test_eager_and_baseline_taking_turns_give_both_rows_bit_for_bit():
    X, y = bench.make_moons()
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
    report = bench.run_moons(steps=3, repeats=1, competitors=False)
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
    X, y = bench.make_moons()
    eager = moons.run_eager(X, y, 2)
    other = moons.run_baseline(X, y, 2)
    assert other.losses == eager.losses and other.grads == eager.all_grads[-1]
    other.grads[5] += 1e-17 if other.grads[5] == 0 else abs(other.grads[5]) * 1e-15
    assert other.grads != eager.all_grads[-1]  # what run_moons checks for bit_identical_to_eager


def test_torch_rows_agree_with_eager():
    pytest.importorskip("torch")
    X, y = bench.make_moons()
    eager = moons.run_eager(X, y, 3)
    batched = moons.run_torch_batched(X, y, 3)
    assert batched.losses == pytest.approx(eager.losses, rel=1e-12)
    assert batched.grads == pytest.approx(eager.grads, rel=1e-9, abs=1e-15)
    scalar = moons.run_torch_scalar(X, y, 1)
    assert scalar.losses == eager.losses[:1]  # the same scalar operations in the same order
    assert scalar.grads == pytest.approx(eager.all_grads[0], rel=1e-12, abs=1e-15)


def test_micrograd_row_matches_eager_when_installed():
    pytest.importorskip("micrograd")
    X, y = bench.make_moons()
    row = moons.run_micrograd(X, y, 1)
    assert row.losses == moons.run_eager(X, y, 1).losses


def test_engine_runs_are_bit_identical():
    X, y = bench.make_moons()
    first = bench.train_moons(bench.make_model(), X, y, steps=2)
    second = bench.train_moons(bench.make_model(), X, y, steps=2)
    assert first.losses == second.losses


def test_chain_gradient_is_right():
    result = bench.run_chain(2_000)
    assert result["ops"] == 4_000
    assert result["grad_rel_error"] < 1e-12


def test_wide_program_is_seeded_and_its_graph_differentiates():
    data, program = bench.wide_program(size=2_000, leaves=100)
    assert (data, program) == bench.wide_program(size=2_000, leaves=100)
    assert len(program) == 1_900
    root = bench.build_wide(data, program)
    root.backward()
    # every operation lies on the path from the first one to the root
    nodes = topological_order(root)
    assert sum(not v.is_leaf for v in nodes) == 1_900
    # Leaf gradients against forward-mode differentiation in plain floats (independent of backward).
    expected = _forward_mode_gradient(data, program)
    grads = {v.data: v.grad for v in nodes if v.is_leaf}  # leaf data are distinct uniform draws
    assert len(grads) > 50 and any(abs(g) > 1e-3 for g in expected)
    got = [grads.get(d, 0.0) for d in data]  # a leaf the root never reads has gradient 0
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def _forward_mode_gradient(data, program):
    """d root / d leaf_i for every leaf: each node carries (value, [∂value/∂leaf_i for all i])."""
    n = len(data)
    values = list(data)
    tangents = [[1.0 if i == k else 0.0 for i in range(n)] for k in range(n)]
    for func, i, j in program:
        x, dx = values[i], tangents[i]
        if j < 0:
            if func is Value.tanh:
                y = math.tanh(x)
                slope = 1 - y * y
            elif func is Value.sigmoid:
                y = 1 / (1 + math.exp(-x))
                slope = y * (1 - y)
            elif func is Value.relu:
                y, slope = (x, 1.0) if x > 0 else (0.0, 0.0)
            else:
                assert func is Value.__neg__
                y, slope = -x, -1.0
            values.append(y)
            tangents.append([slope * d for d in dx])
            continue
        z, dz = values[j], tangents[j]
        if func is Value.__add__:
            values.append(x + z)
            tangents.append([a + b for a, b in zip(dx, dz)])
        elif func is Value.__sub__:
            values.append(x - z)
            tangents.append([a - b for a, b in zip(dx, dz)])
        else:
            assert func is Value.__mul__
            values.append(x * z)
            tangents.append([z * a + x * b for a, b in zip(dx, dz)])
    return tangents[-1]


@pytest.mark.slow
def test_quick_cli_run_prints_every_workload_and_agrees(capsys):
    assert cli_main(["bench", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "65,818 nodes per step" in out
    assert "bit-identical to eager" in out and "flatness" in out and "opt.step" in out
    assert "chain:" in out and "wide:" in out


@pytest.mark.slow
def test_quick_moons_json_is_one_object_on_the_last_line(capsys):
    assert cli_main(["bench", "moons", "--quick", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["workload"] == "moons" and report["steps"] == 5
    assert set(report["record_s"]) == {"replay-python", "replay-numpy"}
    rows = report["rows"]
    for name in ("eager", "replay-python", "replay-numpy", "baseline"):
        assert rows[name]["bit_identical_to_eager"] is True
        assert rows[name]["final_loss"] == rows["eager"]["final_loss"]
    for name, module in (("micrograd", "micrograd"), ("torch-scalar", "torch"), ("torch-batched", "torch")):
        try:
            __import__(module)
        except ImportError:
            assert name not in rows
        else:
            assert name in rows and isinstance(rows[name]["bit_identical_to_eager"], bool)
    assert rows.get("torch-scalar", {}).get("steps", 2) == 2  # few steps: compared over those steps


def test_bench_rejects_unknown_workload():
    with pytest.raises(SystemExit):
        cli_main(["bench", "everything"])


def test_micrograd_comparison_is_skipped_when_absent(monkeypatch):
    import sys

    for name in ("micrograd", "micrograd.engine", "micrograd.nn"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import micrograd...` fail
    X, y = bench.make_moons()
    assert bench.run_micrograd(X, y, 1) is None


def test_flatness_and_collection_figures():
    flat = bench.run_flatness(small=200, large=2_000, repeats=1)
    assert flat["small_nodes"] == 200 and flat["large_nodes"] == 2_000
    assert flat["ratio"] == flat["large_ns_per_node"] / flat["small_ns_per_node"] > 0
    counts = bench.run_collections(steps=1)
    assert set(counts["collections"]) == {"forward", "backward", "opt.step"}
    assert counts["collections"]["opt.step"]["gen2"] == 0  # the step after backward() scans no graph


def test_collector_context_restores_the_users_setting():
    import gc

    was = gc.isenabled()
    try:
        gc.disable()
        with bench.collector(True):
            assert gc.isenabled()
        assert not gc.isenabled()
        gc.enable()
        with bench.collector(False):
            assert not gc.isenabled()
        assert gc.isenabled()
    finally:
        gc.enable() if was else gc.disable()
