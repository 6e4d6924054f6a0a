"""Repeats that read computed values (a sequence's positions) against eager mode, bit for bit.

A step function is drawn as a short program run once per position of a
sequence: it reads the position's input, the parameters and a running
context computed outside it from the earlier positions (as attention reads
earlier keys), and ends in a `select` with the position's label (as
cross-entropy does). The loss is the mean over positions, so replay writes
the program once, as two functions that loop over the positions. Each drawn
step is called on fresh inputs and labels, with the parameters updated in
between, next to the same calls in eager mode.
"""

import math
from contextlib import contextmanager

import pytest
from hypothesis import given
from hypothesis import strategies as st

from microgradcn import Value, select
from microgradcn.replay import repeats, trace

N_PARAMS = 4
KINDS = ["add", "sub", "mul", "tanh", "relu", "max", "detach", "neg", "sigmoid", "scale", "exp_neg"]
NUMBERS = st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 2.0, -1.5, 0.25]) | st.floats(-2, 2, width=32)

instructions = st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 99), st.integers(0, 99)),
                        min_size=1, max_size=10)


def position(program, params, context, attended, scaled, label, shared=False):
    """One position's term: the drawn program over its inputs and the parameters."""
    nodes = [context, attended, scaled] + list(params)
    for kind, i, j in program:
        a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
        if kind in ("add", "sub", "mul", "max"):
            out = {"add": a + b, "sub": a - b, "mul": a * b, "max": a.max(b)}[kind]
        elif kind in ("tanh", "relu", "detach", "sigmoid"):
            out = getattr(a, kind)()
        elif kind == "neg":
            out = -a
        elif kind == "scale":
            out = a * 0.5
        else:
            out = (-(a * a)).exp()
        nodes.append(out)
    last = nodes[-3:]
    if shared:  # candidates that share inputs with each other: see the xfail test below
        return (-select([last[0] - last[1], last[1] * last[2], last[2] + params[2]], label)
                + scaled * attended).relu()
    last.append(params[2])
    total = last[0].tanh() + last[1].tanh() + last[2].tanh()  # (shared by the candidates, as a log-sum-exp)
    return (-select([c - total for c in last[1:]], label) + scaled * attended).relu()


def sequence_loss(program, params, xs, labels, shared=False):
    """The mean of the positions' terms.

    Computed outside the repeats, as a transformer computes keys and
    attention: position t's context sums the keys of positions 0..t, its
    attended value weighs them with a parameter (one more term per
    position: a part that differs from position to position), and its
    scaled input is read by its key too.
    """
    context = None
    keys, terms = [], []
    for x, label in zip(xs, labels):
        scaled = x * params[0]
        keys.append((params[3] * scaled).tanh())
        context = keys[-1] if context is None else context + keys[-1]
        attended = keys[0] * params[1]
        for key in keys[1:]:
            attended = attended + key * params[1]
        terms.append(position(program, params, context, attended, scaled, label, shared))
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total * (1.0 / len(terms))


def same(x, y):
    """Equal, NaN equal to NaN, and zeros of the same sign."""
    if x != x and y != y:
        return True
    return x == y and (x != 0 or math.copysign(1, x) == math.copysign(1, y))


@contextmanager
def repeats_of_small_graphs():
    """Repeats for small graphs too (they are written only from 2,000 nodes and 16 inner nodes up)."""
    limits = repeats.REPEAT_MIN_NODES, repeats.REPEAT_MIN_SIZE
    repeats.REPEAT_MIN_NODES, repeats.REPEAT_MIN_SIZE = 0, 1
    try:
        yield
    finally:
        repeats.REPEAT_MIN_NODES, repeats.REPEAT_MIN_SIZE = limits


@pytest.fixture
def small_repeats():
    with repeats_of_small_graphs():
        yield


