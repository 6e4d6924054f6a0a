"""Deep graphs, freeing by reference counting alone, and the scoped collector pause."""

import gc
import weakref

import pytest

from microgradcn import Value, _collector, grad, no_grad, set_gc_pause


@pytest.fixture(autouse=True)
def no_pause_left_over():
    """Start each test with no graph pause pending from an earlier test."""
    _collector.wake()
    yield
    _collector.wake()


def chain(n, start=1.0):
    x = Value(start)
    y = x
    for _ in range(n):
        y = y * 1.0001 + 0.1
    return x, y


@pytest.mark.slow
def test_backward_through_a_chain_of_a_million_nodes():
    x, y = chain(1_000_000)  # 2,000,000 op nodes deep, plus a constant leaf per op
    y.backward()
    assert x.grad == pytest.approx(1.0001 ** 1_000_000, rel=1e-8)
    del y  # freeing a deep chain must not overflow the C stack either


def test_graphs_are_freed_by_reference_counting_alone():
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        x = Value(2.0)
        y = (x * x).tanh() + x.exp() * 3
        probe = weakref.ref(y.parents[0])
        y.backward()
        (g,) = grad(y, [x], create_graph=True)
        del y, g
        assert probe() is None  # no cycle kept the interior node alive
    finally:
        if was_enabled:
            gc.enable()


def test_a_node_is_not_reachable_from_itself():
    x = Value(1.5)
    y = x.sigmoid() * x + x ** 2
    seen, stack = set(), list(gc.get_referents(y))
    while stack:
        obj = stack.pop()
        assert obj is not y
        if id(obj) in seen or isinstance(obj, type):
            continue
        seen.add(id(obj))
        stack.extend(gc.get_referents(obj))


DEFAULT = gc.get_threshold()
RAISED = (_collector.PAUSED_THRESHOLD,) + DEFAULT[1:]


def test_collection_is_less_frequent_while_a_graph_lives_and_restored_when_it_is_dropped():
    assert gc.get_threshold() == DEFAULT
    x = Value(1.0)
    y = x * 2
    assert gc.get_threshold() == RAISED and gc.isenabled()  # never switched off
    y.backward()
    assert gc.get_threshold() == RAISED  # the graph still lives: the optimiser's step must not scan it
    del y
    assert gc.get_threshold() == DEFAULT


def test_after_backward_the_next_allocations_do_not_scan_the_living_graph():
    collections = []

    def count(phase, info):
        if phase == "start":
            collections.append(info["generation"])

    x = Value(1.0)
    y = x
    for _ in range(5_000):
        y = y * 1.0 + 0.0
    y.backward()
    gc.callbacks.append(count)
    try:
        junk = [[] for _ in range(2_000)]  # tracked objects, as an optimiser's step allocates
    finally:
        gc.callbacks.remove(count)
    assert collections == [], collections
    del junk, y
    assert gc.get_threshold() == DEFAULT


def test_thresholds_restored_when_the_graph_is_dropped_unused():
    y = Value(1.0) * 2
    assert gc.get_threshold() == RAISED
    del y
    assert gc.get_threshold() == DEFAULT


def test_thresholds_restored_when_a_graph_that_failed_backward_is_dropped():
    y = Value(0.0).sqrt()
    with pytest.raises(ValueError):
        y.backward()
    del y
    assert gc.get_threshold() == DEFAULT


def test_no_grad_records_nothing_and_so_pauses_nothing():
    with no_grad():
        y = Value(1.0) * 2
        assert gc.get_threshold() == DEFAULT
    assert y.is_leaf


def test_a_collector_the_user_turned_off_is_not_touched():
    gc.disable()
    try:
        y = Value(1.0) * 2
        assert gc.get_threshold() == DEFAULT
        y.backward()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_thresholds_the_user_changed_meanwhile_are_kept():
    y = Value(1.0) * 2
    assert gc.get_threshold() == RAISED
    gc.set_threshold(5000, 10, 10)
    try:
        y.backward()
        del y
        assert gc.get_threshold() == (5000, 10, 10)
    finally:
        gc.set_threshold(*DEFAULT)


def test_a_higher_user_threshold_is_not_lowered():
    gc.set_threshold(500_000, *DEFAULT[1:])
    try:
        y = Value(1.0) * 2
        assert gc.get_threshold()[0] == 500_000
        y.backward()
        assert gc.get_threshold()[0] == 500_000
    finally:
        gc.set_threshold(*DEFAULT)


def test_pause_can_be_switched_off():
    set_gc_pause(False)
    try:
        y = Value(1.0) * 2
        assert gc.get_threshold() == DEFAULT
        y.backward()
    finally:
        set_gc_pause(True)
    with pytest.raises(TypeError, match="True or False"):
        set_gc_pause("no")
    assert _collector.gc_pause_enabled()
