"""Deep graphs, freeing by reference counting alone, and the scoped collector pause."""

import gc
import subprocess
import sys
import warnings
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
    with warnings.catch_warnings():  # the walk reaches every loaded module: torch's deprecated names warn when touched
        warnings.simplefilter("ignore", FutureWarning)
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


class Cycle:
    """A piece of cyclic garbage that counts how many of its kind are alive."""

    alive = 0

    def __init__(self):
        Cycle.alive += 1
        self.me = self

    def __del__(self):
        Cycle.alive -= 1


@pytest.fixture
def cycles():
    gc.collect()
    Cycle.alive = 0
    yield Cycle
    gc.collect()


def test_young_collections_skip_a_growing_graph_and_backward_gives_everything_back():
    y = grow(Value(1.0) * 2)
    assert gc.get_freeze_count() > 0 and gc.isenabled() and gc.get_threshold() == DEFAULT
    y.backward()
    assert gc.get_freeze_count() == 0 and not _collector.resting


def test_a_kept_graph_ends_up_where_young_collections_do_not_scan_it():
    y = grow(Value(1.0), 10_000)
    y.backward()
    young = [o for o in gc.get_objects(0) + gc.get_objects(1) if type(o) is Value]
    assert len(young) <= gc.get_threshold()[0]  # at most the nodes made since the last young collection
    del y


def test_plain_cyclic_garbage_made_while_a_graph_is_kept_is_freed_by_pythons_own_collections(cycles):
    kept = grow(Value(1.0))
    kept.backward()
    for _ in range(30_000):
        Cycle()
    assert cycles.alive < 3_000  # without gc.collect(): young collections found them
    del kept


def test_cycles_are_freed_while_a_graph_that_never_ran_backward_is_kept(cycles):
    kept = grow(Value(1.0))  # drawn or printed, never differentiated
    assert gc.get_freeze_count() > 0
    for _ in range(30_000):
        Cycle()
    assert cycles.alive < 3_000 and gc.get_freeze_count() == 0  # the pause ended once the graph stopped growing
    del kept


def test_cycles_made_inside_many_small_training_steps_are_freed_as_without_the_measure(cycles):
    kept = grow(Value(1.0))
    kept.backward()
    w = [Value(0.5) for _ in range(10)]

    def train():
        gc.collect()
        Cycle.alive = 0
        for i in range(5_000):
            y = Value(float(i % 7))
            for j in range(60):
                y = y * w[j % 10] + 0.1
            Cycle()
            y.backward()
        return Cycle.alive

    set_gc_pause(False)
    try:
        without = train()
    finally:
        set_gc_pause(True)
    with_pause = train()
    assert with_pause <= without + 500 and gc.get_freeze_count() == 0  # the old design kept all 5,000
    del kept


def test_what_is_held_aside_is_bounded_even_if_every_young_collection_sees_a_growing_graph(cycles, monkeypatch):
    monkeypatch.setattr(_collector, "HOLD_AT_MOST", 20_000)
    for _ in range(100):
        y = grow(Value(1.0), 3_000)  # forward only, as in evaluation: the pause never ends by itself
        Cycle()
    assert cycles.alive < 50
    del y


def test_a_long_lived_graph_and_many_dropped_small_graphs_leak_nothing():
    kept = grow(Value(1.0))
    kept.backward()

    def values_alive():
        return sum(type(o) is Value for o in gc.get_objects())

    def steps(n):
        for i in range(n):
            x = Value(float(i))
            y = (x * x + x).tanh() * 3
            y.backward()

    steps(200)
    before = values_alive()
    steps(3_000)
    assert values_alive() <= before and gc.get_freeze_count() == 0
    del kept


def test_after_backward_an_optimisers_step_pays_no_full_collection():
    from microgradcn.nn import MLP
    from microgradcn.optim import SGD

    model = MLP(2, [16, 16, 1], seed=0)
    opt = SGD(model.parameters(), lr=0.1)
    full = []

    def watch(phase, info):
        if phase == "start" and info["generation"] == 2:
            full.append(info)

    for _ in range(3):
        loss = sum((1 + -1.0 * model([0.1 * i, -0.2 * i])).relu() for i in range(50))
        opt.zero_grad()
        loss.backward()
        gc.callbacks.append(watch)
        try:
            opt.step()
        finally:
            gc.callbacks.remove(watch)
    assert full == []


PLOTS = """
import resource, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
if sys.argv[1] == "graph":
    from microgradcn import Value
    x = Value(2.0); loss = (x * x).tanh(); loss.backward()      # a 3-node graph, kept
for i in range(100):
    fig, ax = plt.subplots(); ax.plot(range(100)); fig.canvas.draw(); plt.close(fig)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.mark.slow
def test_plotting_with_a_graph_kept_uses_the_memory_it_uses_without_microgradcn():
    pytest.importorskip("matplotlib")
    pytest.importorskip("resource")

    def peak(mode):
        done = subprocess.run([sys.executable, "-c", PLOTS, mode], capture_output=True, text=True, check=True)
        return int(done.stdout.split()[-1])

    without, with_graph = peak("none"), peak("graph")
    assert with_graph <= 1.5 * without, (without, with_graph)


def test_gc_collect_still_finds_your_cycles_while_a_graph_grows():
    y = grow(Value(1.0))
    c = Cycle()
    probe = weakref.ref(c)
    del c
    gc.collect()
    assert probe() is None
    del y


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


def test_ending_the_pause_inside_a_collection_skips_no_other_callback():
    y = grow(Value(1.0))
    seen = []

    def mine(phase, info):
        seen.append(phase)

    gc.callbacks.append(mine)
    try:
        junk = [[] for _ in range(5 * gc.get_threshold()[0])]  # young collections that end the pause
    finally:
        gc.callbacks.remove(mine)
    assert seen.count("start") == seen.count("stop") > 0 and not _collector.resting
    del junk, y
