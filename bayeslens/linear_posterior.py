"""Exact posteriors and posterior predictives (PPD) of the linear-regression priors.

For a context D = (X, y) with X of shape (n, d) and the likelihood y_i ~ N(w . x_i, sigma^2):

* **Finite pool** (:class:`~bayeslens.linear.LinearPool`, the "discrete MMSE" estimator of
  Raventós et al., 2023): with a uniform prior over the tasks w_1, ..., w_M,

      log p(m | D) = log_softmax_m( sum_i log N(y_i; w_m . x_i, sigma^2) ),

  and the PPD at a query x_q is the mixture sum_m p(m | D) N(y; w_m . x_q, sigma^2). A task's
  log-likelihood depends on the context only through y^T y, X^T y and X^T X, so all M of them
  are one matmul of the context's statistics with per-task features (w_j w_k, w_j, 1), and the
  PPD's mean and variance need only the posterior moments of w; the log density at a query is
  one logsumexp over the tasks.
* **Gaussian prior** (:class:`~bayeslens.linear.LinearGaussian`, w ~ N(0, I_d)): the posterior
  is N(mu, Sigma) with Sigma = (I + X^T X / sigma^2)^-1 and mu = Sigma X^T y / sigma^2, that is
  ridge regression with penalty sigma^2: mu = (X^T X + sigma^2 I)^-1 X^T y. The PPD at x_q is
  N(x_q . mu, sigma^2 + x_q^T Sigma x_q), and y ~ N(0, X X^T + sigma^2 I) gives the evidence.

Contexts come unbatched, x_context (n_context, d) and y_context (n_context,), or batched,
(batch, n_context, d) and (batch, n_context); outputs then carry the same leading batch axis.
An empty context (n_context = 0) gives the prior predictive. Everything runs in float64 and log
space, vectorised over datasets; the slow, obviously right references live in
``tests/test_linear.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from bayeslens._checks import check_generator
from bayeslens.linear import LinearGaussian, LinearPool
from bayeslens.priors import check_x

__all__ = [
    "MAX_ELEMENTS",
    "GaussianPosterior",
    "PoolPosterior",
    "Predictive",
    "gaussian_posterior",
    "least_squares",
    "pool_posterior",
    "predictive",
    "sample_predictive",
]

LOG_2PI = math.log(2 * math.pi)
MAX_ELEMENTS = 2**24
"""The pool's per-task temporaries, (chunk, n_query, M) log kernels for the log density and
(chunk, M) log weights in :func:`predictive`, come in chunks of datasets of at most this many
float64 entries (128 MB); with logsumexp's own, the peak is about 3 x 8 x MAX_ELEMENTS bytes
(400 MB) however many datasets there are. One dataset is the smallest chunk: 24 n_query M
bytes (160 MB for 100 queries and M = 2^16)."""


class Predictive(NamedTuple):
    """The PPD at each query: its mean, variance and log density at the query's target.

    Attributes
    ----------
    mean : Tensor, shape (..., n_query)
    variance : Tensor, shape (..., n_query)
    log_density : Tensor, shape (..., n_query), or None
        log p(y_query | x_query, D); None when no targets were given.
    """

    mean: Tensor
    variance: Tensor
    log_density: Tensor | None


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------


def _check_prior(prior: object, *kinds: type) -> None:
    if not isinstance(prior, kinds):
        names = " or ".join(kind.__name__ for kind in kinds)
        raise ValueError(f"prior must be a {names}, got {type(prior).__name__}")


def _check_context(d: int, x_context: object, y_context: object) -> tuple[Tensor, Tensor]:
    """x_context (..., n_context, d) and y_context (..., n_context) as float64, or ValueError.

    The leading axis ``...`` is empty or (batch,).
    """
    x = check_x(x_context, "x_context")
    y = check_x(y_context, "y_context")
    if x.ndim not in (2, 3):
        raise ValueError(
            "x_context must have shape (n_context, d) or (batch, n_context, d), got "
            f"{tuple(x.shape)}"
        )
    if x.shape[-1] != d:
        raise ValueError(
            f"x_context must have the prior's d = {d} features in its last dimension, "
            f"got {x.shape[-1]}"
        )
    if y.shape != x.shape[:-1]:
        raise ValueError(
            f"y_context must have shape {tuple(x.shape[:-1])} (x_context's without d), "
            f"got {tuple(y.shape)}"
        )
    return x, y


def _check_query(
    d: int, batch_shape: tuple[int, ...], x_query: object, y_query: object | None
) -> tuple[Tensor, Tensor | None]:
    """x_query (..., n_query, d) and y_query (..., n_query), with the posterior's batch shape."""
    x = check_x(x_query, "x_query")
    want = "(n_query, d)" if not batch_shape else f"({batch_shape[0]}, n_query, d)"
    if x.ndim != len(batch_shape) + 2 or tuple(x.shape[:-2]) != batch_shape:
        raise ValueError(
            f"x_query must have shape {want} (like the context, one query set per dataset), "
            f"got {tuple(x.shape)}"
        )
    if x.shape[-1] != d:
        raise ValueError(
            f"x_query must have the prior's d = {d} features in its last dimension, "
            f"got {x.shape[-1]}"
        )
    if y_query is None:
        return x, None
    y = check_x(y_query, "y_query")
    if y.shape != x.shape[:-1]:
        raise ValueError(
            f"y_query must have shape {tuple(x.shape[:-1])} (x_query's without d), "
            f"got {tuple(y.shape)}"
        )
    return x, y


