"""Saved model files: ordinary permissions, like any file the user writes."""

import os
import stat

import pytest

from microgradcn.nn import MLP
from microgradcn.serialization import _umask

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file permissions")


@pytest.fixture
def umask():
    old = os.umask(0o022)
    os.umask(old)

    def set_mask(mask):
        os.umask(mask)

    yield set_mask
    os.umask(old)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_model_file_gets_0666_less_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    assert _umask() == mask
    path = tmp_path / "m.json"
    MLP(2, [3, 1], seed=0).save(path)
    assert mode(path) == expected
    assert not [p for p in os.listdir(tmp_path) if p != "m.json"]  # no temporary file left


def test_overwriting_keeps_the_existing_files_permissions(tmp_path, umask):
    umask(0o022)
    path = tmp_path / "m.json"
    path.write_text("{}")
    os.chmod(path, 0o640)
    MLP(2, [3, 1], seed=0).save(path)
    assert mode(path) == 0o640
    model = MLP(2, [3, 1], seed=1)
    model.load(path)  # and the file is a valid model
    assert [p.data for p in model.parameters()] == [p.data for p in MLP(2, [3, 1], seed=0).parameters()]
