"""backward()'s fast path (+ and * written out in the engine's loop) against the op table's rule alone.

`engine._chain_rule` applies + and * without calling ``op.local``; with
``table_only=True`` every node goes through the op table. Both must give the
same gradients: exactly on Fractions, and equal (==) on floats. A sign of
zero may differ: the fast path adds its first term to the starting 0.
"""

import random
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from microgradcn import Value, topological_order
from microgradcn.engine import _chain_rule


def random_graph(seed, size=300, leaves=12, data=None):
    """A random DAG of + - * relu neg and constants over Fraction leaves (or leaves holding `data`)."""
    rng = random.Random(seed)
    if data is None:
        data = [Fraction(rng.randint(-9, 9), rng.randint(1, 5)) for _ in range(leaves)]
    xs = [Value(x) for x in data]
    nodes = list(xs)
    for _ in range(size):
        a = rng.choice(nodes)
        b = rng.choice(nodes)
        kind = rng.randrange(7)
        if kind == 0:
            out = a + b
        elif kind == 1:
            out = a - b
        elif kind == 2:
            out = (a * b) * Fraction(1, 3)  # keeps numbers small
        elif kind == 3:
            out = a.relu()
        elif kind == 4:
            out = -a
        elif kind == 5:
            out = 2 + a
        else:
            out = a * a
        nodes.append(out)
    root = nodes[-1]
    for v in nodes[-40:-1]:
        root = root + v
    return xs, root


def table_rule_gradients(root, xs):
    """d root / d x for each x, every node's rule taken from the op table (no fast path)."""
    _chain_rule(root, create_graph=False, table_only=True)
    token = root._pass
    return [x._g if x._pass is token else 0 for x in xs]


@pytest.mark.parametrize("seed", range(20))
def test_backward_matches_the_table_rule_exactly_on_random_graphs(seed):
    xs, root = random_graph(seed)
    expected = table_rule_gradients(root, xs)
    root.backward()
    assert [x.grad for x in xs] == expected
    assert all(type(x.grad) in (int, Fraction) for x in xs)  # exact stays exact


@given(st.integers(0, 2 ** 32), st.integers(2, 60), st.lists(st.floats(-4, 4), min_size=6, max_size=6))
def test_the_fast_path_equals_the_table_rule_on_random_float_graphs(seed, size, data):
    xs, root = random_graph(seed, size=size, leaves=6, data=data)
    expected = table_rule_gradients(root, xs)
    root.backward()
    got = [x.grad for x in xs]
    assert all(g == e or (g != g and e != e) for g, e in zip(got, expected)), (got, expected)  # NaN is NaN


def test_leaves_accumulate_and_interior_nodes_reset_on_a_second_backward():
    x = Value(3)
    h = x * x  # interior, used twice
    y = h * h + h
    y.backward()
    assert h.grad == 2 * 9 + 1
    assert x.grad == (2 * 9 + 1) * 6
    y.backward()
    assert h.grad == 2 * 9 + 1  # latest pass only
    assert x.grad == 2 * (2 * 9 + 1) * 6  # accumulated


def test_a_leaf_used_by_many_nodes_collects_every_contribution():
    w = Value(Fraction(1, 2))
    total = Value(0)
    for k in range(1, 51):
        total = total + w * k
    total.backward()
    assert w.grad == sum(range(1, 51))


def test_failed_backward_leaves_the_graph_usable():
    x = Value(0.0)
    y = (x * 2).sqrt() + x * 3  # sqrt'(0) divides by zero in backward
    with pytest.raises(ValueError, match="sqrt"):
        y.backward()
    assert x.grad == 0  # all or nothing: the failed pass changed no gradient
    z = x * 3 + x
    z.backward()
    assert x.grad == 4


def test_backward_of_a_deep_chain_does_not_recurse():
    x = Value(1.0)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == 1.0


def test_topological_order_puts_every_node_after_its_users():
    xs, root = random_graph(3, size=200)
    order = topological_order(root)
    position = {id(v): i for i, v in enumerate(order)}
    assert len(position) == len(order)
    assert order[0] is root
    for v in order:
        for p in v.parents:
            assert position[id(p)] > position[id(v)]


SLOTS = ("data", "grad", "label", "_op", "_a", "_b", "_k", "_pass")


METHODS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
           "div": lambda a, b: a / b, "max": lambda a, b: a.max(b), "min": lambda a, b: a.min(b)}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_binary_methods_fill_a_node_exactly_as_the_one_constructor_does(name):
    """The binary methods build their node inline while no mode is on (engine._binary): the same slots."""
    from microgradcn import engine, no_grad
    from microgradcn.ops import OPS

    op = OPS[name]
    a, b = Value(1.5), Value(0.5)
    fast = METHODS[name](a, b)
    plain = engine._node(op.forward(1.5, 0.5), op, a, b)
    assert [getattr(fast, s) for s in SLOTS] == [getattr(plain, s) for s in SLOTS]
    assert fast._op is op and fast.parents == (a, b)
    reflected = METHODS[name](2, b) if name not in ("max", "min") else None
    if reflected is not None:  # 2 + b: the constant becomes the first parent
        assert reflected._a.data == 2 and reflected._b is b and reflected._op is op
    with no_grad():  # a mode is on: the method goes through the one constructor, which makes a leaf
        assert METHODS[name](a, b).is_leaf
