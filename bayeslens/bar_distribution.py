"""The bar distribution: the PFN's output distribution over a real target y.

Also called the *Riemann distribution* (Müller et al., "Transformers can do Bayesian
inference", 2022) or a *discretised* / *histogram* distribution. The real line is cut into
``n_buckets`` intervals by ``n_buckets + 1`` borders; the network outputs one logit per
bucket, the softmax gives each bucket's probability, and inside an interior bucket the density
is flat (probability / width). So that every y has positive density ("full support"), the two
outer buckets are not flat: each is a half-normal that starts at the bucket's inner border and
extends to -inf (left) or +inf (right), with its scale chosen so that half of its mass lies
within the bucket's width.

The borders are quantiles of y values drawn from the prior (:func:`borders_from_prior`), so
buckets are narrow where targets are common.

Every method takes ``logits`` of shape ``(..., n_buckets)``: the distribution is batched over
any leading dimensions.
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
from torch import Tensor, nn

__all__ = ["BarDistribution", "borders_from_prior"]

_HALF_MASS_Z = 0.6744897501960817
"""Phi^-1(0.75): a half-normal of scale s holds half its mass within s * _HALF_MASS_Z."""


class _Sampler(Protocol):
    def sample(self, batch_size: int, n_points: int, generator: torch.Generator) -> object: ...


def borders_from_prior(
    prior: _Sampler,
    n_buckets: int = 1000,
    *,
    generator: torch.Generator,
    n_datasets: int = 10_000,
    n_points: int = 10,
) -> Tensor:
    """Bucket borders at quantiles of the prior's y values.

    As in the paper: the targets of ``n_datasets`` prior datasets of ``n_points`` points each.

    Parameters
    ----------
    prior
        Anything with ``sample(batch_size, n_points, generator) -> Batch``.
    n_buckets : int
        Number of buckets; ``n_buckets + 1`` borders are returned.
    generator : torch.Generator
        Seeds the draw.

    Returns
    -------
    Tensor, shape (n_buckets + 1,), float32
        Strictly increasing borders; the outer two are the smallest and largest sample.
    """
    if not isinstance(n_buckets, int) or n_buckets < 2:
        raise ValueError(f"n_buckets must be an int >= 2, got {n_buckets!r}")
    batch = prior.sample(n_datasets, n_points, generator)
    y = batch.y.reshape(-1).to(torch.float64)  # type: ignore[attr-defined]  # (n_datasets * n_points,)
    levels = torch.linspace(0, 1, n_buckets + 1, dtype=torch.float64)
    borders = torch.quantile(y, levels).to(torch.float32)
    if not bool((borders[1:] > borders[:-1]).all()):
        raise ValueError(
            "prior y samples have repeated values, so quantile borders are not strictly "
            "increasing; use fewer buckets or a continuous-valued prior"
        )
    return borders


class BarDistribution(nn.Module):
    """A bar distribution with fixed borders; methods take logits of shape (..., n_buckets).

    Parameters
    ----------
    borders : Tensor, shape (n_buckets + 1,)
        Strictly increasing, finite. Stored as a float32 buffer (saved with the model).
    """

    borders: Tensor

    def __init__(self, borders: Tensor) -> None:
        super().__init__()
        borders = torch.as_tensor(borders, dtype=torch.float32)
        if borders.ndim != 1 or borders.numel() < 3:
            raise ValueError(f"borders must be 1-d with >= 3 values, got {tuple(borders.shape)}")
        if not bool(torch.isfinite(borders).all()):
            raise ValueError("borders must be finite")
        if not bool((borders[1:] > borders[:-1]).all()):
            raise ValueError("borders must be strictly increasing")
        self.register_buffer("borders", borders.clone())

    # ---------------------------------------------------------------- geometry

    @property
    def n_buckets(self) -> int:
        return int(self.borders.numel()) - 1

    @property
    def widths(self) -> Tensor:
        """Bucket widths, shape (n_buckets,)."""
        return self.borders[1:] - self.borders[:-1]

    def _tail_scales(self) -> tuple[Tensor, Tensor]:
        """Half-normal scales of the left and right tail (0-d tensors)."""
        w = self.widths
        return w[0] / _HALF_MASS_Z, w[-1] / _HALF_MASS_Z

    def bucket_index(self, y: Tensor) -> Tensor:
        """Bucket of each y (values outside the borders go to the outer buckets), int64."""
        idx = torch.searchsorted(self.borders, y.contiguous(), right=False) - 1
        return idx.clamp(0, self.n_buckets - 1)

    # ---------------------------------------------------------------- densities

    def log_density(self, logits: Tensor, y: Tensor) -> Tensor:
        """Log density of targets; its negation is the training loss.

        Parameters
        ----------
        logits : Tensor, shape (..., n_buckets)
        y : Tensor, shape (...)

        Returns
        -------
        Tensor, shape (...)
        """
        self._check_logits(logits)
        y = y.to(logits.dtype)
        idx = self.bucket_index(y)
        log_p = torch.log_softmax(logits, dim=-1)
        log_p_bucket = log_p.gather(-1, idx[..., None])[..., 0]  # (...)
        widths = self.widths.to(logits.dtype)
        log_inside = -torch.log(widths)[idx]  # flat density inside interior buckets
        s_left, s_right = (s.to(logits.dtype) for s in self._tail_scales())
        b = self.borders.to(logits.dtype)
        log_left = _half_normal_log_pdf(b[1] - y, s_left)
        log_right = _half_normal_log_pdf(y - b[-2], s_right)
        log_inside = torch.where(idx == 0, log_left, log_inside)
        log_inside = torch.where(idx == self.n_buckets - 1, log_right, log_inside)
        return log_p_bucket + log_inside

    def density(self, logits: Tensor, y_grid: Tensor) -> Tensor:
        """Density on a grid of y values.

        Parameters
        ----------
        logits : Tensor, shape (..., n_buckets)
        y_grid : Tensor, shape (n_y,)

        Returns
        -------
        Tensor, shape (..., n_y)
        """
        self._check_logits(logits)
        lead = logits.shape[:-1]
        y = y_grid.to(logits.dtype).expand(*lead, y_grid.numel())  # (..., n_y)
        # (..., n_y, n_buckets): each grid value against the same logits
        logits_rep = logits[..., None, :].expand(*lead, y_grid.numel(), self.n_buckets)
        return self.log_density(logits_rep, y).exp()

    # ---------------------------------------------------------------- summaries

    def mean(self, logits: Tensor) -> Tensor:
        """Mean of the distribution, shape (...)."""
        self._check_logits(logits)
        p = torch.softmax(logits, dim=-1)
        b = self.borders.to(logits.dtype)
        centres = (b[1:] + b[:-1]) / 2
        s_left, s_right = self._tail_scales()
        half_normal_mean = math.sqrt(2 / math.pi)
        centres = centres.clone()
        centres[0] = b[1] - s_left.to(logits.dtype) * half_normal_mean
        centres[-1] = b[-2] + s_right.to(logits.dtype) * half_normal_mean
        return p @ centres

    def cdf(self, logits: Tensor, y: Tensor) -> Tensor:
        """P(Y <= y), shapes as in :meth:`log_density`."""
        self._check_logits(logits)
        y = y.to(logits.dtype)
        p = torch.softmax(logits, dim=-1)
        b = self.borders.to(logits.dtype)
        cum = torch.cumsum(p, dim=-1) - p  # (..., n_buckets) mass below each bucket
        idx = self.bucket_index(y)
        below = cum.gather(-1, idx[..., None])[..., 0]
        p_k = p.gather(-1, idx[..., None])[..., 0]
        lo = b[idx]
        frac = ((y - lo) / self.widths.to(logits.dtype)[idx]).clamp(0, 1)
        s_left, s_right = (s.to(logits.dtype) for s in self._tail_scales())
        # left tail: mass of the half-normal beyond distance b[1] - y
        frac_left = 1 - torch.erf((b[1] - y).clamp(min=0) / (s_left * math.sqrt(2)))
        frac_right = torch.erf((y - b[-2]).clamp(min=0) / (s_right * math.sqrt(2)))
        frac = torch.where(idx == 0, frac_left, frac)
        frac = torch.where(idx == self.n_buckets - 1, frac_right, frac)
        return below + p_k * frac

    def quantiles(self, logits: Tensor, levels: Tensor) -> Tensor:
        """Quantiles at the given levels.

        Parameters
        ----------
        logits : Tensor, shape (..., n_buckets)
        levels : Tensor, shape (n_levels,)
            Each strictly inside (0, 1).

        Returns
        -------
        Tensor, shape (..., n_levels)
        """
        self._check_logits(logits)
        levels = torch.as_tensor(levels, dtype=logits.dtype)
        if levels.ndim != 1 or not bool(((levels > 0) & (levels < 1)).all()):
            raise ValueError("levels must be a 1-d tensor of values strictly inside (0, 1)")
        lead = logits.shape[:-1]
        p = torch.softmax(logits, dim=-1)
        cum = torch.cumsum(p, dim=-1)  # (..., n_buckets) mass up to each bucket's top
        q = levels.expand(*lead, levels.numel()).contiguous()  # (..., n_levels)
        idx = torch.searchsorted(cum.contiguous(), q).clamp(0, self.n_buckets - 1)
        below = (cum - p).gather(-1, idx)
        p_k = p.gather(-1, idx).clamp(min=torch.finfo(logits.dtype).tiny)
        frac = ((q - below) / p_k).clamp(0, 1)  # fraction of bucket idx's mass below q
        b = self.borders.to(logits.dtype)
        out = b[idx] + frac * self.widths.to(logits.dtype)[idx]
        s_left, s_right = (s.to(logits.dtype) for s in self._tail_scales())
        eps = torch.finfo(logits.dtype).eps
        # left tail: mass (1 - frac) lies further left than the point, i.e. erf(d / (s√2)) = frac'
        d_left = s_left * math.sqrt(2) * torch.erfinv((1 - frac).clamp(0, 1 - eps))
        d_right = s_right * math.sqrt(2) * torch.erfinv(frac.clamp(0, 1 - eps))
        out = torch.where(idx == 0, b[1] - d_left, out)
        out = torch.where(idx == self.n_buckets - 1, b[-2] + d_right, out)
        return out

    def _check_logits(self, logits: Tensor) -> None:
        if logits.shape[-1:] != (self.n_buckets,):
            raise ValueError(
                f"logits must have a last dimension of n_buckets = {self.n_buckets}, "
                f"got shape {tuple(logits.shape)}"
            )


def _half_normal_log_pdf(z: Tensor, scale: Tensor) -> Tensor:
    """log of sqrt(2/pi)/scale * exp(-z^2 / (2 scale^2)) for z >= 0 (z < 0 is clamped to 0)."""
    z = z.clamp(min=0)
    return 0.5 * math.log(2 / math.pi) - torch.log(scale) - z**2 / (2 * scale**2)
