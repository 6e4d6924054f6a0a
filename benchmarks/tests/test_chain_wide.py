"""The chain and wide benchmarks: right gradients, seeded graphs, and the collector figures. No time is asserted."""

import math

import pytest

from benchmarks import chain, timing, wide
from microgradcn import Value, topological_order


def test_chain_gradient_is_right():
    result = chain.run_chain(2_000)
    assert result["ops"] == 4_000
    assert result["grad_rel_error"] < 1e-12


def test_wide_program_is_seeded_and_its_graph_differentiates():
    data, program = wide.wide_program(size=2_000, leaves=100)
    assert (data, program) == wide.wide_program(size=2_000, leaves=100)
    assert len(program) == 1_900
    root = wide.build_wide(data, program)
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


def test_flatness_and_collection_figures():
    flat = chain.run_flatness(small=200, large=2_000, repeats=1)
    assert flat["small_nodes"] == 200 and flat["large_nodes"] == 2_000
    assert flat["ratio"] == flat["large_ns_per_node"] / flat["small_ns_per_node"] > 0
    counts = chain.run_collections(steps=1)
    assert set(counts["collections"]) == {"forward", "backward", "opt.step"}
    assert counts["collections"]["opt.step"]["gen2"] == 0  # the step after backward() scans no graph


def test_collector_context_restores_the_users_setting():
    import gc

    was = gc.isenabled()
    try:
        gc.disable()
        with timing.collector(True):
            assert gc.isenabled()
        assert not gc.isenabled()
        gc.enable()
        with timing.collector(False):
            assert not gc.isenabled()
        assert gc.isenabled()
    finally:
        gc.enable() if was else gc.disable()
