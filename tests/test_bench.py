"""The benchmarks run, are deterministic, and the engine matches the float baseline.

No timing is asserted anywhere: only that the code runs and the numbers agree.
"""

import math

import pytest

from microgradcn import Value, bench, topological_order
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
    assert "bit-identical" in out
    assert "chain:" in out and "wide:" in out


def test_bench_rejects_unknown_workload():
    with pytest.raises(SystemExit):
        cli_main(["bench", "everything"])


def test_micrograd_comparison_is_skipped_with_a_message_when_absent(capsys, monkeypatch):
    import sys

    for name in ("micrograd", "micrograd.engine", "micrograd.nn"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import micrograd...` fail
    assert bench.run_micrograd(1) is None
    assert bench._print_micrograd(None) is True
    assert "not installed" in capsys.readouterr().out


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
