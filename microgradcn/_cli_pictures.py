"""The picture commands of `microgradcn`: demo, render, explore and gallery (`cli.py` parses and dispatches).

Output files need an existing folder (otherwise an error says which folder is
missing); output *directories* (``demo -o DIR``, ``render --steps DIR``,
``gallery DIR``) are created when missing, and the command says so.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._cli_errors import FAILURE, USAGE, CommandError
from ._messages import bilingual

OUTPUT_DIR = "microgradcn-output"
FORMATS = ("svg", "png", "pdf")
VIZ_EXTRA = 'pip install "microgradcn[viz]"'


def _check_output_directory(path: Path) -> Path:
    """`path` unless it is a file (a usage error): checked before anything is written."""
    if path.exists() and not path.is_dir():
        raise CommandError(bilingual(f"{path} 是文件,这里需要文件夹",
                                     f"{path} is a file, expected a directory for the output"), USAGE)
    return path


def _output_directory(path: Path) -> Path:
    """Create the output directory `path` if it is missing, saying so."""
    _check_output_directory(path)
    if not path.exists():
        path.mkdir(parents=True)
        print(f"新建文件夹 created folder {path}")
    return path


def _output_file(path: Path) -> Path:
    """`path` if its folder exists and it is not a directory; CommandError otherwise."""
    if path.is_dir():
        raise CommandError(bilingual(f"{path} 是文件夹,这里需要文件名", f"{path} is a directory, expected a file name"),
                           USAGE)
    folder = path.parent
    if not folder.is_dir():
        raise CommandError(bilingual(f"无法写入 {path}:文件夹 {folder} 不存在(请先建好)",
                                     f"cannot write {path}: the folder {folder} does not exist (create it first)"),
                           USAGE)
    return path


def _suffix_error(path: Path, zh: str, en: str) -> CommandError:
    return CommandError(bilingual(f"-o {path}:{zh}", f"-o {path}: {en}"), USAGE)


def _example(name: str):
    """The canonical example `name` built, or a usage error listing the names."""
    from . import examples

    if name not in examples.EXAMPLES:
        known = ", ".join(examples.EXAMPLES)
        raise CommandError(bilingual(f"没有叫 {name!r} 的示例", f"unknown example {name!r}; choose one of: {known}"),
                           USAGE)
    return examples.build(name)


def _step_graph(name: str):
    """(loss, model) of one step of a project model; a missing extra is a run-time failure."""
    from .viz.step_graphs import step_graph

    try:
        return step_graph(name)
    except ImportError as error:
        raise CommandError(bilingual(f"{name} 需要可选的依赖包", f"{name} needs an optional extra: {error}; "
                                     'pip install "microgradcn[data]"'), FAILURE) from None


def _no_graphviz(error: Exception, dot_folder: Path | None = None) -> CommandError:
    """Graphviz's `dot` is missing: one line saying how to install it (and where the DOT sources are)."""
    if dot_folder is None:
        return CommandError(bilingual("没有画出图片:找不到 Graphviz", str(error)), FAILURE)
    where = dot_folder.resolve()
    return CommandError(bilingual(f"没有画出图片:找不到 Graphviz;DOT 源文件已写入 {where}",
                                  f"{error} The DOT sources are in {where}."), FAILURE)


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

    out = _output_directory(Path(args.output_dir))  # a wrong -o fails before anything is printed
    pay = apple_tax(exact=args.exact)
    print("苹果消费税:2 个苹果,单价 100,消费税 10%\n")
    print(_table(pay))
    print()
    explain(pay)
    print()
    try:
        written = _write_pictures(pay, out / "apple_tax", ("node", "book"), ("svg", "png"), dpi=args.dpi)
    except GraphvizNotFoundError as error:
        raise _no_graphviz(error, out) from None
    print(f"计算图已写入 {out.resolve()}/ (pictures written):")
    for path in written:
        print(f"  {path}")
    return 0


def _render(args: argparse.Namespace) -> int:
    """Render one canonical example to a file (and optionally its step frames)."""
    from . import examples
    from .viz import GraphvizNotFoundError, draw_graph, render, save_frames

    root = _example(args.name)
    params = examples.parameters(args.name, root)
    steps = _check_output_directory(Path(args.steps)) if args.steps else None
    path = _render_path(args)
    try:
        render(draw_graph(root, style=args.style, params=params, fmt=path.suffix[1:].lower()), path, dpi=args.dpi)
        print(f"已写入 wrote {path}")
        if steps:
            frames = save_frames(root, _output_directory(steps), style=args.style)
            print(f"逐步帧已写入 wrote {len(frames)} step frames and steps.html to {steps}")
    except GraphvizNotFoundError as error:
        raise _no_graphviz(error) from None
    return 0


