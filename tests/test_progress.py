"""Progress of a run: tqdm's own redraw rate on a terminal, a plain line now and then in a log."""

import io

from microgradcn import _progress
from microgradcn._progress import Progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def run(stream, steps=150):
    bar = Progress(steps, "xor", enabled=True, stream=stream)
    for k in range(steps):
        bar.advance(loss=f"{1 / (k + 1):.4f}")
    bar.close()
    return stream.getvalue()


def test_a_log_gets_one_plain_line_for_a_quick_run_not_a_redraw_per_step():
    text = run(io.StringIO())
    assert text == text.strip("\r") and "\r" not in text
    assert text.count("\n") == 1 and text.startswith("xor: 150/150 step loss=0.0067 (")


def test_a_log_gets_a_line_every_few_seconds_of_a_long_run(monkeypatch):
    clock = iter(range(0, 10_000, 1))  # every call: one second later
    monkeypatch.setattr(_progress.time, "monotonic", lambda: float(next(clock)))
    text = run(io.StringIO(), steps=20)
    lines = text.splitlines()
    assert 3 <= len(lines) <= 6 and lines[-1].startswith("xor: 20/20 step")


def test_a_terminal_gets_a_tqdm_bar_redrawn_at_tqdms_rate_not_at_every_step():
    text = run(Terminal())
    assert "150/150" in text and "loss=0.0067" in text
    assert text.count("\r") < 20  # a 150-step run in milliseconds: a few redraws, not 150


def test_numbers_shown_without_a_step_appear_at_the_end():
    stream = io.StringIO()
    bar = Progress(1, "names", enabled=True, stream=stream)
    bar.advance()
    bar.show(loss="2.3200")
    bar.close()
    assert "loss=2.3200" in stream.getvalue()
