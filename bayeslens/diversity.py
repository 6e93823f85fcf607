"""Task diversity: which posterior does a PFN trained on a finite pool of linear tasks follow?

Raventós et al. (2023) trained transformers on M linear tasks w_1, ..., w_M ~ N(0, I_d) and
found that below a threshold in M the network predicts as the exact posterior over the pool
(:class:`~bayeslens.linear.LinearPool`, "discrete MMSE"), and above it as ridge regression, the
posterior of the Gaussian prior w ~ N(0, I_d) it was never trained on. Here each pool size M
trains one PFN with :func:`bayeslens.train.train` on ``LinearPool(M, d, sigma, pool_seed)``
(Raventós et al.'s d = 8, 16 points, noise std 0.5 by default) and measures it on held-out
contexts of two kinds: from tasks *in* the pool (``"in_pool"``: a task drawn uniformly from the
pool, fresh x and noise) and from *fresh* tasks w ~ N(0, I_d) (``"fresh"``). Every record
holds, each as a mean over datasets with its standard error:

* ``mse_to_pool``, ``mse_to_ridge``: the network's PPD mean against the pool posterior's and
  ridge's, squared, averaged over each dataset's queries. Both are distances between
  predictors, free of the noise in y; Raventós et al.'s measure.
* ``kl_to_pool``, ``kl_to_ridge``: KL(exact PPD || network) at each query, estimated with one
  y drawn from *that exact PPD* per query (:func:`~bayeslens.linear_posterior.sample_predictive`),
  averaged over the queries: the density counterpart of the MSE, >= 0 in expectation.
* ``nll_gap_to_pool``, ``nll_gap_to_ridge``: the network's NLL of the *true* y minus that
  exact PPD's NLL of the same y, nats per query. The expectation is over the split's data
  (x ~ N(0, I_d), y from the split's task: a pool task for ``in_pool``, a fresh task for
  ``fresh``), not over either PPD. On the same y, ``nll_gap_to_ridge - nll_gap_to_pool =
  nll_pool - nll_ridge`` for every network: the two gaps cross where the exact PPDs' NLLs do,
  whatever was trained, so they say how well the network predicts, not which posterior it
  follows (use the MSE or KL for that).
* The same distances between the two exact posteriors, the reference scale:
  ``mse_pool_ridge``, ``nll_pool_minus_ridge``, ``kl_pool_ridge`` (KL(pool || ridge), y from
  the pool's PPD) and ``kl_ridge_pool``; the paired differences ``mse_to_ridge_minus_pool``
  and ``kl_to_ridge_minus_pool`` (their sign says which posterior the network is closer to,
  their SE whether that is resolved); and each predictor's squared error to the true y,
  ``se_network``, ``se_pool``, ``se_ridge``.

Datasets have 16 points split as in training (a context of k uniform over 1 .. 15, the rest
queries). Garg et al.'s (2022) headline is ``context_curve``: on fresh tasks, the squared
error to the true y of the network, least squares (minimum-norm below k = d), ridge and the
pool posterior against the number of context points k = 1 .. 15, the same datasets split at
every k.

Every M's network starts from the same seeded weights and the same bar-distribution borders,
fitted to the Gaussian prior's y (:func:`shared_init`): the networks differ only in the tasks
they were trained on, and a small pool's narrow y-range does not cut off fresh tasks' y.

:func:`sweep` trains the pool sizes a results file does not hold yet and merges each record
into the file as it comes (under a lock, as :mod:`bayeslens.scaling`), so a sweep stopped
part-way resumes; a file made with other settings is a ValueError. :func:`read_results`,
:func:`curves`, :func:`crossing_threshold` and :func:`threshold` are what a chapter needs
to read the file. Command line::

    python -m bayeslens.diversity                      # 8 pool sizes into DEFAULT_OUT
    python -m bayeslens.diversity --pool-sizes 2,32 --steps 200 --eval-datasets 200 --out x.json

Default sweep and what it costs (:data:`POOL_SIZES`, :data:`MODEL`, :data:`TRAIN`). The step
time is the process's CPU time per training step of :data:`MODEL` at batch 64 and 16 points on
one thread, from :func:`benchmark` (median of 35 steps after 5 of warm-up): 0.105 s, measured
under contention (``OMP_NUM_THREADS=1 taskset -c 1 nice -n 19``, the core shared with a timed
training job at nice -15 and another helper's; CPU time leaves out the waiting, not the shared
caches, so an idle core should be a little faster). Widths 96 and 128 cost 0.191 s and 0.253 s
a step. Evaluation (2 x 2,000 held-out datasets, a 500-dataset context curve), measured the
same way on an untrained network: 7 s CPU at M = 2 (the network's passes), 32.5 s at
M = 8,192; the pool's part grows linearly in M (its log density is a logsumexp over the M tasks
at three y per query), so ~110 s at M = 32,768. For 8 pool sizes within ~90 CPU-minutes:

* training: 5,500 steps x 0.105 s = 578 s per M (352,000 sequences; Raventós et al. trained
  500,000 steps of batch 256, ~360 times as many, with 8 layers of width 128), 4,620 s for 8;
* evaluation: 5 x ~8 s (M <= 512) + ~13 s + 32.5 s + ~110 s = ~195 s;
* total ~4,820 s, about 80 CPU-minutes on one thread, leaving ~10% for the measurement's
  noise (6,000 steps would have been 87 minutes).

Measured with::

    OMP_NUM_THREADS=1 taskset -c 1 nice -n 19 python -c \\
        "from bayeslens import diversity; print(diversity.benchmark())"
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from bayeslens._checks import check_pool_sizes
from bayeslens._cli import int_flag, json_overrides
from bayeslens.budgets import budget_config, open_results, save_results
from bayeslens.evaluate import EvalSet, sample_eval_set
from bayeslens.linear import RAVENTOS_D, RAVENTOS_POINTS, RAVENTOS_SIGMA, LinearGaussian, LinearPool
from bayeslens.linear_posterior import (
    least_squares,
    predictive,
    sample_predictive,
)
from bayeslens.model import PFN, PFNConfig
from bayeslens.train import TrainConfig, build_model, train

__all__ = [
    "EVAL_DATASETS",
    "METRICS",
    "MODEL",
    "POOL_SIZES",
    "SPLITS",
    "TRAIN",
    "Curves",
    "benchmark",
    "context_curve",
    "crossing_threshold",
    "curve_datasets",
    "curves",
    "evaluate_network",
    "header",
    "main",
    "posterior_distances",
    "read_results",
    "run_pool_size",
    "shared_init",
    "summarise",
    "sweep",
    "threshold",
]

log = logging.getLogger(__name__)

DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "diversity.json"
"""The results file the package ships, ``bayeslens/data/diversity.json`` (chapter 12 reads it)."""
POOL_SIZES: tuple[int, ...] = (2, 8, 32, 128, 512, 2048, 8192, 32768)
"""Pool sizes M = 2^1, 2^3, ..., 2^15: two octaves apart, eight trainings."""
MODEL = PFNConfig(n_layers=4, d_model=64, n_heads=4, d_ff=256, head_hidden=256, n_buckets=500,
                  max_context=RAVENTOS_POINTS - 1, n_features=RAVENTOS_D)
"""4 layers of width 64 (346k parameters), 500 buckets: at width 96 or 128 the same CPU time
would buy about 3,000 or 2,300 steps per pool size (module docstring)."""
TRAIN = TrainConfig(steps=5_500, batch_size=64, lr=1e-3, warmup_steps=275,
                    n_points=RAVENTOS_POINTS, border_points=RAVENTOS_POINTS,
                    checkpoint_every=5_500)
"""Steps per pool size; warm-up 5% of the run (kept for other ``--steps``)."""
EVAL_DATASETS = 2_000
"""Held-out datasets per split; the context curve has a quarter as many (:func:`header`)."""
SPLITS = ("in_pool", "fresh")
METRICS = ("mse", "kl", "nll_gap")
"""Distances :func:`curves` reads: ``{metric}_to_pool`` and ``{metric}_to_ridge``."""
_SEED_OFFSETS = {"in_pool": 1000, "fresh": 1001, "curve": 1002, "draws_in_pool": 1003,
                 "draws_fresh": 1004}
"""Evaluation generators are seeded with the training seed plus these."""


# --------------------------------------------------------------------------------------------
# belongs in evaluate.py (this whole section, up to the next): network and exact posteriors
# compared as numbers
# --------------------------------------------------------------------------------------------


def _network(model: PFN, xc: Tensor, yc: Tensor, xq: Tensor,
             targets: Sequence[Tensor]) -> tuple[Tensor, list[Tensor]]:
    """The network's PPD mean (b, n_query) and log density at each of ``targets``, float64."""
    logits = model(xc, yc, xq)  # (b, n_query, n_buckets)
    bar = model.bar
    if bar is None:
        raise ValueError("model must be a regression PFN (a bar distribution)")
    mean = bar.mean(logits).to(torch.float64)
    return mean, [bar.log_density(logits, t.to(logits.dtype)).to(torch.float64)
                  for t in targets]


