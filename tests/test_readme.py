"""Every ```python block of the README runs (in a temporary folder) and prints what the README says."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)

# (text that identifies a block, texts its output must contain, in order)
EXPECTED_OUTPUT = [
    ('tax = Value(Fraction(11, 10), label="消费税")', ["220\n", "11/5 110 200\n"]),
    ("z = (x * y + x ** 2).tanh()", ["tanh ['+']\n"]),
    ("(dx,) = grad(x ** 3, [x], create_graph=True)", ["12.0 12.0\n", "0.69314718055994"]),
    ("print(gradcheck(", ["∂f/∂x0", "✓", "∂f/∂x1", "✓"]),
    ("explain(pay)", ["= 1.1 × 2 = 2.2"]),
    ("steps = frames(apple_orange())", ["反向 9/9", "= 2.2"]),
    ('loss = F.hinge([model(x) for x in rows], [1, -1])', ["['MLP', 'hinge', 'l2_penalty'] [528, 528]\n",
                                                            "∂(+#1)/∂layers.2.neurons.0.b\n", "40 帧\n",
                                                            "预处理[0] · +#1\n"]),
    ("inputs, labels = to_values(X), y.tolist()", ["accuracy 100%"]),
    ('my_sin = Op("my_sin"', ["1.755165\n"]),
    ("step = trace(sample_loss, params", ["records 1, retraces 0\n"]),
    ("print(step.source)", ["def _program(P, X, I, SEED, K, F, C, S):\n", "v15 = (v2 + (v3 * v4)) + (v5 * v6)\n",
                            "g2 = v1 * g1\n", "return v13, [G0, G1, G2, G3, G4, G5, G6, G7, G8]\n"]),
    ("mul_apple, mul_tax = MulLayer(), MulLayer()", ["220 2.2 110.0 200\n", "[[0.2689, -0.2689], [0.5379, -0.5379]]"]),
    ("step = make_step(model)", ["4192 个参数, 最后一步的损失 2.4859\n"]),
    ("twin = pickle.loads(pickle.dumps(model))", ["True ['layers.0.neurons.0.w.0', 'layers.0.neurons.0.w.1']\n"]),
    ("datasets.digits(seed=0)", ["['19%', '34%', '51%'] test accuracy 56.9%\n"]),
]


def test_readme_has_examples():
    assert len(BLOCKS) >= 3


def _expected_for(block):
    for marker, texts in EXPECTED_OUTPUT:
        if marker in block:
            return texts
    return []


def test_every_expected_output_names_a_real_block():
    for marker, _ in EXPECTED_OUTPUT:
        assert any(marker in block for block in BLOCKS), marker


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs_and_prints_what_it_says(index, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"readme_block_{index}"}
    exec(compile(BLOCKS[index], f"README.md block {index}", "exec"), namespace)
    for name, obj in list(namespace.items()):
        if name.startswith("test_") and callable(obj):
            obj()
    output = capsys.readouterr().out
    position = 0
    for text in _expected_for(BLOCKS[index]):
        found = output.find(text, position)
        assert found >= 0, f"README block {index} should print {text!r}; it printed:\n{output}"
        position = found + len(text)


def test_the_generated_source_shown_is_the_one_replay_writes_and_the_graph_beside_it_is_current():
    """The README's text block after `print(step.source)` is that program's source, and viz/ holds its graph."""
    from microgradcn.nn import MLP
    from microgradcn.replay import trace
    from microgradcn.viz import draw_graph

    tiny = MLP(2, [2, 1], activation="tanh", seed=0)
    step = trace(lambda x, t: (tiny(x) - t) ** 2, tiny.parameters())
    step([0.5, -1.0], 1.0)
    text = README.read_text(encoding="utf-8")
    shown = re.search(r"print\(step\.source\).*?```\n\n```text\n(.*?)```", text, flags=re.S)
    assert shown is not None and shown.group(1) == step.source
    viz = README.parent / "viz"
    assert "viz/replay_2_2_1_book.svg" in text and (viz / "replay_2_2_1_book.svg").exists()
    assert (viz / "replay_2_2_1_book.dot").read_text(encoding="utf-8") == draw_graph(step.graph, style="book").source
