"""Explorers: static frames in jslinked Stacks, live redraws, and the fallback."""

from __future__ import annotations

import io
import sys

import ipywidgets as w
import pytest
from PIL import Image

from bayeslens import explore as ex


def draw(ax, a, b=0):
    ax.plot([0, 1], [a, b])
    ax.set_title(f"a={a} b={b}")

def test_frame_png_is_small_palette_png():
    png = ex.frame_png(draw, {"a": 1})
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.mode == "P"
    assert len(png) < 20_000
    assert ex.frame_png(draw, {"a": 1}) == png  # deterministic
    assert ex.frame_png(draw, {"a": 2}) != png

def test_static_one_slider():
    box = ex.explore(draw, {"a": [0, 1, 2]}, mode="static")
    slider, stack = box.children
    assert isinstance(slider, w.SelectionSlider)
    assert isinstance(stack, w.Stack)
    assert all(isinstance(c, w.Image) for c in stack.children)
    assert len(stack.children) == 3
    assert stack.selected_index == slider.index == 1  # the middle value
    assert box._dom_classes == ("bayeslens-explorer", "bayeslens-static")
    (link,) = box.bayeslens_links
    assert link.source == (slider, "index")
    assert link.target == (stack, "selected_index")
    # The frames differ: moving the slider shows another picture.
    assert len({c.value for c in stack.children}) == 3

def test_static_two_sliders_nest_stacks():
    box = ex.explore(draw, {"a": [0, 1], "b": [5, 6, 7]}, mode="static", start={"a": 0, "b": 7})
    s_a, s_b, outer = box.children
    assert (s_a.index, s_b.index) == (0, 2)
    assert len(outer.children) == 2
    assert all(len(inner.children) == 3 for inner in outer.children)
    assert outer.selected_index == 0
    assert all(inner.selected_index == 2 for inner in outer.children)
    links = box.bayeslens_links
    assert len(links) == 1 + 2  # one per stack
    targets = {id(m.target[0]) for m in links if m.source == (s_b, "index")}
    assert targets == {id(inner) for inner in outer.children}

def test_live_mode_and_frame_limit():
    box = ex.explore(draw, {"a": [0, 1]}, mode="live")
    assert "bayeslens-live" in box._dom_classes
    assert isinstance(box.children[-1], w.Output)
    with pytest.raises(ValueError, match="MAX_FRAMES"):
        ex.explore(draw, {"a": list(range(20)), "b": list(range(20))}, mode="static")
    with pytest.raises(ValueError, match="at least one"):
        ex.explore(draw, {"a": []}, mode="static")

def test_mode_resolution(monkeypatch):
    monkeypatch.delenv("BAYESLENS_EXPLORER", raising=False)
    assert ex.resolve_mode("auto") == "static"
    monkeypatch.setenv("BAYESLENS_EXPLORER", "live")
    assert ex.resolve_mode("auto") == "live"
    monkeypatch.delenv("BAYESLENS_EXPLORER")
    monkeypatch.setitem(sys.modules, "google.colab", object())
    assert ex.resolve_mode("auto") == "live"
    with pytest.raises(ValueError, match="mode"):
        ex.resolve_mode("bogus")

def test_fallback_without_ipywidgets_8(monkeypatch):
    monkeypatch.delattr(w, "Stack")
    assert not ex.has_stack()
    assert ex.resolve_mode("static") == "live"
    box = ex.explore(draw, {"a": [0, 1]}, mode="static")
    assert "bayeslens-live" in box._dom_classes