def _check_model(model: object, pool: object) -> None:
    if not isinstance(pool, LinearPool):
        raise ValueError(f"pool must be a LinearPool, got {type(pool).__name__}")
    if not isinstance(model, PFN) or model.bar is None:
        raise ValueError(f"model must be a regression PFN, got {type(model).__name__}")
    if model.config.n_features != pool.d:
        raise ValueError(f"the model has n_features={model.config.n_features} but the pool "
                         f"has d = {pool.d}")


@torch.no_grad()
def posterior_distances(model: PFN, pool: LinearPool, data: EvalSet,
                        generator: torch.Generator) -> dict[str, Tensor]:
    """Per dataset: the network against the pool posterior and ridge, and the two against
    each other (the module docstring defines every key).

    Parameters
    ----------
    model : PFN
        A regression PFN of ``pool.d`` input features.
    pool : LinearPool
        Its ridge is the posterior of ``LinearGaussian(pool.d, pool.sigma)``.
    data : EvalSet
        x (n_datasets, n_points, d), y (n_datasets, n_points); dataset i's context is its
        first ``n_context[i]`` points, its queries the rest.
    generator : torch.Generator
        For the y drawn from each exact PPD (the KL estimates), one per query.

    Returns
    -------
    dict of str to Tensor, each shape (n_datasets,), float64
        Means over each dataset's queries. ``nll_*`` and ``se_*`` use the true y (the
        split's own tasks); ``kl_*`` use y drawn from the exact PPD named first.
    """
    _check_model(model, pool)
    gauss = LinearGaussian(pool.d, pool.sigma)
    was_training = model.training
    model.eval()
    keys = ("mse_to_pool", "mse_to_ridge", "mse_pool_ridge", "mse_to_ridge_minus_pool",
            "nll_network", "nll_pool", "nll_ridge", "nll_gap_to_pool", "nll_gap_to_ridge",
            "nll_pool_minus_ridge", "kl_to_pool", "kl_to_ridge", "kl_to_ridge_minus_pool",
            "kl_pool_ridge", "kl_ridge_pool", "se_network", "se_pool", "se_ridge")
    out = {k: torch.empty(len(data), dtype=torch.float64) for k in keys}
    try:
        for k in data.n_context.unique().tolist():
            idx = (data.n_context == k).nonzero()[:, 0]
            xc, yc = data.x[idx, :k], data.y[idx, :k]
            xq, yq = data.x[idx, k:], data.y[idx, k:]
            y_pool = sample_predictive(pool, xc, yc, xq, generator)  # (b, n_query)
            y_ridge = sample_predictive(gauss, xc, yc, xq, generator)
            net_mean, (net_y, net_yp, net_yr) = _network(model, xc, yc, xq,
                                                         (yq, y_pool, y_ridge))
            pool_mean, (pool_y, pool_yp, pool_yr) = _exact(pool, xc, yc, xq,
                                                           (yq, y_pool, y_ridge))
            ridge_mean, (ridge_y, ridge_yp, ridge_yr) = _exact(gauss, xc, yc, xq,
                                                               (yq, y_pool, y_ridge))
            per_query = {
                "mse_to_pool": (net_mean - pool_mean) ** 2,
                "mse_to_ridge": (net_mean - ridge_mean) ** 2,
                "mse_pool_ridge": (pool_mean - ridge_mean) ** 2,
                "nll_network": -net_y, "nll_pool": -pool_y, "nll_ridge": -ridge_y,
                "kl_to_pool": pool_yp - net_yp,
                "kl_to_ridge": ridge_yr - net_yr,
                "kl_pool_ridge": pool_yp - ridge_yp,
                "kl_ridge_pool": ridge_yr - pool_yr,
                "se_network": (net_mean - yq) ** 2,
                "se_pool": (pool_mean - yq) ** 2,
                "se_ridge": (ridge_mean - yq) ** 2,
            }
            for key, v in per_query.items():
                out[key][idx] = v.mean(dim=1)
    finally:
        model.train(was_training)
    out["mse_to_ridge_minus_pool"] = out["mse_to_ridge"] - out["mse_to_pool"]
    out["kl_to_ridge_minus_pool"] = out["kl_to_ridge"] - out["kl_to_pool"]
    out["nll_gap_to_pool"] = out["nll_network"] - out["nll_pool"]
    out["nll_gap_to_ridge"] = out["nll_network"] - out["nll_ridge"]
    out["nll_pool_minus_ridge"] = out["nll_pool"] - out["nll_ridge"]
    return out


