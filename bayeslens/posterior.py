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

The PPD mean of sines and lines is linear in theta, so it is (sum_L p(L|D) theta_L) . phi(x):
no per-latent work per query. Their PPD density, CDF and quantiles at a query are a mixture of
many Gaussians that all share sigma; the fast path evaluates them through the mixture's
characteristic function on a periodic window (:class:`_Spectrum`), where one frequency costs
one term per *shape* (latents that differ only in y0 share it) instead of one kernel per atom
and grid point. Window and frequency cut add < 1e-15 / sigma to a density (``PAD``,
``OMEGA_CUT``), the pruned latents < 1e-15 / sigma (``TAIL_MASS``); the cheaper of that and
the direct sum over atoms is taken per call.

Everything runs in float64 and log space; the slow, obviously right references live in
``tests/reference.py`` and are compared with these on random priors and every paper context.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from bayeslens._checks import check_generator, check_int
from bayeslens.priors import (
    DTYPE,
    CoinPrior,
    Mixture,
    Prior,
    SinePrior,
    StepPrior,
    check_x,
)

__all__ = ["Atoms", "Posterior", "check_context", "posterior"]

LOG_2PI = math.log(2 * math.pi)
PRUNE_LOG_WEIGHT = -60.0
"""Families with log p(family|D) below -60 carry < 1e-26 of the mass and are skipped in PPD
sums."""
TAIL_MASS = 1e-15
"""Sines and lines: the PPD's atoms leave out latents with p(L | D, family) below
TAIL_MASS / n_latents, together at most TAIL_MASS of the family's mass. Kept masses are
renormalised, so a density moves by at most 2 TAIL_MASS / (sigma sqrt(2 pi)) and a CDF by at
most 2 TAIL_MASS; the mean uses every latent."""
PAD = 8.5
"""The spectral window reaches PAD sigma beyond a query's outermost atom: a Gaussian atom
contributes < exp(-PAD^2 / 2) = 2e-16 of its peak outside it (so the density there is set
to 0 and the CDF to 0 or 1), and its periodic images add less than that inside."""
OMEGA_CUT = 8.5
"""Frequencies with sigma omega > OMEGA_CUT are left out: the Gaussian's transform
exp(-sigma^2 omega^2 / 2) is below 2e-16 there."""


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
    x, x_range = _finite(x_context, "x_context")
    y, _ = _finite(y_context, "y_context")
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
    _check_in_range(prior, x_range, "x_context")
    return x.contiguous(), y.contiguous()