def _check_max_elements(max_elements: object) -> int:
    if not isinstance(max_elements, int) or isinstance(max_elements, bool) or max_elements < 1:
        raise ValueError(f"max_elements must be an int >= 1, got {max_elements!r}")
    return max_elements


def _chunks(n_datasets: int, per_dataset: int, max_elements: int) -> list[slice]:
    """Slices of datasets, each holding at most max_elements / per_dataset (at least one)."""
    size = max(1, max_elements // max(1, per_dataset))
    return [slice(i, i + size) for i in range(0, n_datasets, size)] or [slice(0, 0)]


def _log_density_or_raise(pred: Predictive) -> Tensor:
    if pred.log_density is None:  # unreachable: callers pass targets
        raise ValueError("y_query is required for the log density")
    return pred.log_density


def _gaussian_log_pdf(y: Tensor, mean: Tensor, variance: Tensor | float) -> Tensor:
    var = torch.as_tensor(variance, dtype=y.dtype)
    return -0.5 * ((y - mean) ** 2 / var + torch.log(var) + LOG_2PI)


# --------------------------------------------------------------------------------------------
# Finite pool
# --------------------------------------------------------------------------------------------


def _task_features(w: Tensor) -> Tensor:
    """Per-task features [w_j w_k for j <= k, w_j, 1], shape (M, F) with F = (d + 1)(d + 2) / 2.

    Every log-likelihood of a task is linear in them (:func:`_point_stats`).
    """
    j, k = torch.triu_indices(w.shape[-1], w.shape[-1])
    return torch.cat([w[:, j] * w[:, k], w, torch.ones(w.shape[0], 1, dtype=w.dtype)], 1)


def _pair_features(x: Tensor) -> Tensor:
    """c_jk x_j x_k for j <= k (c_jk = 2 off the diagonal, 1 on it), shape (..., d (d + 1) / 2).

    Against the pairs w_j w_k of :func:`_task_features` they give (w . x)^2, and against the
    moments E[w_j w_k] they give x^T E[w w^T] x.
    """
    j, k = torch.triu_indices(x.shape[-1], x.shape[-1])
    c = torch.where(j == k, 1.0, 2.0).to(x.dtype)
    return c * x[..., j] * x[..., k]


def _point_stats(x: Tensor, y: Tensor, sigma: float) -> Tensor:
    """Each point's statistics s_i, shape (..., n, F), against :func:`_task_features` phi(w).

    log N(y_i; w . x_i, sigma^2) = s_i . phi(w) - log sigma - log(2 pi) / 2, since
    (y - w . x)^2 = (w . x)^2 - 2 y x . w + y^2 (:func:`_pair_features`). A context's
    log-likelihood is (sum_i s_i) . phi(w) plus a constant.
    """
    stats = torch.cat([_pair_features(x), -2 * y[..., None] * x, (y * y)[..., None]], -1)
    return stats * (-0.5 / sigma**2)


@dataclass(frozen=True)
class PoolPosterior:
    """The posterior over a pool's M tasks for one context or a batch of contexts.

    The leading axis ``...`` is empty for an unbatched context, else (batch,). Holding
    `log_weights` takes 8 batch M bytes (5 GB for 10,000 datasets and M = 2^16): for many
    datasets, :func:`predictive` works through them in chunks and keeps only the PPD.

    Attributes
    ----------
    pool : LinearPool
    log_weights : Tensor, shape (..., n_tasks)
        log p(m | D), normalised over the pool (log-sum-exp 0 along the last axis).
    log_evidence : Tensor, shape (...)
        log p(y_context | x_context) = logsumexp_m log p(y_context | x_context, m) - log M.
    """

    pool: LinearPool
    log_weights: Tensor
    log_evidence: Tensor

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """() for an unbatched context, else (batch,)."""
        return tuple(self.log_evidence.shape)

    def task_mean(self) -> Tensor:
        """Posterior mean of the weights, sum_m p(m | D) w_m, shape (..., d)."""
        return torch.exp(self.log_weights) @ self.pool.w

    def mean(self, x_query: object) -> Tensor:
        """PPD mean sum_m p(m | D) w_m . x_q at each query.

        Parameters
        ----------
        x_query : Tensor, shape (..., n_query, d)
            With the posterior's batch axis, if any.

        Returns
        -------
        Tensor, shape (..., n_query)
        """
        x, _ = _check_query(self.pool.d, self.batch_shape, x_query, None)
        return (x @ self.task_mean()[..., :, None])[..., 0]

    def variance(self, x_query: object) -> Tensor:
        """PPD variance sigma^2 + x_q^T C x_q, shape (..., n_query).

        C = sum_m p(m | D) w_m w_m^T - w_bar w_bar^T is the posterior covariance of the weights
        (w_bar = :meth:`task_mean`), so a query costs d^2, nothing per task. The difference
        loses about 1e-16 (w_bar . x_q)^2 to rounding, negligible next to sigma^2.
        """
        x, _ = _check_query(self.pool.d, self.batch_shape, x_query, None)
        return self._mixture(x, None, _task_features(self.pool.w), MAX_ELEMENTS).variance

    def log_density(
        self, x_query: object, y_query: object, *, max_elements: int = MAX_ELEMENTS
    ) -> Tensor:
        """log PPD density at paired targets: log sum_m p(m | D) N(y_q; w_m . x_q, sigma^2).

        Parameters
        ----------
        x_query : Tensor, shape (..., n_query, d)
        y_query : Tensor, shape (..., n_query)

        Returns
        -------
        Tensor, shape (..., n_query)
            Each needs every task: temporaries (chunk, n_query, M), see :data:`MAX_ELEMENTS`.
        """
        x, y = _check_query(self.pool.d, self.batch_shape, x_query, y_query)
        phi = _task_features(self.pool.w)
        return _log_density_or_raise(self._mixture(x, y, phi, _check_max_elements(max_elements)))

    def predict(
        self, x_query: object, y_query: object | None = None, *, max_elements: int = MAX_ELEMENTS
    ) -> Predictive:
        """Mean, variance and (with `y_query`) log density of the PPD, in one pass."""
        x, y = _check_query(self.pool.d, self.batch_shape, x_query, y_query)
        phi = _task_features(self.pool.w)
        return self._mixture(x, y, phi, _check_max_elements(max_elements))

    def _mixture(self, x: Tensor, y: Tensor | None, phi: Tensor, max_elements: int) -> Predictive:
        """The mixture's moments and log density; x (..., n_query, d), y (..., n_query).

        `phi` is :func:`_task_features` of the pool's weights, shape (M, F).
        """
        d, sigma = self.pool.d, self.pool.sigma
        p = torch.exp(self.log_weights)  # (..., M)
        moments = p @ phi  # (..., F): E[w_j w_k] for j <= k, then E[w_j], then 1
        n_pairs = d * (d + 1) // 2
        w_bar = moments[..., n_pairs : n_pairs + d]
        mean = (x @ w_bar[..., :, None])[..., 0]  # (..., n_query)
        second = (_pair_features(x) @ moments[..., :n_pairs, None])[..., 0]  # x^T E[w w^T] x
        variance = sigma**2 + (second - mean * mean).clamp_min(0.0)
        if y is None:
            return Predictive(mean, variance, None)
        unbatched = not self.batch_shape
        log_w = self.log_weights[None] if unbatched else self.log_weights  # (batch, M)
        xb, yb = (x[None], y[None]) if unbatched else (x, y)
        n_data, n_query = xb.shape[0], xb.shape[1]
        log_density = torch.empty(n_data, n_query, dtype=x.dtype)
        const = math.log(sigma) + 0.5 * LOG_2PI
        for s in _chunks(n_data, n_query * self.pool.n_tasks, max_elements):
            log_k = _point_stats(xb[s], yb[s], sigma) @ phi.T  # (chunk, n_query, M)
            log_k += log_w[s][:, None, :]
            log_density[s] = torch.logsumexp(log_k, dim=-1) - const
        return Predictive(mean, variance, log_density[0] if unbatched else log_density)


def pool_posterior(pool: LinearPool, x_context: object, y_context: object) -> PoolPosterior:
    """The exact posterior over the pool's tasks (uniform prior) for a context.

    A task's log-likelihood depends on the context only through y^T y, X^T y and X^T X, so
    all of them are one matmul of the context's statistics (batch, F) with the tasks' features
    (F, M), F = (d + 1)(d + 2) / 2 (45 for d = 8): batch M F multiply-adds whatever n_context,
    no Python loop over datasets or tasks. Rounding moves a log-likelihood by about
    1e-16 y^T y / sigma^2.

    Parameters
    ----------
    pool : LinearPool
    x_context : Tensor, shape (n_context, d) or (batch, n_context, d)
    y_context : Tensor, shape (n_context,) or (batch, n_context)

    Returns
    -------
    PoolPosterior
        With `log_weights` (..., M) and `log_evidence` (...).

    Memory: 8 M F bytes for the features (24 MB for M = 2^16, d = 8) and a few times
    8 batch M bytes for the log weights; :func:`predictive` bounds the latter by chunks.
    """
    _check_prior(pool, LinearPool)
    x, y = _check_context(pool.d, x_context, y_context)
    return _pool_posterior(pool, x, y, _task_features(pool.w))


def _pool_posterior(pool: LinearPool, x: Tensor, y: Tensor, phi: Tensor) -> PoolPosterior:
    n = x.shape[-2]
    stats = _point_stats(x, y, pool.sigma).sum(-2)  # (..., F)
    log_lik = stats @ phi.T - n * (math.log(pool.sigma) + 0.5 * LOG_2PI)  # (..., M)
    log_norm = torch.logsumexp(log_lik, dim=-1)
    log_weights = log_lik - log_norm[..., None]
    return PoolPosterior(pool, log_weights, log_norm - math.log(pool.n_tasks))


# --------------------------------------------------------------------------------------------
# Gaussian prior
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GaussianPosterior:
    """The posterior N(mu, Sigma) over w under the Gaussian prior w ~ N(0, I_d).

    Attributes
    ----------
    sigma : float
        Noise standard deviation.
    mu : Tensor, shape (..., d)
        Posterior mean, the ridge estimate (X^T X + sigma^2 I)^-1 X^T y.
    precision_tril : Tensor, shape (..., d, d)
        Lower Cholesky factor L of the posterior precision I + X^T X / sigma^2 = L L^T.
    log_evidence : Tensor, shape (...)
        log p(y_context | x_context), the density of y ~ N(0, X X^T + sigma^2 I).

    The leading axis ``...`` is empty for an unbatched context, else (batch,).
    """

    sigma: float
    mu: Tensor
    precision_tril: Tensor
    log_evidence: Tensor

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """() for an unbatched context, else (batch,)."""
        return tuple(self.log_evidence.shape)

    @property
    def cov(self) -> Tensor:
        """Posterior covariance Sigma = (I + X^T X / sigma^2)^-1, shape (..., d, d)."""
        return torch.cholesky_inverse(self.precision_tril)

    def mean(self, x_query: object) -> Tensor:
        """PPD mean x_q . mu (the ridge prediction), shape (..., n_query).

        Parameters
        ----------
        x_query : Tensor, shape (..., n_query, d)
            With the posterior's batch axis, if any.
        """
        x, _ = _check_query(self.mu.shape[-1], self.batch_shape, x_query, None)
        return (x @ self.mu[..., :, None])[..., 0]

    def variance(self, x_query: object) -> Tensor:
        """PPD variance sigma^2 + x_q^T Sigma x_q, shape (..., n_query)."""
        x, _ = _check_query(self.mu.shape[-1], self.batch_shape, x_query, None)
        return self._variance(x)

    def log_density(self, x_query: object, y_query: object) -> Tensor:
        """log PPD density log N(y_q; x_q . mu, sigma^2 + x_q^T Sigma x_q), shape (..., n_query).

        Parameters
        ----------
        x_query : Tensor, shape (..., n_query, d)
        y_query : Tensor, shape (..., n_query)
        """
        return _log_density_or_raise(self.predict(x_query, y_query))

    def predict(self, x_query: object, y_query: object | None = None) -> Predictive:
        """Mean, variance and (with `y_query`) log density of the PPD."""
        x, y = _check_query(self.mu.shape[-1], self.batch_shape, x_query, y_query)
        mean = (x @ self.mu[..., :, None])[..., 0]
        var = self._variance(x)
        return Predictive(mean, var, None if y is None else _gaussian_log_pdf(y, mean, var))

    def _variance(self, x: Tensor) -> Tensor:
        # x^T Sigma x = |L^-1 x|^2 with Sigma^-1 = L L^T: one triangular solve, no inverse.
        v = torch.linalg.solve_triangular(self.precision_tril, x.mT, upper=False)  # (..., d, n_q)
        return self.sigma**2 + (v * v).sum(-2)


def gaussian_posterior(
    prior: LinearGaussian, x_context: object, y_context: object
) -> GaussianPosterior:
    """The exact posterior over w under w ~ N(0, I_d), by a Cholesky factorisation.

    With the precision A = I + X^T X / sigma^2 = L L^T: mu = A^-1 X^T y / sigma^2 by two
    triangular solves, and the log evidence of y ~ N(0, X X^T + sigma^2 I) from the d x d
    factor alone (determinant lemma: log det(X X^T + sigma^2 I) = n log sigma^2 + log det A;
    y^T (X X^T + sigma^2 I)^-1 y = r^T r / sigma^2 + mu^T mu with r = y - X mu), so the cost is
    n_context d^2 per dataset, batched without Python loops.

    Parameters
    ----------
    prior : LinearGaussian
    x_context : Tensor, shape (n_context, d) or (batch, n_context, d)
    y_context : Tensor, shape (n_context,) or (batch, n_context)

    Returns
    -------
    GaussianPosterior
        With mu (..., d), precision_tril (..., d, d) and log_evidence (...).
    """
    _check_prior(prior, LinearGaussian)
    x, y = _check_context(prior.d, x_context, y_context)
    sigma2 = prior.sigma**2
    n = x.shape[-2]
    eye = torch.eye(prior.d, dtype=x.dtype)
    precision = eye + x.mT @ x / sigma2  # (..., d, d)
    tril = torch.linalg.cholesky(precision)
    mu = torch.cholesky_solve(x.mT @ y[..., None] / sigma2, tril)[..., 0]  # (..., d)
    resid = y - (x @ mu[..., None])[..., 0]  # (..., n_context)
    log_det = 2 * torch.log(torch.diagonal(tril, dim1=-2, dim2=-1)).sum(-1)
    quad = (resid * resid).sum(-1) / sigma2 + (mu * mu).sum(-1)
    log_evidence = -0.5 * (n * (LOG_2PI + math.log(sigma2)) + log_det + quad)
    return GaussianPosterior(prior.sigma, mu, tril, log_evidence)


# --------------------------------------------------------------------------------------------
# One entry point for evaluation
# --------------------------------------------------------------------------------------------


def predictive(
    prior: LinearPool | LinearGaussian,
    x_context: object,
    y_context: object,
    x_query: object,
    y_query: object | None = None,
    *,
    max_elements: int = MAX_ELEMENTS,
) -> Predictive:
    """The exact PPD of either linear prior at the queries, for one or many datasets.

    For a pool, datasets are processed in chunks (see :data:`MAX_ELEMENTS`), so 10,000
    datasets with M = 2^16 never hold more than a chunk's (chunk, n_query, M) temporaries;
    only the (batch, n_query) outputs are kept. Mean and variance cost d^2 per task and
    dataset, the log density one logsumexp over the tasks per query.

    Parameters
    ----------
    prior : LinearPool or LinearGaussian
    x_context : Tensor, shape (n_context, d) or (batch, n_context, d)
    y_context : Tensor, shape (n_context,) or (batch, n_context)
    x_query : Tensor, shape (n_query, d) or (batch, n_query, d)
        Batched exactly when the context is.
    y_query : Tensor, shape (n_query,) or (batch, n_query), optional
        Targets for the log density.

    Returns
    -------
    Predictive
        mean, variance and log_density, each (..., n_query).
    """
    _check_prior(prior, LinearPool, LinearGaussian)
    if isinstance(prior, LinearGaussian):
        return gaussian_posterior(prior, x_context, y_context).predict(x_query, y_query)
    max_elements = _check_max_elements(max_elements)
    x, y = _check_context(prior.d, x_context, y_context)
    batch_shape = tuple(x.shape[:-2])
    xq, yq = _check_query(prior.d, batch_shape, x_query, y_query)
    phi = _task_features(prior.w)
    if not batch_shape:
        return _pool_posterior(prior, x, y, phi)._mixture(xq, yq, phi, max_elements)
    means, variances, log_densities = [], [], []
    for s in _chunks(x.shape[0], max(1, xq.shape[1]) * prior.n_tasks, max_elements):
        post = _pool_posterior(prior, x[s], y[s], phi)
        part = post._mixture(xq[s], None if yq is None else yq[s], phi, max_elements)
        means.append(part.mean)
        variances.append(part.variance)
        if part.log_density is not None:
            log_densities.append(part.log_density)
    return Predictive(
        torch.cat(means), torch.cat(variances), torch.cat(log_densities) if yq is not None else None
    )


def sample_predictive(
    prior: LinearPool | LinearGaussian,
    x_context: object,
    y_context: object,
    x_query: object,
    generator: torch.Generator,
    *,
    max_elements: int = MAX_ELEMENTS,
) -> Tensor:
    """One draw of y from the exact PPD at every query, independently across queries.

    For the Gaussian prior y = x_q . mu + sqrt(sigma^2 + x_q^T Sigma x_q) eps; for a pool each
    query draws its own task m ~ p(m | D) and then y = w_m . x_q + sigma eps, so a draw follows
    the query's marginal PPD (a mixture), not one task shared by the dataset's queries. The
    pool's posterior is formed in chunks of datasets as in :func:`predictive`.

    Parameters
    ----------
    prior : LinearPool or LinearGaussian
    x_context, y_context, x_query
        As for :func:`predictive`: (n_context, d), (n_context,), (n_query, d), or batched.
    generator : torch.Generator
        Every random number comes from it (task indices first, then the noise).

    Returns
    -------
    Tensor, shape (..., n_query), float64
    """
    _check_prior(prior, LinearPool, LinearGaussian)
    gen = check_generator(generator)
    max_elements = _check_max_elements(max_elements)
    x, y = _check_context(prior.d, x_context, y_context)
    batch_shape = tuple(x.shape[:-2])
    xq, _ = _check_query(prior.d, batch_shape, x_query, None)
    if isinstance(prior, LinearGaussian):
        pred = gaussian_posterior(prior, x, y).predict(xq)
        eps = torch.randn(pred.mean.shape, generator=gen, dtype=pred.mean.dtype)
        return pred.mean + pred.variance.sqrt() * eps
    xb, yb, xqb = (x[None], y[None], xq[None]) if not batch_shape else (x, y, xq)
    n_query = xqb.shape[1]
    phi = _task_features(prior.w)
    task = torch.empty(xb.shape[0], n_query, dtype=torch.int64)
    if n_query:
        for s in _chunks(xb.shape[0], prior.n_tasks, max_elements):
            p = torch.exp(_pool_posterior(prior, xb[s], yb[s], phi).log_weights)  # (chunk, M)
            task[s] = torch.multinomial(p, n_query, replacement=True, generator=gen)
    w = prior.w[task]  # (batch, n_query, d)
    eps = torch.randn(task.shape, generator=gen, dtype=w.dtype)
    draws = (w * xqb).sum(-1) + prior.sigma * eps
    return draws if batch_shape else draws[0]


def least_squares(x_context: object, y_context: object) -> Tensor:
    """Least-squares weights X^+ y, the minimum-norm solution where the context leaves w open.

    With the Moore-Penrose pseudo-inverse X^+ (by SVD, ``torch.linalg.pinv``): for
    n_context >= d and X of full column rank this is ordinary least squares
    (X^T X)^-1 X^T y; for n_context < d it is the w of smallest norm with X w = y, the
    interpolating solution (Garg et al.'s "least squares" baseline; its error peaks at
    n_context = d). It is ridge regression in the limit of no penalty, and knows no prior:
    no sigma, no d beyond x's.

    Parameters
    ----------
    x_context : Tensor, shape (n_context, d) or (batch, n_context, d)
    y_context : Tensor, shape (n_context,) or (batch, n_context)

    Returns
    -------
    Tensor, shape (..., d), float64
        Predict at x_q with ``x_q @ w``.
    """
    x0 = check_x(x_context, "x_context")
    x, y = _check_context(int(x0.shape[-1]) if x0.ndim else 0, x0, y_context)
    return (torch.linalg.pinv(x) @ y[..., None])[..., 0]
