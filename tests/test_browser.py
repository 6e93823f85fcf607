"""The built book in headless Chromium: offline, error-free, with working static sliders.

Reads ``_build/html`` (``bash scripts/book.sh build`` first), serves it on 127.0.0.1 and
opens every page with Playwright driving Debian's Chromium (``/usr/bin/chromium``, or the
path in ``BAYESLENS_CHROMIUM``). For each page it checks that there is no console error, no
page error and no request to any other host; on chapter pages, that every stored figure and
every explorer (with its sliders) is there and every image has loaded, and that moving the
first explorer's slider changes the displayed frame. On pages with live explorers (the exact
posterior and the network computed in the page, ``book/vendor/bayeslens/live*.js``), it
drives each one through its test hook ``window.bayeslensLive`` on reference contexts and
compares the numbers with Python's (exact PPD mean and 95% band to 1e-6, network to 1e-3),
checks the bad states (no points, too many, outside the x range) show a message and no NaN,
and clicks, drags and removes points with the mouse. Token explorers (chapter 13: click or
type tokens, see the exact next token and the sequence model's) are driven the same way
through their ``setTokens`` / ``setText`` hooks and by clicking and typing, compared with
:func:`bayeslens.evaluate.next_token_after`, and shown on a phone-sized viewport, where
nothing may overflow. On every chapter page, no code block
(a cell's source, hidden ones opened, or a code fence) may scroll sideways at 1280x900: its
lines fit the text column (77 characters). Screenshots go to ``_build/screenshots/``
(git-ignored): every page, and every chapter again in greyscale (``NAME-grey.png``) and as
seen with red-green colour blindness (``NAME-deuteranopia.png``), to look at.

Without Chromium or a built book the test skips with the reason; with ``CI=true`` it fails
instead, so CI cannot pass without running it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, Request, Route

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
]
LOCAL_SCHEMES = {"data", "blob", "about"}
TIMEOUT_MS = 180_000  # generous: a busy 2-core machine renders a widget page slowly


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the browser test must run)")
    pytest.skip(reason)


def _chromium() -> str:
    path = os.environ.get("BAYESLENS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        _unavailable("Chromium not found: apt-get install chromium (or set BAYESLENS_CHROMIUM)")
    return path


def _pages() -> list[str]:
    if not (HTML / "book" / "intro.html").exists():
        _unavailable("no built book in _build/html: run `bash scripts/book.sh build` first")
    pages = [p.relative_to(HTML) for p in HTML.rglob("*.html") if "_static" not in p.parts]
    return sorted(str(p) for p in pages)


def _expected(page: str) -> dict[str, int]:
    """Figures and explorers a chapter page must show, read from its stored notebook."""
    source = ROOT / Path(page).with_suffix(".ipynb")
    if not source.exists():
        return {"figures": 0, "explorers": 0, "sliders": 0}
    nb = json.loads(source.read_text())
    figures = explorers = sliders = 0
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] != "code" or "remove-cell" in tags or "remove-output" in tags:
            continue
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data:
                figures += 1
            # a widget output is an explorer only where the cell calls explore(): the
            # training chapter's tqdm bar is a widget too
            if "application/vnd.jupyter.widget-view+json" in data and "explore(" in "".join(
                cell["source"]
            ):
                explorers += 1
    state: dict[str, dict] = nb.get("metadata", {}).get("widgets", {})
    models: dict[str, dict] = {}
    for saved in state.values():
        models.update(saved.get("state", {}))
    sliders = sum(1 for m in models.values() if m.get("model_name") == "SelectionSliderModel")
    return {"figures": figures, "explorers": explorers, "sliders": sliders}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = _chromium()
    _pages()
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _frame_hash(element: Locator) -> str:
    return hashlib.sha256(element.screenshot()).hexdigest()


def _displayed_frame(explorer: Locator) -> Locator:
    return explorer.locator("img:visible").last


def _move_slider(page: Page, explorer: Locator) -> tuple[str, str]:
    """Press arrow keys on the explorer's first slider; return the frame hashes before/after."""
    handle = explorer.locator(".noUi-handle").first
    before = _frame_hash(_displayed_frame(explorer))
    after = before
    for key in ("ArrowLeft", "ArrowRight", "ArrowRight"):
        handle.focus()
        page.keyboard.press(key)
        page.wait_for_timeout(300)
        after = _frame_hash(_displayed_frame(explorer))
        if after != before:
            break
    return before, after


