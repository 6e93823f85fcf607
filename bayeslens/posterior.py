"""Exact posteriors and posterior predictives (PPD) over finite sets of latents.

For a prior with latents L and a context D = (x_context, y_context),

    p(L | D) ∝ p(L) prod_i N(y_i; m_L(x_i), sigma^2),
    p(y | x, D) = sum_L p(L | D) N(y; m_L(x), sigma^2).

Fast paths exploit each family's structure so the cost does not grow with latents x points:

* **steps** m = b + a 1[x > c]: for a change point c the log-likelihood splits into a part in b
  (points left of c) and a part in u = b + a (points right of c), each fixed by three sums. On
  aligned grids u takes few distinct values, so all sums over (b, a) become two small matrix
  products per c. The PPD at any query is a mixture over the distinct means b and u.
* **sines and lines** m = theta_L . phi(x) with phi = (1, x, sin f x, cos f x): the
  log-likelihood is a quadratic form in theta_L with a 4x4 Gram matrix summed once over the
  data (per distinct f), so 2M context points cost one pass.
* **coin**: k heads in n flips is all that matters.

Everything runs in float64 and log space; the slow, obviously right references live in
``tests/reference.py`` and are compared with these on random priors and every paper context.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from bayeslens.priors import (
    DTYPE,
    CoinPrior,
    Mixture,
    Prior,
    SinePrior,
    StepPrior,
    check_x,
    unravel,
)

__all__ = ["Atoms", "Posterior", "check_context", "posterior"]

LOG_2PI = math.log(2 * math.pi)
PRUNE_LOG_WEIGHT = -60.0
"""Latents with log p(L|D) below max - 60 carry < 1e-26 of the mass each and are skipped in
PPD sums over individual latents (at most 1e-19 in total for 10M latents)."""


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------


def check_context(prior: Prior, x_context: object, y_context: object) -> tuple[Tensor, Tensor]:
    """Validate a context and return it as float64 tensors of shape (points,).

    Raises
    ------
    ValueError
        If x_context or y_context is not 1-d, their lengths differ, they hold NaN or inf, or a
        coin context holds labels other than 0 and 1.
    """
    if not isinstance(prior, StepPrior | SinePrior | Mixture | CoinPrior):
        raise ValueError(f"prior must be a bayeslens prior, got {type(prior).__name__}")
    x = check_x(x_context, "x_context")
    y = check_x(y_context, "y_context")
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(
            f"x_context and y_context must be 1-d (points,), got shapes {tuple(x.shape)} "
            f"and {tuple(y.shape)}"
        )
    if x.shape != y.shape:
        raise ValueError(
            f"x_context and y_context must have the same length, got {x.numel()} and "
            f"{y.numel()}"
        )
    if isinstance(prior, CoinPrior) and not ((y == 0) | (y == 1)).all():
        raise ValueError("y_context must hold class labels 0 or 1 for the coin prior")
    _check_in_range(prior, x, "x_context")
    return x.contiguous(), y.contiguous()


def _check_in_range(prior: Prior, x: Tensor, name: str) -> None:
    """Where p(x) = 0 the posterior is undefined: refuse x outside the prior's x_range."""
    lo, hi = prior.x_range
    if x.numel() and ((x < lo) | (x > hi)).any():
        raise ValueError(
            f"{name} must lie in the prior's x range [{lo}, {hi}] (p(x) = 0 outside it, so the "
            f"posterior is undefined there), got values in [{float(x.min())}, {float(x.max())}]"
        )


def _check_query(prior: Prior, x_query: object) -> Tensor:
    x = check_x(x_query, "x_query")
    if x.ndim == 0:
        x = x.reshape(1)
    if x.ndim != 1:
        raise ValueError(f"x_query must be 1-d (n_query,), got shape {tuple(x.shape)}")
    _check_in_range(prior, x, "x_query")
    return x.contiguous()


def _check_grid(y_grid: object, name: str = "y_grid") -> Tensor:
    y = check_x(y_grid, name)
    if y.ndim != 1 or y.numel() == 0:
        raise ValueError(f"{name} must be a non-empty 1-d tensor, got shape {tuple(y.shape)}")
    return y