def _finite(values: object, name: str) -> tuple[Tensor, tuple[float, float] | None]:
    """`values` as a float64 tensor and its (min, max) (None if empty), as :func:`check_x`
    checks it, in one reduction: NaN propagates through min and max, and inf shows in one.

    Raises
    ------
    ValueError
        If `values` is not numeric or holds NaN or inf.
    """
    if not isinstance(values, Tensor) or values.dtype != DTYPE:
        values = check_x(values, name)
    if values.numel() == 0:
        return values, None
    lo, hi = torch.aminmax(values)
    lo_f, hi_f = float(lo), float(hi)
    if not (math.isfinite(lo_f) and math.isfinite(hi_f)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return values, (lo_f, hi_f)


def _check_in_range(prior: Prior, x_range: tuple[float, float] | None, name: str) -> None:
    """Where p(x) = 0 the posterior is undefined: refuse x outside the prior's x_range."""
    lo, hi = prior.x_range
    if x_range is not None and not lo <= x_range[0] <= x_range[1] <= hi:
        raise ValueError(
            f"{name} must lie in the prior's x range [{lo}, {hi}] (p(x) = 0 outside it, so the "
            f"posterior is undefined there), got values in [{x_range[0]}, {x_range[1]}]"
        )


def _check_query(prior: Prior, x_query: object) -> Tensor:
    x, x_range = _finite(x_query, "x_query")
    if x.ndim == 0:
        x = x.reshape(1)
    if x.ndim != 1:
        raise ValueError(f"x_query must be 1-d (n_query,), got shape {tuple(x.shape)}")
    _check_in_range(prior, x_range, "x_query")
    return x.contiguous()


def _check_grid(y_grid: object, name: str = "y_grid") -> Tensor:
    y, _ = _finite(y_grid, name)
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
        if n_query == 0:
            return torch.empty(0, n_levels, dtype=DTYPE)
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

        def cdf_pdf(y: Tensor) -> tuple[Tensor, Tensor]:
            z = (y[:, :, None] - mu) / self.sigma  # (n_query, n_levels, n_atoms)
            cdf_y = (m * 0.5 * torch.erfc(-z / math.sqrt(2))).sum(-1)
            pdf_y = (m * torch.exp(-0.5 * z * z)).sum(-1) / (self.sigma * math.sqrt(2 * math.pi))
            return cdf_y, pdf_y

        return _newton_quantiles(cdf_pdf, levels, lo, hi, (lo + hi) / 2, tol, max_iter)


def _newton_quantiles(
    cdf_pdf: Callable[[Tensor], tuple[Tensor, Tensor]],
    levels: Tensor,
    lo: Tensor,
    hi: Tensor,
    y: Tensor,
    tol: float,
    max_iter: int,
) -> Tensor:
    """Solve cdf(y) = levels by Newton steps kept inside the bracket [lo, hi] (else bisection).

    `cdf_pdf` maps y (n_query, n_levels) to the CDF and density there; lo, hi, y have that shape.
    """
    for _ in range(max_iter):
        cdf_y, pdf_y = cdf_pdf(y)
        err = cdf_y - levels
        below = err < 0
        lo = torch.where(below, y, lo)
        hi = torch.where(below, hi, y)
        step = y - err / pdf_y  # a zero density gives inf or NaN: caught as outside below
        y_new = torch.where((step > lo) & (step < hi), step, (lo + hi) / 2)
        # Converged where the CDF is matched to 1e-13 (in a flat stretch between modes the
        # quantile is ill-conditioned anyway) or the step / bracket is below tol.
        matched = err.abs() <= 1e-13
        done = matched | ((y_new - y).abs() <= tol) | ((hi - lo) <= tol)
        y = torch.where(matched, y, y_new)
        if bool(done.all()):
            break
    return y


@dataclass(frozen=True)
class _Spectrum:
    """The PPD at each query through its characteristic function, on a periodic window.

    Atoms (mu_k, mass_k) that share sigma make p(y) = sum_k mass_k N(y; mu_k, sigma^2), whose
    Fourier transform is exp(-sigma^2 omega^2 / 2) phi(omega) with phi(omega) = sum_k mass_k
    exp(-i omega mu_k). Sampled at omega_m = 2 pi m / period, it gives the periodic sum of p
    (Poisson summation):

        sum_n p(y + n period) = (1 / period) sum_m exp(-sigma^2 omega_m^2 / 2) phi(omega_m)
                                exp(i omega_m y).

    Each query's window [lo, hi] spans its atoms +- PAD sigma and is at most `period` long, so
    inside it the images n != 0 add less than 2 exp(-PAD^2 / 2) times the peak density, and
    outside it the density is 0 and the CDF 0 or 1 to the same accuracy. Terms with
    sigma omega_m > OMEGA_CUT are dropped. With c_m = exp(-sigma^2 omega_m^2 / 2) phi_m /
    period = a_m + i b_m (phases about `center`, t = y - center), the density is
    a_0 + 2 sum_(m >= 1) (a_m cos omega_m t - b_m sin omega_m t), and its antiderivative
    a_0 y + 2 sum_(m >= 1) (b_m cos omega_m t + a_m sin omega_m t) / omega_m, less its value at
    the window's start, is the CDF: both are rows of `coef` against the basis
    [cos omega_m t, sin omega_m t, y, 1], so a grid of y is one matmul.

    Attributes
    ----------
    coef : Tensor, shape (n_query, 2, 2 n_freq + 2)
        Density (``[:, 0]``) and CDF (``[:, 1]``) coefficients of the basis.
    lo, hi : Tensor, shape (n_query,)
        Each query's window.
    omega : Tensor, shape (n_freq,)
    center : float
    """

    coef: Tensor
    lo: Tensor
    hi: Tensor
    omega: Tensor
    center: float

    @classmethod
    def of(cls, phi: Tensor, lo: Tensor, hi: Tensor, center: float, period: float,
           sigma: float) -> _Spectrum:
        """From phi (n_query, n_freq) = sum_k mass_k exp(-i omega_m (mu_k - center))."""
        n_freq = phi.shape[1]
        omega = 2 * math.pi / period * torch.arange(n_freq, dtype=DTYPE)
        g = torch.exp(-0.5 * (sigma * omega) ** 2) * (2 / period)
        g[0] = 1 / period
        c = phi * g  # (n_query, n_freq)
        a, b = c.real, c.imag
        inv = torch.cat([torch.zeros(1, dtype=DTYPE), 1 / omega[1:]])
        start = (c * inv * _unit(lo - center, omega)).imag.sum(1) + a[:, 0] * lo
        zero = torch.zeros(phi.shape[0], 2, dtype=DTYPE)
        dens = torch.cat([a, -b, zero], 1)
        cdf = torch.cat([b * inv, a * inv, a[:, :1], -start[:, None]], 1)
        return cls(torch.stack([dens, cdf], 1), lo, hi, omega, center)

    def _basis(self, y: Tensor) -> Tensor:
        """[cos omega_m t, sin omega_m t, y, 1], t = y - center; shape y.shape + (2 n_freq + 2,)."""
        n_freq = self.omega.numel()
        out = torch.empty(*y.shape, 2 * n_freq + 2, dtype=DTYPE)
        angle = (y - self.center)[..., None] * self.omega
        torch.cos(angle, out=out[..., :n_freq])
        torch.sin(angle, out=out[..., n_freq : 2 * n_freq])
        out[..., -2] = y
        out[..., -1] = 1.0
        return out

    def _on_grid(self, y_grid: Tensor, which: int) -> Tensor:
        """Density (which = 0) or CDF (1) at y_grid (n_y,) for every query, (n_query, n_y)."""
        out = self.coef[:, which] @ self._basis(y_grid).T
        below = y_grid[None, :] < self.lo[:, None]
        above = y_grid[None, :] > self.hi[:, None]
        if which == 0:  # outside the window the density is below exp(-PAD^2 / 2) of its peak
            return out.clamp_min_(0).masked_fill_(below | above, 0.0)
        return out.masked_fill_(below, 0.0).masked_fill_(above, 1.0).clamp_(0.0, 1.0)

    def density(self, y_grid: Tensor) -> Tensor:
        """PPD density on `y_grid` (n_y,), shape (n_query, n_y)."""
        return self._on_grid(y_grid, 0)

    def cdf(self, y_grid: Tensor) -> Tensor:
        """PPD CDF on `y_grid` (n_y,), shape (n_query, n_y)."""
        return self._on_grid(y_grid, 1)

    def quantiles(self, levels: Tensor, tol: float = 1e-11, max_iter: int = 100) -> Tensor:
        """PPD quantiles, shape (n_query, n_levels).

        CDF and density on a 128-point grid (one matmul) bracket each quantile inside its
        query's window; one Newton step on the cubic Hermite interpolant of the CDF there
        starts safeguarded Newton steps as in :meth:`Atoms.quantiles` (three, typically), the
        CDF and density at each one batched matmul.
        """
        n_query = self.lo.numel()
        grid = torch.linspace(float(self.lo.min()), float(self.hi.max()), 128, dtype=DTYPE)
        step = float(grid[1] - grid[0])
        out = (self.coef.view(2 * n_query, -1) @ self._basis(grid).T).view(n_query, 2, -1)
        below = grid[None, :] < self.lo[:, None]
        above = grid[None, :] > self.hi[:, None]
        pdf = out[:, 0].masked_fill_(below | above, 0.0)
        cdf = out[:, 1].masked_fill_(below, 0.0).masked_fill_(above, 1.0).contiguous()
        targets = levels[None, :].expand(n_query, -1).contiguous()
        j = torch.searchsorted(cdf, targets).clamp_(1, grid.numel() - 1)
        c0, c1 = cdf.gather(1, j - 1), cdf.gather(1, j)
        p0, p1 = pdf.gather(1, j - 1), pdf.gather(1, j)
        # u in [0, 1] across [grid[j - 1], grid[j]]: linear, then a Newton step on the cubic
        # Hermite interpolant a0 + a1 u + a2 u^2 + a3 u^3 of the CDF (values and slopes at ends)
        u = ((targets - c0) / (c1 - c0).clamp_min(1e-300)).clamp_(0, 1)
        a1, a3 = step * p0, 2 * (c0 - c1) + step * (p0 + p1)
        a2 = 3 * (c1 - c0) - step * (2 * p0 + p1)
        herm = ((a3 * u + a2) * u + a1) * u + c0
        slope = (3 * a3 * u + 2 * a2) * u + a1
        u = (u - (herm - targets) / slope).nan_to_num_(0.5).clamp_(0, 1)
        # the CDF is 0 below the window and 1 above it, so each root lies inside
        lo = torch.maximum(grid[j - 1], self.lo[:, None])
        hi = torch.minimum(grid[j], self.hi[:, None])

        def cdf_pdf(y: Tensor) -> tuple[Tensor, Tensor]:
            out = torch.bmm(self._basis(y), self.coef.mT)  # (n_query, n_levels, 2)
            return out[..., 1], out[..., 0]

        y = (grid[j - 1] + u * step).clamp_(lo, hi)
        return _newton_quantiles(cdf_pdf, levels, lo, hi, y, tol, max_iter)


def _unit(t: Tensor, freq: Tensor) -> Tensor:
    """exp(i t freq) for every entry of t and freq, shape t.shape + freq.shape, complex."""
    angle = t[..., None] * freq
    out = torch.empty(*angle.shape, 2, dtype=DTYPE)  # (re, im) pairs, viewed as complex
    torch.cos(angle, out=out[..., 0])
    torch.sin(angle, out=out[..., 1])
    return torch.view_as_complex(out)


@dataclass(frozen=True)
class _SineTerms:
    """A sine/line family's PPD atoms at each query, grouped by shape.

    Latents that differ only in y0 share a shape r, so the atom of (y0_i, r) at query q sits at
    y0_i + h[q, r] with mass w[i, r] (times the family's mass), and the atoms' characteristic
    function factorises: phi_q(omega) = sum_r exp(-i omega h[q, r]) sum_i w[i, r]
    exp(-i omega y0_i).

    Attributes
    ----------
    y0 : Tensor, shape (n_y0,)
    w : Tensor, shape (n_y0, n_shapes)
        Zero for latents left out (see ``TAIL_MASS``).
    h : Tensor, shape (n_query, n_shapes)
    lo, hi : Tensor, shape (n_query,)
        The lowest and highest kept atom at each query.
    n_atoms : int
        Number of kept atoms per query.
    """

    y0: Tensor
    w: Tensor
    h: Tensor
    lo: Tensor
    hi: Tensor
    n_atoms: int

    def phi(self, center: float, step: float, n_freq: int) -> Tensor:
        """sum_atoms w exp(-i omega_m (mu - center)), omega_m = m step; (n_query, n_freq).

        For many shapes, angle addition over m = b j + k (0 <= k < b ~ sqrt(n_freq)) turns
        exp(-i omega_m h) into powers of two phases per query and shape (products, no trig
        per frequency), summed over shapes in b passes.
        """
        n_query, n_shapes = self.h.shape
        b = max(1, math.isqrt(n_freq)) if n_shapes > 4 else 1
        n_j = -(-n_freq // b)
        m = torch.arange(n_j * b, dtype=DTYPE)
        w_hat = self.w.T.to(torch.complex128) @ _unit(self.y0 - center, -step * m)
        if b == 1:
            return (_unit(self.h, -step * m) * w_hat).sum(1)
        unit = _unit(self.h, torch.tensor([-step, -step * b], dtype=DTYPE))
        small = _powers(unit[..., 0], b)  # (n_query, n_shapes, b): exp(-i k step h)
        big = _powers(unit[..., 1], n_j)  # (n_query, n_shapes, n_j): exp(-i b j step h)
        w_hat = w_hat.view(n_shapes, n_j, b)
        out = torch.empty(n_query, n_j, b, dtype=torch.complex128)
        tmp = torch.empty_like(big)  # one buffer: no large temporaries (page faults) per k
        for k in range(b):  # out[q, j, k] = sum_r big[q, r, j] w_hat[r, j, k] small[q, r, k]
            torch.mul(big, w_hat[:, :, k], out=tmp).mul_(small[:, :, k, None])
            torch.sum(tmp, 1, out=out[:, :, k])
        return out.view(n_query, n_j * b)[:, :n_freq]


def _powers(z: Tensor, n: int) -> Tensor:
    """z^0 .. z^(n - 1) by repeated products, shape z.shape + (n,); for |z| = 1 each product
    adds one rounding (n small)."""
    ones = torch.ones(*z.shape, 1, dtype=z.dtype)
    return torch.cat([ones, z[..., None].expand(*z.shape, n - 1)], -1).cumprod(-1)


def _spectrum_is_cheaper(
    n_query: int, n_atoms: int, n_shapes: int, n_freq: int, n_eval: int
) -> bool:
    """Rough operation counts: summing atoms directly costs one Gaussian per query, atom and
    evaluation point; the spectrum one phase per query, shape and frequency, one cosine per
    frequency and point and a matmul."""
    direct = n_query * n_atoms * n_eval
    spectral = 2 * n_query * n_shapes * n_freq + 2 * n_freq * n_eval
    return spectral + n_query * n_freq * n_eval // 4 < direct


def _spectrum(terms: list[_SineTerms], sigma: float, n_eval: int) -> _Spectrum | None:
    """The PPD of (sums of) sine families as a :class:`_Spectrum`, or None where summing the
    atoms directly would be cheaper (few atoms, or a window many sigma wide)."""
    lo = torch.stack([t.lo for t in terms]).amin(0) - PAD * sigma
    hi = torch.stack([t.hi for t in terms]).amax(0) + PAD * sigma
    period = float((hi - lo).max())
    n_freq = math.ceil(OMEGA_CUT * period / (2 * math.pi * sigma)) + 1
    n_shapes = sum(t.h.shape[1] for t in terms)
    n_atoms = sum(t.n_atoms for t in terms)
    if not _spectrum_is_cheaper(lo.numel(), n_atoms, n_shapes, n_freq, n_eval):
        return None
    center = float(lo.min() + hi.max()) / 2
    step = 2 * math.pi / period
    phi = terms[0].phi(center, step, n_freq)
    for t in terms[1:]:
        phi = phi + t.phi(center, step, n_freq)
    return _Spectrum.of(phi, lo, hi, center, period, sigma)


def _keep_mask(log_w: Tensor) -> Tensor:
    """Latents kept in a family's PPD atoms (see ``TAIL_MASS``), shape like log_w (normalised)."""
    return log_w >= math.log(TAIL_MASS / log_w.numel())


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

    def mean(self, x_query: Tensor) -> Tensor:
        return self.atoms(x_query).mean()

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


def _sine_theta(prior: SinePrior) -> Tensor:
    """theta of every latent on the grid, shape (n_y0, n_s, n_A, n_f, n_phi, 5), so that
    m_L(x) = theta_L . (1, x, sin f x, cos f x, 0): theta = (y0, s, A cos 2 pi phi,
    A sin 2 pi phi, -1). The constant -1 makes the residual a quadratic form:
    |y - Phi theta_:4|^2 = theta' [Phi, y]' [Phi, y] theta.
    """
    y0, s, amp, f, phase = (ax.values for ax in prior.axes)
    shape = (len(y0), len(s), len(amp), len(f), len(phase))
    angle = 2 * math.pi * phase
    parts = (
        y0.view(-1, 1, 1, 1, 1),
        s.view(1, -1, 1, 1, 1),
        (amp[:, None] * torch.cos(angle)).view(1, 1, len(amp), 1, -1),
        (amp[:, None] * torch.sin(angle)).view(1, 1, len(amp), 1, -1),
        torch.full((1, 1, 1, 1, 1), -1.0, dtype=DTYPE),
    )
    return torch.stack([p.expand(shape) for p in parts], -1)


def _grid_log_prior(prior: SinePrior) -> Tensor:
    """log p(L), broadcastable to the grid (n_y0, n_s, n_A, n_f, n_phi); an axis with a single
    value has log weight log 1 = 0 and is skipped."""
    lp = torch.zeros((), dtype=DTYPE)
    for k, ax in enumerate(prior.axes):
        if len(ax) > 1:
            lp = lp + ax.log_weights.view([-1 if j == k else 1 for j in range(5)])
    return lp


def _sine_basis(x: Tensor, f: Tensor, *extra: Tensor) -> Tensor:
    """phi(x) = (1, x, sin f x, cos f x, *extra) per frequency, shape (n_f, points, 4 + extra)."""
    fx = f[:, None] * x[None, :]
    cols = [torch.ones_like(fx), x.expand_as(fx), torch.sin(fx), torch.cos(fx)]
    return torch.stack(cols + [e.expand_as(fx) for e in extra], -1)


@dataclass(frozen=True)
class _SinePosterior:
    """Posterior of a :class:`SinePrior` from per-frequency Gram matrices.

    Attributes
    ----------
    log_w : Tensor, shape (n_latents,)
    theta : Tensor, shape (n_latents, 4)
        m_L(x) = theta_L . (1, x, sin f_L x, cos f_L x).
    """

    prior: SinePrior
    log_evidence: Tensor
    log_w: Tensor
    theta: Tensor

    @classmethod
    def fit(cls, prior: SinePrior, x: Tensor, y: Tensor) -> _SinePosterior:
        theta = _sine_theta(prior)  # (n_y0, n_s, n_A, n_f, n_phi, 5)
        grid = theta.shape[:-1]
        n_f = grid[3]
        gram = torch.zeros(n_f, 5, 5, dtype=DTYPE)  # [Phi, y]' [Phi, y], in chunks of points
        for i in range(0, x.numel(), 2**18):
            basis = _sine_basis(x[i : i + 2**18], prior.f.values, y[i : i + 2**18])
            gram += torch.bmm(basis.mT, basis)  # basis: (n_f, chunk, 5)
        # |y - Phi theta|^2 as theta' gram theta, each latent with its own f: frequencies first,
        # so that it is one batched matmul
        th = theta.movedim(3, 0).reshape(n_f, -1, 5)  # (n_f, rest, 5); a view when n_f = 1
        quad = (torch.bmm(th, gram) * th).sum(-1)  # (n_f, rest)
        quad = quad.view(n_f, *grid[:3], grid[4]).movedim(0, 3)  # grid order
        inv = 1.0 / (2 * prior.sigma**2)
        log_lik = _gauss_const(x.numel(), prior.sigma) - quad.clamp_min(0) * inv
        log_joint = (log_lik + _grid_log_prior(prior)).reshape(-1)
        log_evidence = torch.logsumexp(log_joint, 0)
        return cls(prior, log_evidence, log_joint - log_evidence, theta.view(-1, 5)[:, :4])

    def log_weights(self) -> Tensor:
        return self.log_w

    def _f_index(self, latent: Tensor) -> Tensor:
        """Index into ``prior.f.values`` of the given latents (or shapes: same formula)."""
        return (latent // len(self.prior.phi)) % len(self.prior.f)

    def mean(self, x_query: Tensor) -> Tensor:
        """(sum_L p(L | D) theta_L) . phi(x), summed per frequency; shape (n_query,)."""
        n_f, n_phi = len(self.prior.f), len(self.prior.phi)
        w = torch.exp(self.log_w).view(-1, n_f, n_phi, 1)
        by_f = (w * self.theta.view(-1, n_f, n_phi, 4)).sum((0, 2))  # (n_f, 4)
        basis = _sine_basis(x_query, self.prior.f.values)  # (n_f, n_query, 4)
        return (basis * by_f[:, None, :]).sum((0, 2))

    def atoms(self, x_query: Tensor) -> Atoms:
        keep = _keep_mask(self.log_w).nonzero()[:, 0]
        w = torch.exp(self.log_w[keep])
        basis = _sine_basis(x_query, self.prior.f.values)  # (n_f, n_query, 4)
        mu = basis @ self.theta[keep].T  # (n_f, n_query, n_keep)
        # (n_query, n_keep), each latent at its own frequency
        mu = mu[0] if len(mu) == 1 else mu[self._f_index(keep), :, torch.arange(len(keep))].T
        mass = (w / w.sum())[None, :].expand(x_query.numel(), -1)
        return Atoms(mu, mass, self.prior.sigma)

    def terms(self, x_query: Tensor, weight: Tensor) -> _SineTerms:
        """The kept atoms at `x_query` grouped by shape, with masses summing to `weight`."""
        n_y0 = len(self.prior.y0)
        log_w = self.log_w.view(n_y0, -1)  # (n_y0, n_shapes): latent order
        keep = _keep_mask(log_w)
        shapes = keep.any(0).nonzero()[:, 0]
        keep = keep[:, shapes]
        w = torch.where(keep, torch.exp(log_w[:, shapes]), 0.0)
        theta = self.theta.view(n_y0, -1, 4)[0, shapes]  # (n_shapes, 4); its y0 unused
        fx = x_query[:, None] * self.prior.f.values[self._f_index(shapes)]  # (n_query, n_sh.)
        h = theta[:, 1] * x_query[:, None] + theta[:, 2] * torch.sin(fx)
        h = h + theta[:, 3] * torch.cos(fx)
        y0 = self.prior.y0.values[:, None]
        y0_lo = torch.where(keep, y0, math.inf).amin(0)  # lowest kept y0 per shape
        y0_hi = torch.where(keep, y0, -math.inf).amax(0)
        return _SineTerms(
            self.prior.y0.values, w * (weight / w.sum()), h,
            (h + y0_lo).amin(1), (h + y0_hi).amax(1), int(keep.sum()),
        )


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

    def _kept(self) -> list[tuple[Tensor, _StepPosterior | _SinePosterior]]:
        return [
            (lf, p)
            for lf, p in zip(self.log_family_post, self.parts, strict=True)
            if lf >= PRUNE_LOG_WEIGHT
        ]

    def mean(self, x_query: Tensor) -> Tensor:
        means = [p.mean(x_query) for p in self.parts]  # (n_families, n_query)
        return torch.exp(self.log_family_post) @ torch.stack(means)

    def atoms(self, x_query: Tensor) -> Atoms:
        out = []
        for lf, p in self._kept():
            at = p.atoms(x_query)
            out.append(Atoms(at.mu, at.mass * torch.exp(lf), at.sigma))
        return Atoms.cat(out)

    def terms(self, x_query: Tensor) -> list[_SineTerms] | None:
        """Each kept family's atoms grouped by shape; None if a step family is among them."""
        kept = self._kept()
        if not all(isinstance(p, _SinePosterior) for _, p in kept):
            return None
        return [p.terms(x_query, torch.exp(lf)) for lf, p in kept]  # type: ignore[union-attr]


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
    _last: dict[str, tuple[Tensor, _Spectrum]] = field(
        default_factory=dict, repr=False, compare=False
    )
    """The spectral PPD at the last x_query it was built for (one entry), so that density,
    CDF and quantiles at the same queries (an explorer's redraw) build it once."""

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

    def sample_latents(self, n: int, generator: torch.Generator) -> Tensor:
        """Latents drawn from the posterior p(L | D): independent draws, with replacement.

        What the PPD averages over, one draw at a time: the PPD mean is the mean of
        ``prior.mean(x, latent)`` over infinitely many such draws.

        Parameters
        ----------
        n : int
            Number of draws, at least 1.
        generator : torch.Generator
            The only source of randomness: the same seed gives the same draws.

        Returns
        -------
        Tensor of int64, shape (n,)
            Flat latent indices in the prior's latent order, as in :meth:`log_weights`
            (``prior.latent_params(latents)`` gives their parameters where the prior has
            them). A latent of posterior weight 0 is never drawn.

        Raises
        ------
        ValueError
            If ``n`` is not an int >= 1 or ``generator`` is not a ``torch.Generator``.

        Examples
        --------
        >>> from bayeslens import paper
        >>> post = posterior(paper.steps_e1(), *paper.line())
        >>> post.sample_latents(300, torch.Generator().manual_seed(0)).shape
        torch.Size([300])
        """
        check_int("n", n, 1)
        check_generator(generator)
        # Inverse CDF: u uniform on [0, total) lands in latent i when cdf[i - 1] <= u < cdf[i],
        # an interval as long as latent i's weight (empty for weight 0).
        cdf = torch.cumsum(self.log_weights().exp(), 0)  # (n_latents,)
        u = torch.rand(n, generator=generator, dtype=DTYPE) * cdf[-1]
        return torch.searchsorted(cdf, u, right=True).clamp_max(cdf.numel() - 1)

    def _atoms(self, x_query: object) -> tuple[Tensor, Atoms]:
        if isinstance(self._impl, _CoinPosterior):
            raise ValueError("the coin prior is a classification prior: use class_probs()")
        x = _check_query(self.prior, x_query)
        return x, self._impl.atoms(x)

    def _ppd(self, x_query: object, n_eval: int) -> Atoms | _Spectrum:
        """The PPD at x_query in the cheaper exact form for `n_eval` evaluations per query."""
        if isinstance(self._impl, _CoinPosterior):
            raise ValueError("the coin prior is a classification prior: use class_probs()")
        x = _check_query(self.prior, x_query)
        last = self._last.get("spectrum")
        if last is not None and last[0].shape == x.shape and torch.equal(last[0], x):
            return last[1]
        terms: list[_SineTerms] | None = None
        if isinstance(self._impl, _SinePosterior) and x.numel():
            terms = [self._impl.terms(x, torch.ones((), dtype=DTYPE))]
        elif isinstance(self._impl, _MixturePosterior) and x.numel():
            terms = self._impl.terms(x)
        if terms:
            spectrum = _spectrum(terms, self.prior.sigma, n_eval)
            if spectrum is not None:
                self._last["spectrum"] = (x.clone(), spectrum)
                return spectrum
        return self._impl.atoms(x)

    def atoms(self, x_query: object) -> Atoms:
        """The PPD at `x_query` (n_query,) as a mixture of Gaussian atoms."""
        return self._atoms(x_query)[1]

    def mean(self, x_query: object) -> Tensor:
        """PPD mean E[y | x, D] at `x_query` (n_query,); shape (n_query,)."""
        if isinstance(self._impl, _CoinPosterior):
            return self.class_probs(x_query)[:, 1]
        return self._impl.mean(_check_query(self.prior, x_query))

    def density(self, x_query: object, y_grid: object) -> Tensor:
        """PPD density p(y | x, D), shape (n_query, n_y), for x_query (n_query,), y_grid (n_y,)."""
        y = _check_grid(y_grid)
        return self._ppd(x_query, y.numel()).density(y)

    def cdf(self, x_query: object, y_grid: object) -> Tensor:
        """PPD CDF P(Y <= y | x, D), shape (n_query, n_y)."""
        y = _check_grid(y_grid)
        return self._ppd(x_query, y.numel()).cdf(y)

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
        return self._ppd(x_query, 20 * lv.numel()).quantiles(lv)

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
