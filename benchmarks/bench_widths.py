"""Training speed of the E1 recipe at other widths and batches: ms per step and GFLOP/s.

Run (from the repository root, on an otherwise idle machine)::

    python benchmarks/bench_widths.py                       # widths 64 and 128, batch 64
    python benchmarks/bench_widths.py --widths 64 --batches 64,128,256 --threads 2

Each case trains the steps recipe's architecture at that width (feed-forward and head four
times the width, as the scaling grid's :func:`bayeslens.scaling.size_config`) for
``--steps`` steps of the real loop (:func:`bayeslens.train.train`: prior sampling, forward,
loss, backward, clipping, Adam) and prints the median step time after ``--warmup`` steps, and
the FLOPs counted as the grid counts them (:func:`bayeslens.train.step_flops`) per second of
those steps. The first case printed, width 128 at batch 64, is the shipped recipe: the
baseline the ratio column compares each case's GFLOP/s with.

Chapter 11 uses these rates to turn the scaling grid's FLOPs into wall time on this CPU.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from bayeslens import paper
from bayeslens.model import PFNConfig
from bayeslens.scaling import size_config
from bayeslens.train import TrainConfig, data_seed, sample_batch, step_flops, train


def measure(d_model: int, batch: int, steps: int, warmup: int) -> tuple[float, float]:
    """Median seconds per step and GFLOP/s over the steps after ``warmup``."""
    prior = paper.steps_e1()
    cfg = size_config(PFNConfig(), d_model)
    tc = TrainConfig(steps=steps, batch_size=batch, lr=1e-3, warmup_steps=1,
                     border_datasets=1_000)
    result = train(prior, cfg, tc, progress=False)
    times = [b - a for a, b in zip([0.0, *result.elapsed[:-1]], result.elapsed, strict=True)]
    # the same batches again, from a generator seeded as training's, for their sizes
    gen = torch.Generator().manual_seed(data_seed(tc.seed))
    shapes = [sample_batch(prior, batch, tc.n_points, gen).x_context.shape[1]
              for _ in range(steps)]
    flops = [step_flops(cfg, batch, k, tc.n_points - k) for k in shapes]
    kept = slice(warmup, None)
    return statistics.median(times[kept]), sum(flops[kept]) / sum(times[kept]) / 1e9


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--widths", default="64,128", help="comma-separated embedding widths")
    p.add_argument("--batches", default="64", help="comma-separated batch sizes")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warmup", type=int, default=10)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cases = [(128, 64)] + [
        (int(w), int(b)) for w in args.widths.split(",") for b in args.batches.split(",")
        if (int(w), int(b)) != (128, 64)
    ]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"median of {args.steps - args.warmup} steps")
    print(f"{'width':>5s} {'batch':>5s} {'ms/step':>8s} {'GFLOP/s':>8s} {'vs recipe':>9s}")
    base = None
    for width, batch in cases:
        t, rate = measure(width, batch, args.steps, args.warmup)
        base = base or rate
        print(f"{width:5d} {batch:5d} {t * 1e3:8.1f} {rate:8.1f} {rate / base:8.2f}x")


if __name__ == "__main__":
    main()
