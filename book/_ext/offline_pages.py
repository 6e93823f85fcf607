"""Keep the built pages free of console errors and of code that would call another host.

Jupyter Book 1 always loads sphinx-thebe, even with Thebe (live code cells in the page) off.
With Sphinx 7.4 sphinx-thebe 0.3.1 adds its inline configuration script twice, which
redeclares a ``const`` and logs a page error; its scripts would also fetch Thebe from a CDN if
activated. The book does not use Thebe (Binder and Colab buttons open whole notebooks), so its
scripts are dropped from every page; any other exact duplicate script is dropped too.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def _is_thebe(script: Any) -> bool:
    filename = str(getattr(script, "filename", script) or "")
    body = str(getattr(script, "attributes", {}).get("body", ""))
    return "sphinx-thebe" in filename or "THEBE_JS_URL" in body


def _clean_scripts(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[str] = set()
    kept = []
    for script in scripts:
        key = repr((getattr(script, "filename", script), getattr(script, "attributes", {})))
        if _is_thebe(script) or key in seen:
            continue
        seen.add(key)
        kept.append(script)
    context["script_files"] = kept


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("html-page-context", _clean_scripts, priority=900)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
