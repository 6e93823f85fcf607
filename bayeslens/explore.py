"""Explorers: one drawing function, three ways to move it with sliders.

``explore(draw, params)`` shows a figure drawn by ``draw(ax, **values)`` with one slider per
parameter, where ``params`` maps each parameter name to the list of values its slider offers.

* **static** (the default where ipywidgets 8 is installed): every combination of values is
  drawn once, at execution time, into a compressed PNG. The frames become ``Image`` children
  of nested ipywidgets ``Stack`` s (one level per slider), and each slider's ``index`` is linked
  to its level's ``selected_index`` with ``jslink``. Links run in the browser, so once the
  notebook is executed with its widget state stored, moving a slider in the *built HTML book*
  changes the figure, with no kernel.
* **live**: ``interactive_output`` redraws in a running kernel (Jupyter, Binder, Colab); any
  value grid works, as nothing is precomputed, but the built book shows only a snapshot.
* **fallback**: where ipywidgets 8 (``Stack``) is missing, e.g. an older Colab, static falls
  back to live.

``mode="auto"`` picks live in Colab and static elsewhere; the environment variable
``BAYESLENS_EXPLORER`` (``live`` or ``static``) overrides it.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["MAX_FRAMES", "explore", "frame_png", "has_stack", "resolve_mode"]

MAX_FRAMES = 300
"""At most this many frames per explorer: a few hundred per page keeps pages light."""

Draw = Callable[..., Any]


def has_stack() -> bool:
    """Whether the installed ipywidgets has ``Stack`` (ipywidgets >= 8)."""
    try:
        import ipywidgets
    except ImportError:
        return False
    return hasattr(ipywidgets, "Stack")


def resolve_mode(mode: str = "auto") -> str:
    """The explorer mode actually used: ``"static"`` or ``"live"``.

    ``auto``: ``BAYESLENS_EXPLORER`` if set, else live in Colab, else static. Static falls
    back to live without ipywidgets 8.
    """
    if mode not in ("auto", "static", "live"):
        raise ValueError(f"mode must be 'auto', 'static' or 'live', got {mode!r}")
    if mode == "auto":
        env = os.environ.get("BAYESLENS_EXPLORER", "").strip().lower()
        if env in ("static", "live"):
            mode = env
        else:
            mode = "live" if "google.colab" in sys.modules else "static"
    if mode == "static" and not has_stack():
        return "live"
    return mode


def _figure(ncols: int, figsize: tuple[float, float]) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, axes


def frame_png(
    draw: Draw,
    values: dict[str, Any],
    *,
    ncols: int = 1,
    figsize: tuple[float, float] = (7.5, 3.6),
    dpi: int = 90,
    colors: int = 128,
) -> bytes:
    """One frame: ``draw(axes, **values)`` rendered to a palette PNG (compressed).

    Drawn on a bare ``Figure`` (no pyplot state) in the book's style
    (:func:`bayeslens.plots.book_style`), by default as wide as the text column; quantised
    to ``colors`` colours, which makes line plots several times smaller at no visible cost.
    Deterministic.
    """
    from PIL import Image

    from bayeslens.plots import book_style

    buf = io.BytesIO()
    with book_style():
        fig, axes = _figure(ncols, figsize)
        draw(axes, **values)
        fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    buf.seek(0)
    image = Image.open(buf).convert("RGB").quantize(colors=colors, dither=Image.Dither.NONE)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _label(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _sliders(params: dict[str, Sequence[Any]], descriptions: dict[str, str]) -> list[Any]:
    import ipywidgets as w

    sliders = []
    for name, values in params.items():
        options = [(_label(v), v) for v in values]
        sliders.append(
            w.SelectionSlider(
                options=options,
                index=len(options) // 2,
                description=descriptions.get(name, name),
                continuous_update=True,
                style={"description_width": "initial"},
                layout=w.Layout(width="420px"),
            )
        )
    return sliders


def _check_params(params: dict[str, Sequence[Any]]) -> int:
    if not params:
        raise ValueError("params must name at least one parameter")
    n_frames = 1
    for name, values in params.items():
        if len(values) < 1:
            raise ValueError(f"params[{name!r}] must offer at least one value")
        n_frames *= len(values)
    return n_frames


def explore(
    draw: Draw,
    params: dict[str, Sequence[Any]],
    *,
    mode: str = "auto",
    ncols: int = 1,
    figsize: tuple[float, float] = (7.5, 3.6),
    dpi: int = 90,
    start: dict[str, Any] | None = None,
    descriptions: dict[str, str] | None = None,
) -> Any:
    """An explorer: ``draw(axes, **values)`` with one slider per entry of ``params``.

    Parameters
    ----------
    draw : callable
        ``draw(axes, **values)`` draws on ``axes`` (one ``Axes``, or an array of ``ncols``).
    params : dict of str to sequence
        Each parameter's slider values, in slider order.
    mode : {"auto", "static", "live"}
        See the module docstring.
    start : dict, optional
        Initial value per parameter (default: the middle value).
    descriptions : dict, optional
        Slider labels (default: the parameter names).

    Returns
    -------
    ipywidgets.VBox
        The sliders above the figure; the box has the CSS class ``bayeslens-explorer`` and
        ``bayeslens-static`` or ``bayeslens-live``. A static box keeps its ``jslink`` s in
        ``box.bayeslens_links``.
    """
    import ipywidgets as w

    n_frames = _check_params(params)
    chosen = resolve_mode(mode)
    if chosen == "static" and n_frames > MAX_FRAMES:
        raise ValueError(f"{n_frames} frames > MAX_FRAMES = {MAX_FRAMES}: use fewer values")
    sliders = _sliders(params, dict(descriptions or {}))
    for slider, name in zip(sliders, params, strict=True):
        if start and name in start:
            slider.value = start[name]
    names = list(params)

    if chosen == "live":
        out = w.interactive_output(
            lambda **values: _show_live(draw, values, ncols, figsize, dpi),
            dict(zip(names, sliders, strict=True)),
        )
        box = w.VBox([*sliders, out])
        box.add_class("bayeslens-explorer")
        box.add_class("bayeslens-live")
        return box

    links: list[Any] = []

    def build(level: int, fixed: dict[str, Any]) -> Any:
        name = names[level]
        children = []
        for value in params[name]:
            values = {**fixed, name: value}
            if level == len(names) - 1:
                png = frame_png(draw, values, ncols=ncols, figsize=figsize, dpi=dpi)
                children.append(w.Image(value=png, format="png"))
            else:
                children.append(build(level + 1, values))
        stack = w.Stack(children, selected_index=sliders[level].index)
        links.append(w.jslink((sliders[level], "index"), (stack, "selected_index")))
        return stack

    box = w.VBox([*sliders, build(0, {})])
    box.bayeslens_links = links  # the jslinks, for tests and inspection
    box.add_class("bayeslens-explorer")
    box.add_class("bayeslens-static")
    return box


def _show_live(
    draw: Draw, values: dict[str, Any], ncols: int, figsize: tuple[float, float], dpi: int
) -> None:
    """Draw one frame into the live output area (the same PNG a static frame would be)."""
    from IPython.display import Image, display

    display(Image(data=frame_png(draw, values, ncols=ncols, figsize=figsize, dpi=dpi)))
