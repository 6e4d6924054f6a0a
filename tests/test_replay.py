"""Replay: a traced step gives exactly eager mode's loss and gradients, and records afresh when it must."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradcn import Value, datasets, select, topological_order
from microgradcn import functional as F
from microgradcn.nn import MLP
from microgradcn.replay import ReplayError, trace
from microgradcn.testing import expressions


def sgd(params, lr):
    for p in params:
        p.data -= lr * p.grad
        p.grad = 0


def moons_setup():
    """micrograd's moons workload: data, model, its parameters and the batch loss."""
    X, y = datasets.make_moons(100, noise=0.1, seed=0, signed=True)
    model = MLP(2, [16, 16, 1], seed=0)
    params = model.parameters()

    def batch_loss(rows, labels):
        losses = [(1 + -t * model(x)).relu() for x, t in zip(rows, labels)]
        return sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in params)

    return X, y, model, params, batch_loss


def moons_run(mode, steps):
    """micrograd's moons workload: eager, traced (python) or traced per sample (numpy)."""
    X, y, model, params, batch_loss = moons_setup()
    if mode == "python":
        step = trace(batch_loss, params)
    elif mode == "numpy":
        step = trace(lambda x, t: (1 + -t * model(x)).relu(), params, backend="numpy",
                     penalty=lambda: 1e-4 * sum(p * p for p in params))
    history = []
    for k in range(steps):
        if mode == "eager":
            loss = batch_loss([[Value(a) for a in row] for row in X.tolist()], y.tolist())
            loss.backward()
            value = loss.data
        else:
            value = step(X, y)
        history.append((value, [p.grad for p in params]))
        sgd(params, 1.0 - 0.9 * k / 100)
    return history, (step.retraces if mode != "eager" else 0)


@pytest.mark.parametrize("mode", ["python", "numpy"])
def test_moons_replay_is_bit_identical_to_eager_at_every_step(mode):
    eager, _ = moons_run("eager", 12)
    replayed, retraces = moons_run(mode, 12)
    assert [loss for loss, _ in replayed] == [loss for loss, _ in eager]
    assert [grads for _, grads in replayed] == [grads for _, grads in eager]
    assert retraces == 0


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["python", "numpy"])
def test_moons_replay_is_bit_identical_over_a_whole_training_run(mode):
    eager, _ = moons_run("eager", 100)
    replayed, retraces = moons_run(mode, 100)
    assert replayed == eager and retraces == 0


@pytest.mark.parametrize("backend", ["python", "numpy"])
@pytest.mark.parametrize("task", ["xor", "spiral"])
def test_small_tasks_with_new_labels_every_step_replay_exactly(task, backend):
    rng = np.random.default_rng(1)
    if task == "xor":
        X, y = datasets.xor()
        y = y.astype(float)
        model = MLP(2, [4, 1], activation="tanh", seed=0)
        loss_of = F.binary_cross_entropy_with_logits
    else:
        X, _ = datasets.spiral(3, 8, seed=0)
        model = MLP(2, [8, 3], activation="relu", seed=0)
        loss_of = F.cross_entropy
    params = model.parameters()
    labels = [rng.integers(0, 3, len(X)) if task == "spiral" else y for _ in range(15)]

    def batch(rows, ts):
        return loss_of([model(r) for r in rows], list(ts))

    def sample(x, t):
        return loss_of(model(x), t) if task == "spiral" else loss_of([model(x)], [t])

    step = trace(batch, params) if backend == "python" else trace(sample, params, backend="numpy")
    results = {}
    for mode in ("eager", "replay"):
        model_state = [p.data for p in params]
        history = []
        for ts in labels:
            if mode == "eager":
                if backend == "python":
                    loss = batch([[Value(a) for a in r] for r in X.tolist()], [t.item() for t in ts])
                else:
                    loss = sum(sample([Value(a) for a in r], t.item()) for r, t in zip(X.tolist(), ts))
                    loss = loss * (1.0 / len(X))
                loss.backward()
                value = loss.data
            else:
                value = step(X, ts) if backend == "numpy" else step(X, [t.item() for t in ts])
            history.append((value, [p.grad for p in params]))
            sgd(params, 0.1)
        results[mode] = history
        for p, d in zip(params, model_state):
            p.data = d
    assert results["replay"] == results["eager"]
    assert step.retraces == 0 and step.records == 1  # labels are data: one recording serves them all


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu", "elu", "prelu"])
def test_an_mlp_with_each_activation_replays_exactly(activation):
    rng = np.random.default_rng(3)
    model = MLP(3, [5, 1], activation=activation, seed=1)
    params = model.parameters()
    step = trace(lambda rows: F.mse([model(r) for r in rows], [0.5] * len(rows)), params)
    for _k in range(4):
        X = rng.normal(size=(6, 3))
        loss = F.mse([model([Value(a) for a in r]) for r in X.tolist()], [0.5] * 6)
        loss.backward()
        eager = (loss.data, [p.grad for p in params])
        for p in params:
            p.grad = 0
        assert (step(X), [p.grad for p in params]) == eager
        for p in params:
            p.grad = 0


