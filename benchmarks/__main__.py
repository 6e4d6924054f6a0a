"""``python -m benchmarks WORKLOAD [--quick] [--json] [--gc-off]`` from the repository root (WORKLOAD: moons,
chain, wide, gpt, digits, explore or all).

``all`` runs the five training workloads; ``explore`` (the explorer page of one step) runs on its own.

The figures are printed on stdout; with ``--json`` stdout is exactly one line,
one JSON object, and the table goes to stderr. The forecast ("about N s") is
printed on stderr before each workload starts. Exit status: 0, 1 if a row that
must equal eager's numbers does not, 2 for a bad argument or a missing extra.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

WORKLOADS = ("moons", "chain", "wide", "gpt", "digits")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="microgradcn 的性能基准 (microgradcn's benchmarks; CPU time, PyTorch and BLAS on one thread).")
    parser.add_argument("workload", choices=WORKLOADS + ("explore", "all"),
                        help="which benchmark; all runs every one of them, one after another")
    parser.add_argument("--quick", action="store_true",
                        help="小规模快速运行 small sizes (each under 20 s, for CI and the tests)")
    parser.add_argument("--json", action="store_true",
                        help="stdout 只有一行 JSON only one line on stdout: a JSON object with the figures")
    parser.add_argument("--gc-off", action="store_true", help="chain 与 wide 运行时关闭垃圾回收器 (collector off)")
    return parser


def _workload(name: str, quick: bool, gc_off: bool) -> Tuple[Dict[str, Any], Callable[[Dict[str, Any]], Any]]:
    """(report, how to print it) of one workload."""
    from . import chain, digits, explore, gpt, moons, wide
    from .timing import collector

    if name == "explore":
        return explore.run(quick), explore.show
    if name == "moons":
        return moons.run(quick), moons.show
    if name == "chain":
        return {"workload": "chain", "chain": chain.run(quick, gc_off)}, lambda r: chain.show(r["chain"])
    if name == "wide":
        with collector(False) if gc_off else contextlib.nullcontext():
            return {"workload": "wide", "wide": wide.run(quick)}, lambda r: wide.print_wide(r["wide"])
    if name == "gpt":
        return gpt.run(quick), gpt.show
    return digits.run(quick), digits.show


def main(argv: Optional[List[str]] = None) -> int:
    """Run the workloads; the exit status."""
    args = build_parser().parse_args(argv)
    names = WORKLOADS if args.workload == "all" else (args.workload,)
    out = sys.stderr if args.json else sys.stdout
    reports: Dict[str, Any] = {}
    ok = True
    for name in names:
        try:
            report, show = _workload(name, args.quick, args.gc_off)
        except ImportError as error:  # Faker (gpt) or scikit-learn (digits) missing
            print(f"python -m benchmarks {name}: {error}", file=sys.stderr)
            return 2
        with contextlib.redirect_stdout(out):
            ok = show(report) is not False and ok
            out.flush()
        reports[name] = report.get(name, report)  # chain and wide: their figures, as in their own JSON
    if args.json:
        only = report if len(names) == 1 else {"workload": "all", **reports}
        print(json.dumps(only, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
