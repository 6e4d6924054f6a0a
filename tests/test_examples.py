"""The canonical examples compute the book's and the seed's numbers."""

from fractions import Fraction

import pytest

from microgradcn import examples
from microgradcn.examples import apple_orange, apple_tax, chain_rule, find, network_2_2_1, single_neuron


def grads(root, *labels):
    return [find(root, label).grad for label in labels]


def test_apple_tax_float_matches_the_book():
    pay = apple_tax()
    assert pay.data == pytest.approx(220)
    assert grads(pay, "苹果单价", "苹果个数", "消费税", "苹果总价") == pytest.approx([2.2, 110, 200, 1.1])
    assert find(pay, "苹果总价").data == 200


def test_apple_tax_exact_is_exact():
    pay = apple_tax(exact=True)
    assert pay.data == 220
    expected = [Fraction(11, 5), Fraction(110), 200, Fraction(11, 10)]
    assert grads(pay, "苹果单价", "苹果个数", "消费税", "苹果总价") == expected


def test_apple_orange_matches_the_book():
    pay = apple_orange(exact=True)
    assert pay.data == 715
    assert find(pay, "税前合计").data == 650
    assert grads(pay, "苹果单价", "苹果个数", "橘子单价", "橘子个数", "消费税") == [
        Fraction(11, 5), 110, Fraction(33, 10), 165, 650]
    assert grads(pay, "苹果总价", "橘子总价", "税前合计") == [Fraction(11, 10)] * 3


def test_chain_rule():
    z = chain_rule()
    assert (z.data, find(z, "t").grad, find(z, "x").grad, find(z, "y").grad) == (9, 6, 6, 6)


def test_single_neuron():
    o = single_neuron()
    assert o.data == pytest.approx(2 ** -0.5)
    assert grads(o, "x1", "w1", "x2", "w2", "b") == pytest.approx([-1.5, 1.0, 0.5, 0.0, 0.5])


def test_network_2_2_1_matches_the_worked_example():
    E = network_2_2_1(exact=True)
    assert E.data == Fraction("0.55125")
    assert [find(E, n).data for n in ("h1", "h2", "y")] == [Fraction("1.25"), Fraction("3.8"), Fraction("5.05")]
    assert grads(E, "w1", "w2", "w3", "w4", "w5", "w6") == [
        Fraction(s) for s in ("1.05", "0.525", "1.05", "0.525", "1.3125", "3.99")]
    assert network_2_2_1().data == pytest.approx(0.55125)


def test_registry_builds_every_example_and_finds_parameters():
    for name in examples.EXAMPLES:
        root = examples.build(name)
        assert all(p.is_leaf for p in examples.parameters(name, root))
    assert [p.label for p in examples.parameters("single_neuron", single_neuron())] == ["w1", "w2", "b"]
    with pytest.raises(KeyError, match="unknown example 'nope'"):
        examples.build("nope")
    with pytest.raises(KeyError, match="no Value labelled"):
        find(apple_tax(), "香蕉")
