"""optim: every optimiser one and three steps against hand-computed numbers.

The problem throughout: one parameter p = 1 and loss p², so the gradient is
2p at each step. First steps, by hand (η = learning rate):

* SGD η=0.1: 1 − 0.1·2 = 0.8, then 0.64, 0.512.
* momentum 0.9: b=2 → 0.8; g=1.6, b=0.9·2+1.6=3.4 → 0.46; g=0.92, b=3.98 → 0.062.
* Nesterov 0.9: b=2, g'=2+1.8=3.8 → 0.62; g=1.24, b=3.04, g'=3.976 → 0.2224; ... → −0.108352.
* AdaGrad η=0.1: s=4 → 1 − 0.1·2/2 = 0.9; s=4+1.8² → 0.9 − 0.18/√7.24.
* RMSProp η=0.01: v=0.01·4 → 1 − 0.01·2/0.2 = 0.9; v=0.0396+0.0324 → 0.9 − 0.018/√0.072.
* Adam η=0.1: the first bias-corrected step is η·sign(g) → 0.9.
* AdamW η=0.1, λ=0.1: p·(1 − 0.01) = 0.99 first, then −0.1 → 0.89.
The third-step values were computed once from the formulas in optim's docstring.
"""

from __future__ import annotations

import math

import pytest

from microgradcn import Value
from microgradcn.optim import SGD, AdaGrad, Adam, AdamW, RMSProp, clip_grad_norm, clip_grad_value


def run(make, steps=3, start=1.0):
    p = Value(start)
    opt = make([p])
    trace = []
    for _ in range(steps):
        opt.zero_grad()
        (p * p).backward()
        opt.step()
        trace.append(p.data)
    return trace


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda ps: SGD(ps, lr=0.1), [0.8, 0.64, 0.512]),
        (lambda ps: SGD(ps, lr=0.1, momentum=0.9), [0.8, 0.46, 0.062]),
        (lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True), [0.62, 0.2224, -0.108352]),
        (lambda ps: AdaGrad(ps, lr=0.1), [0.9, 0.9 - 0.18 / math.sqrt(7.24), 0.7804561813568098]),
        (lambda ps: RMSProp(ps, lr=0.01), [0.9, 0.9 - 0.018 / math.sqrt(0.072), 0.7799822732436351]),
        (lambda ps: Adam(ps, lr=0.1), [0.9, 0.8004122286917927, 0.70158627294603]),
        (lambda ps: AdamW(ps, lr=0.1, weight_decay=0.1), [0.89, 0.7815718559365047, 0.6751012216400696]),
    ],
    ids=["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"],
)
def test_one_and_three_steps(make, expected):
    assert run(make, 1) == pytest.approx(expected[:1], rel=1e-8)
    assert run(make, 3) == pytest.approx(expected, rel=1e-8, abs=1e-12)


def test_sgd_weight_decay_is_the_one_minus_eta_lambda_form():
    # d2l's weight decay: w ← (1 − ηλ) w − η ∂ℓ/∂w.
    eta, lam = 0.05, 0.3
    w = Value(2.0)
    opt = SGD([w], lr=eta, weight_decay=lam)
    for _ in range(3):
        before = w.data
        opt.zero_grad()
        loss = 3 * w  # ∂ℓ/∂w = 3
        loss.backward()
        opt.step()
        assert w.data == pytest.approx((1 - eta * lam) * before - eta * 3)


def test_sgd_weight_decay_equals_adding_half_lambda_norm_to_the_loss():
    lam = 0.3
    a, b = Value(2.0), Value(2.0)
    opt_a, opt_b = SGD([a], lr=0.1, weight_decay=lam), SGD([b], lr=0.1)
    for _ in range(3):
        opt_a.zero_grad()
        (a * a * a).backward()
        opt_a.step()
        opt_b.zero_grad()
        (b * b * b + lam / 2 * b * b).backward()
        opt_b.step()
        assert a.data == pytest.approx(b.data)


