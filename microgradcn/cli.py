"""The `microgradcn` command line: demo, render, explore, gallery and train.

This module parses arguments and prints; the training is `microgradcn.train`'s
and `microgradcn.text`'s, the pictures are `_cli_pictures`'. Every failure is
one line on stderr, ``microgradcn <command>: 中文 (English)``, never a
traceback, and an exit status: 2 for a usage error (an unknown command or
option, a bad option value, a wrong output suffix or a missing output folder;
argparse's own errors print the command's usage first), 1 for a failure while
running (a file that cannot be written or read, a missing extra or program).
The benchmarks are not a command of the installed package: run
``python -m benchmarks`` from a clone of the repository (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, List, NoReturn, Optional

from ._messages import bilingual

USAGE, FAILURE = 2, 1  # exit statuses: the command line is wrong / running it failed


class CommandError(Exception):
    """A failure the command reports as one line (exit status `status`: USAGE or FAILURE)."""

    def __init__(self, message: str, status: int = FAILURE) -> None:
        super().__init__(message)
        self.status = status


# argparse's messages are English; each kind gets its Chinese first. The first match wins.
_ARGPARSE_KINDS = (
    ("argument COMMAND: invalid choice", "没有这个子命令"),
    ("arguments are required: COMMAND", "缺少子命令(microgradcn --help 列出全部子命令)"),
    ("unrecognized arguments", "不认识的参数"),
    ("invalid choice", "不是可选的值"),
    ("arguments are required", "缺少参数"),
    ("expected one argument", "选项缺少取值"),
    ("not allowed with argument", "这两个选项不能同时使用"),
    ("ambiguous option", "选项有歧义"),
    ("argument ", "选项的取值不对"),
)


def usage_message(message: str) -> str:
    """One of argparse's error messages, Chinese first: ``不认识的参数 (unrecognized arguments: x)``."""
    chinese = next((zh for en, zh in _ARGPARSE_KINDS if en in message), "命令行有误")
    return bilingual(chinese, message)


