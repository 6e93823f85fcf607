"""The book's sources: chapters, install cells, explorers, offline JS, launch settings.

Cheap structural checks; the chapters' outputs are checked by nbval (``pytest --nbval book``)
and the built pages by tests/test_browser.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import execute_book  # noqa: E402

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
NOTEBOOKS = execute_book.toc_notebooks()
CHAPTERS = [p for p in NOTEBOOKS if p.name[:2].isdigit()]


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def test_toc_lists_chapters_as_notebooks():
    assert len(CHAPTERS) >= 4
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    numbered = [part for part in toc["parts"] if part.get("numbered")]
    assert numbered, "chapters sit in numbered parts"
    assert all(part.get("caption") for part in toc["parts"])
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            stem = ROOT / chapter["file"]
            assert stem.with_suffix(".ipynb").exists() or stem.with_suffix(".md").exists()
            # Both would make the build fail on "multiple files found".
            assert not (stem.with_suffix(".ipynb").exists() and stem.with_suffix(".md").exists())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_cell_installs_from_the_configured_repository(path):
    first = _cells(path)[0]
    assert first["cell_type"] == "markdown"  # the title
    install = _cells(path)[1]
    tags = install["metadata"].get("tags", [])
    assert execute_book.INSTALL_TAG in tags
    assert "remove-cell" in tags
    assert _source(install) == execute_book.install_cell_source(CONFIG["repository"]["url"]), (
        "run `bash scripts/book.sh sync-url` after changing repository.url in _config.yml"
    )
    # Only bayeslens is named, and nothing is upgraded: Colab keeps its own (CUDA) torch.
    assert '"torch' not in _source(install)
    assert "--upgrade" not in _source(install)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_shape(path):
    cells = _cells(path)
    code = [c for c in cells if c["cell_type"] == "code"]
    text = "\n".join(_source(c) for c in cells if c["cell_type"] == "markdown")
    assert "**What you will see.**" in text
    assert "paper's claim" in text
    assert "## Exercises" in text
    assert "{exercise}" in text
    assert any("explore(" in _source(c) for c in code), "every chapter has an explorer"
    for cell in code:
        tags = cell["metadata"].get("tags", [])
        if "nbval-ignore-output" in tags:
            assert "explore(" in _source(cell) or "token_explorer(" in _source(cell), (
                "ignore output only on widget cells")
        assert cell["execution_count"] is not None or execute_book.INSTALL_TAG in tags, (
            f"{path.name} is not executed: bash scripts/book.sh execute {path.name}"
        )
    # The first code cell after the install cell holds the imports, the seed and the style.
    assert "torch.manual_seed(" in _source(code[1])
    assert "plots.use_book_style()" in _source(code[1]), "one figure style for the book"
    assert not any("rcParams" in _source(c) for c in code), "the style is set in the package"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_execution(path):
    meta = json.loads(path.read_text())["metadata"]
    assert meta["bayeslens"]["execution"]["seconds"] > 0
    if any("explore(" in _source(c) for c in _cells(path) if c["cell_type"] == "code"):
        assert meta["widgets"], "widget state stored (execute with store_widget_state)"


def test_offline_js_is_vendored_with_licences():
    sphinx = CONFIG["sphinx"]["config"]
    (static,) = sphinx["html_static_path"]
    base = ROOT / static
    assert base.name != "_static"
    for rel in [*sphinx["nb_ipywidgets_js"], sphinx["mathjax_path"]]:
        assert "://" not in rel
        assert (base / rel).is_file()
        assert (base / rel).parent.joinpath("LICENSE.txt").is_file()


def test_launch_buttons():
    assert CONFIG["repository"]["url"].startswith("https://")
    assert CONFIG["launch_buttons"]["binderhub_url"]
    assert CONFIG["launch_buttons"]["colab_url"]
    req = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    assert any("download.pytorch.org/whl/cpu" in line for line in req)
    assert "-e ." in req
