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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="microgradcn", description="microgradcn: 看得见的反向传播 (a scalar autograd engine for learners)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    demo = sub.add_parser("demo", help="苹果消费税示例:前向、反向与计算图 (the apple-tax demo)")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