@settings(deadline=None)
@given(expressions(), st.lists(st.floats(0.8, 1.25), min_size=3, max_size=3))
def test_random_expressions_replay_exactly_on_new_numbers(expr, factors):
    leaves = [Value(x) for x in expr.inputs]
    reached = {id(v) for v in topological_order(expr(*leaves))}
    used = [leaf for leaf in leaves if id(leaf) in reached]  # an input the expression ignores is no parameter
    step = trace(lambda: expr(*leaves), used)
    step()
    for leaf in leaves:
        leaf.grad = 0
    for leaf, f in zip(leaves, factors):
        leaf.data = leaf.data * f  # nearby numbers: still inside each op's domain and on the same branch
    try:
        fresh = [Value(x.data) for x in leaves]
        eager_loss = expr(*fresh)
        eager_loss.backward()
    except (ValueError, OverflowError, ZeroDivisionError):
        return  # the moved point left an op's domain: nothing to compare
    loss = step()
    assert loss == eager_loss.data
    assert [x.grad for x in leaves] == [x.grad for x in fresh]


def test_a_decision_on_data_is_guarded_and_records_afresh():
    w = Value(1.0)

    def loss_fn(x):
        return w * x if x > 0 else w * x * x  # a Python-level branch on a Value's data

    step = trace(loss_fn, [w])
    assert step(Value(2.0)) == 2.0 and w.grad == 2.0
    assert step(Value(3.0)) == 3.0 and step.retraces == 0
    w.grad = 0
    assert step(Value(-3.0)) == 9.0 and w.grad == 9.0  # the other branch: recorded afresh, right answer
    assert step.retraces == 1


def test_inputs_of_different_lengths_are_cached_by_shape():
    w = Value(0.5)
    step = trace(lambda xs: sum(w * x for x in xs), [w])
    for xs in ([1.0, 2.0], [1.0, 2.0, 3.0], [4.0, 5.0], [1.0, 1.0, 1.0]):
        w.grad = 0
        assert step(xs) == sum(0.5 * x for x in xs) and w.grad == sum(xs)
    assert step.records == 2 and step.retraces == 0


def test_an_integer_used_as_a_number_is_a_guard():
    w = Value(2.0)
    step = trace(lambda k: w * k, [w])
    assert step(3) == 6.0
    assert step(3) == 6.0 and step.retraces == 0
    assert step(4) == 8.0 and step.retraces == 1  # a different integer shapes a different constant


def test_select_makes_an_integer_input_data():
    rows = [Value(1.0), Value(2.0), Value(3.0)]
    step = trace(lambda i: select(rows, i) * 10, rows)
    for i in (0, 2, 1, 2):
        for r in rows:
            r.grad = 0
        assert step(i) == rows[i].data * 10
        assert [r.grad for r in rows] == [10 if j == i else 0 for j in range(3)]
    assert step.retraces == 0 and step.records == 1


def test_numpy_backend_with_a_penalty_matches_its_eager_formula():
    w = [Value(0.3), Value(-0.2)]
    X = np.array([[1.0, 2.0], [0.5, -1.0], [2.0, 0.0]])
    T = np.array([1.0, 0.0, 1.0])
    step = trace(lambda x, t: (w[0] * x[0] + w[1] * x[1] - t) ** 2, w, backend="numpy",
                 penalty=lambda: 0.1 * sum(p * p for p in w))
    loss = step(X, T)
    grads = [p.grad for p in w]
    for p in w:
        p.grad = 0
    eager = sum((w[0] * x[0] + w[1] * x[1] - t) ** 2 for x, t in zip(X.tolist(), T.tolist())) * (1 / 3)
    eager = eager + 0.1 * sum(p * p for p in w)
    eager.backward()
    assert loss == eager.data and grads == [p.grad for p in w]


def test_gradients_are_added_like_backward_does():
    w = Value(1.0)
    step = trace(lambda x: w * x, [w])
    step(2.0)
    step(3.0)
    assert w.grad == 5.0  # accumulated, so zero_grad()/step() work unchanged


