"""Execute the book's notebooks in place, storing outputs, widget state and run times.

Used by ``bash scripts/book.sh execute``. Each notebook runs top to bottom in a fresh kernel
(nbconvert's ExecutePreprocessor with ``store_widget_state=True``, so the static explorers'
sliders work in the built HTML), cell timings are not recorded (they would change on every
run), and ``metadata.bayeslens.execution`` gets the wall-clock seconds, which the book's
execution-statistics page shows (book/_ext/stored_exec_stats.py).

    python scripts/execute_book.py                 # every notebook in _toc.yml
    python scripts/execute_book.py book/03_gp_step.ipynb
    python scripts/execute_book.py --sync-url      # Colab install cells <- _config.yml
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import yaml
from nbconvert.preprocessors import ExecutePreprocessor

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 600
INSTALL_TAG = "colab-install"
INSTALL_CELL = """\
# In Colab only: install bayeslens from its repository (Colab's own torch is kept).
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "bayeslens @ git+{url}"],
        check=True,
    )"""


def repository_url(root: Path = ROOT) -> str:
    """The repository URL: the one setting in _config.yml."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    return str(config["repository"]["url"]).rstrip("/")


def install_cell_source(url: str) -> str:
    """The source of each chapter's first (hidden, guarded) cell."""
    return INSTALL_CELL.format(url=url)


def sync_url(paths: list[Path]) -> None:
    """Rewrite the install cell of each notebook from :func:`repository_url`."""
    source = install_cell_source(repository_url())
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        cells = [c for c in nb.cells if INSTALL_TAG in c.metadata.get("tags", [])]
        if len(cells) != 1:
            raise SystemExit(f"{path}: expected one cell tagged {INSTALL_TAG}, got {len(cells)}")
        if cells[0].source != source:
            cells[0].source = source
            nbformat.write(nb, path)
            print(f"updated {path.relative_to(ROOT)}")


def toc_notebooks(root: Path = ROOT) -> list[Path]:
    """The .ipynb files named in _toc.yml, in reading order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    return [root / f"{f}.ipynb" for f in files if (root / f"{f}.ipynb").exists()]


def execute(path: Path) -> float:
    """Execute one notebook in place; return its wall-clock seconds."""
    nb = nbformat.read(path, as_version=4)
    pre = ExecutePreprocessor(
        timeout=TIMEOUT, kernel_name="python3", store_widget_state=True, record_timing=False
    )
    start = time.perf_counter()
    pre.preprocess(nb, {"metadata": {"path": str(path.parent)}})
    seconds = time.perf_counter() - start
    nb.metadata.setdefault("bayeslens", {})["execution"] = {
        "seconds": round(seconds, 1),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--sync-url", action="store_true", help="only rewrite install cells")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or toc_notebooks()
    if args.sync_url:
        sync_url(paths)
        return 0
    for path in paths:
        print(f"executing {path.relative_to(ROOT)} ...", flush=True)
        seconds = execute(path)
        print(f"  {seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
