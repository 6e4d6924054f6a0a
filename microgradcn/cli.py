"""The `microgradcn` command line: demo, render, gallery, train and bench.

Output files need an existing folder (otherwise an error says which folder is
missing); output *directories* (``demo -o DIR``, ``render --steps DIR``,
``gallery DIR``) are created when missing, and the command says so. Every
failure is one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, List, Optional

OUTPUT_DIR = "microgradcn-output"
FORMATS = ("svg", "png", "pdf")
VIZ_EXTRA = 'pip install "microgradcn[viz]"'


class CommandError(Exception):
    """A failure the command reports as one line (exit status `status`)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def _output_directory(path: Path) -> Path:
    """Create the output directory `path` if it is missing, saying so."""
    if path.exists() and not path.is_dir():
        raise CommandError(f"{path} is a file, expected a directory for the output", 2)
    if not path.exists():
        path.mkdir(parents=True)
        print(f"新建文件夹 created folder {path}")
    return path


def _output_file(path: Path) -> Path:
    """`path` if its folder exists and it is not a directory; CommandError otherwise."""
    if path.is_dir():
        raise CommandError(f"{path} is a directory, expected a file name", 2)
    folder = path.parent
    if not folder.is_dir():
        raise CommandError(f"cannot write {path}: the folder {folder} does not exist (create it first)", 2)
    return path


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


def _write_pictures(root, stem: Path, styles, formats, params=(), dpi=None) -> list:
    """Render `root` in each style and format as ``<stem>_<style>.<fmt>``; return the paths."""
    from .viz import draw_graph, render

    graphs = {style: draw_graph(root, style=style, params=params) for style in styles}
    # DOT sources first, so they exist even when Graphviz is missing.
    for style, graph in graphs.items():
        Path(f"{stem}_{style}.dot").write_text(graph.source, encoding="utf-8")
    return [
        render(graph, Path(f"{stem}_{style}.{fmt}"), dpi=dpi)
        for style, graph in graphs.items() for fmt in formats
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
    out = _output_directory(Path(args.output_dir))
    try:
        written = _write_pictures(pay, out / "apple_tax", ("node", "book"), ("svg", "png"), dpi=args.dpi)
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

    if args.task == "names":
        return _train_names(args)
    if args.task == "digits":
        return _train_digits(args)
    replay = args.replay is not False  # the command line replays unless told --eager
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
                  task.accuracy_fn, progress=not args.no_progress, desc=task.name, replay=replay)
    accuracy = final_accuracy(task)
    per_step = history.seconds / max(history.steps, 1)
    final_loss = history.loss[-1] if history.loss else float("nan")
    print(f"完成 done: {task.name}, {history.steps} steps, loss {final_loss:.4f}, "
          f"训练集准确率 train accuracy {accuracy:.1%}, {history.seconds:.2f} s ({per_step * 1000:.1f} ms/step, "
          f"{'replay' if replay else 'eager'})")
    if args.save:
        try:
            task.model.save(args.save)
        except OSError as error:  # e.g. the disk filled up during training
            print(f"microgradcn train: could not save to {args.save}: {error}", file=sys.stderr)
            return 1
        print(f"模型已保存 model saved: {args.save}")
    return 0


