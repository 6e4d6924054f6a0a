"""The benchmarks of microgradcn: run from a clone of the repository with ``python -m benchmarks WORKLOAD``.

Not part of the installed package: they carry a second autograd engine
(`microgpt`) and the competitors' runs (micrograd, PyTorch), which a learner's
install does not need.

* ``moons`` (`moons`): micrograd's demo, an ``MLP(2, [16, 16, 1])`` trained on
  100 moons points, run by the eager engine, by replay (python and numpy
  backends), by plain floats with hand-written backprop (`baseline`) and, when
  importable, by micrograd and PyTorch; every row checked against eager, bit for bit.
* ``chain`` (`chain`): ``x = x * 1.0001 + 0.1`` repeated N times, then backward;
  the forward cost per node at 10^4 and 10^6 nodes; the collections in a training loop.
* ``wide`` (`wide`): a seeded random graph of mixed operations (200,000 Values).
* ``gpt`` (`gpt`): ``GPT(27)`` on names against a microgpt-style engine (`microgpt`).
* ``digits`` (`digits`): the digits MLP and CNN, eager and replayed.

Every workload is timed the same way (`timing`): CPU time of this process,
PyTorch and numpy's BLAS on one thread, and each prints, before it starts,
about how long it will take. Nothing here asserts a time; the tests in
``benchmarks/tests`` check that the workloads run and that their numbers agree.
"""
