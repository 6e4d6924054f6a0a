"""Shared test settings for tests/ and benchmarks/tests/: hypothesis profiles, the notebook timings.

`ci` (the README's test command) keeps the whole suite within minutes on a
2-core machine; `thorough` is for local runs before a release. Being at the
repository's root, this file also puts the root on ``sys.path``, so the tests
import the (not installed) `benchmarks` package however pytest is started.
"""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile(
    "thorough", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile("quick", max_examples=30, deadline=None)
settings.load_profile("ci")


def pytest_terminal_summary(terminalreporter):
    """List each notebook's run time (recorded by tests/test_notebooks.py; with pytest-xdist, the workers'
    reports carry it to the main process, so the list is the same)."""
    lines = [
        f"{report.nodeid.split('[', 1)[-1].rstrip(']')}: {seconds} s"
        for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", [])
        for name, seconds in report.user_properties
        if name == "notebook_seconds"
    ]
    if lines:
        terminalreporter.write_sep("-", "notebook run times")
        for line in lines:
            terminalreporter.write_line(line)
