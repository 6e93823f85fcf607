"""Speed of one PFN training step at the paper's smallest grid point, against the naive step.

Run (from the repository root, on an otherwise idle machine)::

    python benchmarks/bench_train.py            # about 5 minutes on 2 cores, mostly compiling
    python benchmarks/bench_train.py --no-compile --steps 30

One run prints:

* the median time of a full training step (prior sampling + forward + loss + backward +
  optimiser) of bayeslens' PFN, and of the same network built naively from stock PyTorch
  (``nn.TransformerEncoder`` with a dense attention mask over all tokens, the same head, loss
  and a default ``torch.optim.Adam``), on the same batches; their ratio;
* ablations that isolate each idea (queries without keys/values, fused Adam, attention as
  two matmuls instead of the fused kernel, computing only the queries in the last layer,
  ``torch.compile``, the head's size);
* the effective GFLOP/s of our step, with FLOPs counted analytically (the matmuls and attention
  our step actually computes; backward = 2x forward), against the machine's fp32 matmul ceiling
  measured in the same run (a 2048 x 2048 ``torch.matmul``): each round times every variant and
  then the ceiling, and the share is the median over rounds of the round's rate over the
  round's ceiling, so that a shared CPU's drift between rounds does not bias it;
* the share of the step spent sampling the prior.

Setting: 4 layers, embedding 128, 4 heads, feed-forward 512, 1000 buckets, batch 32, datasets
of 20 points with a context size drawn per batch (as in training), E1's steps prior.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bayeslens import paper
from bayeslens.model import PFN, PFNConfig, dense_mask_reference
from bayeslens.train import TrainBatch, loss_fn, sample_batch

BATCH = 32
N_POINTS = 20
CONFIG = PFNConfig(n_layers=4, d_model=128, n_heads=4, d_ff=512, n_buckets=1000, head_hidden=512)
"""The shipped architecture: the paper's smallest grid point with a 512-wide MLP head."""


def step_flops(
    cfg: PFNConfig, batch: int, n_context: int, n_query: int, *, naive: bool,
    full_last_layer: bool = False,
) -> float:
    """Analytic FLOPs of one training step (forward x 3), matmuls and attention only.

    Counts what each step computes: the naive step gives every token keys and values and
    dense N x N scores in every layer; ours projects keys and values from the context only,
    scores N x Nc, and in the last layer computes the queries' outputs only.
    """
    d, f = cfg.d_model, cfg.d_ff
    n = n_context + n_query

    def layer(m: int, tokens_kv: int, keys: int) -> float:
        """A layer computing outputs for `m` tokens."""
        return (
            2 * m * d * d  # queries
            + 2 * tokens_kv * d * 2 * d  # keys and values
            + 2 * 2 * m * keys * d  # scores and weighted values
            + 2 * m * d * d  # output projection
            + 2 * 2 * m * d * f  # feed-forward
        )

    if naive:
        encoder = cfg.n_layers * layer(n, n, n)
    elif full_last_layer:
        encoder = cfg.n_layers * layer(n, n_context, n_context)
    else:
        encoder = (cfg.n_layers - 1) * layer(n, n_context, n_context) + layer(
            n_query, n_context, n_context
        )
    if cfg.head_hidden:
        head = 2 * n_query * (d * cfg.head_hidden + cfg.head_hidden * cfg.n_outputs)
    else:
        head = 2 * n_query * d * cfg.n_outputs
    forward = batch * (encoder + head)
    return 3.0 * forward


def _matmul_rate(a: torch.Tensor, b: torch.Tensor, warmup: int, repeats: int) -> float:
    """GFLOP/s of ``a @ b`` (median of `repeats` after `warmup` untimed calls)."""
    for _ in range(warmup):
        a @ b
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        torch.matmul(a, b)
        times.append(time.perf_counter() - t)
    return 2 * a.shape[0] * a.shape[1] * b.shape[1] / statistics.median(times) / 1e9


