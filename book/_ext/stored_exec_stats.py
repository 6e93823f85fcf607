"""Feed myst-nb's ``{nb-exec-table}`` from execution times stored in the notebooks.

The book is built with ``execute_notebooks: "off"``: the chapters were executed beforehand by
``scripts/book.sh execute``, which writes ``metadata.bayeslens.execution`` (wall-clock seconds,
UTC time, machine) into each notebook. myst-nb only fills its execution table for notebooks it
executes itself, so this extension hands it the stored numbers instead.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from myst_nb.sphinx_ import NbMetadataCollector
from sphinx.application import Sphinx


def _stored_execution(path: Path) -> dict[str, Any] | None:
    meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    execution = meta.get("bayeslens", {}).get("execution")
    return execution if isinstance(execution, dict) else None


def _add_stored_exec_data(app: Sphinx, env: Any) -> list[str]:
    for docname in sorted(env.found_docs):
        path = Path(env.doc2path(docname))
        if path.suffix != ".ipynb":
            continue
        execution = _stored_execution(path)
        if execution is None:
            continue
        when = datetime.fromisoformat(execution["finished"]).timestamp()
        NbMetadataCollector.set_exec_data(
            env,
            docname,
            {
                "mtime": when,
                "runtime": execution["seconds"],
                "method": "stored",
                "succeeded": True,
                "error": None,
                "traceback": None,
            },
        )
    return []


def setup(app: Sphinx) -> dict[str, Any]:
    # After every document is read, before the table's post-transform runs at write time.
    app.connect("env-updated", _add_stored_exec_data, priority=400)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