calls = st.lists(st.tuples(st.lists(NUMBERS, min_size=4, max_size=4), st.lists(st.integers(0, 2), min_size=4,
                                                                                max_size=4)),
                 min_size=2, max_size=6)


@given(program=instructions, length=st.integers(2, 4), calls=calls,
       initial=st.lists(st.sampled_from([0.5, -1.0, 2.0, 0.75]), min_size=N_PARAMS, max_size=N_PARAMS))
def test_repeats_that_read_computed_values_equal_eager(program, length, calls, initial):
    with repeats_of_small_graphs():
        check_calls(program, length, calls, initial)


def check_calls(program, length, calls, initial, shared=False):
    eager_params = [Value(v) for v in initial]
    replay_params = [Value(v) for v in initial]
    step = trace(lambda xs, labels: sequence_loss(program, replay_params, xs, labels, shared), replay_params)
    for xs, labels in calls:
        xs, labels = xs[:length], labels[:length]
        for p in eager_params + replay_params:
            p.grad = 0
        loss = sequence_loss(program, eager_params, [Value(x) for x in xs], labels, shared)
        loss.backward()
        replayed = step(xs, labels)
        assert same(replayed, loss.data), (replayed, loss.data)
        for e, r in zip(eager_params, replay_params):
            assert same(r.grad, e.grad), ([p.grad for p in replay_params], [p.grad for p in eager_params])
            if math.isfinite(e.grad):
                e.data -= 0.05 * e.grad
                r.data -= 0.05 * r.grad
    assert step.records == 1 + step.retraces


def test_a_sequence_is_written_as_one_repeat_per_position(small_repeats):
    """The positions of the drawn kind of step do become repeats (the property above is not vacuous)."""
    program = [("mul", 0, 1), ("tanh", 7, 0), ("add", 8, 2), ("sigmoid", 9, 0)]
    params = [Value(v) for v in (0.5, -1.0, 2.0, 0.75)]
    step = trace(lambda xs, labels: sequence_loss(program, params, xs, labels), params)
    step([0.1, -0.2, 0.3], [0, 2, 1])
    assert step._latest[0].repeats == 3
    assert "for _saved" in step.source  # one loop over the positions


def test_the_gpt_step_is_written_once_per_position():
    """A GPT's loss is a mean over positions: each position's head and loss is one repeat."""
    from microgradcn.nn.transformer import GPT
    from microgradcn.text import CharTokenizer

    model = GPT(27, seed=0)
    step = trace(model.loss, model.parameters())
    step(CharTokenizer().encode("emma"))
    assert step._latest[0].repeats == 5  # [BOS] e m m a: five positions, five next-token losses



def test_a_label_that_would_change_eager_order_through_candidates_that_share_inputs_is_guarded():
    """Found by the property below: candidates that share some of their inputs (``a - b``, ``b * c``, ...).

    Whichever candidate the label picks decides what eager's backward loop
    visits next, so the order in which it adds gradient terms: such a
    select's label is guarded (a new label records afresh), and every call
    equals eager mode. No repeats here.
    """
    program = [("add", 0, 0), ("neg", 3, 0), ("add", 1, 44), ("add", 0, 0)]
    calls = [([0.0] * 4, [0] * 4), ([0.0] * 4, [0] * 4), ([0.0, 1.0, 0.0, 0.0], [0] * 4),
             ([1.0, 0.0, 0.0, 0.0], [0, 1, 0, 0])]
    check_calls(program, 3, calls, [0.5] * 4, shared=True)  # (the last bit of the first gradient differed)


@given(program=instructions, length=st.integers(2, 4), calls=calls,
       initial=st.lists(st.sampled_from([0.5, -1.0, 2.0, 0.75]), min_size=N_PARAMS, max_size=N_PARAMS))
def test_replay_equals_eager_with_candidates_that_share_inputs(program, length, calls, initial):
    with repeats_of_small_graphs():
        check_calls(program, length, calls, initial, shared=True)
