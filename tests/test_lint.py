"""flake8 (pyflakes + pycodestyle, settings in setup.cfg) finds nothing in the code we ship and test."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_flake8_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "microgradcn", "tests", "scripts", "benchmarks"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