class Parser(argparse.ArgumentParser):
    """argparse, with errors in the command line's form: the usage, then ``prog: message``; status 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(USAGE, f"{self.prog}: {usage_message(message)}\n")


# ------------------------------------------------------------------ train
def _train(args: argparse.Namespace) -> int:
    """Train a network on one task with a progress bar, print the result, optionally save the model."""
    if args.save:
        _check_save_target(args.save)  # fail now, not after the training
    replay = args.replay is not False  # the command line replays unless told --eager
    if args.task == "names":
        return _train_names(args, replay)
    if args.task == "digits":
        return _train_digits(args, replay)
    return _train_toy(args, replay)


def _refuse(args: argparse.Namespace, flags: tuple, zh: str, en: str) -> None:
    """A usage error if one of `flags` was given: ``{flag} zh (flag en)``."""
    for flag in flags:
        if getattr(args, flag.lstrip("-")) is not None:
            raise CommandError(bilingual(f"{flag} {zh}", f"{flag} {en}"), USAGE)


def _positive(flag: str, value: Optional[float], kind: str = "int") -> None:
    if value is not None and not value > 0:
        zh = "正整数" if kind == "int" else "正数"
        raise CommandError(bilingual(f"{flag} 必须是{zh}", f"{flag} must be a positive {kind}, got {value!r}"),
                           USAGE)


def _missing_extra(error: ImportError) -> CommandError:
    return CommandError(bilingual("缺少可选的依赖包", str(error)), FAILURE)


def _train_toy(args: argparse.Namespace, replay: bool) -> int:
    from .train import final_accuracy, fit, make_task

    _refuse(args, ("--model", "--epochs", "--subset"), f"只用于 digits 任务({args.task} 用 --steps)",
            f"is only for the digits task (use --steps for {args.task})")
    try:
        task = make_task(args.task, steps=args.steps, lr=args.lr, optimizer=args.optimizer, seed=args.seed)
    except (TypeError, ValueError) as error:
        raise CommandError(bilingual("选项的取值不对", str(error)), USAGE) from None
    sizes = [len(task.inputs[0])] + [len(layer.neurons) for layer in task.model.layers]
    print(f"{task.name}: {len(task.inputs)} 个样本 samples, MLP {'-'.join(map(str, sizes))}, "
          f"{len(task.model.parameters())} 个参数 parameters, {task.optimizer!r}")
    history = fit(task.model, task.inputs, task.targets, task.loss_fn, task.optimizer, task.steps,
                  task.accuracy_fn, progress=not args.no_progress, desc=task.name, replay=replay)
    accuracy = final_accuracy(task)
    per_step = history.seconds / max(history.steps, 1)
    final_loss = history.loss[-1] if history.loss else float("nan")
    print(f"完成 done: {task.name}, {history.steps} steps, loss {final_loss:.4f}, "
          f"训练集准确率 train accuracy {accuracy:.1%}, {history.seconds:.2f} s ({per_step * 1000:.1f} ms/step, "
          f"{'replay' if replay else 'eager'})")
    _save(task.model, args.save)
    return 0


def _train_names(args: argparse.Namespace, replay: bool) -> int:
    """The character-level GPT on names: the final loss and 20 sampled names."""
    from .text import FINAL_LOSS_STEPS, CharTokenizer, names, train_names

    if args.optimizer is not None:
        raise CommandError(bilingual("names 只用 Adam 训练", f"names trains with Adam only, got --optimizer "
                                     f"{args.optimizer}"), USAGE)
    _refuse(args, ("--model", "--epochs", "--subset"), "只用于 digits 任务(names 用 --steps)",
            "is only for the digits task (use --steps for names)")
    _positive("--steps", args.steps)
    _positive("--lr", args.lr, "number")
    try:
        from .nn import GPT

        data = names(args.seed)
    except ImportError as error:  # the names come from Faker
        raise _missing_extra(error) from None
    tokenizer = CharTokenizer()
    model = GPT(tokenizer.vocab_size, seed=args.seed)
    steps = 1000 if args.steps is None else args.steps
    print(f"names: {len(data):,} 个名字 names (Faker), {tokenizer.vocab_size} 个字符 tokens, {model!r}, "
          f"{len(model.parameters()):,} 个参数 parameters, {steps} steps ({'replay' if replay else 'eager'})")
    run = train_names(steps, seed=args.seed, lr=0.01 if args.lr is None else args.lr, data=data,
                      tokenizer=tokenizer, model=model, progress=not args.no_progress, replay=replay)
    print(f"完成 done: {steps} steps, {run.seconds:.1f} s ({1000 * run.seconds / steps:.1f} ms/step)")
    _save(model, args.save)
    window = min(FINAL_LOSS_STEPS, steps)
    # The bar shows the last step's loss, one name's: noisy. The mean is the number the README quotes.
    print(f"最后 {window} 步的平均损失 final loss (mean of the last {window} steps) {run.final_loss:.2f};"
          f"最后一步 last step (the bar's loss=) {run.losses[-1]:.4f}")
    for i, name in enumerate(run.samples, 1):
        print(f"sample {i:2d}: {name}")
    return 0


def _train_digits(args: argparse.Namespace, replay: bool) -> int:
    """The MLP or the CNN on the handwritten digits; the last line is the test accuracy."""
    from .train import DIGITS_MODELS, digits_model, train_digits

    start = time.perf_counter()
    kind = args.model or "cnn"
    _refuse(args, ("--steps", "--lr", "--optimizer"), "digits 任务不用(它用 Adam 训练 --epochs 轮)",
            "is not used by the digits task (it trains with Adam for --epochs epochs)")
    _positive("--epochs", args.epochs)
    _positive("--subset", args.subset)
    try:
        from .datasets import _sklearn

        _sklearn()  # a clear message now if scikit-learn (the data extra) is missing
    except ImportError as error:
        raise _missing_extra(error) from None
    config = DIGITS_MODELS[kind]
    epochs = args.epochs or config.epochs
    model = digits_model(kind, seed=args.seed)
    layers = " -> ".join(repr(layer) for layer in model)
    print(f"digits: 8x8 手写数字 handwritten digits, {kind}: {layers}, {len(model.parameters())} 个参数 parameters")
    print(f"  Adam lr {config.lr:g} (linear decay), batch {config.batch_size}, {epochs} epochs, "
          f"seed {args.seed}, {'replay' if replay else 'eager'}")
    run = train_digits(kind, epochs=epochs, seed=args.seed, progress=not args.no_progress, subset=args.subset,
                       replay="numpy" if replay else None)
    h = run.history
    for k in range(h.epochs):
        print(f"  epoch {k + 1:>2}: train loss {h.loss[k]:.4f}, val loss {h.val_loss[k]:.4f}, "
              f"val accuracy {h.val_accuracy[k]:.1%}")
    print(f"  {run.train_samples} training images, {run.nodes_per_sample:,} nodes per sample, "
          f"{run.ms_per_sample:.1f} ms per sample (forward + backward + update)")
    _save(run.model, args.save, indent="  ")
    print(f"test accuracy {run.test_accuracy:.1%} ({len(run.y_test)} images), {time.perf_counter() - start:.1f} s")
    return 0


def _check_save_target(path: str) -> None:
    """CommandError unless a model can be saved at `path`: tried now, as `Module.save` will write it.

    The save writes a temporary file next to `path` and renames it, so the
    check creates (and removes) one there; its error names `path`, the file the
    user gave.
    """
    target = Path(path)
    if target.is_dir():
        raise CommandError(bilingual(f"--save {path} 是文件夹,需要文件名",
                                     f"--save {path}: is a directory, expected a file name"), USAGE)
    folder = target.parent
    if not folder.is_dir():
        raise CommandError(bilingual(f"--save {path}:文件夹 {folder} 不存在(请先建好)",
                                     f"--save {path}: directory {folder} does not exist"), USAGE)
    try:
        fd, probe = tempfile.mkstemp(prefix=".microgradcn-", suffix=".check", dir=folder)
    except OSError as error:
        why = f"cannot save to {path}: {error.strerror or error}"
        raise CommandError(bilingual(f"无法保存到 {path}", why)) from None
    os.close(fd)
    os.remove(probe)


def _save(model: Any, path: Optional[str], indent: str = "") -> None:
    if not path:
        return
    try:
        model.save(path)
    except OSError as error:  # e.g. the disk filled up during training
        why = f"could not save to {path}: {error.strerror or error}"
        raise CommandError(bilingual(f"无法保存到 {path}", why)) from None
    print(f"{indent}模型已保存 model saved: {path}")


# ----------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from . import _cli_pictures

    parser = Parser(
        prog="microgradcn",
        description="microgradcn: 看得见的反向传播 (a scalar autograd engine for learners). "
        "每个子命令都有 --help (every command has its own --help).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="子命令 commands")
    sub.required = True
    _cli_pictures.add_commands(sub)
    train = sub.add_parser(
        "train",
        help="训练一个网络:玩具数据、手写数字或名字 (an MLP on xor/moons/spiral, a CNN on digits, a GPT on names)",
        description="在玩具数据集上训练一个小 MLP、在手写数字上训练 MLP 或 CNN、或在英文名字上训练一个字符级 GPT;"
        "显示进度条,最后报告结果和每步用时(加 --eager 与默认的重放比较)。"
        " (Train a network and report the result and the time per step; compare --eager with the default replay.)",
    )
    train.add_argument("task", choices=["xor", "moons", "spiral", "digits", "names"], help="任务 the task")
    train.add_argument("--model", choices=["mlp", "cnn"], default=None,
                       help="digits:网络 the network (default cnn)")
    train.add_argument("--epochs", type=int, default=None, help="digits:轮数 number of epochs (mlp 10, cnn 12)")
    train.add_argument("--subset", type=int, default=None,
                       help="digits:只用前 N 张训练图片 train on the first N training images only")
    train.add_argument("--steps", type=int, default=None, help="训练步数 number of training steps")
    train.add_argument("--lr", type=float, default=None,
                       help="学习率 learning rate (moons+sgd: the starting rate of the schedule)")
    train.add_argument("--optimizer", choices=["sgd", "adagrad", "rmsprop", "adam", "adamw"], default=None,
                       help="优化器 the optimiser (default: the task's own choice)")
    train.add_argument("--seed", type=int, default=0, help="数据与初始权重的种子 seed for data and weights")
    train.add_argument("--save", metavar="PATH", default=None,
                       help="把训练好的参数存为 JSON(文件夹须已存在) save the parameters as JSON")
    train.add_argument("--no-progress", action="store_true", help="不显示进度条 no progress bar")
    mode = train.add_mutually_exclusive_group()
    mode.add_argument("--replay", dest="replay", action="store_true", default=None,
                      help="记录一次计算图再重放(默认) record each step's graph once and replay it (the default)")
    mode.add_argument("--eager", dest="replay", action="store_false", help="每一步重新搭图 build every graph anew")
    train.set_defaults(func=_train)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit status (errors are one line on stderr).

    Usage errors found by argparse exit through SystemExit(2), as argparse does.
    """
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        parser.error(f"unrecognized arguments: {argv[0]}")  # not "missing COMMAND", which argparse would say
    args, extra = parser.parse_known_args(argv)
    if extra:  # `demo extra_arg`: demo's usage, not the top-level one
        command_parser(parser, args.command).error(f"unrecognized arguments: {' '.join(extra)}")
    return _run(args)