# --------------------------------------------------------------------------------------------
# The PPD as a mixture of Gaussian atoms
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Atoms:
    """The PPD at each query as a mixture of Gaussians N(mu_k, sigma^2) with weights mass_k.

    Attributes
    ----------
    mu : Tensor, shape (1, n_atoms) or (n_query, n_atoms)
        Atom means; one shared row when the atoms do not depend on the query.
    mass : Tensor, shape (n_query, n_atoms)
        Posterior mass of each atom; each row sums to one.
    sigma : float
    """

    mu: Tensor
    mass: Tensor
    sigma: float

    @staticmethod
    def cat(parts: list[Atoms]) -> Atoms:
        """Concatenate atoms along the atom axis (their masses already weighted)."""
        if len(parts) == 1:
            return parts[0]
        n_query = parts[0].mass.shape[0]
        shared = all(p.mu.shape[0] == 1 for p in parts)
        mus = [p.mu if shared else p.mu.expand(n_query, -1) for p in parts]
        return Atoms(torch.cat(mus, 1), torch.cat([p.mass for p in parts], 1), parts[0].sigma)

    def mean(self) -> Tensor:
        """PPD mean, shape (n_query,)."""
        return (self.mass * self.mu).sum(-1)

    def _kernel(self, y: Tensor, fn: str) -> Tensor:
        """sum_k mass_k K((y - mu_k) / sigma) for K = pdf or cdf; y (n_y,) -> (n_query, n_y)."""

        def k(z: Tensor) -> Tensor:
            if fn == "pdf":
                return torch.exp(-0.5 * z * z) / (self.sigma * math.sqrt(2 * math.pi))
            return 0.5 * torch.erfc(-z / math.sqrt(2))

        if self.mu.shape[0] == 1:  # shared atoms: one (n_atoms, n_y) kernel, one matmul
            return self.mass @ k((y[None, :] - self.mu[0, :, None]) / self.sigma)
        out = torch.empty(self.mass.shape[0], y.numel(), dtype=DTYPE)
        chunk = max(1, 2**22 // max(1, self.mu.shape[1] * y.numel()))
        for i in range(0, self.mass.shape[0], chunk):
            z = (y[None, None, :] - self.mu[i : i + chunk, :, None]) / self.sigma
            out[i : i + chunk] = torch.einsum("qk,qky->qy", self.mass[i : i + chunk], k(z))
        return out

    def density(self, y_grid: Tensor) -> Tensor:
        """PPD density on `y_grid` (n_y,), shape (n_query, n_y)."""
        return self._kernel(y_grid, "pdf")

    def cdf(self, y_grid: Tensor) -> Tensor:
        """PPD CDF on `y_grid` (n_y,), shape (n_query, n_y)."""
        return self._kernel(y_grid, "cdf").clamp(0.0, 1.0)

    def log_density(self, y: Tensor) -> Tensor:
        """log PPD density at paired targets y (n_query,), shape (n_query,)."""
        mu = self.mu.expand(self.mass.shape[0], -1)
        z = (y[:, None] - mu) / self.sigma
        log_k = -0.5 * z * z - math.log(self.sigma) - 0.5 * LOG_2PI
        return torch.logsumexp(torch.log(self.mass) + log_k, dim=-1)

    def quantiles(self, levels: Tensor, tol: float = 1e-11, max_iter: int = 100) -> Tensor:
        """PPD quantiles, shape (n_query, n_levels), by safeguarded Newton on the CDF.

        Atoms whose mass is below 1e-16 at every query are dropped first (they move the CDF by
        less than 1e-16 each). For shared atoms, the CDF on a 256-point grid (one matmul)
        brackets each quantile; Newton steps then converge in a few iterations, and a step that
        leaves the shrinking bracket is replaced by bisection, so convergence is guaranteed.
        """
        n_query, n_levels = self.mass.shape[0], levels.numel()
        keep = (self.mass.amax(0) > 1e-16).nonzero()[:, 0]
        mass = self.mass[:, keep]
        mu = self.mu[:, keep]
        span_lo = float(mu.min()) - 40 * self.sigma
        span_hi = float(mu.max()) + 40 * self.sigma
        lo = torch.full((n_query, n_levels), span_lo, dtype=DTYPE)
        hi = torch.full((n_query, n_levels), span_hi, dtype=DTYPE)
        if mu.shape[0] == 1:
            grid = torch.linspace(
                float(mu.min()) - 6 * self.sigma, float(mu.max()) + 6 * self.sigma, 256,
                dtype=DTYPE,
            )
            cdf = Atoms(mu, mass, self.sigma).cdf(grid)  # (n_query, 256)
            targets = levels[None, :].expand(n_query, -1).contiguous()
            j = torch.searchsorted(cdf.contiguous(), targets)
            lo = torch.where(j > 0, grid[(j - 1).clamp_min(0)], lo)
            hi = torch.where(j < grid.numel(), grid[j.clamp_max(grid.numel() - 1)], hi)
        mu = mu.expand(n_query, -1)[:, None, :]  # (n_query, 1, n_atoms)
        m = mass[:, None, :]
        y = (lo + hi) / 2
        for _ in range(max_iter):
            z = (y[:, :, None] - mu) / self.sigma  # (n_query, n_levels, n_atoms)
            cdf_y = (m * 0.5 * torch.erfc(-z / math.sqrt(2))).sum(-1)
            pdf_y = (m * torch.exp(-0.5 * z * z)).sum(-1) / (self.sigma * math.sqrt(2 * math.pi))
            err = cdf_y - levels
            lo = torch.where(err < 0, y, lo)
            hi = torch.where(err >= 0, y, hi)
            step = y - err / pdf_y.clamp_min(1e-300)
            inside = (step > lo) & (step < hi)
            y_new = torch.where(inside, step, (lo + hi) / 2)
            # Converged where the CDF is matched to 1e-13 (in a flat stretch between modes the
            # quantile is ill-conditioned anyway) or the step / bracket is below tol.
            done = (err.abs() <= 1e-13) | ((y_new - y).abs() <= tol) | ((hi - lo) <= tol)
            y = torch.where(err.abs() <= 1e-13, y, y_new)
            if bool(done.all()):
                break
        return y


# --------------------------------------------------------------------------------------------
# Family posteriors
# --------------------------------------------------------------------------------------------


def _gauss_const(n: int, sigma: float) -> float:
    """The log-likelihood's constant: -n/2 log(2 pi sigma^2)."""
    return -0.5 * n * (LOG_2PI + 2 * math.log(sigma))


def _unique_sums(b: Tensor, a: Tensor) -> tuple[Tensor, Tensor]:
    """Distinct values of b_i + a_j (merged within 1e-9) and each pair's index into them.

    Returns
    -------
    u : Tensor, shape (n_u,)
    index : Tensor of int64, shape (n_b, n_a)
    """
    s = (b[:, None] + a[None, :]).reshape(-1)
    key = torch.round(s * 1e9).to(torch.int64).numpy()
    _, first, index = np.unique(key, return_index=True, return_inverse=True)
    return s[torch.from_numpy(first)], torch.from_numpy(index.reshape(b.numel(), a.numel()))


@dataclass(frozen=True)
class _StepPosterior:
    """Posterior of a :class:`StepPrior` as per-change-point masses over b and u = b + a.

    w_left[j, i] = p(c_j, b_i | D) (its means are b_i left of c_j), w_right[j, k] =
    p(c_j, b + a = u_k | D) (means u_k right of c_j).
    """

    prior: StepPrior
    log_evidence: Tensor
    w_left: Tensor  # (n_c, n_b)
    w_right: Tensor  # (n_c, n_u)
    u: Tensor  # (n_u,)
    u_index: Tensor  # (n_b, n_a)
    log_joint_parts: tuple[Tensor, Tensor, Tensor]  # g (n_c, n_b), h (n_c, n_u), const (n_c,)

    @classmethod
    def fit(cls, prior: StepPrior, x: Tensor, y: Tensor) -> _StepPosterior:
        sigma = prior.sigma
        c, b, a = prior.c.values, prior.b.values, prior.a.values
        order = torch.argsort(x)
        xs, ys = x[order], y[order]
        zero = torch.zeros(1, dtype=DTYPE)
        cum1 = torch.cat([zero, torch.cumsum(ys, 0)])  # (n + 1,)
        n_left = torch.searchsorted(xs, c, right=True)  # points with x <= c: mean is b
        s1_left = cum1[n_left]
        n_right = x.numel() - n_left
        s1_right = cum1[-1] - s1_left
        s2 = float((y * y).sum())
        inv = 1.0 / (2 * sigma * sigma)
        u, u_index = _unique_sums(b, a)
        # log p(D, c, b, a) = const_c + g[c, b] + la[a] + h[c, b + a]
        g = (2 * b[None, :] * s1_left[:, None] - n_left[:, None] * b[None, :] ** 2) * inv
        g = g + prior.b.log_weights[None, :]  # (n_c, n_b)
        h = (2 * u[None, :] * s1_right[:, None] - n_right[:, None] * u[None, :] ** 2) * inv
        const = prior.c.log_weights + _gauss_const(x.numel(), sigma) - s2 * inv  # (n_c,)

        if u.numel() * 4 <= b.numel() * a.numel():
            w_left, w_right, log_z = cls._grouped(prior, g, h, const, u, u_index)
        else:
            w_left, w_right, log_z = cls._direct(prior, g, h, const, u, u_index)
        log_evidence = torch.logsumexp(log_z, 0)
        scale = torch.exp(log_z - log_evidence)  # p(c | D), (n_c,)
        w_left = w_left * scale[:, None]
        w_right = w_right * scale[:, None]
        return cls(prior, log_evidence, w_left, w_right, u, u_index, (g, h, const))

    @staticmethod
    def _grouped(
        prior: StepPrior, g: Tensor, h: Tensor, const: Tensor, u: Tensor, u_index: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Sums over (b, a) as two small matmuls per c via T[b, u] = sum_{a: b+a=u} p(a).

        Returns per-c conditional masses w_left (n_c, n_b), w_right (n_c, n_u) (each row sums
        to one) and log p(D, c) (n_c,).
        """
        n_b, n_a = u_index.shape
        t = torch.zeros(n_b, u.numel(), dtype=DTYPE)
        t.scatter_add_(1, u_index, prior.a.log_weights.exp()[None, :].expand(n_b, n_a))
        g_max = g.amax(1, keepdim=True)
        h_max = h.amax(1, keepdim=True)
        eg = torch.exp(g - g_max)  # (n_c, n_b), <= 1
        eh = torch.exp(h - h_max)  # (n_c, n_u), <= 1
        left = eg * (eh @ t.T)  # (n_c, n_b): sum over a for each b
        right = eh * (eg @ t)  # (n_c, n_u): sum over b for each u
        total = left.sum(1)
        log_z = const + g_max[:, 0] + h_max[:, 0] + torch.log(total)
        # Rows whose sum underflowed (the best b and best u are incompatible) are redone
        # exactly in log space, where they could matter at all.
        upper = const + g_max[:, 0] + h_max[:, 0] + math.log(n_b)
        redo = (total < 1e-250) & (upper > log_z.max() - 80)
        w_left = left / total[:, None].clamp_min(1e-300)
        w_right = right / total[:, None].clamp_min(1e-300)
        if redo.any():
            idx = redo.nonzero()[:, 0]
            wl, wr, lz = _StepPosterior._direct(
                prior, g[idx], h[idx], const[idx], u, u_index
            )
            w_left[idx], w_right[idx], log_z[idx] = wl, wr, lz
        return w_left, w_right, log_z

    @staticmethod
    def _direct(
        prior: StepPrior, g: Tensor, h: Tensor, const: Tensor, u: Tensor, u_index: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """The same sums latent by latent in log space, chunked over c (unaligned grids)."""
        n_c = g.shape[0]
        n_b, n_a = u_index.shape
        la = prior.a.log_weights
        w_left = torch.empty(n_c, n_b, dtype=DTYPE)
        w_right = torch.zeros(n_c, u.numel(), dtype=DTYPE)
        log_z = torch.empty(n_c, dtype=DTYPE)
        chunk = max(1, 2**22 // (n_b * n_a))
        flat_u = u_index.reshape(-1)
        for i in range(0, n_c, chunk):
            sl = slice(i, i + chunk)
            lj = g[sl, :, None] + la[None, None, :] + h[sl][:, flat_u].reshape(-1, n_b, n_a)
            m = lj.amax((1, 2), keepdim=True)
            e = torch.exp(lj - m)  # (chunk, n_b, n_a)
            tot = e.sum((1, 2))
            log_z[sl] = const[sl] + m[:, 0, 0] + torch.log(tot)
            w_left[sl] = e.sum(2) / tot[:, None]
            w_right[sl].index_add_(1, flat_u, e.reshape(e.shape[0], -1) / tot[:, None])
        return w_left, w_right, log_z

    def log_weights(self) -> Tensor:
        g, h, const = self.log_joint_parts
        u_index = self.u_index
        lj = (
            const[:, None, None]
            + g[:, :, None]
            + self.prior.a.log_weights[None, None, :]
            + h[:, u_index.reshape(-1)].reshape(-1, *u_index.shape)
        )
        return (lj - self.log_evidence).reshape(-1)

    def atoms(self, x_query: Tensor) -> Atoms:
        # Latents with c >= x predict b, those with c < x predict u = b + a. Cumulative sums
        # over c turn both into masses per query; prepending a zero row handles "none".
        c = self.prior.c.values
        k = torch.searchsorted(c, x_query, right=False)  # number of c strictly below x
        zl = torch.zeros(1, self.w_left.shape[1], dtype=DTYPE)
        zr = torch.zeros(1, self.w_right.shape[1], dtype=DTYPE)
        cum_left = torch.cat([zl, torch.cumsum(self.w_left, 0)])  # (n_c + 1, n_b)
        cum_right = torch.cat([zr, torch.cumsum(self.w_right, 0)])  # (n_c + 1, n_u)
        mass_left = (cum_left[-1] - cum_left[k]).clamp_min(0)  # c >= x: (n_query, n_b)
        mass_right = cum_right[k]  # c < x: (n_query, n_u)
        mu = torch.cat([self.prior.b.values, self.u])[None, :]
        return Atoms(mu, torch.cat([mass_left, mass_right], 1), self.prior.sigma)


@dataclass(frozen=True)
class _SinePosterior:
    """Posterior of a :class:`SinePrior` from per-frequency Gram matrices."""

    prior: SinePrior
    log_evidence: Tensor
    log_w: Tensor  # (n_latents,)

    @classmethod
    def fit(cls, prior: SinePrior, x: Tensor, y: Tensor) -> _SinePosterior:
        p = prior.latent_params()
        # m_L(x) = theta_L . (1, x, sin f x, cos f x) with
        # theta = (y0, s, A cos 2 pi phi, A sin 2 pi phi)
        theta = torch.stack(
            [
                p["y0"],
                p["s"],
                p["A"] * torch.cos(2 * math.pi * p["phi"]),
                p["A"] * torch.sin(2 * math.pi * p["phi"]),
            ],
            -1,
        )  # (n_latents, 4)
        inv = 1.0 / (2 * prior.sigma**2)
        s2 = (y * y).sum()
        quad = torch.empty(prior.n_latents, dtype=DTYPE)
        f_index = unravel(torch.arange(prior.n_latents), [len(ax) for ax in prior.axes])[3]
        for j, f in enumerate(prior.f.values):
            phi = torch.stack([torch.ones_like(x), x, torch.sin(f * x), torch.cos(f * x)])
            gram = phi @ phi.T  # (4, 4)
            v = phi @ y  # (4,)
            sel = f_index == j
            th = theta[sel]
            quad[sel] = s2 - 2 * th @ v + ((th @ gram) * th).sum(-1)
        log_lik = _gauss_const(x.numel(), prior.sigma) - quad.clamp_min(0) * inv
        log_joint = prior.log_prior() + log_lik
        log_evidence = torch.logsumexp(log_joint, 0)
        return cls(prior, log_evidence, log_joint - log_evidence)

    def log_weights(self) -> Tensor:
        return self.log_w

    def atoms(self, x_query: Tensor) -> Atoms:
        keep = (self.log_w >= self.log_w.max() + PRUNE_LOG_WEIGHT).nonzero()[:, 0]
        w = torch.exp(self.log_w[keep])
        mu = self.prior.mean(x_query, None)  # (n_query, n_latents)
        mass = (w / w.sum())[None, :].expand(x_query.numel(), -1)
        return Atoms(mu[:, keep], mass, self.prior.sigma)


@dataclass(frozen=True)
class _MixturePosterior:
    prior: Mixture
    log_evidence: Tensor
    parts: tuple[_StepPosterior | _SinePosterior, ...]
    log_family_post: Tensor  # (n_families,) log p(family | D)

    @classmethod
    def fit(cls, prior: Mixture, x: Tensor, y: Tensor) -> _MixturePosterior:
        parts = tuple(_fit_family(fam, x, y) for fam in prior.families)
        lz = prior.log_family_weights + torch.stack([p.log_evidence for p in parts])
        log_evidence = torch.logsumexp(lz, 0)
        return cls(prior, log_evidence, parts, lz - log_evidence)

    def log_weights(self) -> Tensor:
        return torch.cat(
            [lf + p.log_weights() for lf, p in zip(self.log_family_post, self.parts, strict=True)]
        )

    def atoms(self, x_query: Tensor) -> Atoms:
        out = []
        for lf, p in zip(self.log_family_post, self.parts, strict=True):
            if lf < PRUNE_LOG_WEIGHT:
                continue
            at = p.atoms(x_query)
            out.append(Atoms(at.mu, at.mass * torch.exp(lf), at.sigma))
        return Atoms.cat(out)


def _fit_family(
    prior: StepPrior | SinePrior, x: Tensor, y: Tensor
) -> _StepPosterior | _SinePosterior:
    if isinstance(prior, StepPrior):
        return _StepPosterior.fit(prior, x, y)
    return _SinePosterior.fit(prior, x, y)


@dataclass(frozen=True)
class _CoinPosterior:
    prior: CoinPrior
    log_evidence: Tensor
    log_w: Tensor

    @classmethod
    def fit(cls, prior: CoinPrior, x: Tensor, y: Tensor) -> _CoinPosterior:
        q = prior.q.values
        k = y.sum()
        n = y.numel()
        log_lik = torch.xlogy(k, q) + torch.xlogy(n - k, 1 - q)  # 0 log 0 = 0
        log_joint = prior.log_prior() + log_lik
        log_evidence = torch.logsumexp(log_joint, 0)
        return cls(prior, log_evidence, log_joint - log_evidence)

    def log_weights(self) -> Tensor:
        return self.log_w


# --------------------------------------------------------------------------------------------
# The public object
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Posterior:
    """The exact posterior of a prior given one context; query it as often as you like.

    Attributes
    ----------
    prior : Prior
    x_context, y_context : Tensor, shape (points,)
    log_evidence : Tensor, shape ()
        log p(D), the log marginal likelihood of the context under the prior.
    """

    prior: Prior
    x_context: Tensor
    y_context: Tensor
    log_evidence: Tensor
    _impl: _StepPosterior | _SinePosterior | _MixturePosterior | _CoinPosterior

    def log_weights(self) -> Tensor:
        """log p(L | D) of every latent, shape (n_latents,), in the prior's latent order."""
        return self._impl.log_weights()

    def log_family_weights(self) -> Tensor:
        """Mixture priors only: log p(family | D), shape (n_families,), in the prior's order.

        For E3 this is (log p(sines | D), log p(lines | D)); the families' names are
        ``[f.name for f in prior.families]``.
        """
        if not isinstance(self._impl, _MixturePosterior):
            raise ValueError(
                "log_family_weights needs a Mixture prior (a union of families); "
                f"this posterior's prior is a {type(self.prior).__name__}"
            )
        return self._impl.log_family_post

    def top(self, k: int) -> tuple[Tensor, Tensor]:
        """The `k` most probable latents: (log_weights (k,), latent indices (k,))."""
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be an int >= 1, got {k!r}")
        lw = self.log_weights()
        vals, idx = torch.topk(lw, min(k, lw.numel()))
        return vals, idx

    def _atoms(self, x_query: object) -> tuple[Tensor, Atoms]:
        if isinstance(self._impl, _CoinPosterior):
            raise ValueError("the coin prior is a classification prior: use class_probs()")
        x = _check_query(self.prior, x_query)
        return x, self._impl.atoms(x)

    def atoms(self, x_query: object) -> Atoms:
        """The PPD at `x_query` (n_query,) as a mixture of Gaussian atoms."""
        return self._atoms(x_query)[1]

    def mean(self, x_query: object) -> Tensor:
        """PPD mean E[y | x, D] at `x_query` (n_query,); shape (n_query,)."""
        if isinstance(self._impl, _CoinPosterior):
            return self.class_probs(x_query)[:, 1]
        return self._atoms(x_query)[1].mean()

    def density(self, x_query: object, y_grid: object) -> Tensor:
        """PPD density p(y | x, D), shape (n_query, n_y), for x_query (n_query,), y_grid (n_y,)."""
        return self.atoms(x_query).density(_check_grid(y_grid))

    def cdf(self, x_query: object, y_grid: object) -> Tensor:
        """PPD CDF P(Y <= y | x, D), shape (n_query, n_y)."""
        return self.atoms(x_query).cdf(_check_grid(y_grid))

    def log_density(self, x_query: object, y: object) -> Tensor:
        """log p(y_i | x_i, D) at paired (x_query[i], y[i]), shape (n_query,).

        For the coin, the log class probability of the labels y.
        """
        if isinstance(self._impl, _CoinPosterior):
            probs = self.class_probs(x_query)
            labels = _check_grid(y, "y")
            if labels.shape[0] != probs.shape[0] or not ((labels == 0) | (labels == 1)).all():
                raise ValueError("y must hold one label 0 or 1 per query")
            return torch.log(probs.gather(1, labels.long()[:, None])[:, 0])
        x, atoms = self._atoms(x_query)
        yy = _check_grid(y, "y")
        if yy.shape != x.shape:
            raise ValueError(f"y must have one value per query ({x.numel()}), got {yy.numel()}")
        return atoms.log_density(yy)

    def quantiles(self, x_query: object, levels: object) -> Tensor:
        """PPD quantiles, shape (n_query, n_levels), for levels in (0, 1)."""
        lv = _check_grid(levels, "levels")
        if ((lv <= 0) | (lv >= 1)).any():
            raise ValueError("levels must lie strictly between 0 and 1")
        return self.atoms(x_query).quantiles(lv)

    def class_probs(self, x_query: object) -> Tensor:
        """Coin only: PPD class probabilities (P(y=0), P(y=1)), shape (n_query, 2)."""
        if not isinstance(self._impl, _CoinPosterior):
            raise ValueError("class_probs needs a CoinPrior; use mean/density for regression")
        x = _check_query(self.prior, x_query)
        p1 = (self._impl.log_w.exp() * self.prior.q.values).sum().clamp(0, 1)  # type: ignore[union-attr]
        p = torch.stack([1 - p1, p1])
        return p[None, :].expand(x.numel(), 2).clone()


def posterior(prior: Prior, x_context: object, y_context: object) -> Posterior:
    """Exact posterior of `prior` given the context (x_context, y_context), each (points,).

    An empty context is valid: the PPD is then the prior predictive.

    Examples
    --------
    >>> from bayeslens import paper
    >>> post = posterior(paper.steps_e1(), *paper.line())
    >>> post.mean(torch.tensor([0.0])).shape
    torch.Size([1])
    """
    x, y = check_context(prior, x_context, y_context)
    impl: _StepPosterior | _SinePosterior | _MixturePosterior | _CoinPosterior
    if isinstance(prior, StepPrior):
        impl = _StepPosterior.fit(prior, x, y)
    elif isinstance(prior, SinePrior):
        impl = _SinePosterior.fit(prior, x, y)
    elif isinstance(prior, Mixture):
        impl = _MixturePosterior.fit(prior, x, y)
    else:
        impl = _CoinPosterior.fit(prior, x, y)
    if not torch.isfinite(impl.log_evidence):
        raise ValueError(
            "the context is impossible under the prior (p(D) = 0, e.g. heads under q = 0 only): "
            "its posterior is undefined"
        )
    return Posterior(prior, x, y, impl.log_evidence, impl)