def matmul_ceiling(size: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of a large fp32 matmul (median of `repeats`)."""
    return _matmul_rate(torch.randn(size, size), torch.randn(size, size), 3, repeats)


def small_matmul_rate(repeats: int = 200) -> float:
    """GFLOP/s of one of the step's typical matmuls, (32 * 20) x 128 @ 128 x 512, alone."""
    return _matmul_rate(torch.randn(BATCH * N_POINTS, 128), torch.randn(128, 512), 10, repeats)


class _FusedAttentionPFN(PFN):
    """Ablation: ``scaled_dot_product_attention`` on the CPU too (ours uses two matmuls)."""

    @staticmethod
    def _attend(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        return F.scaled_dot_product_attention(q, k, v)


class _FullLastLayerPFN(PFN):
    """Ablation: the last layer computes every token, and the context outputs are dropped."""

    def _encode(self, x_context: Tensor, y_context: Tensor, x_query: Tensor) -> Tensor:
        h = self._tokens(x_context, y_context, x_query)  # (B, N, D)
        n_context = x_context.shape[1]
        for layer in self.layers:
            h = self._block(layer, h, n_context, queries_only=False)  # type: ignore[arg-type]
        return self.final_norm(h[:, n_context:])  # (B, Nq, D)


@dataclass
class Variant:
    """One way of running the training step, with its own model, optimiser and batch stream."""

    name: str
    cfg: PFNConfig
    naive: bool = False
    fused_adam: bool = True
    compile: str | None = None
    """torch.compile mode (None: eager)."""
    model_cls: type[PFN] = PFN
    full_last_layer: bool = False
    """The FLOP count of a last layer that computes every token."""
    times: list[float] = field(default_factory=list)
    sample_times: list[float] = field(default_factory=list)
    flops: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        torch.manual_seed(0)
        self.model = self.model_cls(self.cfg)
        forward: nn.Module | Callable[..., Tensor] = (
            dense_mask_reference(self.model) if self.naive else self.model.logits_unchecked
        )

        def batch_loss(xc: Tensor, yc: Tensor, xq: Tensor, yq: Tensor) -> Tensor:
            return loss_fn(self.model, forward(xc, yc, xq), yq)

        self.loss: Callable[..., Tensor] = (
            torch.compile(batch_loss, dynamic=True, mode=self.compile) if self.compile
            else batch_loss
        )
        # fused=None is PyTorch's default (a per-parameter for-loop on the CPU)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=3e-4,
                                    fused=True if self.fused_adam else None)
        self.prior = paper.steps_e1()
        self.gen = torch.Generator().manual_seed(0)  # same batches for every variant

    def step(self, record: bool) -> None:
        t0 = time.perf_counter()
        b: TrainBatch = sample_batch(self.prior, BATCH, N_POINTS, self.gen)
        t1 = time.perf_counter()
        loss = self.loss(*b)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        t2 = time.perf_counter()
        if record:
            self.times.append(t2 - t0)
            self.sample_times.append(t1 - t0)
            nc, nq = b.x_context.shape[1], b.x_query.shape[1]
            self.flops.append(step_flops(self.cfg, BATCH, nc, nq, naive=self.naive,
                                         full_last_layer=self.full_last_layer))

    @property
    def median_ms(self) -> float:
        return 1e3 * statistics.median(self.times)

    @property
    def gflops(self) -> float:
        return sum(self.flops) / sum(self.times) / 1e9


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=60, help="measured steps per variant")
    p.add_argument("--rounds", type=int, default=6, help="interleaved rounds (less drift)")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    args = p.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    out = sys.stdout
    out.write(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"load average at start {os.getloadavg()[0]:.2f}\n")
    out.write(f"setting: {CONFIG}, batch {BATCH}, {N_POINTS} points, steps prior (E1)\n\n")

    variants = [
        Variant("naive: stock TransformerEncoder + dense mask, stock Adam", CONFIG, naive=True,
                fused_adam=False),
        Variant("ablation: naive + fused Adam", CONFIG, naive=True),
        Variant("ablation: ours, stock Adam", CONFIG, fused_adam=False),
        Variant("ours: no K/V for queries, last layer queries only, fused Adam", CONFIG),
        Variant("ablation: ours with fused SDPA attention", CONFIG,
                model_cls=_FusedAttentionPFN),
        Variant("ablation: ours with a full last layer", CONFIG, model_cls=_FullLastLayerPFN,
                full_last_layer=True),
        Variant("ablation: ours with a linear head (no 512 hidden layer)",
                replace(CONFIG, head_hidden=0)),
    ]
    if not args.no_compile:
        # one compiled variant per process: Dynamo caches compiled code per code object, so a
        # second torch.compile of the same function with another mode would reuse the first
        variants.append(Variant("ours + torch.compile (max-autotune)",
                                CONFIG, compile="max-autotune-no-cudagraphs"))
    for v in variants:  # warm-up (and compilation) outside the timings
        t = time.perf_counter()
        for _ in range(40 if v.compile else 5):  # compiled: every context size seen once
            v.step(record=False)
        if v.compile:
            out.write(f"({v.name}: compiling and warming up took "
                      f"{time.perf_counter() - t:.0f} s)\n")
    per_round = max(1, args.steps // args.rounds)
    ceilings, smalls = [], []
    shares: dict[str, list[float]] = {v.name: [] for v in variants}
    for _ in range(args.rounds):  # the ceilings too are sampled in every round (shared CPU)
        for v in variants:
            for _ in range(3):  # re-warm caches after the other variants ran
                v.step(record=False)
            for _ in range(per_round):
                v.step(record=True)
        ceilings.append(matmul_ceiling(repeats=3))
        smalls.append(small_matmul_rate(repeats=50))
        for v in variants:  # this round's rate against this round's ceiling
            rate = sum(v.flops[-per_round:]) / sum(v.times[-per_round:]) / 1e9
            shares[v.name].append(rate / ceilings[-1])
    ceiling = statistics.median(ceilings)
    small = statistics.median(smalls)

    naive = variants[0]
    ours = variants[3]
    best = min([ours, *(v for v in variants if v.compile)], key=lambda v: v.median_ms)
    out.write(f"{'variant':<66} {'median ms':>10} {'x naive':>8} {'GFLOP/s':>8}\n")
    for v in variants:
        out.write(f"{v.name:<66} {v.median_ms:>10.1f} {v.median_ms / naive.median_ms:>8.2f} "
                  f"{v.gflops:>8.1f}\n")
    sampling = statistics.median(ours.sample_times) / statistics.median(ours.times)
    out.write("\n")
    out.write(f"full step (ours, eager):      {ours.median_ms:.1f} ms median\n")
    out.write(f"full step (best: {best.name}): {best.median_ms:.1f} ms median\n")
    out.write(f"naive stock step:             {naive.median_ms:.1f} ms median\n")
    out.write(f"ratio ours / naive:           {ours.median_ms / naive.median_ms:.2f} (eager), "
              f"{best.median_ms / naive.median_ms:.2f} (best)   target <= 0.8\n")
    out.write(f"effective GFLOP/s (ours):     {ours.gflops:.1f} (eager), "
              f"{best.gflops:.1f} (best)\n")
    out.write(f"fp32 matmul ceiling:          {ceiling:.1f} GFLOP/s (2048^3 torch.matmul, median "
              f"of {args.rounds} rounds: {min(ceilings):.0f}..{max(ceilings):.0f})\n")
    out.write(f"small matmuls alone:          {small:.1f} GFLOP/s (640x128 @ 128x512, the "
              "step's typical shape)\n")
    for label, v in (("eager", ours), ("best", best)):
        sh = shares[v.name]
        out.write(f"share of ceiling ({label}):"
                  f"{'':<{10 - len(label)}}{statistics.median(sh):.0%} median of the rounds' "
                  f"rate / ceiling ({min(sh):.0%}..{max(sh):.0%}); whole run "
                  f"{v.gflops / ceiling:.0%}   target >= 50%\n")
    out.write(f"prior sampling share:         {sampling:.1%} of the step "
              f"({1e3 * statistics.median(ours.sample_times):.2f} ms)   target < 2%\n")
    out.write(f"load average at end:          {os.getloadavg()[0]:.2f}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