def _train_names(args: argparse.Namespace) -> int:
    """Train the character-level GPT on names, then print the final loss and 20 sampled names."""
    from .text import make_step, train_names

    if args.optimizer is not None:
        print(f"microgradcn train names: trains with Adam only, got --optimizer {args.optimizer}", file=sys.stderr)
        return 2
    try:
        if args.save:
            _check_writable(Path(args.save))
        if args.steps is not None and args.steps < 1:
            raise ValueError(f"steps must be a positive int, got {args.steps!r}")
        if args.lr is not None and not args.lr > 0:
            raise ValueError(f"lr must be a positive number, got {args.lr!r}")
        from .nn import GPT
        from .text import CharTokenizer, names

        data = names(args.seed)
    except (ImportError, TypeError, ValueError) as error:
        print(f"microgradcn train names: {error}", file=sys.stderr)
        return 2
    replay = args.replay is not False  # the command line replays unless told --eager
    tokenizer = CharTokenizer()
    model = GPT(tokenizer.vocab_size, seed=args.seed)
    steps = 1000 if args.steps is None else args.steps
    print(f"names: {len(data):,} 个名字 names (Faker), {tokenizer.vocab_size} 个字符 tokens, {model!r}, "
          f"{len(model.parameters()):,} 个参数 parameters, {steps} steps ({'replay' if replay else 'eager'})")
    run = train_names(steps, seed=args.seed, lr=0.01 if args.lr is None else args.lr, data=data,
                      tokenizer=tokenizer, model=model, progress=not args.no_progress,
                      step=make_step(model, replay=replay))
    print(f"完成 done: {steps} steps, {run.seconds:.1f} s ({1000 * run.seconds / steps:.1f} ms/step)")
    if args.save:
        try:
            model.save(args.save)
        except OSError as error:
            print(f"microgradcn train: could not save to {args.save}: {error}", file=sys.stderr)
            return 1
        print(f"模型已保存 model saved: {args.save}")
    print(f"final loss {run.final_loss:.2f}")
    for i, name in enumerate(run.samples, 1):
        print(f"sample {i:2d}: {name}")
    return 0


def replayed_step(model: Any, sample_loss: Any) -> Any:
    """The digits step, traced with the numpy backend: each node of one sample's graph over the whole batch."""
    from .replay import trace

    return trace(sample_loss, model.parameters(), backend="numpy")


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
    replay = args.replay is not False  # the command line replays unless told --eager
    config = DIGITS_MODELS[kind]
    epochs = args.epochs or config.epochs
    model = digits_model(kind, seed=args.seed)
    layers = " -> ".join(repr(layer) for layer in model)
    print(f"digits: 8x8 手写数字 handwritten digits, {kind}: {layers}, {len(model.parameters())} 个参数 parameters")
    print(f"  Adam lr {config.lr:g} (linear decay), batch {config.batch_size}, {epochs} epochs, "
          f"seed {args.seed}, {'replay' if replay else 'eager'}")
    run = train_digits(kind, epochs=epochs, seed=args.seed, progress=not args.no_progress, subset=args.subset,
                       make_step_fn=replayed_step if replay else None)
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
    if args.output:
        path = Path(args.output)
        suffix = path.suffix.lstrip(".").lower()
        if not suffix:  # `-o net`: the format names the file
            path = path.with_name(f"{path.name}.{args.format or 'svg'}")
        elif suffix not in FORMATS:
            raise CommandError(f"-o {path}: the file name must end in .svg, .png or .pdf", 2)
        elif args.format and args.format != suffix:
            raise CommandError(f"-o {path} says {suffix} but --format says {args.format}; "
                               f"give one of them, or make them agree", 2)
        path = _output_file(path)
    else:
        folder = _output_directory(Path(OUTPUT_DIR))
        path = folder / f"{args.name}_{args.style}.{args.format or 'svg'}"
    fmt = path.suffix.lstrip(".").lower()
    try:
        render(draw_graph(root, style=args.style, params=params, fmt=fmt), path, dpi=args.dpi)
        print(f"wrote {path}")
        if args.steps:
            steps = _output_directory(Path(args.steps))
            frames = save_frames(root, steps, style=args.style)
            print(f"wrote {len(frames)} step frames and steps.html to {steps}")
    except GraphvizNotFoundError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


