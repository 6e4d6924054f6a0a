"""The HTML card Jupyter shows for a Value."""

import pytest

from microgradcn import Value
from microgradcn.examples import apple_tax, find
from microgradcn.viz import value_card_html


def test_card_of_an_interior_node_shows_label_data_grad_and_op():
    pay = apple_tax()
    card = value_card_html(find(pay, "苹果总价"))
    assert "<b>苹果总价</b>" in card
    assert ">200</td>" in card  # data
    assert ">1.1</span>" in card  # d pay / d total
    assert "×(*),2 个输入 inputs" in card
    assert "draw_graph(v)" in card


def test_card_of_a_leaf_and_of_an_unlabelled_value():
    x = Value(3, label="x")
    assert "叶子 leaf" in value_card_html(x) and ">0</span>" in value_card_html(x)
    card = value_card_html(x.exp())
    assert "无标签" in card and "exp,1 个输入 input<" in card


def test_card_escapes_html_in_labels():
    card = value_card_html(Value(1.0, label='<script>alert("x")</script>&'))
    assert "<script>" not in card
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in card


def test_card_shortens_a_huge_label_and_shows_exact_fractions():
    from fractions import Fraction

    v = Value(Fraction(11, 5), label="长" * 10000)
    card = value_card_html(v)
    assert len(card) < 2000 and "长" * 59 + "…" in card and ">11/5</td>" in card


def test_card_rejects_non_values():
    with pytest.raises(TypeError, match="needs a Value, got float"):
        value_card_html(1.5)
