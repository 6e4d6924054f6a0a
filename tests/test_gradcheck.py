"""numerical_diff, numerical_gradient and gradcheck, including that gradcheck can fail."""

import re

import numpy as np
import pytest

from microgradcn import GradcheckError, Value, gradcheck, numerical_diff, numerical_gradient, ops


def test_numerical_diff_of_a_square():
    assert numerical_diff(lambda x: x ** 2, 3.0) == pytest.approx(6.0, abs=1e-9)


def test_numerical_diff_accepts_value_returning_functions():
    assert numerical_diff(lambda x: Value(x).exp(), 0.0) == pytest.approx(1.0, abs=1e-8)


def test_numerical_gradient_of_seed_002_function():
    g = numerical_gradient(lambda p: p[0] ** 2 + p[1] ** 2, [3.0, 4.0])
    assert g == pytest.approx([6.0, 8.0], abs=1e-9)
    arr = numerical_gradient(lambda p: p[0] ** 2 + p[1] ** 2, np.array([3.0, 4.0]))
    assert isinstance(arr, np.ndarray) and arr == pytest.approx([6.0, 8.0], abs=1e-9)


def test_numerical_gradient_keeps_array_shape():
    g = numerical_gradient(lambda a: float((a ** 2).sum()), np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert g.shape == (2, 2) and g == pytest.approx(np.array([[2.0, 4.0], [6.0, 8.0]]), abs=1e-8)


@pytest.mark.parametrize("h", [0, -1e-4, "0.1", None])
def test_bad_step_is_rejected(h):
    with pytest.raises(ValueError, match="step h must be a positive number"):
        numerical_diff(lambda x: x, 1.0, h=h)


def test_f_must_return_a_number():
    with pytest.raises(TypeError, match="must return a number or a Value, got str"):
        numerical_diff(lambda x: "x", 1.0)


def test_gradcheck_report_for_a_correct_function():
    report = gradcheck(lambda x, y: x * y + y.tanh(), [1.5, -0.5])
    assert report.ok and bool(report) and len(report.rows) == 2
    assert report.rows[0].analytic == pytest.approx(-0.5)
    text = str(report)
    assert "∂f/∂x0" in text and "∂f/∂x1" in text and "✓" in text


def test_gradcheck_table_is_chinese_first_with_the_english_under_it_and_columns_aligned():
    from microgradcn.viz import display_width

    lines = str(gradcheck(lambda x, y: x * y + y.tanh(), [1.5, -0.5])).splitlines()
    assert lines[0].split() == ["导数", "解析梯度", "数值梯度", "绝对误差", "相对误差", "通过"]
    assert lines[1].split() == ["derivative", "analytic", "numeric", "abs", "err", "rel", "err", "ok"]
    assert lines[2].split()[0] == "∂f/∂x0" and lines[2].endswith("  ✓")
    # columns line up in a terminal (a Chinese character takes two columns): the headings and the numbers end
    # together (right-aligned), ✓ starts under 通过 and ok
    def cells(line):  # (start, end) of each cell in terminal columns; cells are 2 or more spaces apart
        return [(display_width(line[:m.start()]), display_width(line[:m.end()]))
                for m in re.finditer(r"\S+(?: \S+)*", line)]

    zh, en, row = cells(lines[0]), cells(lines[1]), cells(lines[2])
    assert len(zh) == len(en) == len(row) == 6
    assert [c[1] for c in zh[1:5]] == [c[1] for c in en[1:5]] == [c[1] for c in row[1:5]]
    assert zh[5][0] == en[5][0] == row[5][0]
    assert lines[-1] == ("绝对误差 ≤ 1e-05 + 0.0001 × |数值梯度| 即通过 "
                         "(passes when abs err <= 1e-05 + 0.0001 * |numeric|)")


def test_gradcheck_second_order_rows():
    report = gradcheck(lambda x, y: x * x * y, [2.0, 3.0], order=2)
    assert [r.name for r in report.rows] == ["∂²f/∂x0∂x0", "∂²f/∂x0∂x1", "∂²f/∂x1∂x0", "∂²f/∂x1∂x1"]
    assert [round(r.analytic, 9) for r in report.rows] == [6.0, 4.0, 4.0, 0.0]


def test_gradcheck_catches_a_wrong_derivative(monkeypatch):
    monkeypatch.setattr(ops.TANH, "local", lambda x, k, out: 1 - out)  # wrong on purpose
    with pytest.raises(GradcheckError, match="disagree") as info:
        gradcheck(lambda x: x.tanh(), [0.5])
    assert "✗" in str(info.value) and not info.value.report.ok
    assert str(info.value).startswith("解析梯度与数值梯度不一致 (analytic and numerical gradients disagree):\n导数 ")
    report = gradcheck(lambda x: x.tanh(), [0.5], raise_on_failure=False)
    assert not report.ok


def test_gradcheck_validates_its_arguments():
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        gradcheck(lambda x: x, [1.0], order=3)
    with pytest.raises(ValueError, match="at least one input"):
        gradcheck(lambda: Value(1.0), [])
    with pytest.raises(TypeError, match="must return a Value, got float"):
        gradcheck(lambda x: 1.0, [1.0])


@pytest.mark.parametrize("call, english", [
    (lambda: numerical_diff(lambda x: x, 1.0, h=0), "step h must be a positive number, got 0"),
    (lambda: numerical_diff(lambda x: "x", 1.0), "must return a number or a Value, got str"),
    (lambda: gradcheck(lambda x: x, [1.0], order=3), "gradcheck order must be 1 or 2, got 3"),
    (lambda: gradcheck(lambda: Value(1.0), []), "gradcheck needs at least one input"),
    (lambda: gradcheck(lambda x: 1.0, [1.0]), "gradcheck's f must return a Value, got float"),
])
def test_argument_errors_are_chinese_first_with_the_english_kept(call, english):
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    message = str(info.value)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message.split(" (")[0]), message
    assert english in message and message.endswith(")")