def _exact(prior: LinearPool | LinearGaussian, xc: Tensor, yc: Tensor, xq: Tensor,
           targets: Sequence[Tensor]) -> tuple[Tensor, list[Tensor]]:
    """The exact PPD mean (b, n_query) and log density at each of ``targets``: one posterior,
    the queries repeated once per target."""
    n_query = xq.shape[1]
    pred = predictive(prior, xc, yc, torch.cat([xq] * len(targets), 1),
                      torch.cat(list(targets), 1))
    if pred.log_density is None:  # unreachable: targets were given
        raise ValueError("a log density needs targets")
    return pred.mean[:, :n_query], list(pred.log_density.split(n_query, 1))


@torch.no_grad()
def context_curve(model: PFN, pool: LinearPool, x: Tensor, y: Tensor) -> dict[str, Tensor]:
    """Squared error to the true y against the number of context points (Garg et al.).

    Dataset i split at every k = 1 .. n_points - 1: context its first k points, queries the
    rest; each predictor's mean at the queries against their y, squared, averaged over the
    queries.

    Parameters
    ----------
    model : PFN
    pool : LinearPool
        The pool the network was trained on (its posterior is one of the predictors); ridge
        is the posterior of ``LinearGaussian(pool.d, pool.sigma)``.
    x : Tensor, shape (n_datasets, n_points, d)
    y : Tensor, shape (n_datasets, n_points)

    Returns
    -------
    dict of str to Tensor, each shape (n_datasets, n_points - 1), float64
        ``"network"``, ``"least_squares"`` (minimum-norm below k = d), ``"ridge"`` and
        ``"pool"``; column k - 1 is k context points.
    """
    _check_model(model, pool)
    if x.ndim != 3 or x.shape[-1] != pool.d or y.shape != x.shape[:2] or x.shape[1] < 2:
        raise ValueError(f"x must be (n_datasets, n_points >= 2, {pool.d}) and y "
                         f"(n_datasets, n_points), got {tuple(x.shape)} and {tuple(y.shape)}")
    x, y = x.to(torch.float64), y.to(torch.float64)
    gauss = LinearGaussian(pool.d, pool.sigma)
    n, n_points = y.shape
    names = ("network", "least_squares", "ridge", "pool")
    out = {name: torch.empty(n, n_points - 1, dtype=torch.float64) for name in names}
    was_training = model.training
    model.eval()
    try:
        for k in range(1, n_points):
            xc, yc, xq, yq = x[:, :k], y[:, :k], x[:, k:], y[:, k:]
            means = {
                "network": _network(model, xc, yc, xq, ())[0],
                "least_squares": (xq @ least_squares(xc, yc)[..., None])[..., 0],
                "ridge": predictive(gauss, xc, yc, xq).mean,
                "pool": predictive(pool, xc, yc, xq).mean,
            }
            for name, m in means.items():
                out[name][:, k - 1] = ((m - yq) ** 2).mean(dim=1)
    finally:
        model.train(was_training)
    return out