def _render_path(args: argparse.Namespace) -> Path:
    """Where `render` writes: -o (its suffix, or --format, decides the format) or the default folder."""
    if args.output:
        path = Path(args.output)
        if path.is_dir():  # before `-o net` becomes net.svg: `-o /tmp` must not write /tmp.svg
            _output_file(path)
        suffix = path.suffix.lstrip(".").lower()
        if not suffix:  # `-o net`: the format names the file
            path = path.with_name(f"{path.name}.{args.format or 'svg'}")
        elif suffix not in FORMATS:
            raise _suffix_error(path, "文件名须以 .svg、.png 或 .pdf 结尾",
                                "the file name must end in .svg, .png or .pdf")
        elif args.format and args.format != suffix:
            raise CommandError(bilingual(f"-o {path} 是 {suffix},--format 却是 {args.format}",
                                         f"-o {path} says {suffix} but --format says {args.format}; "
                                         f"give one of them, or make them agree"), USAGE)
        return _output_file(path)
    return _output_directory(Path(OUTPUT_DIR)) / f"{args.name}_{args.style}.{args.format or 'svg'}"


def _explore(args: argparse.Namespace) -> int:
    """Write the interactive explorer page (one offline HTML file) for one example or one model's step."""
    from . import examples
    from .viz import GraphvizNotFoundError
    from .viz.explore import explore
    from .viz.step_graphs import STEP_GRAPHS

    if args.name not in STEP_GRAPHS and args.name not in examples.EXAMPLES:
        known = ", ".join(list(examples.EXAMPLES) + list(STEP_GRAPHS))
        raise CommandError(bilingual(f"没有叫 {args.name!r} 的示例或模型",
                                     f"unknown example {args.name!r}; choose one of: {known}"), USAGE)
    if args.output:  # the README's rule for -o, as render and train follow it: the folder must already exist
        path = _output_file(Path(args.output))
        if path.suffix.lower() != ".html":
            raise _suffix_error(path, "文件名须以 .html 结尾(页面是一个 HTML 文件)",
                                "the file name must end in .html (the page is one HTML file)")
    else:
        path = _output_directory(Path(OUTPUT_DIR)) / f"{args.name}_explore.html"
    try:
        if args.name in STEP_GRAPHS:
            root, model = _step_graph(args.name)  # the model stays alive while the page is made: names come from it
            explore(root, style=args.style, title=f"探索计算图:{args.name} 一步的损失").save(path)
            del model
        else:
            root = examples.build(args.name)
            explore(root, style=args.style, params=examples.parameters(args.name, root)).save(path)
    except GraphvizNotFoundError as error:
        raise _no_graphviz(error) from None
    print(f"已写入 wrote {path}  (用浏览器打开 open it in a browser; 无需联网 works offline)")
    return 0


def _gallery(args: argparse.Namespace) -> int:
    """Regenerate (or, with --check, compare) the gallery of pictures."""
    from .viz.gallery import run

    if args.check:
        if not Path(args.directory).is_dir():
            raise CommandError(bilingual(f"文件夹 {args.directory} 不存在",
                                         f"the folder {args.directory} does not exist"), USAGE)
        return run(args.directory, check=True)
    try:
        import PIL  # noqa: F401  (the animated GIF; checked before any file is written)
    except ImportError:
        raise CommandError(bilingual("图库的动画 GIF 需要 Pillow,但没有安装",
                                     f"the gallery's animated GIF needs Pillow, which is not installed: {VIZ_EXTRA}"),
                           FAILURE) from None
    from .viz import GraphvizNotFoundError

    folder = _output_directory(Path(args.directory))
    try:
        return run(folder)
    except GraphvizNotFoundError as error:
        raise _no_graphviz(error, folder) from None


def _dpi(text: str) -> float:
    try:
        dpi = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of pixels per inch, got {text!r}") from None
    if not 10 <= dpi <= 1200:
        raise argparse.ArgumentTypeError(f"expected between 10 and 1200 pixels per inch, got {text}")
    return dpi


DPI_HELP = "PNG 分辨率 resolution of PNG pictures in pixels per inch (default 150)"


def add_commands(sub) -> None:
    """The demo, render, explore and gallery subcommands, on the `microgradcn` parser's `sub`."""
    from .examples import EXAMPLES

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
        "moons、digits-cnn、gpt 是一步训练的整张损失图:从模块方框开始,点击方框逐层打开。"
        " (Write one offline HTML page: click a node for its chain rule, step through both passes;"
        " for moons, digits-cnn and gpt the page starts at the module boxes and opens them one level at a time.)",
    )
    explore.add_argument("name", help="示例或模型 an example or a model: " + ", ".join(EXAMPLES)
                         + "; moons, digits-cnn, gpt (一步训练的损失图,未训练的模型 one step's loss graph, "
                         "untrained model at seed 0)")
    explore.add_argument("--style", choices=("node", "book"), default="node",
                         help="the style shown first (the small examples' page)")
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
