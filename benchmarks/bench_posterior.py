"""Benchmark: the exact posterior's fast path against the slow reference, in one run.

    python benchmarks/bench_posterior.py            # full (the reference takes ~1 minute)
    python benchmarks/bench_posterior.py --quick    # fewer repeats, for a smoke test

For E1 (1,030,301 latents, 10 points), E4 (8,120,601 latents, 20 points) and E2's
2,000,001-point context it prints the median time of the fast path and of the reference
(``tests/reference.py``: broadcast over latents x points), their ratio, and the peak resident
memory the fast path added (Linux VmHWM, reset before each case). Targets on 2 cores:
E4 posterior + mean at 100 queries <= 50 ms, + density (500 y) + 5-95% quantiles <= 150 ms,
E1 <= 20 ms, E2 <= 1 s, peak <= 1 GiB.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import reference

from bayeslens import paper
from bayeslens.posterior import posterior


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def median_time(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(median seconds over `repeats` calls after one warm-up, peak MiB added)."""
    fn()
    base = _rss_kib("VmRSS")
    _reset_peak()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), (_rss_kib("VmHWM") - base) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats, small E2 reference")
    args = parser.parse_args()
    reps = 3 if args.quick else 21
    torch.set_num_threads(torch.get_num_threads())
    xq = torch.linspace(-1, 1, 100, dtype=torch.float64)
    y_grid = torch.linspace(-2, 2, 500, dtype=torch.float64)
    levels = torch.tensor([0.05, 0.95], dtype=torch.float64)

    e1, e4, e2 = paper.steps_e1(), paper.steps_e4(), paper.sines_e2()
    x1, y1 = paper.line()
    x4, y4 = paper.bump(0.2)
    x2, y2 = paper.sine_2pi(2_000_001)

    cases: list[tuple[str, Callable[[], object], Callable[[], object], float]] = [
        (
            "E1 posterior + mean (100 x)",
            lambda: posterior(e1, x1, y1).mean(xq),
            lambda: reference.ppd_mean(e1, reference.log_weights(e1, x1, y1)[0], xq),
            0.020,
        ),
        (
            "E4 posterior + mean (100 x)",
            lambda: posterior(e4, x4, y4).mean(xq),
            lambda: reference.ppd_mean(e4, reference.log_weights(e4, x4, y4)[0], xq),
            0.050,
        ),
        (
            "E4 + density (500 y) + 5/95% quantiles",
            lambda: _full(posterior(e4, x4, y4), xq, y_grid, levels),
            lambda: None,
            0.150,
        ),
        (
            "E2 posterior, 2,000,001 points",
            lambda: posterior(e2, x2, y2).log_evidence,
            lambda: reference.log_weights(e2, x2, y2),
            1.0,
        ),
    ]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; medians of {reps}")
    header = (
        f"{'case':42s} {'fast':>10s} {'target':>8s} {'reference':>11s} {'ratio':>8s} "
        f"{'peak':>9s}"
    )
    print(header)
    print("-" * len(header))
    for name, fast, ref, target in cases:
        t_fast, peak = median_time(fast, reps)
        if name.startswith("E4 + density"):
            ref_txt, ratio_txt = "(none)", "-"
        else:
            t0 = time.perf_counter()
            ref()
            t_ref = time.perf_counter() - t0
            ref_txt, ratio_txt = f"{t_ref:9.2f} s", f"{t_ref / t_fast:7.0f}x"
        ok = "ok" if t_fast <= target else "MISS"
        print(
            f"{name:42s} {t_fast * 1e3:7.1f} ms {target * 1e3:5.0f} ms {ref_txt:>11s} "
            f"{ratio_txt:>8s} {peak:6.1f} MiB  {ok}"
        )


def _full(post: object, xq: torch.Tensor, y_grid: torch.Tensor, levels: torch.Tensor) -> object:
    return (post.mean(xq), post.density(xq, y_grid), post.quantiles(xq, levels))  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
