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
    assert main(["gallery", "--check", str(tmp_path)]) == 0
    (tmp_path / "apple_tax_book.dot").write_text("digraph {}")
    assert main(["gallery", "--check", str(tmp_path)]) == 1
    assert "apple_tax_book.dot" in capsys.readouterr().out
