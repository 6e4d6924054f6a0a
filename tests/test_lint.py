"""ruff (lint) and mypy (types) find nothing: both run as part of the test suite, settings in setup.cfg."""

import configparser
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ["microgradcn", "tests", "scripts", "benchmarks", "conftest.py"]


def _ruff_config():
    """setup.cfg's [tool:ruff] as `--config` overrides (ruff itself reads no setup.cfg)."""
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg", encoding="utf-8")
    args = []
    for key, value in parser["tool:ruff"].items():
        args += ["--config", f"{key} = {value}"]
    return args


def test_ruff_is_clean():
    pytest.importorskip("ruff", reason="ruff is in the dev extra: pip install -e '.[dev]'")
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", *_ruff_config(), *CHECKED],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_no_errors_in_the_package_and_the_benchmarks():
    pytest.importorskip("mypy", reason="mypy is in the dev extra: pip install -e '.[dev]'")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "microgradcn", "benchmarks"], cwd=ROOT, capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout
