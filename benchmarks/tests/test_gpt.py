"""The GPT benchmark: both engines train to the same losses; the steps that only replay are timed apart."""

import pytest

from benchmarks import gpt
from microgradcn.nn import GPT
from microgradcn.text import CharTokenizer

pytest.importorskip("faker", reason="the names come from Faker (the names extra)")


def test_gpt_rows_agree_with_eager_and_count_the_recordings():
    report = gpt.run(quick=True, steps=2)  # quick: no collector-off rows
    rows = report["rows"]
    assert report["workload"] == "gpt" and report["steps"] == 2
    assert set(rows) == {"eager", "replay-python", "microgpt-style"}
    assert rows["replay-python"]["bit_identical_to_eager"] is True
    assert rows["replay-python"]["records"] == 2  # two names of two lengths: every step recorded
    for row in rows.values():
        assert set(row) >= {"ms_per_step", "nodes_per_step", "ns_per_node", "final_loss", "max_loss_diff",
                            "bit_identical_to_eager"}
        assert row["ms_per_step"] > 0 and row["nodes_per_step"] > 10_000
    assert rows["microgpt-style"]["max_loss_diff"] <= 1e-9
    assert rows["eager"]["final_loss"] == pytest.approx(rows["microgpt-style"]["final_loss"], abs=1e-9)
    assert gpt.show(report) is True


def test_gpt_bench_times_the_steps_that_only_replay_apart():
    tok = CharTokenizer()
    model = GPT(tok.vocab_size, n_embd=8, n_head=2, block_size=8, seed=0)
    encoded = [tok.encode(name) for name in ("ab", "cd", "abc", "ef")]  # lengths 4, 4, 5, 4
    steady: list = []
    seconds, losses = gpt._train_eager(model, encoded, 4, 4, replay=True, replayed_only=steady)
    (replay_seconds, replays, records), = steady
    assert replays == 2 and records == 2 and len(losses) == 4  # "cd" and "ef" reuse the recording of "ab"
    assert 0 < replay_seconds < seconds


def test_whole_run_is_the_run_train_names_makes(monkeypatch):
    from microgradcn import text

    steps = 2  # two names of two lengths, each met once: run eagerly, as `train names` would
    _, _, records, eager_losses = gpt._replayed_run(steps)
    assert records == 0
    every_length = text.replayed_lengths
    monkeypatch.setattr(text, "replayed_lengths", lambda sequences: every_length(sequences, min_count=1))
    _, _, records, losses = gpt._replayed_run(steps)  # now both lengths are recorded: the slow part
    assert losses == eager_losses
    model = GPT(CharTokenizer().vocab_size, seed=0)
    run = text.train_names(steps=steps, model=model, replay=True, num_samples=0)
    assert losses == run.losses  # same weights, names, order and Adam: the same numbers
    assert records == 2
    monkeypatch.setattr(gpt, "_replayed_run", lambda steps, seed=0: (2.0, 2.5, 7, []))
    whole = gpt.whole_run(microgpt_ms_per_step=400.0, steps=1000)
    assert whole == {"steps": 1000, "replay_s": 2.0, "wall_s": 2.5, "records": 7, "microgpt_style_s": 400.0,
                     "ratio": 200.0}
