"""The `microgradcn` command line: `microgradcn demo`, and more subcommands as they come."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional


OUTPUT_DIR = "microgradcn-output"


def _table(root) -> str:
    """Forward/backward table of a graph, columns aligned even with Chinese labels."""
    from .viz import GraphView, format_number, op_symbol, pad

    view = GraphView(root)
    header = ("节点 node", "运算 op", "前向 data", "反向 grad")
    rows = [
        (view.name(i), op_symbol(v.op) if v.op else "输入", format_number(v.data), format_number(v.grad))
        for i, v in enumerate(view.nodes)
    ]
    widths = [max(_width(r[c]) for r in rows + [header]) for c in range(4)]
    aligns = "<<>>"

    def line(row):
        return "  ".join(pad(text, w, a) for text, w, a in zip(row, widths, aligns)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule] + [line(r) for r in rows])


def _width(text: str) -> int:
    from .viz import display_width

    return display_width(text)


def _write_pictures(root, stem: Path, styles, formats, params=()) -> list:
    """Render `root` in each style and format as ``<stem>_<style>.<fmt>``; return the paths."""
    from .viz import draw_graph, render

    graphs = {style: draw_graph(root, style=style, params=params) for style in styles}
    # DOT sources first, so they exist even when Graphviz is missing.
    for style, graph in graphs.items():
        dot_path = Path(f"{stem}_{style}.dot")
        dot_path.parent.mkdir(parents=True, exist_ok=True)
        dot_path.write_text(graph.source, encoding="utf-8")
    return [
        render(graph, Path(f"{stem}_{style}.{fmt}")) for style, graph in graphs.items() for fmt in formats
    ]


def _demo(args: argparse.Namespace) -> int:
    """The apple-tax graph (深度学习入门 ch. 5): table, explanation and pictures."""
    from .examples import apple_tax
    from .viz import GraphvizNotFoundError, explain

    pay = apple_tax(exact=args.exact)
    print("苹果消费税:2 个苹果,单价 100,消费税 10%\n")
    print(_table(pay))
    print()
    explain(pay)
    print()
    out = Path(args.output_dir)
    try:
        written = _write_pictures(pay, out / "apple_tax", ("node", "book"), ("svg", "png"))
    except GraphvizNotFoundError as error:
        print(f"没有画出计算图 (no pictures): {error}", file=sys.stderr)
        print(f"DOT 源文件已写入 {out.resolve()}", file=sys.stderr)
        return 1
    print(f"计算图已写入 {out.resolve()}/ (pictures written):")
    for path in written:
        print(f"  {path}")
    return 0


def _train(args: argparse.Namespace) -> int:
    """Train a small MLP on a toy dataset with a progress bar; optionally save it."""
    from .train import final_accuracy, fit, make_task

    if args.task == "digits":
        return _train_digits(args)
    try:
        for flag, value in (("--model", args.model), ("--epochs", args.epochs), ("--subset", args.subset)):
            if value is not None:
                raise ValueError(f"{flag} is only for the digits task (use --steps for {args.task})")
        if args.save:
            _check_writable(Path(args.save))  # fail now, not after the training
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
        try:
            task.model.save(args.save)
        except OSError as error:  # e.g. the disk filled up during training
            print(f"microgradcn train: could not save to {args.save}: {error}", file=sys.stderr)
            return 1
        print(f"模型已保存 model saved: {args.save}")
    return 0


def _train_digits(args: argparse.Namespace) -> int:
    """Train the MLP or the CNN on the handwritten digits; the last line is the test accuracy."""
    import time

    from .train import DIGITS_MODELS, digits_model, train_digits

    start = time.perf_counter()
    kind = args.model or "cnn"
    try:
        for flag, value in (("--steps", args.steps), ("--lr", args.lr), ("--optimizer", args.optimizer)):
            if value is not None:
                raise ValueError(f"{flag} is not used by the digits task (it trains with Adam for --epochs epochs)")
        if args.epochs is not None and args.epochs < 1:
            raise ValueError(f"--epochs must be a positive int, got {args.epochs}")
        if args.subset is not None and args.subset < 1:
            raise ValueError(f"--subset must be a positive int, got {args.subset}")
        if args.save:
            _check_writable(Path(args.save))
        from .datasets import _sklearn

        _sklearn()  # a clear message now if scikit-learn (the data extra) is missing
    except (TypeError, ValueError, ImportError) as error:
        print(f"microgradcn train: {error}", file=sys.stderr)
        return 2
    if args.replay:
        print("replay 尚不可用,改用 eager 模式运行 (replay is not available yet: running eager)", file=sys.stderr)
    config = DIGITS_MODELS[kind]
    epochs = args.epochs or config.epochs
    model = digits_model(kind, seed=args.seed)
    layers = " -> ".join(repr(layer) for layer in model)
    print(f"digits: 8x8 手写数字 handwritten digits, {kind}: {layers}, {len(model.parameters())} 个参数 parameters")
    print(f"  Adam lr {config.lr:g} (linear decay), batch {config.batch_size}, {epochs} epochs, "
          f"seed {args.seed}, eager")
    run = train_digits(kind, epochs=epochs, seed=args.seed, progress=not args.no_progress, subset=args.subset)
    h = run.history
    for k in range(h.epochs):
        print(f"  epoch {k + 1:>2}: train loss {h.loss[k]:.4f}, val loss {h.val_loss[k]:.4f}, "
              f"val accuracy {h.val_accuracy[k]:.1%}")
    print(f"  {run.train_samples} training images, {run.nodes_per_sample:,} nodes per sample, "
          f"{run.ms_per_sample:.1f} ms per sample (forward + backward + update)")
    if args.save:
        try:
            run.model.save(args.save)
        except OSError as error:
            print(f"microgradcn train: could not save to {args.save}: {error}", file=sys.stderr)
            return 1
        print(f"  模型已保存 model saved: {args.save}")
    seconds = time.perf_counter() - start
    print(f"test accuracy {run.test_accuracy:.1%} ({len(run.y_test)} images), {seconds:.1f} s")
    return 0


def _check_writable(path: Path) -> None:
    """ValueError unless `path` names a file that can be created in an existing, writable directory."""
    folder = path.parent
    if path.is_dir():
        raise ValueError(f"--save {path}: is a directory, expected a file name")
    if not folder.is_dir():
        raise ValueError(f"--save {path}: directory {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"--save {path}: directory {folder} is not writable")


def _render(args: argparse.Namespace) -> int:
    """Render one canonical example to a file (and optionally its step frames)."""
    from . import examples
    from .viz import GraphvizNotFoundError, draw_graph, render, save_frames

    if args.name not in examples.EXAMPLES:
        known = ", ".join(examples.EXAMPLES)
        print(f"unknown example {args.name!r}; choose one of: {known}", file=sys.stderr)
        return 2
    root = examples.build(args.name)
    params = examples.parameters(args.name, root)
    path = Path(args.output or Path(OUTPUT_DIR) / f"{args.name}_{args.style}.{args.format}")
    if path.suffix.lstrip(".") != args.format:
        path = path.with_suffix(f".{args.format}")
    try:
        render(draw_graph(root, style=args.style, params=params, fmt=args.format), path)
        print(f"wrote {path}")
        if args.steps:
            frames = save_frames(root, args.steps, style=args.style)
            print(f"wrote {len(frames)} step frames and steps.html to {args.steps}")
    except GraphvizNotFoundError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


def _gallery(args: argparse.Namespace) -> int:
    from .viz.gallery import run

    return run(args.directory, args.check)


def _bench(args: argparse.Namespace) -> int:
    """Run the benchmarks (moons, chain, wide, baseline) and print their figures."""
    if args.workload == "digits":
        from .bench.digits import main as digits_main

        return digits_main(quick=args.quick)
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
    demo.add_argument(
        "-o", "--output-dir", default=OUTPUT_DIR, help=f"where to write the pictures (default ./{OUTPUT_DIR}/)"
    )
    demo.add_argument("--exact", action="store_true", help="use Fractions: 11/10 instead of 1.1")
    _add_viz_commands(sub)
    train = sub.add_parser(
        "train", help="训练一个小网络:玩具数据或手写数字 (train on xor, moons, spiral or the handwritten digits)"
    )
    train.add_argument("task", choices=["xor", "moons", "spiral", "digits"])
    train.add_argument("--model", choices=["mlp", "cnn"], default=None, help="digits: the network (default cnn)")
    train.add_argument("--epochs", type=int, default=None, help="digits: number of epochs (mlp 10, cnn 12)")
    train.add_argument("--subset", type=int, default=None, help="digits: train on the first N training images only")
    mode = train.add_mutually_exclusive_group()
    mode.add_argument("--eager", dest="replay", action="store_false", help="digits: build every graph (default)")
    mode.add_argument("--replay", dest="replay", action="store_true", help="digits: replay a recorded step")
    train.set_defaults(replay=False)
    train.add_argument("--steps", type=int, default=None, help="number of training steps")
    train.add_argument("--lr", type=float, default=None, help="learning rate (moons+sgd: the starting rate)")
    train.add_argument("--optimizer", choices=["sgd", "adagrad", "rmsprop", "adam", "adamw"], default=None)
    train.add_argument("--seed", type=int, default=0, help="seed for the data and the initial weights")
    train.add_argument("--save", metavar="PATH", default=None, help="save the trained parameters as JSON")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(func=_train)
    bench = sub.add_parser("bench", help="性能基准:moons、chain、wide 与纯浮点基线 (benchmarks)")
    bench.add_argument(
        "workload",
        nargs="?",
        default="all",
        choices=["moons", "chain", "wide", "baseline", "micrograd", "digits", "all"],
        help="digits (not part of all: it trains two networks) prints one JSON line",
    )
    bench.add_argument("--quick", action="store_true", help="小规模快速运行(CI 用) (small sizes, for CI)")
    bench.add_argument("--gc-off", action="store_true", help="chain 与 wide 运行时关闭垃圾回收器 (collector off)")
    bench.set_defaults(func=_bench)
    return parser


def _add_viz_commands(sub) -> None:
    from .examples import EXAMPLES

    render = sub.add_parser("render", help="画出一个示例的计算图 (render a canonical example)")
    render.add_argument("name", help="one of: " + ", ".join(EXAMPLES))
    render.add_argument("--style", choices=("node", "book"), default="node")
    render.add_argument("--format", choices=("svg", "png", "pdf"), default="svg")
    render.add_argument("-o", "--output", help=f"output file (default ./{OUTPUT_DIR}/NAME_STYLE.FORMAT)")
    render.add_argument("--steps", metavar="DIR", help="also write the step frames (SVG + steps.html) here")
    render.set_defaults(func=_render)
    gallery = sub.add_parser("gallery", help="重新生成 viz/ 图库 (regenerate the viz/ gallery)")
    gallery.add_argument("directory", nargs="?", default="viz")
    gallery.add_argument("--check", action="store_true", help="only report out-of-date DOT files")
    gallery.set_defaults(func=_gallery)


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
