"""Gaussian-process regression in closed form (chapter 3, E7).

A zero-mean GP prior with the RBF kernel
k(x, x') = s^2 exp(-(x - x')^2 / (2 l^2)) and Gaussian observation noise of standard
deviation sigma has the posterior, at query points X*,

    mean = K*^T (K + sigma^2 I)^-1 y,    cov = K** - K*^T (K + sigma^2 I)^-1 K*,

(Rasmussen & Williams 2006, eq. 2.25-2.26), computed here with a Cholesky factorisation in
float64. E7 fits the step y = 1[x >= 0], which no smooth GP sample resembles: the truth is
outside the prior's support, and more data make the posterior *more* confident near the jump,
not right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from bayeslens.priors import check_x

__all__ = [
    "E7_SIZES",
    "GPPosterior",
    "e7_data",
    "gp_posterior",
    "outside_band_fraction",
    "rbf_kernel",
]

DTYPE = torch.float64
E7_SIZES = (10, 20, 50, 100, 200, 400)
"""E7: training set sizes."""
Z95 = 1.959963984540054
"""The standard normal's 97.5% quantile: mean +- Z95 std is a central 95% band."""


def rbf_kernel(
    x1: Tensor, x2: Tensor, output_scale: float = 1.0, length_scale: float = 0.4
) -> Tensor:
    """RBF kernel matrix output_scale^2 exp(-(x1_i - x2_j)^2 / (2 length_scale^2)).

    Parameters
    ----------
    x1 : Tensor, shape (n1,)
    x2 : Tensor, shape (n2,)

    Returns
    -------
    Tensor, shape (n1, n2)
    """
    if not output_scale > 0 or not length_scale > 0:
        raise ValueError("output_scale and length_scale must be > 0")
    x1 = check_x(x1, "x1").reshape(-1)
    x2 = check_x(x2, "x2").reshape(-1)
    d2 = (x1[:, None] - x2[None, :]) ** 2
    return output_scale**2 * torch.exp(-d2 / (2 * length_scale**2))


@dataclass(frozen=True)
class GPPosterior:
    """The GP posterior at the query points.

    Attributes
    ----------
    x_query : Tensor, shape (n_query,)
    mean : Tensor, shape (n_query,)
        Posterior mean of the function f.
    std_f : Tensor, shape (n_query,)
        Posterior standard deviation of f (the band the posterior is *certain* about).
    noise_std : float
    log_evidence : float
        log p(y_context) under the GP prior (the log marginal likelihood).
    """

    x_query: Tensor
    mean: Tensor
    std_f: Tensor
    noise_std: float
    log_evidence: float

    @property
    def std_y(self) -> Tensor:
        """Predictive standard deviation of a new observation y = f + noise."""
        return torch.sqrt(self.std_f**2 + self.noise_std**2)

    def band(self, of: str = "f") -> tuple[Tensor, Tensor]:
        """Central 95% band (lower, upper) of f (``of="f"``) or of a new y (``of="y"``)."""
        if of not in ("f", "y"):
            raise ValueError(f"of must be 'f' or 'y', got {of!r}")
        std = self.std_f if of == "f" else self.std_y
        return self.mean - Z95 * std, self.mean + Z95 * std


def gp_posterior(
    x_context: Tensor,
    y_context: Tensor,
    x_query: Tensor,
    *,
    output_scale: float = 1.0,
    length_scale: float = 0.4,
    noise_std: float = 0.1,
) -> GPPosterior:
    """Exact GP regression posterior (zero prior mean, RBF kernel, fixed hyperparameters).

    Parameters
    ----------
    x_context, y_context : Tensor, shape (n_context,)
    x_query : Tensor, shape (n_query,)
    """
    if not noise_std > 0:
        raise ValueError(f"noise_std must be > 0, got {noise_std}")
    x_context = check_x(x_context, "x_context").reshape(-1)
    y_context = check_x(y_context, "y_context").reshape(-1)
    x_query = check_x(x_query, "x_query").reshape(-1)
    if x_context.shape != y_context.shape:
        raise ValueError("x_context and y_context must have the same length")
    n = x_context.numel()
    k_cc = rbf_kernel(x_context, x_context, output_scale, length_scale)
    k_cc = k_cc + noise_std**2 * torch.eye(n, dtype=DTYPE)
    k_cq = rbf_kernel(x_context, x_query, output_scale, length_scale)  # (n_context, n_query)
    chol = torch.linalg.cholesky(k_cc)  # (n_context, n_context), lower
    alpha = torch.cholesky_solve(y_context[:, None], chol)[:, 0]  # (K + s^2 I)^-1 y
    mean = k_cq.T @ alpha
    v = torch.linalg.solve_triangular(chol, k_cq, upper=False)  # (n_context, n_query)
    var = output_scale**2 - (v**2).sum(0)
    log_evidence = (
        -0.5 * float(y_context @ alpha)
        - float(torch.log(torch.diagonal(chol)).sum())
        - 0.5 * n * math.log(2 * math.pi)
    )
    return GPPosterior(x_query, mean, var.clamp(min=0).sqrt(), noise_std, log_evidence)


def e7_data(n: int) -> tuple[Tensor, Tensor]:
    """E7's training set: x = linspace(-2, 2, n), y = 1[x >= 0] (noise-free)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    x = torch.linspace(-2, 2, n, dtype=DTYPE)
    return x, (x >= 0).to(DTYPE)


def outside_band_fraction(post: GPPosterior, truth: Tensor, of: str = "f") -> float:
    """Fraction of query points where ``truth`` (n_query,) lies outside the 95% band."""
    lower, upper = post.band(of)
    outside = (truth < lower) | (truth > upper)
    return float(outside.to(DTYPE).mean())