def _explore(args: argparse.Namespace) -> int:
    """Write the interactive explorer page (one offline HTML file) for one canonical example."""
    from . import examples
    from .viz import GraphvizNotFoundError
    from .viz.explore import explore

    if args.name not in examples.EXAMPLES:
        print(f"microgradcn explore: unknown example {args.name!r}; choose one of: {', '.join(examples.EXAMPLES)}",
              file=sys.stderr)
        return 2
    root = examples.build(args.name)
    path = Path(args.output or Path(OUTPUT_DIR) / f"{args.name}_explore.html")
    try:
        explore(root, style=args.style, params=examples.parameters(args.name, root)).save(path)
    except GraphvizNotFoundError as error:
        print(f"microgradcn explore: {error}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as error:
        print(f"microgradcn explore: cannot write {path}: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path}  (用浏览器打开 open it in a browser; 无需联网 works offline)")
    return 0


def _gallery(args: argparse.Namespace) -> int:
    """Regenerate (or, with --check, compare) the gallery of pictures."""
    from .viz.gallery import run

    if args.check:
        if not Path(args.directory).is_dir():
            raise CommandError(f"the folder {args.directory} does not exist", 2)
        return run(args.directory, check=True)
    try:
        import PIL  # noqa: F401  (the animated GIF; checked before any file is written)
    except ImportError:
        raise CommandError(f"the gallery's animated GIF needs Pillow, which is not installed: {VIZ_EXTRA}") from None
    _output_directory(Path(args.directory))
    return run(args.directory)


def _bench(args: argparse.Namespace) -> int:
    """Run the benchmarks (moons with its baseline and replay rows, chain, wide, gpt) and print their figures."""
    if args.workload == "gpt":
        from .bench.gpt import main as gpt_main

        try:
            return gpt_main(quick=args.quick, as_json=args.json)
        except ImportError as error:  # the names come from Faker
            print(f"microgradcn bench gpt: {error}", file=sys.stderr)
            return 2
    if args.workload == "digits":
        from .bench.digits import main as digits_main

        return digits_main(quick=args.quick)
    from .bench import main as bench_main

    return bench_main(args.workload, quick=args.quick, gc_off=args.gc_off, as_json=args.json)


def _dpi(text: str) -> float:
    try:
        dpi = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of pixels per inch, got {text!r}") from None
    if not 10 <= dpi <= 1200:
        raise argparse.ArgumentTypeError(f"expected between 10 and 1200 pixels per inch, got {text}")
    return dpi


DPI_HELP = "PNG 分辨率 resolution of PNG pictures in pixels per inch (default 150)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="microgradcn",
        description="microgradcn: 看得见的反向传播 (a scalar autograd engine for learners). "
        "每个子命令都有 --help (every command has its own --help).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="子命令 commands")
    sub.required = True
    demo = sub.add_parser(
        "demo", help="苹果消费税示例:前向、反向与计算图 (the apple-tax demo)",
        description="苹果消费税示例(《深度学习入门》第 5 章):打印前向/反向表格与链式法则,"
        "并把两种画法的计算图写成 DOT、SVG 和 PNG。"
        " (The apple-tax example: table, chain rule, and pictures in both styles.)",
    )
    demo.set_defaults(func=_demo)
    demo.add_argument(
        "-o", "--output-dir", metavar="DIR", default=OUTPUT_DIR,
        help=f"图片写入的文件夹,不存在就新建 (folder for the pictures, created if missing; default ./{OUTPUT_DIR}/)",
    )
    demo.add_argument("--exact", action="store_true", help="使用分数:11/10 而不是 1.1 (use Fractions)")
    demo.add_argument("--dpi", type=_dpi, default=None, help=DPI_HELP)
    _add_viz_commands(sub)
    train = sub.add_parser(
        "train",
        help="训练一个网络:玩具数据、手写数字或名字 (an MLP on xor/moons/spiral, a CNN on digits, a GPT on names)",
        description="在玩具数据集上训练一个小 MLP、在手写数字上训练 MLP 或 CNN、或在英文名字上训练一个字符级 GPT;"
        "显示进度条,最后报告结果。 (Train a network and report the result.)",
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
                      help="记录一次计算图再重放 record each step's graph once and replay it")
    mode.add_argument("--eager", dest="replay", action="store_false", help="每一步重新搭图 build every graph anew")
    train.set_defaults(func=_train)
    bench = sub.add_parser(
        "bench", help="性能基准:moons、chain、wide、gpt 与纯浮点基线 (benchmarks)",
        description="运行性能基准并打印结果。 (Run the benchmarks and print their figures.)",
    )
    bench.add_argument(
        "workload", nargs="?", default="all", choices=["moons", "chain", "wide", "gpt", "digits", "all"],
        help="要运行的基准 which benchmark (default: all; moons includes the float baseline, replay and, "
        "when installed, micrograd and PyTorch; gpt and digits train networks and are not part of all)",
    )
    bench.add_argument("--quick", action="store_true", help="小规模快速运行(CI 用) (small sizes, for CI)")
    bench.add_argument("--gc-off", action="store_true", help="chain 与 wide 运行时关闭垃圾回收器 (collector off)")
    bench.add_argument("--json", action="store_true",
                       help="最后一行打印一个 JSON 对象 (print one JSON object with the figures on the last line)")
    bench.set_defaults(func=_bench)
    return parser


def _add_viz_commands(sub) -> None:
    from .examples import EXAMPLES

    render = sub.add_parser(
        "render", help="画出一个示例的计算图 (render a canonical example)",
        description="把一个示例的计算图画成 SVG、PNG 或 PDF;格式由 -o 的后缀决定。"
        " (Render one example; the suffix of -o decides the format.)",
    )
    render.add_argument("name", help="示例名 example: " + ", ".join(EXAMPLES))
    render.add_argument("--style", choices=("node", "book"), default="node",
                        help="画法 node(每个值一个方框)或 book(《深度学习入门》的画法) (default node)")
    render.add_argument("--format", choices=FORMATS, default=None,
                        help="输出格式,与 -o 的后缀冲突时报错 (output format; must agree with the -o suffix; "
                        "default svg)")
    render.add_argument("-o", "--output", metavar="FILE",
                        help=f"输出文件,文件夹须已存在 (output file in an existing folder; "
                        f"default ./{OUTPUT_DIR}/NAME_STYLE.FORMAT)")
    render.add_argument("--steps", metavar="DIR",
                        help="同时把逐步帧(SVG + steps.html)写到这个文件夹 (also write the step frames here)")
    render.add_argument("--dpi", type=_dpi, default=None, help=DPI_HELP)
    render.set_defaults(func=_render)
    explore = sub.add_parser(
        "explore", help="在浏览器中探索一个示例的计算图 (an interactive HTML page)",
        description="写出一个离线的 HTML 页面:点击节点看链式法则,逐步播放前向与反向传播,切换画法,搜索、缩放。"
        " (Write one offline HTML page: click a node for its chain rule, step through both passes.)",
    )
    explore.add_argument("name", help="one of: " + ", ".join(EXAMPLES))
    explore.add_argument("--style", choices=("node", "book"), default="node", help="the style shown first")
    explore.add_argument("-o", "--output", help=f"output file (default ./{OUTPUT_DIR}/NAME_explore.html)")
    explore.set_defaults(func=_explore)
    gallery = sub.add_parser(
        "gallery", help="重新生成 viz/ 图库 (regenerate the viz/ gallery)",
        description="把每个示例的两种画法写成 DOT 和 SVG,并生成苹果消费税的动画 GIF(需要 Pillow)。"
        " (Write every example in both styles, plus the step-through GIF, which needs Pillow.)",
    )
    gallery.add_argument("directory", nargs="?", default="viz", help="图库文件夹 gallery folder (default ./viz)")
    gallery.add_argument("--check", action="store_true",
                         help="只检查 DOT 文件是否过期,不写文件 (only report out-of-date DOT files)")
    gallery.set_defaults(func=_gallery)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit status (errors are one line on stderr)."""
    args = build_parser().parse_args(argv)
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
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except CommandError as error:
        print(f"{name}: {error}", file=sys.stderr)
        return error.status
    except OSError as error:  # e.g. an unwritable output folder
        where = f" {error.filename}" if getattr(error, "filename", None) else ""
        print(f"{name}: cannot write{where}: {error.strerror or error}", file=sys.stderr)
        return 1
    except (ValueError, RuntimeError) as error:  # e.g. Graphviz refusing a graph
        print(f"{name}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
