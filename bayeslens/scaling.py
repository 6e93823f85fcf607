"""Scaling the approximation: the NLL gap to the exact PPD against training compute and size.

The paper's third mechanism says the network approaches the posterior as it grows and trains
longer, with diminishing returns. This module measures it on E1's steps prior: a grid of model
sizes (embedding 64, 128, 256; feed-forward and head 4 x the embedding, as the shipped
``steps`` model) by training budgets counted in FLOPs (fractions of the shipped recipe's, so
every size gets the same compute at each budget: iso-FLOP curves). Every run has its own
warm-up and cosine schedule (:func:`bayeslens.budgets.budget_config`) and is scored on the same
10,000 fresh datasets as the model cards (eval seed 1000): the NLL gap with its standard error,
and the gap split by context size and by how likely the context is under the prior.

The shipped ``steps`` model is the anchor, the grid point of embedding 128 at the full budget:
it is scored, not retrained. :func:`frontier` takes the best size at each budget and
:func:`fit_frontier` fits ``gap = a * (C / C_anchor) ** -b + floor`` to it.

:func:`sweep` runs the grid points a results file does not hold yet, cheapest first, and
merges each result into the file as it comes (under a lock), so a sweep stopped part-way
resumes where it stopped and sweeps of different sizes can run at once on one file. Command
line::

    python -m bayeslens.scaling                    # the grid into bayeslens/data/e1_scaling.json
    python -m bayeslens.scaling --sizes 16 --fractions 0.001 --eval-datasets 200 --out x.json
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from bayeslens.bar_distribution import BarDistribution
from bayeslens.budgets import budget_config, open_results, save_results
from bayeslens.evaluate import EvalSet, exact_scores, model_nll, sample_eval_set
from bayeslens.model import PFN, PFNConfig
from bayeslens.posterior import posterior
from bayeslens.train import PFN_PRESETS, PRIORS, TrainConfig, build_model, run_flops, train

__all__ = [
    "FRACTIONS",
    "SIZES",
    "FrontierFit",
    "GridRun",
    "bucket_floor",
    "evidence_edges",
    "fit_frontier",
    "frontier",
    "grid_steps",
    "main",
    "score",
    "size_config",
    "sweep",
]

log = logging.getLogger(__name__)

DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "e1_scaling.json"
SIZES: tuple[int, ...] = (64, 128, 256)
"""Embedding widths of the grid (4 layers, 4 heads each)."""
FRACTIONS: tuple[float, ...] = (1 / 32, 1 / 16, 1 / 8, 1 / 4)
"""Training budgets, as fractions of the shipped ``steps`` recipe's FLOPs."""
N_EVIDENCE_BINS = 5


def size_config(base: PFNConfig, d_model: int) -> PFNConfig:
    """``base`` with embedding ``d_model``, feed-forward and MLP head 4 x ``d_model``."""
    if not isinstance(d_model, int) or d_model < base.n_heads or d_model % base.n_heads:
        raise ValueError(f"d_model must be a positive multiple of n_heads={base.n_heads}, "
                         f"got {d_model!r}")
    return replace(base, d_model=d_model, d_ff=4 * d_model, head_hidden=4 * d_model)


def grid_steps(model_config: PFNConfig, base: TrainConfig, flops: float) -> int:
    """Steps of ``base``'s batches that cost ``flops`` for ``model_config`` (at least 1)."""
    if not flops > 0:
        raise ValueError(f"flops must be > 0, got {flops!r}")
    per_step = run_flops(model_config, replace(base, steps=1))
    return max(1, round(flops / per_step))


@dataclass(frozen=True)
class GridRun:
    """One grid point: a size trained for a budget, and its gap to the exact PPD.

    Attributes
    ----------
    d_model, n_params, steps, warmup_steps : int
    fraction : float
        Budget as a fraction of the anchor's FLOPs (1 for the anchor).
    flops : float
        Training FLOPs (:func:`bayeslens.train.run_flops`).
    seconds : float
        Training wall time, on ``threads`` CPU threads (shared with other work: a rough
        guide; ``flops`` is the axis).
    final_loss, gap, se : float
        Training loss over the last 5% of steps; NLL gap (nats per query) and its SE.
    by_context : list of (gap, se)
        The gap over the datasets with 1, 2, ... context points.
    by_evidence : list of (gap, se)
        The gap over the datasets in each bin of log evidence per context point (the file's
        ``evidence_edges``), least likely first.
    source : str
        ``"trained"``, or ``"pretrained:NAME"`` for the anchor.
    """

    d_model: int
    n_params: int
    fraction: float
    steps: int
    warmup_steps: int
    flops: float
    seconds: float
    threads: int
    final_loss: float
    gap: float
    se: float
    by_context: list[tuple[float, float]]
    by_evidence: list[tuple[float, float]]
    source: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mean_se(diff: Tensor) -> tuple[float, float]:
    n = diff.numel()
    if n < 2:
        return (float(diff.mean()) if n else math.nan, math.nan)
    return float(diff.mean()), float(diff.std(unbiased=True) / math.sqrt(n))


