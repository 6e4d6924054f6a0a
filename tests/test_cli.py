"""The command line: demo, render, gallery."""

import pytest

from microgradcn.cli import main


def test_demo_prints_table_and_writes_both_styles(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    row = next(line for line in lines if line.startswith("苹果单价"))
    assert row.split() == ["苹果单价", "输入", "100", "2.2"]
    # wide characters take two columns: every table row ends in the same column
    from microgradcn.viz import display_width

    table = [line for line in lines[2:9] if line.strip()]
    assert len({display_width(line) for line in table}) == 1, table
    assert "1.1 × 2 = 2.2" in out and str(tmp_path) in out
    for style in ("node", "book"):
        for fmt in ("svg", "png", "dot"):
            assert (tmp_path / f"apple_tax_{style}.{fmt}").stat().st_size > 0


def test_demo_exact(tmp_path, capsys):
    assert main(["demo", "--exact", "-o", str(tmp_path)]) == 0
    assert "11/5" in capsys.readouterr().out


def test_demo_without_graphviz_still_prints_and_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["demo", "-o", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "苹果单价" in captured.out and "apt-get install graphviz" in captured.err
    assert (tmp_path / "apple_tax_book.dot").exists()


@pytest.mark.parametrize("fmt", ["svg", "png", "pdf"])
def test_render_example(tmp_path, fmt, capsys):
    path = tmp_path / f"x.{fmt}"
    assert main(["render", "apple_orange", "--style", "book", "--format", fmt, "-o", str(path)]) == 0
    assert path.stat().st_size > 0


def test_render_steps(tmp_path):
    assert main(["render", "chain_rule", "-o", str(tmp_path / "c.svg"), "--steps", str(tmp_path / "steps")]) == 0
    assert len(list((tmp_path / "steps").glob("step_*.svg"))) == 8  # 4 nodes, 2 passes
    assert (tmp_path / "steps" / "steps.html").exists()


def test_render_unknown_example(capsys):
    assert main(["render", "banana"]) == 2
    assert "apple_tax" in capsys.readouterr().err


def test_gallery_command(tmp_path, capsys):
    assert main(["gallery", str(tmp_path)]) == 0
    assert (tmp_path / "apple_tax_book.svg").exists()
    capsys.readouterr()
    assert main(["gallery", "--check", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"图库是最新的 up to date: every DOT file in {tmp_path} matches the code\n"
    (tmp_path / "apple_tax_book.dot").write_text("digraph {}")
    assert main(["gallery", "--check", str(tmp_path)]) == 1
    assert "apple_tax_book.dot" in capsys.readouterr().out


# ------------------------------------------------------------ files and errors
def one_line_error(captured):
    err = captured.err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def png_size(path):
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def test_render_suffix_decides_the_format_and_dpi_sets_the_size(tmp_path, capsys):
    path = tmp_path / "x.png"
    assert main(["render", "apple_tax", "--style", "book", "-o", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not (tmp_path / "x.svg").exists()
    width, _ = png_size(path)
    assert main(["render", "apple_tax", "--style", "book", "-o", str(tmp_path / "y.png"), "--dpi", "300"]) == 0
    assert png_size(tmp_path / "y.png")[0] == pytest.approx(2 * width, rel=0.03)
    assert main(["render", "apple_tax", "-o", str(tmp_path / "net"), "--format", "pdf"]) == 0
    assert (tmp_path / "net.pdf").read_bytes()[:4] == b"%PDF"


@pytest.mark.parametrize("args, message", [
    (["-o", "x.png", "--format", "svg"], "-o x.png says png but --format says svg"),
    (["-o", "x.gif"], "must end in .svg, .png or .pdf"),
    (["-o", "no/such/folder/x.svg"], "the folder no/such/folder does not exist"),
])
def test_render_file_errors_are_one_line(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["render", "apple_tax"] + args) == 2
    assert message in one_line_error(capsys.readouterr())
    assert not list(tmp_path.iterdir())


def test_output_directories_are_created_and_the_command_says_so(tmp_path, capsys):
    steps = tmp_path / "new" / "steps"
    assert main(["render", "chain_rule", "-o", str(tmp_path / "c.svg"), "--steps", str(steps)]) == 0
    assert f"created folder {steps}" in capsys.readouterr().out and (steps / "steps.html").exists()
    out = tmp_path / "demo-out"
    assert main(["demo", "-o", str(out)]) == 0
    assert f"created folder {out}" in capsys.readouterr().out
    assert main(["demo", "-o", str(out)]) == 0
    assert "created folder" not in capsys.readouterr().out  # already there: nothing to say


def test_demo_into_an_unwritable_or_wrong_place_is_one_line(tmp_path, capsys):
    assert main(["demo", "-o", "/proc/x"]) == 1
    assert "microgradcn demo: 无法写入 /proc/x (cannot write /proc/x: " in one_line_error(capsys.readouterr())
    a_file = tmp_path / "f.png"
    a_file.write_text("")
    assert main(["demo", "-o", str(a_file)]) == 2
    assert "is a file, expected a directory" in one_line_error(capsys.readouterr())


def test_gallery_without_pillow_names_the_extra_and_writes_nothing(tmp_path, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pillow(name, *args, **kwargs):
        if name == "PIL" or name.startswith("PIL."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pillow)
    target = tmp_path / "g"
    assert main(["gallery", str(target)]) == 1
    assert 'pip install "microgradcn[viz]"' in one_line_error(capsys.readouterr())
    assert not target.exists()


def test_ctrl_c_is_one_line_and_status_130(tmp_path, capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr("microgradcn._cli_pictures._demo", interrupted)
    assert main(["demo", "-o", str(tmp_path)]) == 130
    assert one_line_error(capsys.readouterr()) == "microgradcn demo: 已中断 (interrupted)"


def test_an_unexpected_error_is_one_line_not_a_traceback(tmp_path, capsys, monkeypatch):
    def broken(args):
        raise TypeError("a bug")

    monkeypatch.setattr("microgradcn._cli_pictures._demo", broken)
    assert main(["demo", "-o", str(tmp_path)]) == 1
    assert one_line_error(capsys.readouterr()) == (
        "microgradcn demo: 意外的错误,请报告给我们 (unexpected error, please report it: TypeError: a bug)")


def test_gallery_check_of_a_missing_folder(tmp_path, capsys):
    assert main(["gallery", "--check", str(tmp_path / "nope")]) == 2
    assert "does not exist" in one_line_error(capsys.readouterr())


@pytest.mark.parametrize("dpi", ["5", "abc"])
def test_bad_dpi_is_a_usage_error(dpi, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--dpi", dpi])
    assert exit_info.value.code == 2 and "--dpi" in capsys.readouterr().err


def test_output_piped_into_head_stops_quietly(tmp_path):
    import os
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for buffered in ("", "1"):  # block-buffered (the usual pipe) and line by line
        env = dict(os.environ, PYTHONPATH=str(root), PYTHONUNBUFFERED=buffered)
        _run_into_closed_pipe(env, tmp_path)


def _run_into_closed_pipe(env, tmp_path):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "microgradcn", "demo", "-o", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode("utf-8")
    proc.stderr.close()
    assert proc.wait() in (0, 141) and "Traceback" not in err and "BrokenPipe" not in err, err
    if env["PYTHONUNBUFFERED"]:
        assert proc.returncode == 141  # more lines were written after the reader left


def test_every_command_and_option_has_help(capsys):
    import argparse

    from microgradcn.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == {"demo", "render", "gallery", "train", "explore"}  # benchmarks: python -m benchmarks
    for name, command in sub.choices.items():
        assert command.description, name
        for action in command._actions:
            assert action.help, (name, action.dest)
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0
        assert command.description.split()[0] in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in sub.choices)


# ------------------------------------------------- one convention for every error
def status_and_error(argv):
    """Exit status and stderr of the command line; argparse's errors exit through SystemExit."""
    try:
        status = main(argv)
    except SystemExit as exit_info:
        status = exit_info.code
    return status


def cjk(text):
    """Chinese first: Chinese before the first " (", where the English starts."""
    return any("\u4e00" <= ch <= "\u9fff" for ch in text.split(" (")[0]) and text.endswith(")")


# argparse's own usage errors (a usage, then one error line), for every command
ARGPARSE_ERRORS = [
    ([], "microgradcn", "the following arguments are required: COMMAND"),
    (["trian"], "microgradcn", "invalid choice: 'trian'"),
    (["--bogus"], "microgradcn", "unrecognized arguments: --bogus"),
    (["demo", "extra_arg"], "microgradcn demo", "unrecognized arguments: extra_arg"),
    (["demo", "--bogus"], "microgradcn demo", "unrecognized arguments: --bogus"),
    (["demo", "--dpi", "5"], "microgradcn demo", "argument --dpi: expected between 10 and 1200"),
    (["demo", "-o"], "microgradcn demo", "expected one argument"),
    (["render"], "microgradcn render", "the following arguments are required: name"),
    (["render", "apple_tax", "extra"], "microgradcn render", "unrecognized arguments: extra"),
    (["render", "apple_tax", "--style", "nope"], "microgradcn render", "invalid choice: 'nope'"),
    (["explore", "apple_tax", "--bogus"], "microgradcn explore", "unrecognized arguments: --bogus"),
    (["explore", "apple_tax", "--style", "nope"], "microgradcn explore", "invalid choice: 'nope'"),
    (["gallery", "a", "b"], "microgradcn gallery", "unrecognized arguments: b"),
    (["train"], "microgradcn train", "the following arguments are required: task"),
    (["train", "bogus"], "microgradcn train", "invalid choice: 'bogus'"),
    (["train", "xor", "--steps", "x"], "microgradcn train", "invalid int value: 'x'"),
    (["train", "xor", "--eager", "--replay"], "microgradcn train", "not allowed with argument"),
]


@pytest.mark.parametrize("argv, prog, message", ARGPARSE_ERRORS)
def test_argparse_errors_show_the_commands_usage_then_one_prefixed_line(argv, prog, message, capsys, tmp_path,
                                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert status_and_error(argv) == 2
    err = capsys.readouterr().err
    *usage, last = err.rstrip("\n").split("\n")
    assert usage[0].startswith(f"usage: {prog} ") and all(line.startswith(" ") for line in usage[1:]), err
    assert last.startswith(f"{prog}: ") and cjk(last[len(prog) + 2:]) and message in last, last
    assert not list(tmp_path.iterdir())


def test_demo_with_an_extra_argument_shows_demos_usage(capsys):
    assert status_and_error(["demo", "extra_arg"]) == 2
    assert capsys.readouterr().err == ("usage: microgradcn demo [-h] [-o DIR] [--exact] [--dpi DPI]\n"
                                       "microgradcn demo: 不认识的参数 (unrecognized arguments: extra_arg)\n")


# the commands' own errors: one line; 2 for a usage error, 1 for a failure while running
COMMAND_ERRORS = [
    (["render", "banana"], 2, "unknown example 'banana'"),
    (["render", "apple_tax", "-o", "x.gif"], 2, "must end in .svg, .png or .pdf"),
    (["render", "apple_tax", "-o", "x.png", "--format", "svg"], 2, "says png but --format says svg"),
    (["render", "apple_tax", "-o", "no/dir/x.svg"], 2, "the folder no/dir does not exist"),
    (["render", "apple_tax", "-o", "."], 2, "is a directory, expected a file name"),  # not ./.svg
    (["explore", "banana"], 2, "unknown example 'banana'"),
    (["explore", "apple_tax", "-o", "page.txt"], 2, "must end in .html"),
    (["explore", "apple_tax", "-o", "no/dir/x.html"], 2, "the folder no/dir does not exist"),
    (["gallery", "--check", "no/dir"], 2, "the folder no/dir does not exist"),
    (["train", "xor", "--steps", "0"], 2, "steps must be a positive int, got 0"),
    (["train", "xor", "--epochs", "3"], 2, "--epochs is only for the digits task"),
    (["train", "digits", "--lr", "1"], 2, "--lr is not used by the digits task"),
    (["train", "names", "--optimizer", "sgd"], 2, "names trains with Adam only"),
    (["train", "xor", "--save", "no/dir/m.json"], 2, "directory no/dir does not exist"),
    (["demo", "-o", "/proc/x"], 1, "cannot write /proc/x: "),
    (["render", "apple_tax", "-o", "/proc/x.svg"], 1, "cannot write /proc/x.svg: "),
    (["render", "apple_tax", "-o", "ok.svg", "--steps", "/proc/steps"], 1, "cannot write /proc/steps: "),
    (["explore", "apple_tax", "-o", "/proc/x.html"], 1, "cannot write /proc/x.html: "),
    (["gallery", "/proc/g"], 1, "cannot write /proc/g: "),
    (["train", "xor", "--save", "/proc/m.json", "--no-progress"], 1, "cannot save to /proc/m.json: "),
]


@pytest.mark.parametrize("argv, status, message", COMMAND_ERRORS)
def test_command_errors_are_one_prefixed_chinese_first_line(argv, status, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert status_and_error(argv) == status
    err = one_line_error(capsys.readouterr())
    prefix = f"microgradcn {argv[0]}: "
    assert err.startswith(prefix) and cjk(err[len(prefix):]) and message in err, err
    if status == 2:
        assert not list(tmp_path.iterdir())  # a usage error writes nothing


@pytest.mark.parametrize("argv", [["demo"], ["render", "apple_tax"], ["explore", "apple_tax"], ["explore", "gpt"],
                                  ["gallery", "g"]])
def test_without_graphviz_every_picture_command_fails_in_one_line(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(argv) == 1
    err = one_line_error(capsys.readouterr())
    assert err.startswith(f"microgradcn {argv[0]}: 没有画出图片:找不到 Graphviz") and cjk(err[len(argv[0]) + 13:])
    assert "apt-get install graphviz" in err
    if argv[0] in ("demo", "gallery"):  # they write the DOT sources first, and say where
        assert "The DOT sources are in " in err and list(tmp_path.rglob("*.dot"))


def test_render_checks_the_steps_folder_before_writing_anything(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("")
    assert main(["render", "apple_tax", "-o", "x.svg", "--steps", "afile"]) == 2
    assert "afile is a file, expected a directory" in one_line_error(capsys.readouterr())
    assert [p.name for p in tmp_path.iterdir()] == ["afile"]


def test_explore_screenshot_without_playwright_is_a_one_line_hint():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    code = ("import runpy, sys; sys.modules['playwright'] = None; sys.argv = ['explore_screenshot.py']; "
            "runpy.run_path('scripts/explore_screenshot.py', run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                          env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == ('explore_screenshot.py: 需要 Playwright (needs Playwright): pip install -e ".[browser]", '
                           "then apt-get install chromium\n")


@pytest.mark.parametrize("name", ["moons", "gpt"])
def test_explore_a_model_writes_the_page_of_boxes_of_one_step(name, tmp_path, capsys):
    path = tmp_path / f"{name}.html"
    assert main(["explore", name, "-o", str(path)]) == 0
    page = path.read_text(encoding="utf-8")
    assert 'id="mgc-meta"' in page and 'id="mgc-data"' not in page  # the boxes, not one node per Value
    assert f"{name} 一步的损失" in page and path.stat().st_size < 5_000_000
    assert capsys.readouterr().out.startswith(f"已写入 wrote {path}")


def test_explore_digits_without_scikit_learn_is_one_line_naming_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "sklearn", None)
    assert main(["explore", "digits-cnn", "-o", str(tmp_path / "d.html")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("microgradcn explore: digits-cnn 需要可选的依赖包") and 'microgradcn[data]' in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "d.html").exists()


def test_explore_unknown_name_lists_the_models_too(capsys):
    assert main(["explore", "banana"]) == 2
    assert "moons, digits-cnn, gpt" in capsys.readouterr().err
