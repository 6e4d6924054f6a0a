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


def grow(y, n=3_000):
    for _ in range(n):  # enough tracked objects for several young collections
        y = y * 1.0 + 0.0
    return y


def test_young_collections_skip_a_living_graph_and_everything_is_given_back_when_it_is_dropped():
    x = Value(1.0)
    y = grow(x * 2)
    assert gc.get_freeze_count() > 0 and gc.isenabled() and gc.get_threshold() == DEFAULT
    y.backward()
    junk = [[] for _ in range(2_000)]  # an optimiser's step: its collections skip the living graph too
    assert gc.get_freeze_count() > 0
    del junk, y
    assert gc.get_freeze_count() == 0


def test_after_backward_the_next_allocations_do_not_scan_the_living_graph():
    scanned = []

    def count(phase, info):
        if phase == "stop":
            scanned.append(info["collected"])

    y = grow(Value(1.0))
    y.backward()
    before = gc.get_freeze_count()
    gc.callbacks.append(count)
    try:
        junk = [[] for _ in range(3 * gc.get_threshold()[0] + 100)]  # enough for young collections on any version
    finally:
        gc.callbacks.remove(count)
    assert scanned and gc.get_freeze_count() >= before  # collections ran, and found the graph frozen
    del junk, y


def test_gc_collect_still_finds_your_cycles_while_a_graph_lives():
    class Cycle:
        pass

    y = grow(Value(1.0))
    c = Cycle()
    c.me = c
    probe = weakref.ref(c)
    del c
    gc.collect()
    assert probe() is None
    del y


def test_your_cycles_made_while_a_graph_lives_are_collected_after_it_is_dropped():
    class Cycle:
        pass

    y = grow(Value(1.0), 500)
    c = Cycle()
    c.me = c
    probe = weakref.ref(c)
    del c
    y = grow(y, 3_000)  # young collections move the cycle aside with everything else
    del y
    gc.collect()
    assert probe() is None and gc.get_freeze_count() == 0


def test_no_grad_records_nothing_and_so_touches_nothing():
    with no_grad():
        y = Value(1.0) * 2
    assert y.is_leaf and not _collector.resting


def test_a_collector_the_user_turned_off_is_not_touched():
    gc.disable()
    try:
        y = grow(Value(1.0))
        assert gc.get_freeze_count() == 0 and not gc.isenabled()
        y.backward()
    finally:
        gc.enable()


def test_a_program_that_freezes_objects_itself_is_left_alone():
    gc.freeze()
    frozen = gc.get_freeze_count()
    try:
        y = grow(Value(1.0))
        del y
        assert gc.get_freeze_count() >= frozen  # we never unfreeze what you froze
        assert _before_collection_not_installed()
    finally:
        gc.unfreeze()


def _before_collection_not_installed():
    return _collector._before_collection not in gc.callbacks


def test_pause_can_be_switched_off():
    set_gc_pause(False)
    try:
        y = grow(Value(1.0))
        assert gc.get_freeze_count() == 0
        y.backward()
    finally:
        set_gc_pause(True)
    with pytest.raises(TypeError, match="True or False"):
        set_gc_pause("no")
    assert _collector.gc_pause_enabled()