# --------------------------------------------------------------------------------------------
# Summaries, one pool size, the sweep
# --------------------------------------------------------------------------------------------


def _mean_se(v: Tensor) -> dict[str, Any]:
    """Mean over the first axis and its standard error (NaN for fewer than 2): floats for
    v of shape (n,), lists for (n, m)."""
    n = v.shape[0]
    se = v.std(dim=0) / math.sqrt(n) if n > 1 else torch.full_like(v[0], math.nan)
    mean = v.mean(dim=0)
    return {"mean": mean.tolist(), "se": se.tolist()}


def summarise(per_dataset: dict[str, Tensor]) -> dict[str, dict[str, Any]]:
    """``{key: {"mean": ..., "se": ...}}`` over the datasets (the first axis) of each value.

    A value of shape (n_datasets,) gives floats; (n_datasets, m) gives lists of m floats.
    """
    return {k: _mean_se(v) for k, v in per_dataset.items()}


def shared_init(pool: LinearPool, model_config: PFNConfig, train_config: TrainConfig) -> PFN:
    """The untrained network every pool size starts from: the seed's weights, and borders
    fitted to ``LinearGaussian(pool.d, pool.sigma)``'s y (the same for every M)."""
    return build_model(LinearGaussian(pool.d, pool.sigma), model_config, train_config)


