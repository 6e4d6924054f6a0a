"""The replay package is built as its docstring says: small stages, no cycles, two programs, one rule per op."""

import ast
import math
from fractions import Fraction
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from microgradcn import Value, select
from microgradcn.engine import _chain_rule
from microgradcn.ops import OPS, Op
from microgradcn.replay import graph
from microgradcn.replay.numpy_program import NumpyProgram
from microgradcn.replay.program import Program
from microgradcn.replay.python_program import PythonProgram
from microgradcn.testing import expressions

PACKAGE = Path(__file__).resolve().parent.parent / "microgradcn" / "replay"
MODULES = {path.stem: ast.parse(path.read_text(encoding="utf-8")) for path in PACKAGE.glob("*.py")}


def test_no_function_in_the_package_is_over_80_lines():
    lengths = {f"{name}.{node.name}": node.end_lineno - node.lineno + 1
               for name, tree in MODULES.items() for node in ast.walk(tree)
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    assert len(lengths) > 50
    assert max(lengths.values()) <= 80, sorted(lengths.items(), key=lambda item: -item[1])[:3]


def package_imports():
    """Module -> the package's modules it imports, anywhere in it (inside functions too)."""
    imports = {}
    for name, tree in MODULES.items():
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    found.add(node.module)
                else:
                    found.update(alias.name for alias in node.names)
        imports[name] = found
    return imports


def test_the_stages_import_each_other_without_a_cycle():
    imports = package_imports()
    assert imports["numpy_program"] & {"python_program"} == set()  # neither program builds on the other
    assert imports["python_program"] & {"numpy_program"} == set()
    done, visiting = set(), []

    def visit(module):
        assert module not in visiting, f"import cycle: {' -> '.join(visiting + [module])}"
        if module in done:
            return
        visiting.append(module)
        for other in imports.get(module, ()):
            visit(other)
        visiting.pop()
        done.add(module)

    for module in imports:
        visit(module)


def test_what_replay_imports_from_the_engine_does_not_import_replay_back():
    outside = {node.module for tree in MODULES.values() for node in ast.walk(tree)
               if isinstance(node, ast.ImportFrom) and node.level == 2}
    outside |= {alias.name for tree in MODULES.values() for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.level == 2 and node.module is None
                for alias in node.names}
    assert outside == {"engine", "ops", "modes", None}
    for name in outside - {None}:
        tree = ast.parse((PACKAGE.parent / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):  # lazy imports too
            if isinstance(node, ast.ImportFrom):
                assert "replay" not in (node.module or "") and all("replay" not in a.name for a in node.names)


def test_both_programs_implement_the_one_interface_and_neither_subclasses_the_other():
    assert not issubclass(PythonProgram, NumpyProgram) and not issubclass(NumpyProgram, PythonProgram)
    assert PythonProgram.__bases__ == (object,) and NumpyProgram.__bases__ == (object,)
    w = Value(2.0)
    from microgradcn.replay import trace

    step = trace(lambda x: w * x, [w])
    step(1.0)
    batched = trace(lambda x, t: w * x[0], [w], backend="numpy")
    batched([[1.0]], [0.0])
    programs = [next(iter(s._cache.values()))[0] for s in (step, batched)]
    assert [type(p) for p in programs] == [PythonProgram, NumpyProgram]
    assert all(isinstance(p, Program) for p in programs)


def test_no_rule_of_an_op_is_written_in_replay():
    """Replay takes + - * neg from the op table's templates: it names none of those ops."""
    for name, tree in MODULES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "ops":
                assert {alias.name for alias in node.names} <= {"OPS", "Op", "DETACH"}, name
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert node.value not in ("{} + {}", "{} * {}", "{} - {}"), name


TEMPLATED = [op for op in OPS.values() if op.forward_code is not None]
NUMBERS = st.floats(allow_nan=False, width=64) | st.fractions(max_denominator=50) | st.integers(-10**6, 10**6)


def evaluate(template, **names):
    return eval(template.format(**{k: k for k in names}), {}, names)


def same(x, y):
    return (x == y and type(x) is type(y) and math.copysign(1, x) == math.copysign(1, y)) or (x != x and y != y)


@given(st.sampled_from(TEMPLATED), NUMBERS, NUMBERS, NUMBERS)
def test_an_ops_code_templates_compute_what_its_functions_compute(op, a, b, g):
    """Forward and every backward term, the same number (of the same type, with the sign of a zero)."""
    args = (a, b) if op.arity == 2 else (a,)
    names = dict(zip("ab", args))
    out = op.forward(*args)
    assert same(evaluate(op.forward_code, **names), out)
    local = op.local(a, b, out) if op.arity == 2 else (op.local(a, None, out),)
    for template, d in zip(op.backward_code, local):
        assert same(evaluate(template, g=g, **names), d * g)


def test_the_templates_are_checked_when_an_op_is_made():
    import pytest

    twice = Op("twice", lambda x: 2 * x, lambda x, out: 2, forward_code="2 * {a}", backward_code=("2 * {g}",))
    assert twice(Value(3.0)).data == 6.0
    with pytest.raises(ValueError, match="both"):
        Op("bad", abs, lambda x, out: 1, forward_code="abs({a})")
    with pytest.raises(ValueError, match="may name only"):
        Op("bad", abs, lambda x, out: 1, forward_code="abs({x})", backward_code=("{g}",))
    with pytest.raises(TypeError, match="one term per input"):
        Op("bad", abs, lambda x, out: 1, forward_code="abs({a})", backward_code=("{g}", "{g}"))


@given(expressions(), st.integers(0, 2))
def test_the_backward_order_is_the_order_the_engines_loop_visits(expr, label):
    """graph.backward_order (a select's chosen candidate only) is engine._chain_rule's order, node for node."""
    xs = [Value(x) for x in expr.inputs]
    out = expr(*xs)
    root = select([out, out * 2, xs[0] + out], label) * out
    engine_order, _ = _chain_rule(root, create_graph=False)
    assert graph.backward_order(root, chosen_only=True) == engine_order
    plain = out * out + out  # without a select, counting all candidates changes nothing
    assert graph.backward_order(plain) == _chain_rule(plain, create_graph=False)[0]


def test_a_custom_op_with_templates_replays_inline_and_exactly():
    from microgradcn.replay import trace

    twice = Op("twice", lambda x: 2 * x, lambda x, out: 2, forward_code="2 * {a}", backward_code=("2 * {g}",))
    w = Value(Fraction(1, 3))
    step = trace(lambda x: twice(w * x) * w, [w])
    for x in (3.0, 0.1, -7.0):
        w.grad = 0
        expected = twice(w * Value(x)) * w
        expected.backward()
        expected_grad, w.grad = w.grad, 0
        assert (step(x), w.grad) == (expected.data, expected_grad)
    assert step.records == 1
    assert "2 * " in step.source and "_f" not in step.source  # inline, no call