# Reference trajectories from torch.optim 2.13 (float64), produced by this script:
#
#   import torch; torch.set_default_dtype(torch.float64)
#   a, b = torch.tensor(1.0, requires_grad=True), torch.tensor(-0.5, requires_grad=True)
#   opt = torch.optim.Adam([a, b], lr=0.1, weight_decay=0.5)   # etc., as in TORCH_CASES
#   for _ in range(3):
#       opt.zero_grad(); ((a - 2) ** 2 + a * b + b ** 4).backward(); opt.step()
#       print(a.item(), b.item())
#
# The loss's gradients (2(a-2) + b, a + 4b³) are not proportional to the
# parameters, so L2 weight decay changes the gradient's direction and Adam's
# scale invariance cannot hide it; eps = 1.0 is as large as √v, so eps inside
# the square root or before the bias correction would change the numbers.
TORCH_CASES = [
    ("sgd_wd", lambda ps: SGD(ps, lr=0.1, weight_decay=0.1),
     [(1.24, -0.545), (1.4341, -0.59879855), (1.592818855, -0.6503385522865949)]),
    ("momentum_wd", lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
     [(1.24, -0.545), (1.6501000000000001, -0.63929855), (2.136598855, -0.7782710584613997)]),
    ("nesterov_wd", lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
     [(1.456, -0.5855), (1.940701, -0.734921794955), (2.36471634204145, -0.8689847617270692)]),
    ("adagrad_wd", lambda ps: AdaGrad(ps, lr=0.1, weight_decay=0.1),
     [(1.0999999999958334, -0.5999999999777778), (1.16903323381595, -0.6364243277846544),
      (1.2239783225453693, -0.6516209477323471)]),
    ("adagrad_eps1", lambda ps: AdaGrad(ps, lr=0.1, eps=1.0),
     [(1.0714285714285714, -0.5333333333333333), (1.1250392418502968, -0.560947103390916),
      (1.1698246751829402, -0.5842136072543219)]),
    ("rmsprop_wd", lambda ps: RMSProp(ps, lr=0.01, weight_decay=0.1),
     [(1.0999999958333335, -0.5999999777777827), (1.1692146139677915, -0.6365833088884968),
      (1.2244493037734558, -0.651797316652106)]),
    ("rmsprop_eps1", lambda ps: RMSProp(ps, lr=0.01, eps=1.0),
     [(1.02, -0.5047619047619047), (1.0382550716198622, -0.5094828269398125),
      (1.0553290177971317, -0.5141677344062594)]),
    ("adam_wd", lambda ps: Adam(ps, lr=0.1, weight_decay=0.5),
     [(1.0999999995, -0.5999999960000002), (1.1997212251711282, -0.6464470872804944),
      (1.298742906198657, -0.6349482862390046)]),
    ("adam_eps1", lambda ps: Adam(ps, lr=0.1, eps=1.0),
     [(1.0714285714285714, -0.5333333333333333), (1.1423072932121539, -0.5658011851386893),
      (1.2125543037082542, -0.597121995983965)]),
    ("adamw_wd", lambda ps: AdamW(ps, lr=0.1, weight_decay=0.5),
     [(1.0499999996, -0.574999998), (1.0974725402574694, -0.6415333363657211),
      (1.142519974636678, -0.6874859144211531)]),
    ("adamw_eps1", lambda ps: AdamW(ps, lr=0.1, eps=1.0, weight_decay=0.5),
     [(1.0214285714285714, -0.5083333333333333), (1.0416169648019715, -0.5161541295351264),
      (1.0606150466531852, -0.5234752987560651)]),
]


def run_pair(make, steps):
    a, b = Value(1.0), Value(-0.5)
    opt = make([a, b])
    trace = []
    for _ in range(steps):
        opt.zero_grad()
        ((a - 2) ** 2 + a * b + b**4).backward()
        opt.step()
        trace.append((a.data, b.data))
    return trace


@pytest.mark.parametrize("make, expected", [c[1:] for c in TORCH_CASES], ids=[c[0] for c in TORCH_CASES])
def test_one_and_three_steps_match_torch_optim(make, expected):
    for steps in (1, 3):
        got = [x for pair in run_pair(make, steps) for x in pair]
        want = [x for pair in expected[:steps] for x in pair]
        assert got == pytest.approx(want, rel=1e-12, abs=1e-15)


def test_learning_rate_schedule_is_called_with_the_step_index():
    seen = []

    def schedule(k):
        seen.append(k)
        return 1.0 - 0.9 * k / 100

    p = Value(0.0)
    opt = SGD([p], lr=schedule)
    for _ in range(3):
        p.grad = 1.0
        opt.step()
    assert seen == [0, 1, 2]
    assert p.data == pytest.approx(-(1.0 + 0.991 + 0.982))
    assert opt.lr == pytest.approx(0.973) and opt.steps == 3


def test_zero_grad_clears_gradients():
    ps = [Value(1.0), Value(2.0)]
    (ps[0] * ps[1]).backward()
    SGD(ps, lr=0.1).zero_grad()
    assert [p.grad for p in ps] == [0, 0]


def test_clip_grad_norm_scales_all_gradients_together():
    ps = [Value(0.0), Value(0.0)]
    ps[0].grad, ps[1].grad = 3.0, 4.0
    assert clip_grad_norm(ps, 1.0) == pytest.approx(5.0)
    assert [p.grad for p in ps] == pytest.approx([0.6, 0.8])
    assert clip_grad_norm(ps, 10.0) == pytest.approx(1.0)
    assert [p.grad for p in ps] == pytest.approx([0.6, 0.8])  # below the limit: unchanged


