"""Replay: record a training step's graph once, then rerun it on new numbers without building Values.

A training loop builds the same graph at every step, only with new numbers.
`trace` records it on the first call (an ordinary eager step) and turns it
into straight-line Python code (``backend="python"``; a part that repeats
node for node, such as one sample's loss in a batch or one position's loss
in a sequence, is written once as a function and called per repeat) or into numpy code that
evaluates each node of one sample's graph over the whole batch at once
(``backend="numpy"``). Later calls run that code: the same operations, taken
from the same op table, in the same order as eager mode's forward pass and
backward loop, so the loss and every ``p.grad`` are equal to eager mode's,
bit for bit.

    >>> from microgradcn import Value
    >>> from microgradcn.replay import trace
    >>> w = Value(2.0)
    >>> step = trace(lambda x: (w * x - 1) ** 2, [w])
    >>> step(3.0), w.grad              # recorded: an eager step
    (25.0, 30.0)
    >>> w.grad = 0
    >>> step(1.0), w.grad              # replayed on a new input
    (1.0, 2.0)
    >>> step
    Trace(backend='python', records=1, retraces=0, cached=1, lines=..., repeats=0, groups=None)

What is checked at every call (a failed check records afresh, and
``step.retraces`` counts it): the shape of the inputs; every comparison of a
Value taken while recording (``x > 0``, ``float(x)``), in the loss or in
``penalty=``, whether or not that Value is part of the loss, against a
constant of any number type (int, float, numpy scalar, Fraction, ±inf, NaN:
compared exactly as eager mode compares it); integer inputs used other than
through `select` (class labels and token ids used through `select` are data:
new labels need no new recording, unless another label could change the
order in which eager mode adds gradients up, see `graph.fixed_selects`); the training/eval mode of every
layer that acts differently in the two (`modes.layer_mode`); and that the gradient reaching a `detach` is
finite (eager adds 0 * g through it, which is NaN when g is infinite; replay leaves those zeros out).

Random numbers drawn through `modes.random_numbers` (Dropout's masks,
RReLU's slopes) are inputs of the trace: every replayed call draws them anew,
in the order eager mode draws them, from the same seeded generator, so the
results stay equal to eager mode's. BatchNorm in training mode is refused
with a `ReplayError` (its running statistics are a side effect a replayed
step would skip), and so is a comparison, inside `no_grad`, of a Value made
there (a plain leaf whose number no guard can follow).

Not seen, so not checked:

* a ``.data`` read of a node whose number is then used to build the graph
  (so is a Value made inside `no_grad` and used later);
* a new number in a Value that is neither a parameter nor an input (it is
  recorded as a constant), and a Value computed from the parameters before
  the call, outside the traced function (replay computes it again from the
  parameters' current numbers, where eager mode uses its old number);
* an integer input used through `select` and also directly (compared, or
  indexing a list): an integer is not a Value, so the comparison is not heard;
* random numbers your own code draws by other means.

How it is built: stages, each a module a reader can hold in their head.

1. `recording`: runs the step once, eagerly, while the tracer (`modes.tracer`)
   hears what the graph does not show: decisions on data, random draws,
   layer modes, integer inputs used as numbers.
2. `graph`: the recorded nodes in forward order, and the order in which
   eager mode's backward loop visits them.
3. `guards`: one emitter of guard lines for both backends, one method per
   kind of guard.
4. `repeats`: parts of a graph that repeat node for node (one sample's loss
   in a batch), written once.
5. One emitter per backend, each writing its program in steps (leaves,
   forward, guards, backward, compile): `python_program` (one line per node)
   and `numpy_program` (one numpy op per group of sibling nodes, over the
   whole batch). Both take every op's forward and backward from the op table
   (`ops.py`): the op's code templates (``{a} * {b}``, ``{b} * {g}``) written
   inline, or its Python functions called. `code` holds what both write with.
6. `trace`: `Trace`, its cache of programs by input shape, and the calls.

For evaluation there is a forward-only kind of program, with several
outputs: `forward_program` (stage 5c, both backends' emitters with their
backward stage left out) and `forward.trace_forward` (stage 6b: record one
sample, run the whole batch; ``train.evaluate(..., replay=...)`` uses it).

Both programs implement one small interface, `program.Program`: ``run(P, X,
I, seed, n)`` returns ``(outputs, totals)``, plus the guards checked outside
the code and the ``source``. Neither builds on the other. The interface
leaves room for a forward-only program with several outputs (for
evaluation): its ``run`` returns the outputs and no totals; `forward_program` has both.
"""

from __future__ import annotations

from .errors import ReplayError
from .forward import ForwardTrace, trace_forward
from .trace import Trace, trace

__all__ = ["trace", "Trace", "trace_forward", "ForwardTrace", "ReplayError"]