def test_a_traced_step_can_still_be_drawn():
    from microgradcn.viz import draw_graph

    w = Value(1.0, label="w")
    step = trace(lambda x: (w * x).tanh(), [w])
    step(0.5)
    assert "tanh" in draw_graph(step.graph).source


def test_bad_uses_are_named():
    w = Value(1.0)
    with pytest.raises(ReplayError, match="must return a scalar Value, got float"):
        trace(lambda: 1.0, [w])()
    with pytest.raises(ReplayError, match="must be leaves"):
        trace(lambda: w, [w * 2])
    with pytest.raises(ReplayError, match="does not use the parameters at positions \\[1\\]"):
        trace(lambda: w * 2, [w, Value(3.0)])()
    with pytest.raises(ValueError, match="backend must be 'python' or 'numpy', got 'c'"):
        trace(lambda: w, [w], backend="c")
    with pytest.raises(TypeError, match="params must be Values, got float"):
        trace(lambda: w, [1.0])
    with pytest.raises(ReplayError, match="listed twice"):
        trace(lambda: w, [w, w])


def _random_model(kind, seed):
    from microgradcn.nn import Dropout, RReLU

    model = MLP(3, [6, 1], seed=seed)
    layer = Dropout(0.4, seed=seed) if kind == "dropout" else RReLU(seed=seed)
    return model, layer


def _random_step_history(kind, backend, steps, eval_from=None):
    """Loss and gradients per step, eager or traced, for MLP -> Dropout/RReLU -> sum (same seeds)."""
    model, layer = _random_model(kind, seed=3)
    first = model.layers[0]

    def sample_loss(x, t):
        return (sum(layer(first(x))) - t) ** 2

    def batch_loss(X, T):
        return sum(sample_loss(x, t) for x, t in zip(X, T)) * (1 / len(X))

    rng = np.random.default_rng(7)
    step = None
    if backend == "python":
        step = trace(batch_loss, first.parameters())
    elif backend == "numpy":
        step = trace(sample_loss, first.parameters(), backend="numpy")
    history = []
    for k in range(steps):
        if k == eval_from:
            layer.eval()
        X, T = rng.normal(size=(4, 3)), rng.normal(size=4)
        if step is None:
            loss = batch_loss([[Value(a) for a in row] for row in X.tolist()], T.tolist())
            loss.backward()
            value = loss.data
        else:
            value = step(X, T) if backend == "numpy" else step(X.tolist(), T.tolist())
        history.append((value, [p.grad for p in first.parameters()]))
        sgd(first.parameters(), 0.05)
    return history, (step.retraces if step is not None else 0)


@pytest.mark.parametrize("kind", ["dropout", "rrelu"])
@pytest.mark.parametrize("backend", ["python", "numpy"])
def test_random_draws_are_drawn_anew_at_every_replayed_call_exactly_as_eager(kind, backend):
    eager, _ = _random_step_history(kind, "eager", 8)
    replayed, retraces = _random_step_history(kind, backend, 8)
    assert replayed == eager
    assert retraces == 0
    # not frozen: the masks (slopes) differ from step to step, so the gradient patterns do too
    zero_patterns = {tuple(g == 0 for g in grads) for _, grads in eager}
    assert len(zero_patterns) > 1 if kind == "dropout" else len({loss for loss, _ in eager}) == 8


@pytest.mark.parametrize("backend", ["python", "numpy"])
def test_a_layer_switched_to_eval_mode_makes_the_step_record_afresh(backend):
    eager, _ = _random_step_history("dropout", "eager", 6, eval_from=3)
    replayed, retraces = _random_step_history("dropout", backend, 6, eval_from=3)
    assert replayed == eager
    assert retraces == 1


def test_batchnorm_in_training_mode_is_refused_and_replays_in_eval_mode():
    from microgradcn.nn import BatchNorm

    w = [Value(0.5), Value(-0.3)]
    norm = BatchNorm(1)
    step = trace(lambda xs: sum(norm([wi * x for wi, x in zip(w, xs)])), w)
    with pytest.raises(ReplayError, match=r"BatchNorm.* in training mode, which updates its running statistics"):
        step([1.0, 2.0])
    norm.eval()
    step = trace(lambda xs: sum(norm([wi * x for wi, x in zip(w, xs)])), w)
    assert step([1.0, 2.0]) == step([1.0, 2.0])


