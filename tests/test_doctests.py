"""The examples in docstrings are true."""

import doctest

import pytest

import microgradcn
from microgradcn import engine, gradient_check, replay, testing


@pytest.mark.parametrize("module", [microgradcn, engine, gradient_check, replay, testing], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