def curve_datasets(eval_datasets: int) -> int:
    """Fresh datasets of the context curve: a quarter of ``eval_datasets`` (at least 2).

    Each is split at all n_points - 1 context sizes, so the curve costs 15 / 4 network passes
    per held-out dataset of a split, and its points average over 1 .. 15 queries each.
    """
    return max(2, eval_datasets // 4)


def _eval_data(pool: LinearPool, n_datasets: int, n_points: int,
               seed: int) -> tuple[dict[str, EvalSet], Tensor, Tensor]:
    """The held-out split sets and the context curve's fresh (x, y)."""
    gauss = LinearGaussian(pool.d, pool.sigma)
    sets = {
        "in_pool": sample_eval_set(pool, n_datasets, n_points,
                                   torch.Generator().manual_seed(seed + _SEED_OFFSETS["in_pool"])),
        "fresh": sample_eval_set(gauss, n_datasets, n_points,
                                 torch.Generator().manual_seed(seed + _SEED_OFFSETS["fresh"])),
    }
    curve = gauss.sample(curve_datasets(n_datasets), n_points,
                         torch.Generator().manual_seed(seed + _SEED_OFFSETS["curve"]))
    return sets, curve.x, curve.y


def evaluate_network(model: PFN, pool: LinearPool, n_datasets: int, n_points: int,
                     seed: int) -> dict[str, Any]:
    """The ``in_pool``, ``fresh`` and ``context_curve`` parts of a record (:func:`sweep`)."""
    sets, cx, cy = _eval_data(pool, n_datasets, n_points, seed)
    record: dict[str, Any] = {}
    for split, data in sets.items():
        gen = torch.Generator().manual_seed(seed + _SEED_OFFSETS[f"draws_{split}"])
        record[split] = summarise(posterior_distances(model, pool, data, gen))
    record["context_curve"] = {"n_context": list(range(1, n_points)),
                               **summarise(context_curve(model, pool, cx, cy))}
    return record


def run_pool_size(n_tasks: int, model_config: PFNConfig, train_config: TrainConfig, *,
                  d: int = RAVENTOS_D, sigma: float = RAVENTOS_SIGMA, pool_seed: int = 0,
                  eval_datasets: int = EVAL_DATASETS) -> dict[str, Any]:
    """Train on ``LinearPool(n_tasks, d, sigma, pool_seed)`` and measure: one record.

    Returns
    -------
    dict
        ``n_tasks``, ``steps``, ``warmup_steps``, ``final_loss``; ``seconds`` (training wall
        time) and ``cpu_seconds`` (the process's CPU time in training, on ``threads``
        threads; the comparable one when the CPU is shared), ``eval_cpu_seconds``; and
        ``in_pool``, ``fresh``, ``context_curve`` as in the module docstring.
    """
    pool = LinearPool(n_tasks, d, sigma, pool_seed)
    cpu = time.process_time()
    result = train(pool, model_config, train_config, progress=False,
                   init=shared_init(pool, model_config, train_config))
    cpu_train = time.process_time() - cpu
    cpu = time.process_time()
    measured = evaluate_network(result.model, pool, eval_datasets, train_config.n_points,
                                train_config.seed)
    return {"n_tasks": n_tasks, "steps": train_config.steps,
            "warmup_steps": train_config.warmup_steps, "final_loss": result.final_loss,
            "seconds": result.seconds, "cpu_seconds": cpu_train,
            "eval_cpu_seconds": time.process_time() - cpu, "threads": torch.get_num_threads(),
            **measured}


def header(model_config: PFNConfig, train_config: TrainConfig, *, d: int = RAVENTOS_D,
           sigma: float = RAVENTOS_SIGMA, pool_seed: int = 0,
           eval_datasets: int = EVAL_DATASETS) -> dict[str, Any]:
    """The settings a results file records; a file with others is refused by :func:`sweep`."""
    n_points = train_config.n_points
    return {
        "prior": {"name": "linear_pool", "d": d, "sigma": sigma, "pool_seed": pool_seed,
                  "n_points": n_points, "borders": "linear_gaussian"},
        "model_config": model_config.to_dict(),
        "train_config": asdict(train_config),
        "eval": {"datasets": eval_datasets, "seed": train_config.seed,
                 "seed_offsets": dict(_SEED_OFFSETS),
                 "splits": {"in_pool": "tasks drawn uniformly from the pool",
                            "fresh": "tasks w ~ N(0, I_d), one per dataset"},
                 "context": f"first k points, k uniform over 1 .. {n_points - 1}; "
                            "queries the rest",
                 "kl": "one y per query drawn from the exact PPD named first",
                 "context_curve": f"{curve_datasets(eval_datasets)} fresh datasets split at "
                                  f"every k = 1 .. {n_points - 1}; squared error to the true y"},
    }


def sweep(out: Path, pool_sizes: Sequence[int] = POOL_SIZES,
          model_config: PFNConfig = MODEL, train_config: TrainConfig = TRAIN, *,
          d: int = RAVENTOS_D, sigma: float = RAVENTOS_SIGMA, pool_seed: int = 0,
          eval_datasets: int = EVAL_DATASETS) -> dict[str, Any]:
    """Train and measure the pool sizes ``out`` does not hold yet, smallest first; merge each
    record into ``out`` as it comes (other sweeps on the same file keep theirs).

    An existing ``out`` must record the same :func:`header` (else ValueError naming the
    differing settings: delete it or write another). Returns the file's contents.
    """
    sizes = check_pool_sizes(pool_sizes, "M")
    if not isinstance(eval_datasets, int) or isinstance(eval_datasets, bool) or eval_datasets < 2:
        raise ValueError(f"eval_datasets must be an int >= 2 (for a standard error), got "
                         f"{eval_datasets!r}")
    LinearPool(1, d, sigma, pool_seed)  # d, sigma and pool_seed checked before any work
    if model_config.n_features != d:
        raise ValueError(f"model_config.n_features={model_config.n_features} must be the "
                         f"pool's d = {d}")
    doc = open_results(out, header(model_config, train_config, d=d, sigma=sigma,
                                   pool_seed=pool_seed, eval_datasets=eval_datasets))
    done = {r["n_tasks"] for r in doc["runs"]}
    for m in [m for m in sizes if m not in done]:
        r = run_pool_size(m, model_config, train_config, d=d, sigma=sigma,
                          pool_seed=pool_seed, eval_datasets=eval_datasets)
        log.info("M = %d: loss %.3f; fresh MSE to pool %.4f, to ridge %.4f; %.0f + %.0f s CPU",
                 m, r["final_loss"], r["fresh"]["mse_to_pool"]["mean"],
                 r["fresh"]["mse_to_ridge"]["mean"], r["cpu_seconds"], r["eval_cpu_seconds"])
        save_results(out, doc, [r], key=lambda x: x["n_tasks"])  # other sweeps keep theirs
    return doc


# --------------------------------------------------------------------------------------------
# Reading a results file (for the chapter)
# --------------------------------------------------------------------------------------------


def read_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A results file written by :func:`sweep`, its runs sorted by M."""
    doc: dict[str, Any] = json.loads(Path(path).read_text())
    if not isinstance(doc.get("runs"), list) or "prior" not in doc:
        raise ValueError(f"{path} is not a diversity results file (no prior or runs)")
    doc["runs"] = sorted(doc["runs"], key=lambda r: r["n_tasks"])
    return doc


@dataclass(frozen=True)
class Curves:
    """One split's distances of the network to each posterior against M, and their SEs.

    Attributes
    ----------
    n_tasks : ndarray, shape (n_sizes,)
    to_pool, to_pool_se, to_ridge, to_ridge_se : ndarray, shape (n_sizes,)
        ``{metric}_to_pool`` and ``{metric}_to_ridge``.
    diff, diff_se : ndarray, shape (n_sizes,)
        The paired difference to_ridge - to_pool (< 0: closer to ridge) and its SE; for
        ``nll_gap`` this is nll_pool - nll_ridge, the same for every network.
    reference, reference_se : ndarray, shape (n_sizes,)
        The distance between the two exact posteriors (``mse_pool_ridge``,
        ``kl_pool_ridge``, ``nll_pool_minus_ridge``).
    """

    n_tasks: np.ndarray
    to_pool: np.ndarray
    to_pool_se: np.ndarray
    to_ridge: np.ndarray
    to_ridge_se: np.ndarray
    diff: np.ndarray
    diff_se: np.ndarray
    reference: np.ndarray
    reference_se: np.ndarray


_REFERENCE = {"mse": "mse_pool_ridge", "kl": "kl_pool_ridge", "nll_gap": "nll_pool_minus_ridge"}
_DIFF = {"mse": "mse_to_ridge_minus_pool", "kl": "kl_to_ridge_minus_pool",
         "nll_gap": "nll_pool_minus_ridge"}


def curves(doc: dict[str, Any], split: str = "fresh", metric: str = "mse") -> Curves:
    """``metric``'s distances to each posterior on ``split`` (``"in_pool"`` or ``"fresh"``)
    against M, from a results file's contents (:func:`read_results`)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    runs = sorted(doc["runs"], key=lambda r: r["n_tasks"])

    def col(key: str, part: str) -> np.ndarray:
        return np.array([r[split][key][part] for r in runs], dtype=float)

    return Curves(
        np.array([r["n_tasks"] for r in runs], dtype=float),
        col(f"{metric}_to_pool", "mean"), col(f"{metric}_to_pool", "se"),
        col(f"{metric}_to_ridge", "mean"), col(f"{metric}_to_ridge", "se"),
        col(_DIFF[metric], "mean"), col(_DIFF[metric], "se"),
        col(_REFERENCE[metric], "mean"), col(_REFERENCE[metric], "se"),
    )


def crossing_threshold(n_tasks: Sequence[float] | np.ndarray,
                       to_pool: Sequence[float] | np.ndarray,
                       to_ridge: Sequence[float] | np.ndarray) -> float | None:
    """The pool size where the distance to ridge first falls below the distance to the pool.

    With diff = to_ridge - to_pool at each M (> 0: the network is closer to the pool
    posterior), the first i with diff_i > 0 and diff_{i+1} <= 0 brackets the crossing, and
    diff is interpolated linearly in log M between them:
    log M* = log M_i + (log M_{i+1} - log M_i) diff_i / (diff_i - diff_{i+1}).

    Parameters
    ----------
    n_tasks : sequence of float, shape (n_sizes,)
        Pool sizes M, strictly increasing, > 0.
    to_pool, to_ridge : sequence of float, shape (n_sizes,)
        A distance to each posterior at each M (e.g. :class:`Curves`' fields).

    Returns
    -------
    float or None
        M*, or None when the sweep holds no such crossing: the network is closer to ridge
        from the smallest M on (the threshold lies below the sweep), or never (above it).
        Check ``diff[0]`` to tell which.
    """
    m = np.asarray(n_tasks, dtype=float)
    a = np.asarray(to_pool, dtype=float)
    b = np.asarray(to_ridge, dtype=float)
    if m.ndim != 1 or a.shape != m.shape or b.shape != m.shape or m.size < 2:
        raise ValueError(f"n_tasks, to_pool and to_ridge must be 1-d of one length >= 2, got "
                         f"shapes {m.shape}, {a.shape}, {b.shape}")
    if not (np.isfinite(m).all() and np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("n_tasks, to_pool and to_ridge must be finite")
    if (m <= 0).any() or (np.diff(m) <= 0).any():
        raise ValueError(f"n_tasks must be > 0 and strictly increasing, got {m.tolist()}")
    diff = b - a
    for i in range(m.size - 1):
        if diff[i] > 0 and diff[i + 1] <= 0:
            lo, hi = math.log(m[i]), math.log(m[i + 1])
            t = diff[i] / (diff[i] - diff[i + 1])
            return float(math.exp(lo + t * (hi - lo)))
    return None


def threshold(doc: dict[str, Any], split: str = "fresh", metric: str = "mse") -> float | None:
    """:func:`crossing_threshold` of a results file's ``metric`` on ``split``.

    ``metric="nll_gap"`` is allowed but crosses where the exact PPDs' NLLs do, whatever the
    network (module docstring).
    """
    c = curves(doc, split, metric)
    return crossing_threshold(c.n_tasks, c.to_pool, c.to_ridge)


# --------------------------------------------------------------------------------------------
# Step time, command line
# --------------------------------------------------------------------------------------------


def benchmark(model_config: PFNConfig = MODEL, train_config: TrainConfig = TRAIN,
              steps: int = 40, n_tasks: int = 1024) -> dict[str, float]:
    """CPU seconds per training step (median after 5 warm-up steps) of a ``steps``-step run.

    Process CPU time, so a shared core's waiting is left out (its shared caches are not).
    """
    times: list[float] = []
    last = [time.process_time()]

    def tick(_: Any) -> None:
        now = time.process_time()
        times.append(now - last[0])
        last[0] = now

    cfg = budget_config(train_config, steps)
    pool = LinearPool(n_tasks, model_config.n_features, RAVENTOS_SIGMA)
    train(pool, model_config, cfg, progress=False, callback=tick)
    tail = sorted(times[5:]) or times
    return {"cpu_seconds_per_step": tail[len(tail) // 2], "steps": float(steps),
            "threads": float(torch.get_num_threads())}


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m bayeslens.diversity [--pool-sizes ...] [--steps N] ...``.

    Every bad argument is a ValueError naming its flag.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(prog="python -m bayeslens.diversity",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--pool-sizes", default=",".join(map(str, POOL_SIZES)),
                   help="comma-separated pool sizes M (default: 2, 8, ..., 32768)")
    p.add_argument("--steps", default=None, help=f"training steps per M (default {TRAIN.steps})")
    p.add_argument("--model", default="{}",
                   help='JSON overrides of the architecture, e.g. \'{"n_layers": 1}\'')
    p.add_argument("--train", default="{}", help="JSON overrides of the training recipe")
    p.add_argument("--eval-datasets", default=str(EVAL_DATASETS),
                   help="held-out datasets per split (the context curve: a quarter)")
    p.add_argument("--pool-seed", default="0", help="seed of every pool's tasks")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    try:
        sizes = [int(s) for s in args.pool_sizes.split(",") if s.strip()]
    except ValueError:
        sizes = [0]
    if not sizes or min(sizes) < 1:
        raise ValueError(f"--pool-sizes must be comma-separated ints >= 1, got "
                         f"{args.pool_sizes!r}")
    model_over = json_overrides("--model", args.model, PFNConfig)
    train_over = json_overrides("--train", args.train, TrainConfig)
    try:
        model_config = replace(MODEL, **model_over)
    except ValueError as err:
        raise ValueError(f"--model: {err}") from err
    try:
        train_config = replace(TRAIN, **train_over)
    except ValueError as err:
        raise ValueError(f"--train: {err}") from err
    if args.steps is not None:
        if "steps" in train_over:
            raise ValueError("give the steps by --steps or in --train, not both")
        train_config = budget_config(train_config, int_flag("--steps", args.steps, 1))
    eval_datasets = int_flag("--eval-datasets", args.eval_datasets, 2)
    pool_seed = int_flag("--pool-seed", args.pool_seed, 0)
    if model_config.n_features != RAVENTOS_D:
        raise ValueError(f"--model: n_features={model_config.n_features} must be the pool's "
                         f"d = {RAVENTOS_D}")
    sweep(args.out, sizes, model_config, train_config, pool_seed=pool_seed,
          eval_datasets=eval_datasets)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