def evidence_edges(log_evidence: Tensor, n_context: Tensor, n_bins: int) -> list[float]:
    """Inner bin edges (n_bins - 1,) of log evidence per context point: equal-count bins."""
    per_point = log_evidence / n_context
    q = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)[1:-1]
    return [float(v) for v in torch.quantile(per_point, q)]


def score(model: PFN, data: EvalSet, exact: Tensor, log_evidence: Tensor,
          edges: Sequence[float]) -> tuple[float, float, list, list]:
    """The gap of ``model`` on ``data``: overall, by context size and by evidence bin.

    Parameters
    ----------
    exact, log_evidence : Tensor, shape (n_datasets,)
        :func:`bayeslens.evaluate.exact_scores` of ``data``.
    edges : sequence of float
        Inner edges of the bins of log evidence per context point.

    Returns
    -------
    gap, se, by_context, by_evidence
        As :class:`GridRun`'s fields.
    """
    diff = model_nll(model, data) - exact  # (n_datasets,)
    gap, se = _mean_se(diff)
    k_max = int(data.x.shape[1]) - 1
    by_context = [_mean_se(diff[data.n_context == k]) for k in range(1, k_max + 1)]
    bins = torch.bucketize(log_evidence / data.n_context,
                           torch.tensor(list(edges), dtype=torch.float64))
    by_evidence = [_mean_se(diff[bins == b]) for b in range(len(edges) + 1)]
    return gap, se, by_context, by_evidence


def bucket_floor(prior: Any, bar: BarDistribution, data: EvalSet) -> tuple[float, float]:
    """The NLL gap of the best network with ``bar``'s borders: a floor for every grid point.

    A network's output is a bar distribution, so it can at best give each bucket the exact
    PPD's mass there: flat inside, the bar's half-normal shape in the two outer buckets. That
    projection is the KL-closest bar distribution on these borders, and its gap to the exact
    PPD on ``data`` (estimated as :func:`~bayeslens.evaluate.nll_gap` estimates a network's)
    is what no amount of training or width removes.

    Returns
    -------
    gap, se : float
        Mean over datasets of (projection NLL - exact NLL), nats per query, and its SE.
    """
    borders = bar.borders.to(torch.float64)
    diffs = torch.empty(len(data), dtype=torch.float64)
    for i in range(len(data)):
        k = int(data.n_context[i])
        post = posterior(prior, data.x[i, :k], data.y[i, :k])
        xq, yq = data.x[i, k:], data.y[i, k:]
        cdf = post.cdf(xq, borders[1:-1])  # (n_query, n_buckets - 1)
        ends = torch.ones(len(xq), 1, dtype=torch.float64)
        mass = torch.diff(torch.cat([0 * ends, cdf, ends], 1), dim=1)  # (n_query, n_buckets)
        log_q = bar.log_density(mass.clamp_min(1e-300).log(), yq)  # (n_query,)
        diffs[i] = (post.log_density(xq, yq) - log_q).mean()
    return _mean_se(diffs)


def _run(prior: Any, cfg: PFNConfig, base: TrainConfig, fraction: float, anchor_flops: float,
         scored: tuple[EvalSet, Tensor, Tensor, list[float]]) -> GridRun:
    steps = grid_steps(cfg, base, fraction * anchor_flops)
    tc = budget_config(base, steps)
    result = train(prior, cfg, tc, progress=False)
    gap, se, by_k, by_ev = score(result.model, *scored)
    return GridRun(cfg.d_model, sum(p.numel() for p in result.model.parameters()), fraction,
                   steps, tc.warmup_steps, run_flops(cfg, tc), result.seconds,
                   torch.get_num_threads(), result.final_loss, gap, se, by_k, by_ev, "trained")


