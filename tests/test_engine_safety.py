"""The engine under threads, failures, NaN, infinity and huge numbers (each case once gave a silent wrong number)."""

import asyncio
import gc
import math
import threading

import pytest

from microgradcn import AnomalyError, Value, _collector, detect_anomaly, grad, is_grad_enabled, no_grad, ops

DEFAULT = gc.get_threshold()


# ------------------------------------------------------------ 1. threads
def test_no_grad_in_one_thread_does_not_switch_off_another():
    inside, done = threading.Event(), threading.Event()
    results = {}

    def evaluating():
        with no_grad():
            inside.set()
            done.wait(5)

    def training():
        inside.wait(5)
        x = Value(3.0)
        (x * x).backward()
        results["grad"], results["enabled"] = x.grad, is_grad_enabled()
        done.set()

    threads = [threading.Thread(target=evaluating), threading.Thread(target=training)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == {"grad": 6.0, "enabled": True}


def test_overlapping_no_grad_blocks_in_two_threads_leave_recording_on():
    steps = [threading.Event() for _ in range(4)]

    def first():
        with no_grad():
            steps[0].set()
            steps[1].wait(5)
        steps[2].set()

    def second():
        steps[0].wait(5)
        with no_grad():
            steps[1].set()
            steps[2].wait(5)  # leaves after the first thread did: the old global switch stayed off for good

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    x = Value(2.0)
    y = x * x
    assert is_grad_enabled() and not y.is_leaf
    y.backward()
    assert x.grad == 4.0


def test_grad_mode_belongs_to_each_asyncio_task():
    async def evaluate(started, release):
        with no_grad():
            started.set()
            await release.wait()

    async def train(started, release):
        await started.wait()
        x = Value(5.0)
        (x * x).backward()
        release.set()
        return x.grad

    async def main():
        started, release = asyncio.Event(), asyncio.Event()
        _, g = await asyncio.gather(evaluate(started, release), train(started, release))
        return g

    assert asyncio.run(main()) == 10.0


def test_graphs_recorded_in_many_threads_are_right_and_the_collector_is_restored():
    errors = []

    def work(seed):
        try:
            for k in range(200):
                x = Value(float(seed + k))
                y = x * x + x
                y.backward()
                assert x.grad == 2 * x.data + 1
        except AssertionError as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    gc.collect()
    _collector.wake()  # any graph still pending is gone now
    assert gc.get_threshold() == DEFAULT and gc.isenabled() and gc.get_freeze_count() == 0


# ------------------------------------------------------- 2. all or nothing
def test_a_failed_backward_changes_no_gradient():
    x, w = Value(0.0), Value(3.0)
    with pytest.raises(ValueError, match="backward failed at 'sqrt' node with data 0.0"):
        (w * x + x.sqrt()).backward()
    assert x.grad == 0 and w.grad == 0


def test_an_interrupted_backward_changes_no_gradient(monkeypatch):
    x = Value(2.0)
    y = (x * x).tanh() + x.exp()
    y.backward()
    before = x.grad

    def interrupt(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(ops.TANH, "local", interrupt)  # Ctrl-C in the middle of the loop
    with pytest.raises(KeyboardInterrupt):
        y.backward()
    assert x.grad == before  # not half of a second pass
    monkeypatch.undo()
    y.backward()
    assert x.grad == pytest.approx(2 * before)


# ----------------------------------------------------------- 3. grad()
def test_grad_fails_as_clearly_as_backward():
    x = Value(0.0)
    with pytest.raises(ValueError, match="backward failed at 'sqrt' node with data 0.0"):
        grad(x.sqrt(), [x])


# ------------------------------------------------------------- 4. NaN
@pytest.mark.parametrize("build", [lambda v: v.relu(), lambda v: v.step(), lambda v: v.leaky_relu(0.1),
                                   lambda v: v.prelu(Value(0.2)), lambda v: v.elu(), lambda v: abs(v),
                                   lambda v: v.max(1.0), lambda v: v.min(1.0)])
def test_nan_is_never_turned_into_a_number(build):
    x = Value(float("nan"))
    y = build(x)
    assert math.isnan(y.data)
    assert all(math.isnan(d) for d in y.local_grads()[:1])
    y.backward()
    assert math.isnan(x.grad)


# -------------------------------------------------------- 5. anomaly mode
def test_anomaly_mode_names_the_op_inputs_and_the_line_of_a_nan_result():
    a, b = Value(float("inf")), Value(float("inf"))
    assert math.isnan((a - b).data)  # off by default: IEEE arithmetic, no error
    with detect_anomaly():
        with pytest.raises(AnomalyError, match=r"- gave nan from inputs inf, inf; the node was created at "
                                               r".*test_engine_safety.py, line \d+"):
            a - b


def test_anomaly_mode_names_the_op_whose_gradient_is_infinite():
    with detect_anomaly():
        x = Value(5e-324)  # the smallest float: log is finite there, its derivative 1/x is not
        y = x.log()
        with pytest.raises(AnomalyError, match=r"backward of log \(inputs 5e-324\) gave the gradient inf"):
            y.backward()
    assert x.grad == 0  # all or nothing, here too


def test_anomaly_mode_is_off_outside_its_block():
    from microgradcn import modes

    with detect_anomaly():
        assert modes.blocks_open == 1 and modes.anomaly_enabled()
    assert modes.blocks_open == 0 and not modes.anomaly_enabled()
    y = Value(float("inf")) - Value(float("inf"))
    y.backward()


# ------------------------------------------------------------ 6. ELU
def test_elu_derivative_is_accurate_far_left():
    x = Value(-30.0)
    x.elu(1.0).backward()
    assert abs(x.grad - math.exp(-30.0)) / math.exp(-30.0) <= 1e-12  # out + alpha cancels to 1.7e-4


@pytest.mark.parametrize("alpha", [0.5, 1.0])
def test_elu_derivative_far_right_is_one_not_an_overflow(alpha):
    x = Value(729.0)  # e ** 729 overflows: the arm for x <= 0 must not compute it
    x.elu(alpha).backward()
    assert x.grad == 1
    y = Value(729.0)
    (g,) = grad(y.elu(alpha), [y], create_graph=True)  # the derivative as a Value: no overflow either
    assert g.data == 1


# ------------------------------------------------------ 7. huge numbers
@pytest.mark.parametrize("build, expected", [(lambda v: v.tanh(), 1.0), (lambda v: v.sigmoid(), 1.0),
                                             (lambda v: (-v).tanh(), -1.0), (lambda v: (-v).sigmoid(), 0.0)])
def test_squashing_functions_saturate_for_huge_integers(build, expected):
    x = Value(10**400)
    assert build(x).data == expected


@pytest.mark.parametrize("build, message", [
    (lambda v: v.exp(), r"exp\(\(an integer of about 401 digits\)\) is too large"),
    (lambda v: v.sqrt(), r"sqrt\(\(an integer of about 401 digits\)\): an integer this large does not fit"),
    (lambda v: v * 2.0, r"\(an integer of about 401 digits\) \* 2.0: an integer this large does not fit"),
    (lambda v: v / 3, r"/ 3: the result is too large"),
])
def test_ops_that_cannot_take_a_huge_integer_say_so(build, message):
    with pytest.raises(OverflowError, match=message):
        build(Value(10**400))


# -------------------------------------------------------- 8. inf and nan
def test_inf_and_nan_data_follow_ieee_rules_and_overflow_from_finite_numbers_is_an_error():
    assert Value(float("inf")).exp().data == math.inf
    assert Value(float("-inf")).exp().data == 0.0
    assert math.isnan(Value(float("nan")).exp().data)
    with pytest.raises(OverflowError, match=r"exp\(1000.0\) is too large for a float"):
        Value(1000.0).exp()


# --------------------------------------------- 11. absurd model files
@pytest.mark.parametrize("number", ["1" * 400, "1" * 5000, "1e999", "-" + "9" * 400])
def test_loading_absurd_numbers_names_the_file_and_the_parameter(tmp_path, number):
    from microgradcn.nn import MLP

    model = MLP(1, [1], seed=0)
    path = tmp_path / "model.json"
    model.save(path)
    text = path.read_text()
    name = next(iter(model.state_dict()))
    start = text.index(f'"{name}": ') + len(f'"{name}": ')
    end = min(i for i in (text.find(",", start), text.find("\n", start)) if i >= 0)
    path.write_text(text[:start] + number + text[end:])
    before = [p.data for p in model.parameters()]
    with pytest.raises(ValueError, match=rf"model\.json: .* \(saved value for '{name}' must be a finite number"):
        model.load(path)
    assert [p.data for p in model.parameters()] == before


def test_a_huge_model_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    from microgradcn import serialization
    from microgradcn.nn import MLP

    path = tmp_path / "big.json"
    with open(path, "wb") as f:
        f.truncate(2**30)  # 1 GB (sparse: no disk is used)
    with pytest.raises(ValueError, match="big.json: 1,073,741,824 bytes is too large for a model file"):
        serialization.load(MLP(1, [1], seed=0), path)


def test_random_numbers_are_leaf_values_and_a_non_function_is_refused():
    from microgradcn.modes import random_numbers

    leaves = random_numbers(lambda: [0.25, 1.0])
    assert [v.data for v in leaves] == [0.25, 1.0] and all(v.is_leaf for v in leaves)
    with pytest.raises(TypeError, match="random_numbers\\(\\) needs a function .* got list"):
        random_numbers([0.25])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Value data must be a real number"):
        random_numbers(lambda: ["0.5"])
