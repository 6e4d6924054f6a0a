"""`python -m benchmarks explore`: the page of one moons step, its figures and table (no timing is asserted)."""

import json

from benchmarks import __main__ as cli
from benchmarks import explore


def test_quick_explore_writes_the_moons_page_and_reports_its_figures(capsys, monkeypatch):
    monkeypatch.setattr(explore, "browser_rows", lambda rows: "skipped in this test")
    report = explore.run(quick=True)
    row = report["rows"]["moons"]
    assert list(report["rows"]) == ["moons"] and row["nodes"] == 65_818
    assert 0 < row["bytes"] < 5_000_000 and "path" not in row  # the page is written, measured and removed
    assert explore.show(report) in (True, False)
    out = capsys.readouterr().out
    assert "moons        65,818" in out and "browser timings skipped: skipped in this test" in out


def test_explore_is_a_workload_of_the_command_but_not_of_all(capsys, monkeypatch):
    monkeypatch.setattr(explore, "run", lambda quick: {"workload": "explore", "rows": {}, "skipped": {},
                                                      "browser": "none"})
    assert cli.main(["explore", "--json"]) in (0, 1)
    assert json.loads(capsys.readouterr().out)["workload"] == "explore"
    assert "explore" not in cli.WORKLOADS
