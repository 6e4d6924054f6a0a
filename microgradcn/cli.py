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


def _train(args: argparse.Namespace) -> int:
    """Train a small MLP on a toy dataset with a progress bar; optionally save it."""
    from .train import final_accuracy, fit, make_task

    try:
        task = make_task(args.task, steps=args.steps, lr=args.lr, optimizer=args.optimizer, seed=args.seed)
    except (TypeError, ValueError) as error:
        print(f"microgradcn train: {error}", file=sys.stderr)
        return 2
    sizes = [len(task.inputs[0])] + [len(layer.neurons) for layer in task.model.layers]
    print(f"{task.name}: {len(task.inputs)} 个样本 samples, MLP {'-'.join(map(str, sizes))}, "
          f"{len(task.model.parameters())} 个参数 parameters, {task.optimizer!r}")
    history = fit(task.model, task.inputs, task.targets, task.loss_fn, task.optimizer, task.steps,
                  task.accuracy_fn, progress=not args.no_progress, desc=task.name)
    accuracy = final_accuracy(task)
    per_step = history.seconds / max(history.steps, 1)
    final_loss = history.loss[-1] if history.loss else float("nan")
    print(f"完成 done: {task.name}, {history.steps} steps, loss {final_loss:.4f}, "
          f"训练集准确率 train accuracy {accuracy:.1%}, {history.seconds:.2f} s ({per_step * 1000:.1f} ms/step)")
    if args.save:
        task.model.save(args.save)
        print(f"模型已保存 model saved: {args.save}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="microgradcn", description="microgradcn: 看得见的反向传播 (a scalar autograd engine for learners)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    demo = sub.add_parser("demo", help="苹果消费税示例:前向、反向与计算图 (the apple-tax demo)")
    demo.set_defaults(func=_demo)
    train = sub.add_parser("train", help="在玩具数据上训练一个小网络 (train an MLP on xor, moons or spiral)")
    train.add_argument("task", choices=["xor", "moons", "spiral"])
    train.add_argument("--steps", type=int, default=None, help="number of training steps")
    train.add_argument("--lr", type=float, default=None, help="learning rate (moons+sgd: the starting rate)")
    train.add_argument("--optimizer", choices=["sgd", "adagrad", "rmsprop", "adam", "adamw"], default=None)
    train.add_argument("--seed", type=int, default=0, help="seed for the data and the initial weights")
    train.add_argument("--save", metavar="PATH", default=None, help="save the trained parameters as JSON")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(func=_train)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
