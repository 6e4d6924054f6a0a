"""`python -m benchmarks`: the usage line for a bad workload, one JSON line with --json, the tables otherwise."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import __main__ as cli
from benchmarks import digits, gpt

ROOT = Path(__file__).resolve().parents[2]


def test_an_unknown_workload_prints_the_usage_line_and_exits_2():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "benchmarks", "nosuch"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("usage: python -m benchmarks [-h] [--quick] [--json] [--gc-off]")
    assert "invalid choice: 'nosuch'" in result.stderr and "Traceback" not in result.stderr


def test_chain_and_wide_print_their_tables_and_forecasts(capsys):
    assert cli.main(["chain", "--quick"]) == 0
    assert cli.main(["wide", "--quick", "--gc-off"]) == 0
    captured = capsys.readouterr()
    assert "chain: x = x * 1.0001 + 0.1" in captured.out and "flatness" in captured.out
    assert "opt.step" in captured.out and "wide: random mixed-op graph" in captured.out
    assert "chain: about " in captured.err and "wide: about " in captured.err  # before they start


@pytest.mark.slow
def test_all_quick_json_is_one_line_on_stdout_with_every_workload(capsys, monkeypatch):
    # moons, chain and wide as --quick runs; gpt and digits stand-ins (their own tests run them): how `all` joins them.
    for module, name in ((gpt, "gpt"), (digits, "digits")):
        monkeypatch.setattr(module, "run", _stand_in(name))
        monkeypatch.setattr(module, "show", lambda report: print(f"{report['workload']}: shown"))
    assert cli.main(["all", "--quick", "--json"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 1  # the tables and the forecasts went to stderr
    report = json.loads(lines[0])
    assert report["workload"] == "all" and set(report) == {"workload", "moons", "chain", "wide", "gpt", "digits"}
    moons = report["moons"]
    assert moons["workload"] == "moons" and moons["steps"] == 5
    assert set(moons["record_s"]) == {"replay-python", "replay-numpy"}
    rows = moons["rows"]
    for name in ("eager", "replay-python", "replay-numpy", "baseline"):
        assert rows[name]["bit_identical_to_eager"] is True
        assert rows[name]["final_loss"] == rows["eager"]["final_loss"]
    for name, module in (("micrograd", "micrograd"), ("torch-scalar", "torch"), ("torch-batched", "torch")):
        try:
            __import__(module)
        except ImportError:
            assert name not in rows
        else:
            assert name in rows and isinstance(rows[name]["bit_identical_to_eager"], bool)
    assert rows.get("torch-scalar", {}).get("steps", 2) == 2  # few steps: compared over those steps
    assert report["chain"]["grad_rel_error"] < 1e-12 and "flatness" in report["chain"]
    assert report["wide"]["nodes"] > 10_000
    assert report["gpt"] == {"workload": "gpt"} and report["digits"] == {"workload": "digits"}
    assert "65,818 nodes per step" in captured.err and "bit-identical to eager" in captured.err
    assert "gpt: shown" in captured.err and "digits: shown" in captured.err
    for name in ("moons", "chain", "wide"):
        assert f"{name}: about " in captured.err


def _stand_in(name):
    return lambda quick: {"workload": name}
