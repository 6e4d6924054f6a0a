"""Grouped numpy replay: sibling nodes as one numpy op, with eager mode's loss and gradients bit for bit."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradcn import Value, datasets, select, topological_order
from microgradcn import functional as F
from microgradcn.nn import MLP
from microgradcn.replay import trace
from microgradcn.replay.numpy_program import NumpyProgram
from microgradcn.replay.python_program import PythonProgram
from microgradcn.testing import expressions


def program_of(step):
    """The batched program a numpy trace made (one recording)."""
    (program, _), = step._cache.values()
    assert isinstance(program, (NumpyProgram, PythonProgram))
    return program


def grouped(program):
    """The grouped program ran (not the python backend's code over arrays)."""
    return isinstance(program, NumpyProgram)


def values(x):
    """Nested lists of numbers as Values, as a traced step's inputs are."""
    return [values(a) for a in x] if isinstance(x, list) else Value(x)


def eager_step(sample_loss, X, T, penalty=None):
    """What a numpy trace computes, in eager mode: mean of the per-sample losses (+ penalty), backward."""
    terms = [sample_loss(values(x), t) for x, t in zip(X.tolist(), T.tolist())]
    total = 0
    for term in terms:
        total = total + term
    loss = total * (1.0 / len(terms))
    if penalty is not None:
        loss = loss + penalty()
    loss.backward()
    return loss.data


def compare(sample_loss, params, batches, penalty=None, lr=0.1):
    """Train with eager steps and with a numpy trace from the same start; return both histories and the trace."""
    start = [p.data for p in params]
    histories = []
    step = trace(sample_loss, params, backend="numpy", penalty=penalty)
    for mode in ("eager", "replay"):
        for p, d in zip(params, start):
            p.data, p.grad = d, 0
        history = []
        for X, T in batches:
            loss = eager_step(sample_loss, X, T, penalty) if mode == "eager" else step(X, T)
            history.append((loss, [p.grad for p in params]))
            for p in params:
                p.data -= lr * p.grad
                p.grad = 0
        histories.append(history)
    return histories[0], histories[1], step


def test_moons_grouped_replay_is_bit_identical_to_eager_for_12_steps():
    X, y = datasets.make_moons(100, noise=0.1, seed=0, signed=True)
    model = MLP(2, [16, 16, 1], seed=0)
    params = model.parameters()
    eager, replayed, step = compare(lambda x, t: (1 + -t * model(x)).relu(), params, [(X, y)] * 12,
                                    penalty=lambda: 1e-4 * sum(p * p for p in params), lr=0.5)
    assert replayed == eager
    assert step.retraces == 0 and step.records == 1
    program = program_of(step)
    assert grouped(program)


def test_grouping_happens_many_nodes_per_numpy_op():
    model = MLP(2, [16, 16, 1], seed=0)
    step = trace(lambda x, t: (1 + -t * model(x)).relu(), model.parameters(), backend="numpy")
    step(np.array([[0.5, -1.0], [1.0, 2.0]]), np.array([1.0, -1.0]))
    program = program_of(step)
    # the graph: 2 inputs, the label, 1 constant, 337 parameters, 644 op nodes
    assert program.n_nodes == 985
    # leaves: 3 groups; layer 1: w*x, two levels of +, relu; layer 2: w*h, 16 levels of +, relu;
    # layer 3: w*h, 16 levels of +; the hinge: -t, *, +, relu
    assert program.n_groups == 3 + 4 + 18 + 17 + 4
    assert program.lines < 100  # the per-node program has 1,630 lines


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu", "elu", "prelu"])
def test_an_mlp_with_each_activation_replays_exactly(activation):
    rng = np.random.default_rng(3)
    model = MLP(3, [5, 4, 1], activation=activation, seed=1)
    params = model.parameters()
    batches = [(rng.normal(size=(6, 3)), rng.normal(size=6)) for _ in range(4)]
    eager, replayed, step = compare(lambda x, t: (model(x) - t) ** 2, params, batches)
    assert replayed == eager
    program = program_of(step)
    assert grouped(program) and program.n_groups < program.n_nodes / 3


def test_cross_entropy_with_integer_labels_selects_by_label():
    X, _ = datasets.spiral(3, 8, seed=0)
    rng = np.random.default_rng(1)
    model = MLP(2, [8, 3], activation="tanh", seed=0)
    params = model.parameters()
    batches = [(X, rng.integers(0, 3, len(X))) for _ in range(6)]  # new labels every step: data, not graph
    eager, replayed, step = compare(lambda x, t: F.cross_entropy(model(x), t), params, batches)
    assert replayed == eager
    assert step.retraces == 0 and step.records == 1
    assert grouped(program_of(step))


def test_select_among_parameters_by_label():
    rows = [[Value(0.1 * (i + 1) * (-1) ** d) for d in range(3)] for i in range(5)]  # an embedding table
    params = [w for row in rows for w in row]
    w_out = Value(0.7)
    params.append(w_out)

    def sample_loss(x, t):
        embedded = [select([row[d] for row in rows], t) for d in range(3)]  # 3 selects, one group
        embedded.append(select([row[0] for row in rows], 3))  # in that group too, with a fixed index
        embedded.append(select([w_out, rows[0][1]], 1))  # a group of one fixed pick
        return sum((w_out * e * x[0] - x[1]) ** 2 for e in embedded)

    rng = np.random.default_rng(2)
    batches = [(rng.normal(size=(7, 2)), rng.integers(0, 5, 7)) for _ in range(3)]
    eager, replayed, step = compare(sample_loss, params, batches)
    assert replayed == eager
    assert step.retraces == 0


def test_a_small_gpt_with_token_ids_as_labels_replays_exactly():
    from microgradcn.nn import GPT

    model = GPT(7, block_size=6, n_layer=1, n_embd=8, n_head=2, seed=0)
    rng = np.random.default_rng(0)
    batches = [(np.zeros((4, 1)), rng.integers(0, 7, (4, 5))) for _ in range(3)]  # token ids: select's data
    eager, replayed, step = compare(lambda x, t: model.loss(list(t)), model.parameters(), batches)
    assert replayed == eager
    assert step.retraces == 0 and step.records == 1
    program = program_of(step)
    assert grouped(program) and program.n_groups < program.n_nodes / 10


def test_the_digits_cnn_replays_exactly():
    from microgradcn.train import digits_model

    model = digits_model("cnn", seed=0)
    rng = np.random.default_rng(4)
    batches = [(rng.uniform(0, 1, (3, 1, 8, 8)), rng.integers(0, 10, 3)) for _ in range(2)]
    eager, replayed, step = compare(lambda x, t: F.cross_entropy(model(x), t), model.parameters(), batches,
                                    lr=0.01)
    assert replayed == eager
    program = program_of(step)
    assert grouped(program) and program.n_groups < program.n_nodes / 20


def test_a_constant_numpy_cannot_hold_exactly_falls_back_to_the_per_node_program():
    w = [Value(0.5), Value(-0.25)]
    big = 2 ** 60 + 1  # an int a float cannot hold: Python rounds it where it meets a float

    def sample_loss(x, t):
        return (w[0] * x[0] * big + w[1] * x[1] * Fraction(1, 3) - t) ** 2 * (1.0 / big)

    X = np.array([[1.0, 2.0], [0.5, -1.0], [2.0, 0.25]])
    T = np.array([1.0, 0.0, -1.0])
    eager, replayed, step = compare(sample_loss, w, [(X, T)] * 3, lr=1e-3)
    assert replayed == eager
    program = program_of(step)
    assert not grouped(program)  # the per-node program ran


def test_a_node_used_many_times_sums_its_terms_in_eager_order():
    # h is used by several consumers of different groups; its gradient is a sum in eager's visit order
    w = [Value(0.3), Value(-0.7), Value(1.1)]

    def sample_loss(x, t):
        h = (w[0] * x[0]).tanh()
        a = h * w[1] + h * h
        b = (h * w[2]).sigmoid() * h - h.exp() * w[0]
        return (a * b - t) ** 2 + h * h * h

    rng = np.random.default_rng(5)
    batches = [(rng.normal(size=(9, 1)), rng.normal(size=9)) for _ in range(3)]
    eager, replayed, _ = compare(sample_loss, w, batches)
    assert replayed == eager


@settings(deadline=None)
@given(expressions(), st.lists(st.lists(st.floats(0.8, 1.25), min_size=3, max_size=3), min_size=1, max_size=4))
def test_random_expressions_in_sibling_copies_replay_exactly(expr, rows):
    # Three copies of the expression on different parameters: siblings, evaluated as groups of three
    # (the inputs' products w * x as one group of copies x inputs, run as an array of that shape).
    leaves = [[Value(x) for _ in range(3)] for x in expr.inputs]
    reached = {id(v) for copy in range(3) for v in topological_order(expr(*(group[copy] for group in leaves)))}
    params = [v for group in leaves for v in group if id(v) in reached]

    def sample_loss(x, t):
        scaled = [[group[copy] * x[i % 3] for i, group in enumerate(leaves)] for copy in range(3)]
        return expr(*scaled[0]) + expr(*scaled[1]) * t - expr(*scaled[2])

    X = np.array(rows)
    T = np.linspace(0.5, 1.5, len(rows))
    try:
        eager_step(sample_loss, X, T)
    except (ValueError, OverflowError, ZeroDivisionError):
        return  # a scaled input left an op's domain: nothing to compare
    eager, replayed, step = compare(sample_loss, params, [(X, T)], lr=0.0)
    assert replayed == eager
    assert grouped(program_of(step))


def test_a_decision_on_data_is_guarded_over_the_whole_batch():
    w = [Value(0.5), Value(-1.5)]

    def sample_loss(x, t):
        s = w[0] * x[0] + w[1] * x[1]
        return (s - t) ** 2 if x[0] > 0 else (s * s - t) ** 2  # a Python-level branch on a Value's data

    positive = np.array([[1.0, 2.0], [0.5, 1.0], [2.0, -1.0]])
    mixed = np.array([[1.0, 2.0], [-0.5, 1.0], [2.0, -1.0], [0.25, 0.5]])  # another size, one other branch
    T3, T4 = np.array([1.0, 0.0, -1.0]), np.array([1.0, 0.0, -1.0, 2.0])
    eager, replayed, step = compare(sample_loss, w, [(positive, T3), (positive, T3), (mixed, T4), (positive, T3)])
    assert replayed == eager
    assert step.retraces == 1 and step.records == 1  # the mixed batch ran eagerly; the others replayed


def test_custom_ops_vectorized_or_not_replay_exactly():
    from microgradcn import Op

    # vectorized as written, but one returns its input itself and one a plain number, not arrays of the batch
    same = Op("same", forward=lambda x: x, derivative=lambda x, out: 1, vectorized=True)
    two = Op("two", forward=lambda x: 2.0, derivative=lambda x, out: 0, vectorized=True)
    cube = Op("cube", forward=lambda x: x ** 3, derivative=lambda x, out: 3 * x ** 2)  # element by element
    w = [[Value(0.1 * (i - j)) for j in range(3)] for i in range(4)]

    def sample_loss(x, t):
        hidden = [cube(same(sum(wi * xi for wi, xi in zip(row, x)))) for row in w]
        constants = [two(row[0] * x[0]) for row in w]
        return (sum(hidden) - t) ** 2 + sum(constants) * t

    rng = np.random.default_rng(6)
    batches = [(rng.normal(size=(5, 3)), rng.normal(size=5)) for _ in range(3)]
    eager, replayed, step = compare(sample_loss, [p for row in w for p in row], batches)
    assert replayed == eager
    assert grouped(program_of(step))
