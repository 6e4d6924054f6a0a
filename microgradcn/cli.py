"""The `microgradcn` command line: `microgradcn demo`, and more subcommands as they come."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def _demo(args: argparse.Namespace) -> int:
    """Build the apple-tax graph (深度学习入门 ch. 5), run backward, print the table."""
    from .engine import Value

    price = Value(100, label="苹果单价")
    count = Value(2, label="苹果个数")
    tax = Value(1.1, label="消费税")
    total = price * count
    total.label = "苹果总价"
    pay = total * tax
    pay.label = "支付金额"
    pay.backward()
    print(f"{'节点':<8}{'前向 data':>14}{'反向 grad':>14}")
    for v in (price, count, total, tax, pay):
        print(f"{v.label:<8}{v.data:>14.6g}{v.grad:>14.6g}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    """Run the benchmarks (moons, chain, wide, baseline) and print their figures."""
    from .bench import main as bench_main

    return bench_main(args.workload, quick=args.quick, gc_off=args.gc_off)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="microgradcn", description="microgradcn: 看得见的反向传播 (a scalar autograd engine for learners)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    demo = sub.add_parser("demo", help="苹果消费税示例:前向、反向与计算图 (the apple-tax demo)")
    demo.set_defaults(func=_demo)
    bench = sub.add_parser("bench", help="性能基准:moons、chain、wide 与纯浮点基线 (benchmarks)")
    bench.add_argument(
        "workload", nargs="?", default="all", choices=["moons", "chain", "wide", "baseline", "micrograd", "all"]
    )
    bench.add_argument("--quick", action="store_true", help="小规模快速运行(CI 用) (small sizes, for CI)")
    bench.add_argument("--gc-off", action="store_true", help="chain 与 wide 运行时关闭垃圾回收器 (collector off)")
    bench.set_defaults(func=_bench)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
