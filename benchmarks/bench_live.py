"""Live explorer speed, page weight and accuracy in headless Chromium, against the targets.

    python benchmarks/bench_live.py            # needs a built book: bash scripts/book.sh build
    python benchmarks/bench_live.py --repeats 60 --dtype float16
    python benchmarks/bench_live.py --explorer sines_and_lines     # E3's, in chapter 8

Opens the page of a live explorer (default: E1's, in chapter 5) of the built book (served on
127.0.0.1, no other host), then through the page's test hook (``window.bayeslensLive``) drags
one context point across the plot, one redraw per position, as a reader's drag does: each
redraw computes the exact PPD (fit, mean, 95% band, density shading), the network's forward
pass and bar-distribution summaries, and draws both. Prints the median and 90th percentile per
part next to the targets (exact <= 50 ms, exact + network + drawing <= 100 ms per redraw), the
bytes the page loaded by kind, and the largest gap to Python's numbers on the drag's contexts.
``--dtype float16`` re-exports the weights as float16 into the built book first (the committed
export is not touched) to measure what halving the page weight costs in accuracy.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import statistics
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
PAGES = {
    "steps": "book/05_steps_to_smooth.html",
    "sines": "book/07_sines_flat.html",
    "sines_and_lines": "book/08_sines_and_lines.html",
}
"""The page that shows each live explorer first."""
CHROMIUM = "/usr/bin/chromium"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _contexts(repeats: int) -> list[tuple[list[float], list[float]]]:
    """The line 0.2 x at 10 points, its 6th point dragged along a path (one per redraw)."""
    x = torch.linspace(-1, 1, 10, dtype=torch.float64)
    y = 0.2 * x
    out = []
    for i in range(repeats):
        t = i / max(repeats - 1, 1)
        xi, yi = x.clone(), y.clone()
        xi[5] = -0.9 + 1.8 * t
        yi[5] = 0.8 * torch.sin(torch.tensor(6.0 * t)).item()
        out.append((xi.tolist(), yi.tolist()))
    return out


def _python_gap(name: str, contexts: list[tuple[list[float], list[float]]],
                results: list[dict]) -> dict:
    from bayeslens import webexport
    from bayeslens.checkpoints import load_pretrained
    from bayeslens.posterior import posterior

    spec = webexport.EXPLORERS[name]
    prior, model = spec.prior(), load_pretrained(spec.model)
    levels = torch.tensor([0.025, 0.975], dtype=torch.float64)
    gap = {"exact": 0.0, "network": 0.0}
    for (x, y), r in list(zip(contexts, results, strict=True))[:: max(1, len(contexts) // 8)]:
        xc, yc = torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
        xq = torch.tensor(r["x_query"], dtype=torch.float64)
        post = posterior(prior, xc, yc)
        q = post.quantiles(xq, levels)
        exact = (post.mean(xq), q[:, 0], q[:, 1])
        qm = model.quantiles(xc.float(), yc.float(), xq.float(), levels.float())
        net = (model.mean(xc.float(), yc.float(), xq.float()), qm[:, 0], qm[:, 1])
        for side, want in (("exact", exact), ("network", net)):
            for key, w in zip(("mean", "lower", "upper"), want, strict=True):
                got = torch.tensor(r[f"{side}_{key}"], dtype=torch.float64)
                gap[side] = max(gap[side], float((got - w.double()).abs().max()))
    return gap


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--dtype", choices=["float32", "float16"], default="float32")
    parser.add_argument("--explorer", choices=sorted(PAGES), default="steps")
    args = parser.parse_args(argv)
    page_path = PAGES[args.explorer]
    if not (HTML / page_path).is_file():
        sys.stderr.write("no built book: run `bash scripts/book.sh build` first\n")
        return 2
    from playwright.sync_api import sync_playwright

    html_dir = HTML
    tmp = None
    if args.dtype != "float32":
        import shutil

        from bayeslens import webexport

        tmp = tempfile.TemporaryDirectory()
        html_dir = Path(tmp.name) / "html"
        shutil.copytree(HTML, html_dir)
        webexport.export(html_dir / "_static" / "bayeslens" / "live", dtype=args.dtype)

    handler = functools.partial(_Quiet, directory=str(html_dir))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/{page_path}"
    contexts = _contexts(args.repeats)
    sizes: Counter[str] = Counter()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})

        def record(response: object) -> None:
            r = response  # playwright Response
            body = r.body() if r.ok else b""  # type: ignore[attr-defined]
            path = r.url.split("?")[0]  # type: ignore[attr-defined]
            kind = ("live: weights" if path.endswith(".bin") else
                    "live: data" if "/live/" in path else
                    "live: code" if "/bayeslens/live" in path else
                    "page, images, other scripts")
            sizes[kind] += len(body)

        page.on("response", record)
        page.goto(url, wait_until="networkidle")
        page.wait_for_function("window.bayeslensLive && window.bayeslensLive.length > 0")
        page.evaluate("() => window.bayeslensLive[0].setContext([0], [0])")  # loads, warms up
        page.wait_for_load_state("networkidle")
        for x, y in contexts[:5]:
            page.evaluate("([x, y]) => window.bayeslensLive[0].setContext(x, y)", [x, y])
        results = [
            page.evaluate(
                "([x, y]) => { const t = performance.now();"
                " return window.bayeslensLive[0].setContext(x, y).then(r => "
                "Object.assign(r, {wall_ms: performance.now() - t})); }",
                [x, y],
            )
            for x, y in contexts
        ]
        simd = results[-1]["simd"]
        browser.close()
    httpd.shutdown()
    if tmp is not None:
        tmp.cleanup()

    def stat(key: str) -> tuple[float, float]:
        v = sorted(r["timings"][key] if key in r["timings"] else r[key] for r in results)
        return statistics.median(v), v[int(0.9 * (len(v) - 1))]

    print(f"live explorer {args.explorer!r} ({page_path}), {len(results)} redraws of a "
          "dragged point "
          f"(weights {args.dtype}, WebAssembly SIMD {'on' if simd else 'OFF'})")
    print(f"{'part':32s} {'median ms':>10s} {'p90 ms':>8s} {'target ms':>10s}")
    for key, label, target in (
        ("exact_ms", "exact PPD (fit, band, density)", "50"),
        ("network_ms", "network (forward, bar summaries)", ""),
        ("draw_ms", "drawing", ""),
        ("total_ms", "one redraw: exact+network+draw", "100"),
        ("wall_ms", "  same, as the hook's caller sees", ""),
    ):
        med, p90 = stat(key)
        print(f"{label:32s} {med:10.1f} {p90:8.1f} {target:>10s}")
    print(f"page weight (bytes loaded by {page_path}, uncompressed):")
    for kind, n in sorted(sizes.items()):
        print(f"  {kind:30s} {n / 1e6:8.2f} MB")
    print(f"  {'total':30s} {sum(sizes.values()) / 1e6:8.2f} MB")
    gap = _python_gap(args.explorer, contexts, results)
    print(f"largest gap to Python: exact {gap['exact']:.1e} (target 1e-6), "
          f"network {gap['network']:.1e} (target 1e-3)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