def _anchor(name: str, base_model: PFNConfig, base: TrainConfig,
            scored: tuple[EvalSet, Tensor, Tensor, list[float]]) -> GridRun:
    from bayeslens.checkpoints import load_pretrained, pretrained_dir, read_card

    model = load_pretrained(name)
    info = read_card(pretrained_dir(name))
    if model.config != base_model or info["train_config"] != asdict(base):
        raise ValueError(f"the shipped {name!r} model is no longer its preset's recipe")
    gap, se, by_k, by_ev = score(model, *scored)
    return GridRun(base_model.d_model, sum(p.numel() for p in model.parameters()), 1.0,
                   base.steps, base.warmup_steps, run_flops(base_model, base),
                   float(info["train_seconds"]), int(info["torch_threads"]),
                   float(info["final_loss"]), gap, se, by_k, by_ev, f"pretrained:{name}")


def sweep(
    out: Path,
    prior_name: str,
    base_model: PFNConfig,
    base: TrainConfig,
    *,
    sizes: Sequence[int] = SIZES,
    fractions: Sequence[float] = FRACTIONS,
    eval_datasets: int = 10_000,
    anchor: str | None = "steps",
) -> dict[str, Any]:
    """Run the grid points ``out`` does not hold yet, cheapest budget first; merge each
    result into ``out`` as it comes (other sweeps on the same file keep theirs).

    Parameters
    ----------
    prior_name, base_model, base
        The prior (a name in ``bayeslens.train.PRIORS``) and the recipe whose FLOPs are
        budget 1; sizes change ``base_model``'s widths (:func:`size_config`).
    anchor : str, optional
        A shipped model trained with exactly this recipe, scored as the full budget.

    An existing ``out`` must record the same prior, recipe and evaluation (else ValueError:
    delete it to start again). Returns the file's contents.
    """
    prior = PRIORS[prior_name]()
    anchor_flops = run_flops(base_model, base)
    header = {"prior": prior_name, "base_model_config": base_model.to_dict(),
              "base_train_config": asdict(base), "anchor_flops": anchor_flops,
              "eval_datasets": eval_datasets, "eval_seed": base.seed + 1000,
              "n_evidence_bins": N_EVIDENCE_BINS}
    doc = open_results(out, header)
    done = {(r["d_model"], r["fraction"]) for r in doc["runs"]}
    todo = [(f, d) for f in sorted(fractions) for d in sizes if (d, f) not in done]
    want_anchor = anchor is not None and (base_model.d_model, 1.0) not in done
    if not todo and not want_anchor and "bucket_floor" in doc:
        return doc
    data = sample_eval_set(prior, eval_datasets, base.n_points,
                           torch.Generator().manual_seed(base.seed + 1000))
    t = time.perf_counter()
    exact, log_evidence = exact_scores(prior, data)
    log.info("exact NLL of %d datasets in %.0f s", eval_datasets, time.perf_counter() - t)
    edges = evidence_edges(log_evidence, data.n_context, N_EVIDENCE_BINS)
    if doc.get("evidence_edges", edges) != edges:
        raise ValueError(f"{out}'s evidence bins differ from this evaluation's")
    doc["evidence_edges"] = edges
    scored = (data, exact, log_evidence, edges)

    def save(r: GridRun | None) -> None:  # sweeps of other sizes may share the file
        save_results(out, doc, [] if r is None else [r.to_dict()],
                     key=lambda d: (d["fraction"], d["d_model"]))

    if "bucket_floor" not in doc:  # every width shares the recipe's borders
        t = time.perf_counter()
        bar = build_model(prior, base_model, base).bar
        if bar is None:
            raise ValueError("the scaling study needs a regression recipe (a bar distribution)")
        gap, se = bucket_floor(prior, bar, data)
        doc["bucket_floor"] = {"gap": gap, "se": se}
        log.info("bucket floor %.4f +- %.4f (%.0f s)", gap, se, time.perf_counter() - t)
        save(None)
    if want_anchor:
        save(_anchor(str(anchor), base_model, base, scored))
    for fraction, d in todo:
        r = _run(prior, size_config(base_model, d), base, fraction, anchor_flops, scored)
        log.info("d_model %d, %d steps (%.3g FLOPs): gap %.4f +- %.4f, %.0f s", d, r.steps,
                 r.flops, r.gap, r.se, r.seconds)
        save(r)
    return doc


