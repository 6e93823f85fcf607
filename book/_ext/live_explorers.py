"""Load the live explorers' scripts on the pages that show one, and only there.

A chapter shows a live explorer with ``bayeslens.webexport.live_explorer(NAME)``, whose HTML
output is a ``<div class="bayeslens-live">``. On each page whose body holds one, this adds
the explorer's stylesheet and scripts (served from ``book/vendor/bayeslens/``, copied to
``_static/bayeslens/``); they read the data ``python -m bayeslens.webexport`` wrote beside
them. Other pages stay as they were.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx

MARKER = 'class="bayeslens-live"'
SCRIPTS = (
    "bayeslens/live-math.js",
    "bayeslens/live-exact.js",
    "bayeslens/live-network.js",
    "bayeslens/live-sequence.js",
    "bayeslens/live-draw.js",
    "bayeslens/live-tokens.js",
    "bayeslens/live.js",
)
STYLESHEET = "bayeslens/live.css"


def _add_live_assets(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    if MARKER not in str(context.get("body", "")):
        return
    builder: Any = app.builder
    builder.add_css_file(STYLESHEET)
    for script in SCRIPTS:  # in order: each module extends window.BayeslensLive
        builder.add_js_file(script, priority=850)


def setup(app: Sphinx) -> dict[str, Any]:
    # before offline_pages (priority 900), which rebuilds the page's script list
    app.connect("html-page-context", _add_live_assets, priority=500)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
