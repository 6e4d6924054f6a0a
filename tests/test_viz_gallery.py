"""The committed gallery in viz/ matches what the code draws now."""

from pathlib import Path

from microgradcn.viz.gallery import gallery_sources, stale_files

VIZ = Path(__file__).resolve().parents[1] / "viz"


def test_committed_dot_files_are_current():
    stale = stale_files(VIZ)
    assert not stale, f"out of date: {stale}; regenerate with `python -m microgradcn.viz.gallery`"


def test_gallery_has_every_example_in_both_styles_with_svg():
    names = gallery_sources()
    assert len(names) == 10
    for name in names:
        assert (VIZ / name).with_suffix(".svg").exists(), name
    assert (VIZ / "apple_tax_steps.gif").exists()


def test_readme_shows_the_apple_tax_pictures():
    readme = (VIZ.parent / "README.md").read_text(encoding="utf-8")
    assert "viz/apple_tax_book.svg" in readme and "viz/apple_tax_node.svg" in readme
