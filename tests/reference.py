"""Slow, obviously right references for the exact posterior: broadcast over latents x points.

Each function evaluates the textbook formula latent by latent (in chunks to bound memory), with
no structure exploited, so it can be read against the maths in one glance:

    log p(L | D) = log p(L) + sum_i log N(y_i; m_L(x_i), sigma^2) - log p(D)
    p(y | x, D)  = sum_L p(L | D) N(y; m_L(x), sigma^2)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from bayeslens.priors import DTYPE, CoinPrior, Prior

CHUNK = 2**16


def log_joint(prior: Prior, x: Tensor, y: Tensor) -> Tensor:
    """log p(L) + log p(D | L) for every latent, shape (n_latents,)."""
    x = torch.as_tensor(x, dtype=DTYPE)
    y = torch.as_tensor(y, dtype=DTYPE)
    lp = prior.log_prior()
    out = torch.empty(prior.n_latents, dtype=DTYPE)
    chunk = max(1, 2**23 // max(1, x.numel()))
    for i in range(0, prior.n_latents, chunk):
        latent = torch.arange(i, min(i + chunk, prior.n_latents))
        m = prior.mean(x.expand(latent.numel(), -1), latent)  # (chunk, points)
        if isinstance(prior, CoinPrior):
            ll = (torch.xlogy(y, m) + torch.xlogy(1 - y, 1 - m)).sum(-1)  # 0 log 0 = 0
        else:
            s = prior.sigma
            ll = (-0.5 * ((y - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)).sum(-1)
        out[i : i + latent.numel()] = lp[latent] + ll
    return out


def log_weights(prior: Prior, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """(log p(L | D) for every latent, log p(D))."""
    lj = log_joint(prior, x, y)
    log_evidence = torch.logsumexp(lj, 0)
    return lj - log_evidence, log_evidence


def _kept(log_w: Tensor, prune: float | None) -> Tensor:
    """All latent indices, or those within `prune` nats of the best (a bounded truncation)."""
    if prune is None:
        return torch.arange(log_w.numel())
    return (log_w >= log_w.max() - prune).nonzero()[:, 0]


def ppd_mean(prior: Prior, log_w: Tensor, x_query: Tensor) -> Tensor:
    """sum_L p(L | D) m_L(x_query), shape (n_query,), from log_w = log p(L | D)."""
    w = log_w.exp()
    out = torch.zeros(x_query.numel(), dtype=DTYPE)
    for i in range(0, prior.n_latents, CHUNK):
        latent = torch.arange(i, min(i + CHUNK, prior.n_latents))
        m = prior.mean(x_query.expand(latent.numel(), -1), latent)  # (chunk, n_query)
        out += (w[latent, None] * m).sum(0)
    return out


def ppd_density(
    prior: Prior, log_w: Tensor, x_query: Tensor, y_grid: Tensor, prune: float | None = None
) -> Tensor:
    """sum_L p(L | D) N(y_grid; m_L(x_query), sigma^2), shape (n_query, n_y).

    With `prune`, latents more than `prune` nats below the best are left out (each weighs less
    than exp(-prune); at prune = 60 that is below 1e-26).
    """
    keep = _kept(log_w, prune)
    out = torch.zeros(x_query.numel(), y_grid.numel(), dtype=DTYPE)
    s = prior.sigma
    chunk = max(1, 2**22 // (x_query.numel() * y_grid.numel()))
    for i in range(0, keep.numel(), chunk):
        latent = keep[i : i + chunk]
        m = prior.mean(x_query.expand(latent.numel(), -1), latent)  # (chunk, n_query)
        z = (y_grid[None, None, :] - m[:, :, None]) / s
        dens = torch.exp(-0.5 * z * z) / (s * math.sqrt(2 * math.pi))
        out += (log_w[latent].exp()[:, None, None] * dens).sum(0)
    return out


def ppd_cdf_at(
    prior: Prior, log_w: Tensor, keep: Tensor, x_query: Tensor, y: Tensor
) -> Tensor:
    """sum_L p(L | D) Phi((y - m_L(x)) / sigma) at paired (x_query[i], y[i])."""
    out = torch.zeros(x_query.numel(), dtype=DTYPE)
    chunk = max(1, 2**22 // x_query.numel())
    for i in range(0, keep.numel(), chunk):
        latent = keep[i : i + chunk]
        m = prior.mean(x_query.expand(latent.numel(), -1), latent)  # (chunk, n_query)
        cdf = 0.5 * torch.erfc(-(y[None, :] - m) / (prior.sigma * math.sqrt(2)))
        out += (log_w[latent].exp()[:, None] * cdf).sum(0)
    return out


def ppd_quantiles(
    prior: Prior, log_w: Tensor, x_query: Tensor, levels: Tensor, prune: float = 60.0
) -> Tensor:
    """Quantiles by plain bisection on the reference CDF, shape (n_query, n_levels)."""
    keep = _kept(log_w, prune)
    out = torch.empty(x_query.numel(), levels.numel(), dtype=DTYPE)
    for j, level in enumerate(levels):
        lo = torch.full((x_query.numel(),), -50.0, dtype=DTYPE)
        hi = torch.full((x_query.numel(),), 50.0, dtype=DTYPE)
        for _ in range(80):
            mid = (lo + hi) / 2
            below = ppd_cdf_at(prior, log_w, keep, x_query, mid) < level
            lo = torch.where(below, mid, lo)
            hi = torch.where(below, hi, mid)
        out[:, j] = (lo + hi) / 2
    return out
