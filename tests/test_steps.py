"""train.make_step, the one way a training step is made: its three call shapes, its three ways to run, its errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradcn import functional as F
from microgradcn.cli import main
from microgradcn.data import DataLoader
from microgradcn.nn import GPT, MLP
from microgradcn.optim import SGD
from microgradcn.replay import Trace
from microgradcn.text import make_step as text_make_step
from microgradcn.train import fit, fit_batches, make_sample_loss, make_step, make_task

finite = st.floats(-3, 3, allow_nan=False, width=64)


def _grads(model):
    return [p.grad for p in model.parameters()]


def _run_steps(replay, X, y, batches, penalty_alpha, seed):
    """Losses and gradients of `batches` per-sample steps (no update in between: gradients add up)."""
    model = MLP(len(X[0]), [3, 2], seed=seed)
    params = model.parameters()
    penalty = (lambda: F.l2_penalty(params, penalty_alpha)) if penalty_alpha else None
    step = make_step(make_sample_loss(model, F.cross_entropy), params, replay=replay, per_sample=True,
                     penalty=penalty)
    losses = [step(X[i::batches], y[i::batches]) for i in range(batches)]
    return losses, _grads(model)


@settings(max_examples=40)
@given(
    X=st.lists(st.lists(finite, min_size=2, max_size=2), min_size=2, max_size=6).map(np.array),
    labels=st.lists(st.integers(0, 1), min_size=6, max_size=6),
    penalty_alpha=st.sampled_from([0.0, 1e-3]),
    seed=st.integers(0, 3),
)
def test_per_sample_steps_are_bit_identical_eager_python_and_numpy(X, labels, penalty_alpha, seed):
    y = np.array(labels[:len(X)])
    runs = [_run_steps(replay, X, y, 2 if len(X) >= 4 else 1, penalty_alpha, seed)
            for replay in (None, "python", "numpy")]
    assert runs[0] == runs[1] == runs[2]  # == on floats: the same bits
    eager_losses, eager_grads = runs[0]
    # and what eager computes is the mean of the sample losses (plus the penalty), in that order
    model = MLP(len(X[0]), [3, 2], seed=seed)
    sample = make_sample_loss(model, F.cross_entropy)
    first = X[0::2] if len(X) >= 4 else X
    first_y = y[0::2] if len(X) >= 4 else y
    expected = sum(sample(x, t) for x, t in zip(first, first_y)) * (1.0 / len(first_y))
    if penalty_alpha:
        expected = expected + F.l2_penalty(model.parameters(), penalty_alpha)
    assert eager_losses[0] == expected.data


@settings(max_examples=30)
@given(rows=st.lists(st.lists(finite, min_size=2, max_size=2), min_size=1, max_size=5), seed=st.integers(0, 3))
def test_whole_batch_steps_are_bit_identical_eager_and_python(rows, seed):
    labels = [1.0 if i % 2 else -1.0 for i in range(len(rows))]
    results = []
    for replay in (None, "python"):
        model = MLP(2, [4, 1], seed=seed)
        step = make_step(lambda r, t, m=model: F.hinge([m(x) for x in r], t), model.parameters(), replay=replay)
        results.append(([step(rows, labels), step(rows[::-1], labels)], _grads(model)))
    assert results[0] == results[1]


def test_a_gpt_step_takes_tokens_and_text_make_step_is_a_thin_wrapper():
    model = GPT(5, n_embd=4, n_head=2, block_size=4, seed=0)
    eager = text_make_step(model)
    replayed = text_make_step(model, replay=True)
    assert isinstance(replayed, Trace) and replayed.cache_size == model.block_size + 1
    loss = eager([4, 1, 2, 4])
    grads = _grads(model)
    model.zero_grad()
    assert replayed([4, 1, 2, 4]) == loss and _grads(model) == grads


def test_fit_uses_make_step_and_replay_keeps_the_losses():
    runs = []
    for replay in (False, True):
        task = make_task("xor", steps=5, seed=1)
        history = fit(task.model, task.inputs, task.targets, task.loss_fn, task.optimizer, 5, task.accuracy_fn,
                      replay=replay)
        runs.append((history.loss, [p.data for p in task.model.parameters()]))
        accuracy_known = [a == a for a in history.accuracy]  # NaN when replayed: no outputs are built
        assert accuracy_known == [not replay] * 5
    assert runs[0] == runs[1]


def test_fit_batches_replays_with_the_eager_numbers():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 2, size=20)
    histories = []
    for replay in (None, "python", "numpy"):
        model = MLP(3, [4, 2], seed=0)
        history = fit_batches(model, F.cross_entropy, SGD(model.parameters(), lr=0.1), DataLoader(X, y, 8, seed=1), 2,
                              replay=replay, penalty=lambda m=model: F.l2_penalty(m.parameters(), 1e-3))
        histories.append((history.batch_loss, [p.data for p in model.parameters()]))
    assert histories[0] == histories[1] == histories[2]


def test_bad_step_requests_are_named():
    model = MLP(2, [2, 1], seed=0)
    loss = make_sample_loss(model, F.mse)
    with pytest.raises(ValueError, match="replay must be None \\(eager\\), 'python' or 'numpy', got 'torch'"):
        make_step(loss, model.parameters(), replay="torch")
    with pytest.raises(ValueError, match="replay='numpy' .* needs per_sample=True"):
        make_step(loss, model.parameters(), replay="numpy")
    with pytest.raises(ValueError, match="replay='python' needs params"):
        make_step(loss, replay="python")
    with pytest.raises(TypeError, match="needs a callable loss function, got int"):
        make_step(3)
    with pytest.raises(ValueError, match="at least one sample, got an empty batch"):
        make_step(loss, per_sample=True)(np.zeros((0, 2)), np.zeros(0))
    loader = DataLoader(np.zeros((4, 2)), np.zeros(4), 2)
    with pytest.raises(ValueError, match="either step_fn or replay="):
        fit_batches(model, F.mse, SGD(model.parameters(), lr=0.1), loader, 1, step_fn=lambda X, y: 0.0,
                    replay="numpy")


@pytest.mark.parametrize("task", ["xor", "names", "digits"])
def test_an_unwritable_save_target_is_refused_before_training_in_one_line(task, capsys, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("no training with an unwritable --save")

    for name in ("microgradcn.train.fit", "microgradcn.train.train_digits", "microgradcn.text.train_names"):
        monkeypatch.setattr(name, no_training)
    assert main(["train", task, "--save", "/proc/m.json", "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("microgradcn train: 无法保存到 /proc/m.json (cannot save to /proc/m.json: ")
    assert ".microgradcn-" not in captured.err and "Traceback" not in captured.err  # no temporary file's name


def test_the_save_check_leaves_nothing_behind(tmp_path, capsys):
    assert main(["train", "xor", "--steps", "1", "--save", str(tmp_path / "m.json"), "--no-progress"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]