def test_clip_grad_value_clamps_each_gradient():
    ps = [Value(0.0) for _ in range(3)]
    for p, g in zip(ps, [-5.0, 0.5, 7.0]):
        p.grad = g
    clip_grad_value(ps, 1.0)
    assert [p.grad for p in ps] == [-1.0, 0.5, 1.0]


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda ps: SGD(ps, lr=-0.1), "lr"),
        (lambda ps: SGD(ps, lr=0.1, momentum=-1), "momentum"),
        (lambda ps: SGD(ps, lr=0.1, weight_decay=-1), "weight_decay"),
        (lambda ps: SGD(ps, lr=0.1, nesterov=True), "nesterov"),
        (lambda ps: AdaGrad(ps, eps=-1), "eps"),
        (lambda ps: RMSProp(ps, alpha=1.5), "alpha"),
        (lambda ps: Adam(ps, betas=(0.9, 1.0)), "betas\\[1\\]"),
        (lambda ps: Adam(ps, betas=(0.9,)), "betas"),
        (lambda ps: SGD([], lr=0.1), "empty parameter list"),
    ],
)
def test_bad_hyper_parameters_raise_value_error_naming_them(make, name):
    with pytest.raises(ValueError, match=name):
        make([Value(1.0)])


def test_bad_schedule_value_and_bad_types():
    p = Value(1.0)
    opt = SGD([p], lr=lambda k: -1.0)
    with pytest.raises(ValueError, match="lr schedule at step 0"):
        opt.step()
    with pytest.raises(TypeError, match="lr must be a real number, got str"):
        SGD([p], lr="0.1")
    with pytest.raises(TypeError, match="parameters must be Values, got float"):
        SGD([1.0], lr=0.1)
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm([p], -1)


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda ps: SGD(ps, lr=math.inf), "lr"),
        (lambda ps: SGD(ps, lr=math.nan), "lr"),
        (lambda ps: SGD(ps, lr=0.1, momentum=math.inf), "momentum"),
        (lambda ps: SGD(ps, lr=0.1, weight_decay=math.inf), "weight_decay"),
        (lambda ps: Adam(ps, eps=math.inf), "eps"),
        (lambda ps: RMSProp(ps, eps=math.nan), "eps"),
        (lambda ps: AdaGrad(ps, weight_decay=math.nan), "weight_decay"),
        (lambda ps: clip_grad_norm(ps, math.inf), "max_norm"),
        (lambda ps: clip_grad_value(ps, math.nan), "clip"),
    ],
)
def test_non_finite_hyper_parameters_raise_value_error_naming_them(make, name):
    with pytest.raises(ValueError, match=f"{name} must be a finite number"):
        make([Value(1.0)])


def test_non_finite_schedule_value_is_rejected_at_the_step():
    opt = SGD([Value(1.0)], lr=lambda k: math.inf)
    with pytest.raises(ValueError, match="lr schedule at step 0 must be a finite number, got inf"):
        opt.step()


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1), Adam, lambda ps: clip_grad_norm(ps, 1.0)])
def test_a_parameter_listed_twice_is_rejected_with_its_index(make):
    a, b = Value(1.0), Value(2.0)
    with pytest.raises(ValueError, match="parameter at index 2 is the same Value as the one at index 0"):
        make([a, b, a])


# ------------------------------------------------------------------- reprs
def _ps(n=13):
    return [Value(1.0) for _ in range(n)]


@pytest.mark.parametrize("make, text", [
    (lambda ps: SGD(ps), "SGD(13 parameters, lr=0.01)"),
    (lambda ps: SGD(ps, lr=0.1, momentum=0.9), "SGD(13 parameters, lr=0.1, momentum=0.9)"),
    (lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-4, nesterov=True),
     "SGD(13 parameters, lr=0.1, momentum=0.9, weight_decay=0.0001, nesterov=True)"),
    (lambda ps: SGD(ps, lr=lambda k: 0.1), "SGD(13 parameters, lr=schedule)"),
    (lambda ps: AdaGrad(ps), "AdaGrad(13 parameters, lr=0.01)"),
    (lambda ps: AdaGrad(ps, lr=0.5, eps=1e-6, weight_decay=0.1),
     "AdaGrad(13 parameters, lr=0.5, eps=1e-06, weight_decay=0.1)"),
    (lambda ps: RMSProp(ps), "RMSProp(13 parameters, lr=0.01)"),
    (lambda ps: RMSProp(ps, alpha=0.9, eps=1e-6), "RMSProp(13 parameters, lr=0.01, alpha=0.9, eps=1e-06)"),
    (lambda ps: Adam(ps), "Adam(13 parameters, lr=0.001)"),
    (lambda ps: Adam(ps, betas=(0.9, 0.99), weight_decay=0.01),
     "Adam(13 parameters, lr=0.001, betas=(0.9, 0.99), weight_decay=0.01)"),
    (lambda ps: AdamW(ps), "AdamW(13 parameters, lr=0.001)"),  # its own default weight decay, 0.01
    (lambda ps: AdamW(ps, weight_decay=0, eps=1e-7), "AdamW(13 parameters, lr=0.001, eps=1e-07, weight_decay=0.0)"),
])
def test_repr_shows_every_hyper_parameter_that_differs_from_its_default(make, text):
    assert repr(make(_ps())) == text
