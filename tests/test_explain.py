"""explain(): the chain rule step by step, with the right numbers."""

from microgradcn import Value
from microgradcn.examples import apple_orange, apple_tax, chain_rule, network_2_2_1
from microgradcn.viz import explain


def test_apple_tax_explanation(capsys):
    text = explain(apple_tax())
    assert capsys.readouterr().out.strip() == text
    lines = text.splitlines()
    assert "∂支付金额/∂苹果单价 = ∂支付金额/∂苹果总价 × ∂苹果总价/∂苹果单价 = 1.1 × 2 = 2.2" in lines[-1]
    assert "∂支付金额/∂苹果个数 = ∂支付金额/∂苹果总价 × ∂苹果总价/∂苹果个数 = 1.1 × 100 = 110" in text
    assert "∂支付金额/∂消费税 = 200" in text and "∂支付金额/∂苹果总价 = 1.1" in text
    assert "∂支付金额/∂支付金额 = 1" in lines[1]  # backward order: the output first


def test_apple_tax_exact_explanation():
    text = explain(apple_tax(exact=True), file=open("/dev/null", "w"))
    assert "11/10 × 2 = 11/5" in text


def test_apple_orange_explanation():
    text = explain(apple_orange(), file=open("/dev/null", "w"))
    for fact in ("∂支付金额/∂消费税 = 650", "∂支付金额/∂税前合计 = 1.1",
                 "∂支付金额/∂橘子总价 = ∂支付金额/∂税前合计 × ∂税前合计/∂橘子总价 = 1.1 × 1 = 1.1",
                 "∂支付金额/∂橘子单价 = ∂支付金额/∂橘子总价 × ∂橘子总价/∂橘子单价 = 1.1 × 3 = 3.3",
                 "∂支付金额/∂橘子个数 = ∂支付金额/∂橘子总价 × ∂橘子总价/∂橘子个数 = 1.1 × 150 = 165",
                 "= 1.1 × 2 = 2.2", "= 1.1 × 100 = 110"):
        assert fact in text, fact


def test_a_node_used_twice_shows_the_sum():
    text = explain(network_2_2_1(), file=open("/dev/null", "w"))
    assert "∂E/∂x1 = ∂E/∂(w1·x1) × ∂(w1·x1)/∂x1 + ∂E/∂(w3·x1) × ∂(w3·x1)/∂x1 = 1.05 × 0.5 + 1.05 × 2.3 = 2.94" in text
    assert "被使用了 2 次" in text
    assert "∂E/∂w6 = ∂E/∂(w6·h2) × ∂(w6·h2)/∂w6 = 1.05 × 3.8 = 3.99" in text
    x = Value(3, label="x")
    y = x * x
    y.label = "y"
    assert "∂y/∂x = 3 + 3 = 6" in explain(y, file=open("/dev/null", "w"))


def test_chain_rule_and_negative_numbers_in_parentheses():
    assert "∂z/∂x = ∂z/∂t × ∂t/∂x = 6 × 1 = 6" in explain(chain_rule(), file=open("/dev/null", "w"))
    text = explain(network_2_2_1(), file=open("/dev/null", "w"))
    assert "= (-1.05) × (-1) = 1.05" in text
