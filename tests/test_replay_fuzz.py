"""Replay against eager mode on random step functions: every call equal bit for bit, or a fresh recording.

A step function is drawn as a short program over a few parameters, inputs
and an integer label: arithmetic, activations, ``max``/``min``, ``detach``,
`select` with the label, random numbers drawn through `modes.random_numbers`,
branches on data (on intermediates and on inputs, against int, float, numpy
scalar, Fraction and ±inf constants, and on Values that are not part of the
loss), ``float()`` of a Value, and the label used as a number: only the cases
the replay module's docstring says are checked. Each drawn step is called 5
to 20 times with fresh inputs (and parameters updated in between), on both
backends, next to the same calls in eager mode.
"""

import math
import random
from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from microgradcn import Value, modes, select
from microgradcn.replay import trace

N_PARAMS, N_INPUTS, N_CHOICES = 3, 3, 3
CONSTANTS = [0, 1, -1, 0.5, -0.25, np.float64(0.25), np.float32(-0.5), np.int64(0), Fraction(1, 3),
             math.inf, -math.inf]
KINDS = ["add", "sub", "mul", "tanh", "relu", "max", "min", "detach", "neg", "sigmoid", "leaky_relu", "scale",
         "branch", "branch_outside", "float", "select", "select_fresh", "random", "label", "compare"]
NUMBERS = st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 2.0, -1.5, 0.25]) | st.floats(-3, 3, width=32)
COMPARE = [lambda a, c: a > c, lambda a, c: a >= c, lambda a, c: a < c, lambda a, c: a <= c,
           lambda a, c: c < a, lambda a, c: c >= a]

instructions = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(0, 99), st.integers(0, 99), st.integers(0, 99),
              st.sampled_from(range(len(CONSTANTS))), st.sampled_from(range(len(COMPARE)))),
    min_size=1, max_size=14)


def build(program, params, xs, labels, gen):
    """The loss of one drawn step: `program` run on parameters, input Values and integer labels."""
    nodes = list(params) + [p * x for p, x in zip(params, xs)] + list(xs)
    pick = lambda i: nodes[i % len(nodes)]  # noqa: E731
    for kind, i, j, k, c, how in program:
        a, b, d, const, test = pick(i), pick(j), pick(k), CONSTANTS[c], COMPARE[how]
        if kind in ("add", "sub", "mul", "max", "min"):
            out = {"add": a + b, "sub": a - b, "mul": a * b, "max": a.max(b), "min": a.min(b)}[kind]
        elif kind in ("tanh", "relu", "detach", "sigmoid"):
            out = getattr(a, kind)()
        elif kind == "neg":
            out = -a
        elif kind == "leaky_relu":
            out = a.leaky_relu(0.1)
        elif kind == "scale":
            out = a * const if math.isfinite(const) else a * 0.5
        elif kind == "branch":  # on an intermediate or on an input
            out = b * d if test(a, const) else b + d
        elif kind == "branch_outside":  # on a Value that is not part of the loss
            out = b * d if test(a * 2, const) else b - d
        elif kind == "float":
            out = b * float(a)
        elif kind == "select":
            out = select([a, b, d], labels[0])
        elif kind == "select_fresh":  # candidates used by the select alone (as cross-entropy's log-probabilities)
            total = a.tanh() + b.tanh() + d.tanh()
            out = select([a - total, b - total, d - total], labels[0])
        elif kind == "random":
            drawn = modes.random_numbers(lambda: [gen.uniform(-1, 1) for _ in range(2)])  # noqa: B023
            out = a * drawn[0] + drawn[1]
        elif kind == "label":
            out = a * labels[0]
        else:  # two Values compared
            out = b if a > d else d
        nodes.append(out)
    loss = nodes[-1]
    for i, v in enumerate(nodes):  # every node is used once more: its gradient has several terms to add up
        loss = loss + v * (0.1 * (i + 1))
    return loss


def same(x, y):
    """Equal with ==, NaN equal to NaN."""
    return x == y or (x != x and y != y)


def check_calls(program, backend, calls, initial, lr=0.05):
    eager_params = [Value(v) for v in initial]
    replay_params = [Value(v) for v in initial]
    eager_gen, replay_gen = random.Random(7), random.Random(7)
    if backend == "python":
        step = trace(lambda xs, labels: build(program, replay_params, xs, labels, replay_gen), replay_params)
    else:
        step = trace(lambda x, t: build(program, replay_params, x, [t], replay_gen), replay_params, backend="numpy")
    for rows, labels in calls:
        for p in eager_params + replay_params:
            p.grad = 0
        if backend == "python":
            loss = build(program, eager_params, [Value(x) for x in rows[0]], labels[:1], eager_gen)
            loss.backward()
            replayed = step(rows[0], labels[:1])
        else:
            terms = [build(program, eager_params, [Value(x) for x in row], [t], eager_gen)
                     for row, t in zip(rows, labels)]
            loss = sum(terms) * (1.0 / len(terms))
            loss.backward()
            replayed = step(np.array(rows), np.array(labels))
        assert same(replayed, loss.data), (replayed, loss.data)
        for e, r in zip(eager_params, replay_params):
            assert same(r.grad, e.grad), ([p.grad for p in replay_params], [p.grad for p in eager_params])
            if math.isfinite(e.grad) and lr:
                e.data -= lr * e.grad
                r.data -= lr * r.grad
    if backend == "python":
        assert step.records == 1 + step.retraces  # one shape: every other recording is a failed guard
    else:
        assert step.records == 1  # a failed guard runs the batch in eager mode


row = st.lists(NUMBERS, min_size=N_INPUTS, max_size=N_INPUTS)


@st.composite
def call_lists(draw):
    """5 to 20 calls, each a batch of 1 to 4 (rows, labels); rows come from a small pool, so replays happen."""
    pool = draw(st.lists(row, min_size=1, max_size=4))
    sample = st.tuples(st.sampled_from(pool), st.integers(0, N_CHOICES - 1))
    batches = draw(st.lists(st.lists(sample, min_size=1, max_size=4), min_size=5, max_size=20))
    return [([r for r, _ in b], [t for _, t in b]) for b in batches]


@given(program=instructions, backend=st.sampled_from(["python", "numpy"]), calls=call_lists(),
       initial=st.lists(st.sampled_from([0.5, -1.0, 2.0, 0.75]), min_size=N_PARAMS, max_size=N_PARAMS),
       lr=st.sampled_from([0.0, 0.05]))
def test_replay_equals_eager_on_random_step_functions(program, backend, calls, initial, lr):
    check_calls(program, backend, calls, initial, lr)