def _colour_free_screenshots(page: Page, name: str) -> None:
    """The chapter as a reader without colour sees it, to look at (the exact posterior and the
    network must stay apart): ``NAME-grey.png`` through CSS ``filter: grayscale(1)``, and
    ``NAME-deuteranopia.png`` through Chromium's simulated red-green colour blindness."""
    from PIL import Image, ImageChops

    page.evaluate("() => { document.documentElement.style.filter = 'grayscale(1)'; }")
    grey = SHOTS / f"{name}-grey.png"
    page.screenshot(path=str(grey), full_page=True)
    page.evaluate("() => { document.documentElement.style.filter = ''; }")
    with Image.open(grey) as image:
        r, g, b = image.convert("RGB").split()
        coloured = ImageChops.difference(r, g).getbbox() or ImageChops.difference(g, b).getbbox()
        assert coloured is None, "the greyscale screenshot still has colour"
    cdp = page.context.new_cdp_session(page)
    cdp.send("Emulation.setEmulatedVisionDeficiency", {"type": "deuteranopia"})
    page.screenshot(path=str(SHOTS / f"{name}-deuteranopia.png"), full_page=True)
    cdp.send("Emulation.setEmulatedVisionDeficiency", {"type": "none"})
    cdp.detach()


@pytest.mark.parametrize("page_path", _pages() if (HTML / "book").exists() else ["book/intro.html"])
def test_page(browser: Browser, server: str, page_path: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    foreign: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def check_request(request: Request) -> None:
        url = urlparse(request.url)
        if url.scheme not in LOCAL_SCHEMES and url.hostname not in ("127.0.0.1", "localhost"):
            foreign.append(request.url)

    def block_foreign(route: Route) -> None:
        # Recorded above; aborted here, so a test run never reaches the network.
        url = urlparse(route.request.url)
        if url.scheme in LOCAL_SCHEMES or url.hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            route.abort()

    page.on("request", check_request)
    page.route("**/*", block_foreign)
    with contextlib.ExitStack() as stack:
        stack.callback(context.close)
        page.goto(f"{server}/{page_path}", wait_until="networkidle")
        # index.html redirects to the first page: expect what the page finally shown holds.
        shown = urlparse(page.url).path.lstrip("/") or page_path
        expected = _expected(shown)
        name = page_path.replace("/", "_").removesuffix(".html")

        if expected["explorers"]:
            page.wait_for_function(
                "n => document.querySelectorAll('.bayeslens-explorer').length >= n",
                arg=expected["explorers"],
                timeout=TIMEOUT_MS,
            )
            page.wait_for_load_state("networkidle")
        explorers = page.locator(".bayeslens-explorer")
        assert explorers.count() == expected["explorers"], "an explorer is missing"
        sliders = page.locator(".bayeslens-explorer .widget-slider")
        assert sliders.count() == expected["sliders"], "a slider is missing"
        figures = page.evaluate(
            "() => [...document.querySelectorAll('.cell_output img')]"
            ".filter(i => !i.closest('.bayeslens-explorer')).length"
        )
        assert figures == expected["figures"], "a stored figure is missing"
        broken = page.evaluate(
            "() => [...document.images].filter(i => i.offsetParent !== null"
            " && !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 80))"
        )
        assert broken == [], f"images that did not load: {broken}"
        live = page.locator(".bayeslens-live")
        for i in range(live.count()):  # live explorers load when scrolled into view
            live.nth(i).scroll_into_view_if_needed()
            page.wait_for_function(
                "i => { const e = (window.bayeslensLive || [])[i]; return e && e.result(); }",
                arg=i, timeout=TIMEOUT_MS,
            )
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
        if (ROOT / shown).with_suffix(".ipynb").exists():
            _colour_free_screenshots(page, name)

        if expected["explorers"]:
            explorer = explorers.first
            explorer.scroll_into_view_if_needed()
            explorer.screenshot(path=str(SHOTS / f"{name}_explorer_before.png"))
            before, after = _move_slider(page, explorer)
            explorer.screenshot(path=str(SHOTS / f"{name}_explorer_after.png"))
            assert after != before, "moving the slider did not change the displayed frame"

        assert foreign == [], f"requests to other hosts: {foreign}"
        assert errors == [], f"console errors: {errors}"


# --------------------------------------------------------------------------------------------
# Code that fits the page
# --------------------------------------------------------------------------------------------

# Cell sources and code fences. A cell's printed output is a ``div.highlight pre`` too, but it
# is not code: it is left out.
CODE_BLOCKS = "div.cell_input pre, div.highlight pre"
WIDE_CODE_JS = r"""async selector => {
  await document.fonts.ready;
  // hidden sources (hide-input) and dropdowns: a reader opens them, so open them all
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const blocks = [...document.querySelectorAll(selector)]
    .filter(pre => !pre.closest('.cell_output'));
  const wide = [];
  for (const pre of blocks) {
    if (pre.scrollWidth <= pre.clientWidth + 1) continue;  // 1 px of rounding
    const style = getComputedStyle(pre);
    const room = pre.clientWidth - parseFloat(style.paddingLeft)
      - parseFloat(style.paddingRight);
    const lines = pre.textContent.split('\n');
    // the first line wider than the text column, measured in the block's own font
    const probe = document.createElement('span');
    probe.style.cssText = 'position: absolute; visibility: hidden; white-space: pre';
    pre.appendChild(probe);
    let line = lines.reduce((a, b) => (b.length > a.length ? b : a), '');
    for (const text of lines) {
      probe.textContent = text;
      if (probe.getBoundingClientRect().width > room + 1) { line = text; break; }
    }
    probe.remove();
    wide.push({line, chars: line.length, scroll: pre.scrollWidth, client: pre.clientWidth});
  }
  return {count: blocks.length, wide};
}
"""


def _chapter_pages() -> list[str]:
    """The built pages with a notebook behind them: the intro and the chapters."""
    if not (HTML / "book").exists():
        return []
    return [p for p in _pages() if (ROOT / p).with_suffix(".ipynb").exists()]


@pytest.mark.parametrize("page_path", _chapter_pages() or ["book/intro.html"])
def test_code_fits_the_page(browser: Browser, server: str, page_path: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.route("**/*", lambda route: route.continue_() if urlparse(route.request.url).hostname
               in ("127.0.0.1", "localhost") else route.abort())
    with contextlib.ExitStack() as stack:
        stack.callback(context.close)
        page.goto(f"{server}/{page_path}", wait_until="networkidle")
        found = page.evaluate(WIDE_CODE_JS, CODE_BLOCKS)
    assert found["count"] > 0, f"{page_path}: no code block matches {CODE_BLOCKS!r}"
    wide = found["wide"]
    assert wide == [], (
        f"{page_path}: {len(wide)} code block(s) scroll sideways at 1280x900; the first "
        f"overflowing line ({wide[0]['chars']} characters, block {wide[0]['scroll']} px "
        f"wide in {wide[0]['client']} px): {wide[0]['line']!r}"
    )


# --------------------------------------------------------------------------------------------
# Live explorers
# --------------------------------------------------------------------------------------------

EXACT_TOL = 1e-6
NETWORK_TOL = 1e-3


LIVE_BOX = re.compile(r'<div class="bayeslens-live"([^>]*)>')


def _live_pages(kind: str = "regression") -> list[str]:
    """Built pages with a live explorer of ``kind``: "regression" (points on a plot) or
    "tokens" (a token explorer, ``data-kind="tokens"``)."""
    if not (HTML / "book").exists():
        return []
    out = []
    for p in _pages():
        boxes = LIVE_BOX.findall((HTML / p).read_text())
        kinds = {"tokens" if 'data-kind="tokens"' in b else "regression" for b in boxes}
        if kind in kinds:
            out.append(p)
    return out


def _open_live(browser: Browser, server: str, page_path: str) -> tuple[Page, list[str]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    # which file a "Failed to load resource" console error was about
    page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}")
            if r.status >= 400 else None)
    page.route("**/*", lambda route: route.continue_() if urlparse(route.request.url).hostname
               in ("127.0.0.1", "localhost") else route.abort())
    page.goto(f"{server}/{page_path}", wait_until="networkidle")
    page.wait_for_function("() => (window.bayeslensLive || []).length > 0")
    # the entries are in page order; each loads its data on first use
    page.evaluate("() => Promise.all(window.bayeslensLive.map(e => e.kind === 'tokens'"
                  " ? e.setTokens([]) : e.setContext([], [])))")
    return page, errors


def _python_side(name: str, x: list[float], y: list[float], x_query: list[float]) -> dict:
    """Python's exact PPD and network summaries for one context (None where undefined)."""
    import torch

    from bayeslens import webexport
    from bayeslens.checkpoints import load_pretrained
    from bayeslens.posterior import posterior

    spec = webexport.EXPLORERS[name]
    prior, model = spec.prior(), load_pretrained(spec.model)
    xc, yc = torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    xq = torch.tensor(x_query, dtype=torch.float64)
    levels = torch.tensor([0.025, 0.975], dtype=torch.float64)
    out: dict = {}
    lo, hi = prior.x_range
    if all(lo <= v <= hi for v in x):
        post = posterior(prior, xc, yc)
        q = post.quantiles(xq, levels)
        out.update(exact_mean=post.mean(xq), exact_lower=q[:, 0], exact_upper=q[:, 1])
        if spec.latents:
            out["latent_probs"] = _latent_probs(spec.latents, prior, post)
    if 1 <= len(x) <= model.config.max_context:
        qm = model.quantiles(xc.float(), yc.float(), xq.float(), levels.float())
        out.update(network_mean=model.mean(xc.float(), yc.float(), xq.float()),
                   network_lower=qm[:, 0], network_upper=qm[:, 1])
    return out


def _latent_probs(what: str, prior: object, post: object) -> object:
    """What the explorer's latent panel shows, from Python's posterior (a 1-d tensor)."""
    if what == "families":
        return post.log_family_weights().exp()
    if what == "step:c":
        return post.log_weights().reshape(len(prior.c.values), -1).logsumexp(1).exp()
    name = what.removeprefix("axis:")
    axes = dict(zip(("y0", "s", "A", "f", "phi"), prior.axes, strict=True))
    w = post.log_weights().exp().reshape([len(a.values) for a in axes.values()])
    keep = list(axes).index(name)
    return w.sum([d for d in range(w.dim()) if d != keep])


def _reference_contexts(name: str) -> dict[str, tuple[list[float], list[float]]]:
    """Contexts written by Python: 1 point, the longest the model takes, the x range's edges,
    data far outside the prior, a line, and the bad states."""
    import torch

    from bayeslens import webexport
    from bayeslens.checkpoints import load_pretrained

    spec = webexport.EXPLORERS[name]
    lo, hi = spec.prior().x_range
    n_max = load_pretrained(spec.model).config.max_context
    grid = torch.linspace(lo, hi, n_max, dtype=torch.float64)
    line = torch.linspace(lo, hi, 10, dtype=torch.float64)
    return {
        "1 point": ([0.3], [0.5]),
        f"{n_max} points (max_context)": (grid.tolist(), (0.5 * torch.sin(3 * grid)).tolist()),
        "x range edges": ([lo, hi, lo, hi, lo], [0.2, -0.3, 0.1, 0.5, 0.15]),
        "far outside the prior": (line[:8].tolist(), [5.0] * 8),
        "line 0.2 x": (line.tolist(), (0.2 * line).tolist()),
        "no points": ([], []),
        f"{n_max + 1} points": (torch.linspace(lo, hi, n_max + 1, dtype=torch.float64).tolist(),
                                [0.1] * (n_max + 1)),
        "a point outside the x range": ([0.0, hi + 0.1], [0.2, 0.3]),
    }


def _compare(name: str, label: str, got: dict) -> None:
    import torch

    want = _python_side(name, got["x_context"], got["y_context"], got["x_query"])
    if "latent_probs" in want:
        assert got["latent_probs"] is not None, f"{label}: the latent panel is missing"
        gap = float((torch.tensor(got["latent_probs"], dtype=torch.float64)
                     - want["latent_probs"]).abs().max())
        assert gap <= EXACT_TOL, f"{label}: latent probabilities differ by {gap:.2e}"
    for side, tol in (("exact", EXACT_TOL), ("network", NETWORK_TOL)):
        for key in ("mean", "lower", "upper"):
            k = f"{side}_{key}"
            if k not in want:
                assert got[k] is None, f"{label}: {k} should not be drawn"
                continue
            assert got[k] is not None, f"{label}: {k} missing ({got['messages']})"
            gap = float((torch.tensor(got[k], dtype=torch.float64) - want[k].double())
                        .abs().max())
            assert gap <= tol, f"{label}: {k} differs from Python by {gap:.2e} > {tol:g}"


def _no_nan_on_screen(page: Page, index: int) -> None:
    bad = page.evaluate(
        "i => { const box = document.querySelectorAll('.bayeslens-live')[i];"
        " const paths = [...box.querySelectorAll('path, circle')].map(e =>"
        " ['d', 'cx', 'cy'].map(a => e.getAttribute(a) || '').join(' '));"
        " return /NaN|Infinity/.test(box.innerText + paths.join(' ')); }",
        index,
    )
    assert not bad, "NaN or Infinity on screen"


@pytest.mark.parametrize("page_path", _live_pages() or ["book/05_steps_to_smooth.html"])
def test_live_explorer_matches_python(browser: Browser, server: str, page_path: str) -> None:
    if page_path not in _live_pages():
        _unavailable(f"{page_path} has no live explorer in the built book")
    page, errors = _open_live(browser, server, page_path)
    names = page.evaluate("() => window.bayeslensLive.map(e => e.name)")
    in_page = page.evaluate(
        "() => [...document.querySelectorAll('.bayeslens-live')].map(b => b.dataset.explorer)"
    )
    assert names == in_page, "the hook lists the explorers in page order"
    kinds = page.evaluate("() => window.bayeslensLive.map(e => e.kind)")
    for i, name in enumerate(names):
        if kinds[i] == "tokens":
            continue  # test_token_explorer_matches_python
        for label, (x, y) in _reference_contexts(name).items():
            got = page.evaluate("([i, x, y]) => window.bayeslensLive[i].setContext(x, y)",
                                [i, x, y])
            assert got["x_context"] == x
            assert got["y_context"] == y
            _compare(name, label, got)
            _no_nan_on_screen(page, i)
            shown = page.evaluate(
                "i => document.querySelectorAll('.bayeslens-live')[i]"
                ".querySelector('.bayeslens-live-status').innerText", i)
            bad_state = label in ("no points", "a point outside the x range") or (
                label.endswith(" points") and "max_context" not in label
                and got["network_mean"] is None)
            if bad_state:
                assert got["messages"], f"{label}: no message"
                assert shown.strip(), f"{label}: no visible message"
            if label == "no points":
                assert got["exact_mean"] is not None, "zero points: the prior predictive"
                assert "at least one context point" in shown
            if label == "a point outside the x range":
                assert "outside the prior's x range" in shown
    page.locator(".bayeslens-live").first.screenshot(
        path=str(SHOTS / f"{page_path.replace('/', '_').removesuffix('.html')}_live.png"))
    page.context.close()
    assert errors == [], f"console errors: {errors}"


def _wait_result(page: Page, index: int, predicate: str) -> dict:
    page.wait_for_function(
        f"() => {{ const r = window.bayeslensLive[{index}].result(); return r && ({predicate}); }}"
    )
    return page.evaluate(f"() => window.bayeslensLive[{index}].result()")


@pytest.mark.parametrize("page_path", _live_pages() or ["book/05_steps_to_smooth.html"])
def test_live_explorer_by_mouse(browser: Browser, server: str, page_path: str) -> None:
    if page_path not in _live_pages():
        _unavailable(f"{page_path} has no live explorer in the built book")
    page, errors = _open_live(browser, server, page_path)
    assert page.evaluate("() => window.bayeslensLive[0].kind") == "regression"
    name = page.evaluate("() => window.bayeslensLive[0].name")
    box = page.locator(".bayeslens-live").first
    box.scroll_into_view_if_needed()

    def client(x: float, y: float) -> tuple[float, float]:
        p = page.evaluate("([x, y]) => window.bayeslensLive[0].chart.toClient(x, y)", [x, y])
        return p["x"], p["y"]

    box.get_by_role("button", name="clear points").click()
    _wait_result(page, 0, "r.n_context === 0")
    page.mouse.click(*client(-0.5, 0.2))  # click: add a point
    r = _wait_result(page, 0, "r.n_context === 1")
    assert abs(r["x_context"][0] + 0.5) < 0.02
    assert abs(r["y_context"][0] - 0.2) < 0.02
    page.mouse.click(*client(0.5, 0.6))
    _wait_result(page, 0, "r.n_context === 2")
    # drag the second point to (0.2, -0.4)
    page.mouse.move(*client(0.5, 0.6))
    page.mouse.down()
    page.mouse.move(*client(0.35, 0.1), steps=4)
    page.mouse.move(*client(0.2, -0.4), steps=4)
    page.mouse.up()
    r = _wait_result(page, 0, "r.n_context === 2 && Math.abs(r.x_context[1] - 0.2) < 0.02"
                              " && Math.abs(r.y_context[1] + 0.4) < 0.02")
    _compare(name, "mouse-made context", r)
    box.screenshot(path=str(SHOTS / f"{page_path.replace('/', '_').removesuffix('.html')}"
                                    "_live_mouse.png"))
    page.mouse.click(*client(r["x_context"][1], r["y_context"][1]))  # click it again: remove
    r = _wait_result(page, 0, "r.n_context === 1")
    assert abs(r["x_context"][0] + 0.5) < 0.02
    # a slider redraws the points from the function
    slider = box.locator("input[type=range]").first
    slider.focus()
    page.keyboard.press("ArrowRight")
    r = _wait_result(page, 0, "r.n_context > 1")
    _compare(name, "context from the slider", r)
    _no_nan_on_screen(page, 0)
    page.context.close()
    assert errors == [], f"console errors: {errors}"


# --------------------------------------------------------------------------------------------
# Token explorers
# --------------------------------------------------------------------------------------------

TOKEN_EXACT_TOL = 1e-12
"""The exact side (next token and chain posterior) is float64 on both sides, sums of logs of
the same exported numbers: measured within 2e-15."""
TOKEN_NETWORK_TOL = 1e-6
"""The network's next-token probabilities: float32 weights and activations on both sides,
with different summation orders (JavaScript accumulates in float64). Measured in headless
Chromium over the presets, constant prefixes and 32 prior sequences of 1 to 63 tokens per
explorer: within 1.7e-7 (the KL too), one or two float32 roundings of a probability; the
tolerance leaves a factor of 5."""
PHONE = {"width": 390, "height": 844}


def _token_prefixes(name: str) -> dict[str, list[int]]:
    """Prefixes written by Python: none, one token, each preset, prior sequences of growing
    length up to the longest the network reads, and a constant one."""
    import torch

    from bayeslens import webexport
    from bayeslens.checkpoints import load_pretrained_sequence_model

    spec = webexport.TOKEN_EXPLORERS[name]
    most = load_pretrained_sequence_model(spec.model).config.max_length - 1
    gen = torch.Generator().manual_seed(11)
    prior = spec.prior()
    out: dict[str, list[int]] = {"no tokens": [], "one token": [2]}
    out.update({p.label: list(p.tokens()) for p in spec.presets})
    for n in (2, 7, 30, most):
        out[f"{n} tokens from the prior"] = prior.sample(1, n, gen).tokens[0].tolist()
    out[f"{most} zeros"] = [0] * most
    return out


def _compare_tokens(name: str, label: str, got: dict) -> None:
    import torch

    from bayeslens import webexport
    from bayeslens.checkpoints import load_pretrained_sequence_model
    from bayeslens.evaluate import next_token_after

    spec = webexport.TOKEN_EXPLORERS[name]
    want = next_token_after(load_pretrained_sequence_model(spec.model), spec.prior(),
                            got["tokens"])
    assert got["messages"] == [], f"{label}: {got['messages']}"

    def gap(a: list[float] | None, b: torch.Tensor) -> float:
        assert a is not None, f"{label}: a side is missing"
        return float((torch.tensor(a, dtype=torch.float64) - b).abs().max())

    assert gap(got["exact"], want.exact) <= TOKEN_EXACT_TOL, f"{label}: exact differs"
    g = gap(got["network"], want.network)
    assert g <= TOKEN_NETWORK_TOL, f"{label}: network differs by {g:.2e}"
    assert abs(got["kl"] - want.kl) <= TOKEN_NETWORK_TOL, f"{label}: KL differs"
    if want.posterior is None:
        assert got["posterior"] is None
    else:
        assert gap(got["posterior"], want.posterior) <= TOKEN_EXACT_TOL, f"{label}: posterior"


def _token_status(page: Page, index: int) -> str:
    return page.evaluate(
        "i => document.querySelectorAll('.bayeslens-live')[i]"
        ".querySelector('.bayeslens-live-status').innerText", index)


@pytest.mark.parametrize("page_path", _live_pages("tokens") or ["book/13_sequences.html"])
def test_token_explorer_matches_python(browser: Browser, server: str, page_path: str) -> None:
    if page_path not in _live_pages("tokens"):
        _unavailable(f"{page_path} has no token explorer in the built book")
    page, errors = _open_live(browser, server, page_path)
    entries = page.evaluate("() => window.bayeslensLive.map(e => [e.name, e.kind])")
    in_page = page.evaluate(
        "() => [...document.querySelectorAll('.bayeslens-live')].map(b => b.dataset.explorer)")
    assert [n for n, _ in entries] == in_page, "the hook lists the explorers in page order"
    shot = page_path.replace("/", "_").removesuffix(".html")
    for i, (name, kind) in enumerate(entries):
        if kind != "tokens":
            continue
        for label, tokens in _token_prefixes(name).items():
            got = page.evaluate("([i, t]) => window.bayeslensLive[i].setTokens(t)", [i, tokens])
            assert got["accepted"], label
            assert got["tokens"] == tokens
            _compare_tokens(name, label, got)
            _no_nan_on_screen(page, i)
        kept = got["tokens"]
        most = len(kept)  # the last prefix above is the longest the network reads
        # the bad states: refused with a visible message, the prefix kept
        for label, call, arg, words in (
            ("one token too many", "setTokens", [1] * (most + 1), "reads at most"),
            ("a token outside the vocabulary", "setTokens", [0, 3], "the tokens are 0 .. 2"),
            ("a typed letter", "setText", "01x", "character 3 is 'x'"),
            ("too long typed", "setText", "1" * (most + 1), "reads at most"),
        ):
            got = page.evaluate(f"([i, a]) => window.bayeslensLive[i].{call}(a)", [i, arg])
            assert not got["accepted"], label
            assert got["tokens"] == kept, f"{label}: the prefix must stay"
            assert any(words in m for m in got["messages"]), f"{label}: {got['messages']}"
            assert words in _token_status(page, i), f"{label}: no visible message"
            _no_nan_on_screen(page, i)
        got = page.evaluate("i => window.bayeslensLive[i].setText(' 0 1, 2;2 ')", i)
        assert got["accepted"]
        assert got["tokens"] == [0, 1, 2, 2]
        assert _token_status(page, i).strip() == "", "an accepted prefix clears the message"
        _compare_tokens(name, "typed with separators", got)
        page.locator(".bayeslens-live").nth(i).screenshot(
            path=str(SHOTS / f"{shot}_tokens_{name}.png"))
    page.context.close()
    assert errors == [], f"console errors: {errors}"


@pytest.mark.parametrize("page_path", _live_pages("tokens") or ["book/13_sequences.html"])
def test_token_explorer_by_mouse_and_keyboard(browser: Browser, server: str,
                                             page_path: str) -> None:
    if page_path not in _live_pages("tokens"):
        _unavailable(f"{page_path} has no token explorer in the built book")
    page, errors = _open_live(browser, server, page_path)
    kinds = page.evaluate("() => window.bayeslensLive.map(e => e.kind)")
    i = kinds.index("tokens")
    name = page.evaluate(f"() => window.bayeslensLive[{i}].name")
    box = page.locator(".bayeslens-live").nth(i)
    box.scroll_into_view_if_needed()
    box.get_by_role("button", name="clear").click()
    r = _wait_result(page, i, "r.tokens.length === 0")
    for t in (0, 2, 2, 1):
        box.get_by_role("button", name=f"add token {t}").click()
    r = _wait_result(page, i, "r.tokens.length === 4")
    assert r["tokens"] == [0, 2, 2, 1]
    _compare_tokens(name, "clicked", r)
    text = box.get_by_role("textbox")
    assert text.input_value() == "0221"
    box.get_by_role("button", name="undo").click()
    r = _wait_result(page, i, "r.tokens.length === 3")
    assert text.input_value() == "022"
    assert "prefix (3 of at most 63 tokens)" in box.locator(".bayeslens-live-prefix").inner_text()
    text.click()
    page.keyboard.press("End")
    page.keyboard.type(" 0 1")  # typed: the prefix follows every key
    r = _wait_result(page, i, "r.tokens.length === 5")
    assert r["tokens"] == [0, 2, 2, 0, 1]
    _compare_tokens(name, "typed", r)
    page.keyboard.type("7")
    r = _wait_result(page, i, "!r.accepted")
    assert r["tokens"] == [0, 2, 2, 0, 1]
    assert "character 6 is '7'" in box.locator(".bayeslens-live-status").inner_text()
    assert "invalid" in (text.get_attribute("class") or "")
    page.keyboard.press("Backspace")
    r = _wait_result(page, i, "r.accepted")
    box.get_by_role("combobox").select_option(index=1)  # the first preset
    r = _wait_result(page, i, "r.tokens.length > 5")
    assert text.input_value().replace(" ", "") == "".join(map(str, r["tokens"]))
    _compare_tokens(name, "preset", r)
    shot = page_path.replace("/", "_").removesuffix(".html")
    box.screenshot(path=str(SHOTS / f"{shot}_tokens_mouse.png"))
    # a phone: the explorer fits the screen, nothing scrolls sideways
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)
    box.scroll_into_view_if_needed()
    wide = page.evaluate(
        "i => { const b = document.querySelectorAll('.bayeslens-live')[i];"
        " const r = b.getBoundingClientRect();"
        " const over = [...b.querySelectorAll('*')].filter(e => {"
        "   const q = e.getBoundingClientRect(); return q.width && q.right > r.right + 1; })"
        "   .map(e => e.tagName + '.' + e.className);"
        " return {box: r.right, vw: window.innerWidth, over: over.slice(0, 5),"
        "  scroll: b.scrollWidth - b.clientWidth}; }", i)
    assert wide["box"] <= wide["vw"] + 1, f"the explorer is wider than a phone: {wide}"
    assert wide["over"] == [], f"elements overflow the explorer on a phone: {wide}"
    assert wide["scroll"] <= 1, f"the explorer scrolls sideways on a phone: {wide}"
    box.screenshot(path=str(SHOTS / f"{shot}_tokens_phone.png"))
    _no_nan_on_screen(page, i)
    page.context.close()
    assert errors == [], f"console errors: {errors}"