def test_your_own_random_numbers_drawn_through_random_numbers_replay_anew():
    from microgradcn.modes import random_numbers

    w = Value(0.5)

    def noisy_loss(x, rng):
        (noise,) = random_numbers(lambda: [float(rng.normal())])
        return (w * x + noise) ** 2

    eager_rng, traced_rng = np.random.default_rng(1), np.random.default_rng(1)
    step = trace(lambda x: noisy_loss(x, traced_rng), [w])
    for x in (1.0, 2.0, 3.0):
        w.grad = 0
        loss = noisy_loss(x, eager_rng)
        loss.backward()
        expected = (loss.data, w.grad)
        w.grad = 0
        assert (step(x), w.grad) == expected
    assert step.retraces == 0 and step.records == 1


def _program_of(step):
    return next(iter(step._cache.values()))[0]


def test_a_part_that_repeats_is_written_once_and_called_per_repeat():
    """moons: one sample's loss repeats 100 times; its code is written once (bit-identity: the moons tests)."""
    X, y, _, params, batch_loss = moons_setup()
    step = trace(batch_loss, params)
    step(X, y)
    program = _program_of(step)
    assert program.repeats == 100
    assert program.lines < 3_000  # not ~15,000: one sample's code, 100 calls, the mean and the penalty


@settings(deadline=None)
@given(expressions(), st.lists(st.lists(st.floats(0.8, 1.25), min_size=2, max_size=2), min_size=2, max_size=5),
       st.floats(-2, 2), st.booleans())
def test_repeated_random_expressions_replay_exactly_on_new_numbers(expr, rows, shift, penalty_first):
    """A batch of copies of a random expression over shared parameters, written once and called per copy."""
    from microgradcn.replay import repeats

    params = [Value(x) for x in expr.inputs]

    def batch_loss(rows_in):
        # each parameter used twice per copy, so that its terms inside one copy have an order to keep
        terms = [expr(*[p * row[i % 2] + p for i, p in enumerate(params)]) for row in rows_in]
        penalty = sum(p * p for p in params)  # first: its terms reach the parameters before the copies' do
        return penalty + sum(terms) * (1.0 / len(terms)) if penalty_first else sum(terms) * (1.0 / len(terms)) + penalty

    def eager(rows_in):
        for p in params:
            p.grad = 0
        loss = batch_loss([[Value(a) for a in row] for row in rows_in])
        loss.backward()
        return loss.data, [p.grad for p in params]

    batches = [rows, [[a + shift * 0.1 for a in row] for row in rows]]
    try:
        expected = [eager(batch) for batch in batches]
    except (ValueError, OverflowError, ZeroDivisionError):
        return  # a scaled input left an op's domain: nothing to compare
    limits = repeats.REPEAT_MIN_NODES, repeats.REPEAT_MIN_SIZE
    repeats.REPEAT_MIN_NODES, repeats.REPEAT_MIN_SIZE = 0, 1  # small graphs too
    try:
        step = trace(batch_loss, params)
        got = []
        for batch in batches:
            for p in params:
                p.grad = 0
            got.append((step(batch), [p.grad for p in params]))
    finally:
        repeats.REPEAT_MIN_NODES, repeats.REPEAT_MIN_SIZE = limits
    assert got == expected
    assert step.retraces == 0


def test_look_alike_parts_that_share_nodes_differently_are_not_written_as_repeats():
    from microgradcn.replay import repeats

    w = [Value(0.5), Value(-0.25), Value(1.5)]

    def term(a, b):  # the same ops and shapes whether b is a itself or another input
        h = w[0] * a + w[1] * b
        for _ in range(6):
            h = (h * w[2]).tanh() + a
        return h

    def batch_loss(rows, shared):
        return sum(term(r[0], r[0] if s else r[1]) for r, s in zip(rows, shared)) * 0.25

    rows = [[0.1, 0.2], [0.3, -0.4], [0.5, 0.6], [-0.7, 0.8]]
    pattern = [False, True, False, False]  # the second one reads its first input twice
    expected = []
    for batch in (rows, [[a * 1.5 for a in r] for r in rows]):
        for p in w:
            p.grad = 0
        loss = batch_loss([[Value(a) for a in r] for r in batch], pattern)
        loss.backward()
        expected.append((loss.data, [p.grad for p in w]))
    limits = repeats.REPEAT_MIN_NODES
    repeats.REPEAT_MIN_NODES = 0
    try:
        step = trace(lambda r: batch_loss(r, pattern), w)
        got = []
        for batch in (rows, [[a * 1.5 for a in r] for r in rows]):
            for p in w:
                p.grad = 0
            got.append((step(batch), [p.grad for p in w]))
    finally:
        repeats.REPEAT_MIN_NODES = limits
    assert got == expected
    assert _program_of(step).repeats == 3  # the three alike; the one that shares a node is written out