def frontier(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The compute-efficient frontier: at each budget, the run with the smallest gap."""
    best: dict[float, dict[str, Any]] = {}
    for r in runs:
        f = r["fraction"]
        if f not in best or r["gap"] < best[f]["gap"]:
            best[f] = r
    return [best[f] for f in sorted(best)]


@dataclass(frozen=True)
class FrontierFit:
    """``gap = a * c ** -b + floor``, c the budget as a fraction of the anchor's FLOPs.

    Attributes
    ----------
    a, b, floor : float
        Weighted least squares (weights 1 / se^2) on the frontier.
    b_interval, floor_interval : (float, float)
        Central 90% of the refits to gaps redrawn from N(gap, se^2) (parametric bootstrap).
    """

    a: float
    b: float
    floor: float
    b_interval: tuple[float, float]
    floor_interval: tuple[float, float]

    def predict(self, c: np.ndarray | float) -> np.ndarray:
        """The fitted gap at budget(s) ``c`` (fractions of the anchor's FLOPs)."""
        return self.a * np.asarray(c, dtype=float) ** -self.b + self.floor

    def budget_for(self, gap: float) -> float:
        """The budget (fraction of the anchor's FLOPs) at which the fit reaches ``gap``;
        ``inf`` if ``gap`` is at or below the floor."""
        if gap <= self.floor:
            return math.inf
        return float(((gap - self.floor) / self.a) ** (-1 / self.b))


_B_GRID = np.linspace(0.02, 3.0, 300)


def _fit(c: np.ndarray, gap: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    """Weighted least squares over b on a grid, (a, floor >= 0) solved in closed form for
    each b (through zero where the free floor would be negative)."""
    u = c[None, :] ** -_B_GRID[:, None]  # (n_b, n)
    sw, su, sg = w.sum(), (w * u).sum(1), (w * gap).sum()
    suu, sug = (w * u * u).sum(1), (w * u * gap).sum(1)
    det = suu * sw - su * su
    a = (sug * sw - su * sg) / det
    floor = (suu * sg - su * sug) / det
    a0 = sug / suu  # the fit through zero
    a, floor = np.where(floor < 0, a0, a), np.where(floor < 0, 0.0, floor)
    sse = (w * (a[:, None] * u + floor[:, None] - gap) ** 2).sum(1)
    i = int(np.argmin(sse))
    return float(a[i]), float(_B_GRID[i]), float(floor[i])


def fit_frontier(runs: Sequence[dict[str, Any]], n_boot: int = 2000,
                 seed: int = 0) -> FrontierFit:
    """Fit :class:`FrontierFit` to :func:`frontier` of ``runs`` (at least 3 budgets)."""
    front = frontier(runs)
    if len(front) < 3:
        raise ValueError(f"runs must cover at least 3 budgets for a 3-parameter fit, got "
                         f"{len(front)}")
    c = np.array([r["fraction"] for r in front], dtype=float)
    gap = np.array([r["gap"] for r in front], dtype=float)
    se = np.array([r["se"] for r in front], dtype=float)
    w = 1 / np.maximum(se, 1e-12) ** 2
    a, b, floor = _fit(c, gap, w)
    rng = np.random.default_rng(seed)
    boots = np.array([_fit(c, gap + rng.standard_normal(len(c)) * se, w)
                      for _ in range(n_boot)])
    b_lo, b_hi = np.quantile(boots[:, 1], [0.05, 0.95])
    f_lo, f_hi = np.quantile(boots[:, 2], [0.05, 0.95])
    return FrontierFit(a, b, floor, (float(b_lo), float(b_hi)), (float(f_lo), float(f_hi)))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m bayeslens.scaling [--sizes ...] [--fractions ...]``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(prog="python -m bayeslens.scaling",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", choices=sorted(PFN_PRESETS), default="steps")
    p.add_argument("--sizes", default=",".join(map(str, SIZES)),
                   help="comma-separated embedding widths")
    p.add_argument("--fractions", default=",".join(f"{f:g}" for f in FRACTIONS),
                   help="comma-separated budgets, as fractions of the preset's FLOPs")
    p.add_argument("--eval-datasets", type=int, default=10_000)
    p.add_argument("--no-anchor", action="store_true",
                   help="do not score the shipped model as the full budget (implied by"
                   " --model or --train)")
    p.add_argument("--model", default="{}",
                   help='JSON overrides of the base architecture, e.g. \'{"n_layers": 1}\'')
    p.add_argument("--train", default="{}", help="JSON overrides of the base recipe")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    preset = PFN_PRESETS[args.preset]
    model_overrides, train_overrides = json.loads(args.model), json.loads(args.train)
    anchor = None if args.no_anchor or model_overrides or train_overrides else args.preset
    sweep(args.out, preset.prior, replace(preset.model, **model_overrides),
          replace(preset.train, **train_overrides),
          sizes=[int(s) for s in args.sizes.split(",") if s],
          fractions=[float(f) for f in args.fractions.split(",") if f],
          eval_datasets=args.eval_datasets, anchor=anchor)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
