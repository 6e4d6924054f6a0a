"""A traced step tells what it ran: `step.source`, `repr(step)`, `records` and `retraces`."""

import re

import numpy as np

from microgradcn import Value
from microgradcn.replay import trace


def test_source_is_none_before_the_first_call_then_the_code_the_latest_call_ran():
    w = Value(2.0)
    step = trace(lambda x: w * x if x > 0 else -(w * x), [w])
    assert step.source is None
    step(3.0)
    first = step.source
    assert first.startswith("def _program(") and "P[0]" in first and "raise _Retrace" in first
    compile(first, "<source>", "exec")  # it is the program's whole source
    step(4.0)  # replayed with the same program
    assert step.source == first
    step(-1.0)  # the guard fails: a new recording, whose program this call used
    assert step.source != first and "neg" not in step.source.split("\n")[0]
    assert step.retraces == 1 and step.records == 2


def test_with_a_penalty_the_source_is_the_batch_program_then_the_penalty_program():
    w = Value(2.0)
    step = trace(lambda x, t: w * x[0], [w], backend="numpy", penalty=lambda: w * w)
    step(np.ones((3, 1)), np.zeros(3))
    programs = re.findall(r"^def _program\(", step.source, flags=re.M)
    assert len(programs) == 2
    batch, penalty = step.source.split("def _program(")[1:]
    assert "_np.array" in batch and "v0 * v0" in penalty


def test_repr_counts_records_retraces_and_the_cache():
    w = Value(2.0)
    step = trace(lambda xs: sum(w * x for x in xs) if xs[0] > 0 else w, [w])
    assert repr(step) == ("Trace(backend='python', records=0, retraces=0, cached=0, lines=None, repeats=None, "
                          "groups=None)")
    for xs in ([1.0], [1.0, 2.0], [-1.0, 2.0], [1.0]):
        step(xs)
    lines = step.source.count("\n") - 1
    assert repr(step) == (f"Trace(backend='python', records=3, retraces=1, cached=2, lines={lines}, repeats=0, "
                          "groups=None)")


def test_repr_of_the_numpy_backend_names_its_groups():
    w = Value(2.0)
    step = trace(lambda x, t: w * x[0] + w * x[1], [w], backend="numpy")
    step(np.ones((4, 2)), np.zeros(4))
    text = repr(step)
    assert text.startswith("Trace(backend='numpy', records=1, retraces=0, cached=1, lines=")
    assert re.search(r"repeats=None, groups=\d+\)$", text)