def command_parser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """The parser of one subcommand of `parser`."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


def _run(args: argparse.Namespace) -> int:
    name = f"microgradcn {args.command}"
    try:
        status = args.func(args)
        sys.stdout.flush()  # a closed pipe shows up here, inside the handler below
        return status
    except BrokenPipeError:
        # The reader went away (`microgradcn demo | head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print(f"{name}: {bilingual('已中断', 'interrupted')}", file=sys.stderr)
        return 130
    except CommandError as error:
        print(f"{name}: {error}", file=sys.stderr)
        return error.status
    except OSError as error:  # e.g. an unwritable output folder (the commands read none of the user's files)
        where = f" {error.filename}" if getattr(error, "filename", None) else ""
        why = f"cannot write{where}: {error.strerror or error}"
        print(f"{name}: {bilingual(f'无法写入{where}', why)}", file=sys.stderr)
        return FAILURE
    except (ValueError, RuntimeError) as error:  # e.g. Graphviz refusing a graph
        print(f"{name}: {bilingual('运行失败', str(error))}", file=sys.stderr)
        return FAILURE
    except Exception as error:  # a bug of ours: still one line, never a traceback
        why = f"unexpected error, please report it: {type(error).__name__}: {error}"
        print(f"{name}: {bilingual('意外的错误,请报告给我们', why)}", file=sys.stderr)
        return FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
