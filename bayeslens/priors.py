"""Priors with finite sets of latents.

A prior here is a finite set of *latents* L, each with a prior weight p(L) and a mean function
m_L(x). Data are drawn as x ~ U[-1, 1] and y = m_L(x) + eps with eps ~ N(0, sigma^2); the
coin is the one classification family (y in {0, 1}, P(y = 1) = q_L, x constant).

Every family is a frozen dataclass. Regression families are *product grids*: each axis is a
1-d tensor of values with optional non-negative weights, and a latent is one point of the grid
(flat index in C order over the axes, the last axis fastest). Non-product priors are built as a
:class:`Mixture` of families, with one weight per *family*.

The families only describe the world; exact inference lives in :mod:`bayeslens.posterior`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple, TypeAlias

import torch
from torch import Tensor

from bayeslens._checks import check_generator, check_positive

__all__ = [
    "Batch",
    "CoinPrior",
    "Curriculum",
    "Mixture",
    "Prior",
    "SinePrior",
    "StepPrior",
    "axis",
]

DTYPE = torch.float64
"""Exact inference runs in float64: log-likelihoods of 2M points reach -1e6."""


class Batch(NamedTuple):
    """A batch of datasets drawn from a prior.

    Attributes
    ----------
    x : Tensor, shape (batch, points)
    y : Tensor, shape (batch, points)
        Regression targets, or class labels 0./1. for the coin.
    latent : Tensor, shape (batch,), int64
        Flat index of the latent each dataset was drawn from.
    """

    x: Tensor
    y: Tensor
    latent: Tensor


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _as_1d(name: str, values: object) -> Tensor:
    """Return `values` as a finite, non-empty float64 1-d tensor, or raise ValueError."""
    try:
        t = torch.as_tensor(values, dtype=DTYPE)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{name} must be a 1-d sequence of numbers, got {values!r}") from err
    if t.ndim == 0:
        t = t.reshape(1)
    if t.ndim != 1:
        raise ValueError(f"{name} must be 1-d, got shape {tuple(t.shape)}")
    if t.numel() == 0:
        raise ValueError(f"{name} must hold at least one value")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return t


def _log_weights(name: str, weights: object | None, n: int) -> Tensor:
    """Normalised log weights from non-negative `weights` (uniform when None)."""
    if weights is None:
        return torch.full((n,), -math.log(n), dtype=DTYPE)
    w = _as_1d(name, weights)
    if w.numel() != n:
        raise ValueError(f"{name} must have {n} entries (one per value), got {w.numel()}")
    if (w < 0).any():
        raise ValueError(f"{name} must be non-negative")
    total = w.sum()
    if total <= 0:
        raise ValueError(f"{name} must not be all zero")
    return torch.log(w / total)


def _check_sizes(batch_size: int, n_points: int) -> None:
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if not isinstance(n_points, int) or n_points < 0:
        raise ValueError(f"n_points must be an int >= 0, got {n_points!r}")


def check_x(x: object, name: str = "x") -> Tensor:
    """Return `x` as a finite float64 tensor, or raise ValueError naming `name`."""
    try:
        t = torch.as_tensor(x, dtype=DTYPE)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{name} must be numeric, got {type(x)}") from err
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return t


@dataclass(frozen=True)
class Axis:
    """One axis of a product grid: values and their normalised log prior weights.

    Attributes
    ----------
    values : Tensor, shape (n,)
    log_weights : Tensor, shape (n,)
        Log prior weights along this axis, normalised to sum to one.
    """

    values: Tensor
    log_weights: Tensor

    def __len__(self) -> int:
        return int(self.values.numel())

    def sample(self, batch_size: int, generator: torch.Generator) -> Tensor:
        """Indices drawn from this axis' weights, shape (batch_size,)."""
        if len(self) == 1:
            return torch.zeros(batch_size, dtype=torch.long)
        return torch.multinomial(
            self.log_weights.exp(), batch_size, replacement=True, generator=generator
        )


def axis(name: str, values: object, weights: object | None = None) -> Axis:
    """Build a validated :class:`Axis` (uniform weights unless `weights` is given)."""
    v = _as_1d(name, values)
    return Axis(v, _log_weights(f"{name}_weights", weights, v.numel()))


def _flat_index(indices: list[Tensor], sizes: list[int]) -> Tensor:
    """C-order flat index of per-axis indices (last axis fastest)."""
    flat = torch.zeros_like(indices[0])
    for idx, n in zip(indices, sizes, strict=True):
        flat = flat * n + idx
    return flat


def unravel(latent: Tensor, sizes: list[int]) -> list[Tensor]:
    """Inverse of :func:`_flat_index`."""
    out = []
    rest = latent
    for n in reversed(sizes):
        out.append(rest % n)
        rest = rest // n
    return out[::-1]


def _check_latent_index(latent: object, n_latents: int) -> Tensor:
    t = torch.as_tensor(latent)
    if t.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise ValueError(f"latent must hold integer indices, got dtype {t.dtype}")
    t = t.long()
    if t.numel() and (t.min() < 0 or t.max() >= n_latents):
        raise ValueError(f"latent indices must lie in [0, {n_latents}), got {t.min()}..{t.max()}")
    return t


def _uniform_x(
    batch_size: int, n_points: int, generator: torch.Generator, x_range: tuple[float, float]
) -> Tensor:
    """x ~ U[x_range], shape (batch_size, n_points)."""
    lo, hi = x_range
    return torch.rand(batch_size, n_points, generator=generator, dtype=DTYPE) * (hi - lo) + lo


# --------------------------------------------------------------------------------------------
# Regression families
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepPrior:
    """Step functions m(x) = b + a * 1[x > c] over a product grid of (c, b, a).

    Latents are ordered C-style over (c, b, a): ``n_latents = len(c) * len(b) * len(a)``.
    Build with :meth:`grid`.
    """

    c: Axis
    b: Axis
    a: Axis
    sigma: float
    name: str = "steps"
    x_range: tuple[float, float] = (-1.0, 1.0)
    """Support of x ~ U[x_range]; outside it p(x) = 0 and the posterior is undefined."""

    @classmethod
    def grid(
        cls,
        c: object,
        b: object,
        a: object,
        sigma: float,
        *,
        c_weights: object | None = None,
        b_weights: object | None = None,
        a_weights: object | None = None,
    ) -> StepPrior:
        """Validated step prior from grids (1-d) and optional non-negative per-axis weights.

        The change points `c` must be sorted ascending.
        """
        c_axis = axis("c", c, c_weights)
        if (c_axis.values[1:] < c_axis.values[:-1]).any():
            raise ValueError("c must be sorted ascending")
        return cls(
            c_axis,
            axis("b", b, b_weights),
            axis("a", a, a_weights),
            check_positive("sigma", sigma),
        )

    @property
    def n_features(self) -> int:
        """Input features d of x: 1 (x of shape (batch, points), no feature axis)."""
        return 1

    @property
    def axes(self) -> list[Axis]:
        return [self.c, self.b, self.a]

    @property
    def n_latents(self) -> int:
        return len(self.c) * len(self.b) * len(self.a)

    def log_prior(self) -> Tensor:
        """Log prior of every latent, shape (n_latents,)."""
        lp = (
            self.c.log_weights[:, None, None]
            + self.b.log_weights[None, :, None]
            + self.a.log_weights[None, None, :]
        )
        return lp.reshape(-1)

    def latent_params(self, latent: Tensor) -> dict[str, Tensor]:
        """Parameters (c, b, a) of the given flat latent indices, each shaped like `latent`."""
        latent = _check_latent_index(latent, self.n_latents)
        ic, ib, ia = unravel(latent, [len(ax) for ax in self.axes])
        return {"c": self.c.values[ic], "b": self.b.values[ib], "a": self.a.values[ia]}

    def mean(self, x: Tensor, latent: Tensor | None = None) -> Tensor:
        """Mean function m_L(x).

        Parameters
        ----------
        x : Tensor, shape (..., points)
        latent : Tensor of int, shape (...), optional
            One latent per leading index. When omitted, every latent is evaluated.

        Returns
        -------
        Tensor
            Shape (..., points) with `latent`, else (..., points, n_latents).
        """
        x = check_x(x)
        if latent is None:
            ic, ib, ia = unravel(torch.arange(self.n_latents), [len(ax) for ax in self.axes])
            c, b, a = self.c.values[ic], self.b.values[ib], self.a.values[ia]
            return b + a * (x[..., None] > c).to(DTYPE)
        p = self.latent_params(latent)
        return p["b"][..., None] + p["a"][..., None] * (x > p["c"][..., None]).to(DTYPE)

    def sample_latents(self, batch_size: int, generator: torch.Generator) -> Tensor:
        """Flat latent indices drawn from the prior, shape (batch_size,)."""
        idx = [ax.sample(batch_size, generator) for ax in self.axes]
        return _flat_index(idx, [len(ax) for ax in self.axes])

    def sample(
        self, batch_size: int, n_points: int, generator: torch.Generator
    ) -> Batch:
        """Draw `batch_size` datasets of `n_points` points, vectorised over the batch."""
        return _sample_regression(self, batch_size, n_points, generator)


@dataclass(frozen=True)
class SinePrior:
    """Sines and lines m(x) = y0 + A sin(f x + 2 pi phi) + s x over a product grid.

    Axes, in latent order: y0, s, A, f, phi. A single-value axis fixes that parameter, so E2's
    sines (phi varies), E3's sines (y0 varies) and E3's lines (y0, s vary, A = 0) are all
    instances. Build with :meth:`grid`.
    """

    y0: Axis
    s: Axis
    A: Axis
    f: Axis
    phi: Axis
    sigma: float
    name: str = "sines"
    x_range: tuple[float, float] = (-1.0, 1.0)
    """Support of x ~ U[x_range]; outside it p(x) = 0 and the posterior is undefined."""

    @classmethod
    def grid(
        cls,
        *,
        sigma: float,
        y0: object = 0.0,
        s: object = 0.0,
        A: object = 0.0,
        f: object = 1.0,
        phi: object = 0.0,
        weights: dict[str, object] | None = None,
        name: str = "sines",
    ) -> SinePrior:
        """Validated sine/line prior; `weights` maps an axis name to its non-negative weights."""
        weights = dict(weights or {})
        unknown = set(weights) - {"y0", "s", "A", "f", "phi"}
        if unknown:
            raise ValueError(f"weights has unknown axes {sorted(unknown)}; use y0, s, A, f, phi")
        return cls(
            axis("y0", y0, weights.get("y0")),
            axis("s", s, weights.get("s")),
            axis("A", A, weights.get("A")),
            axis("f", f, weights.get("f")),
            axis("phi", phi, weights.get("phi")),
            check_positive("sigma", sigma),
            name,
        )

    @property
    def n_features(self) -> int:
        """Input features d of x: 1 (x of shape (batch, points), no feature axis)."""
        return 1

    @property
    def axes(self) -> list[Axis]:
        return [self.y0, self.s, self.A, self.f, self.phi]

    @property
    def n_latents(self) -> int:
        return math.prod(len(ax) for ax in self.axes)

    def log_prior(self) -> Tensor:
        """Log prior of every latent, shape (n_latents,)."""
        lp = torch.zeros((), dtype=DTYPE)
        for k, ax in enumerate(self.axes):
            shape = [1] * 5
            shape[k] = len(ax)
            lp = lp + ax.log_weights.reshape(shape)
        return lp.reshape(-1)

    def latent_params(self, latent: Tensor | None = None) -> dict[str, Tensor]:
        """Parameters of the given flat latents (all latents when None)."""
        if latent is None:
            latent = torch.arange(self.n_latents)
        latent = _check_latent_index(latent, self.n_latents)
        idx = unravel(latent, [len(ax) for ax in self.axes])
        names = ["y0", "s", "A", "f", "phi"]
        return {n: ax.values[i] for n, ax, i in zip(names, self.axes, idx, strict=True)}

    def mean(self, x: Tensor, latent: Tensor | None = None) -> Tensor:
        """Mean function m_L(x); shapes as in :meth:`StepPrior.mean`."""
        x = check_x(x)
        p = self.latent_params(latent)
        if latent is None:
            x = x[..., None]  # (..., points, 1) against (n_latents,)
        else:
            p = {k: v[..., None] for k, v in p.items()}  # (..., 1) against (..., points)
        return p["y0"] + p["A"] * torch.sin(p["f"] * x + 2 * math.pi * p["phi"]) + p["s"] * x

    def sample_latents(self, batch_size: int, generator: torch.Generator) -> Tensor:
        """Flat latent indices drawn from the prior, shape (batch_size,)."""
        idx = [ax.sample(batch_size, generator) for ax in self.axes]
        return _flat_index(idx, [len(ax) for ax in self.axes])

    def sample(
        self, batch_size: int, n_points: int, generator: torch.Generator
    ) -> Batch:
        """Draw `batch_size` datasets of `n_points` points, vectorised over the batch."""
        return _sample_regression(self, batch_size, n_points, generator)


RegressionFamily: TypeAlias = StepPrior | SinePrior


def _sample_regression(
    prior: RegressionFamily | Mixture, batch_size: int, n_points: int, generator: object
) -> Batch:
    _check_sizes(batch_size, n_points)
    gen = check_generator(generator)
    latent = prior.sample_latents(batch_size, gen)
    x = _uniform_x(batch_size, n_points, gen, prior.x_range)
    noise = torch.randn(batch_size, n_points, generator=gen, dtype=DTYPE) * prior.sigma
    return Batch(x, prior.mean(x, latent) + noise, latent)


@dataclass(frozen=True)
class Mixture:
    """A weighted union of regression families sharing one noise sigma.

    The weights are per *family*: E3 mixes 101 sines and 10,201 lines with equal family weight,
    so each sine latent weighs 100x more than each line latent. Latents are numbered family
    after family.
    """

    families: tuple[RegressionFamily, ...]
    log_family_weights: Tensor
    name: str = "mixture"

    @classmethod
    def of(
        cls,
        families: list[RegressionFamily] | tuple[RegressionFamily, ...],
        weights: object | None = None,
        name: str = "mixture",
    ) -> Mixture:
        """Validated mixture; equal family weights unless `weights` is given."""
        families = tuple(families)
        if not families:
            raise ValueError("families must hold at least one family")
        for fam in families:
            if not isinstance(fam, StepPrior | SinePrior):
                raise ValueError(f"families must be StepPrior or SinePrior, got {type(fam)}")
        sigmas = {fam.sigma for fam in families}
        if len(sigmas) != 1:
            raise ValueError(f"families must share one sigma, got {sorted(sigmas)}")
        ranges = {fam.x_range for fam in families}
        if len(ranges) != 1:
            raise ValueError(f"families must share one x_range, got {sorted(ranges)}")
        return cls(families, _log_weights("weights", weights, len(families)), name)

    @property
    def n_features(self) -> int:
        """Input features d of x: 1 (x of shape (batch, points), no feature axis)."""
        return 1

    @property
    def sigma(self) -> float:
        return self.families[0].sigma

    @property
    def x_range(self) -> tuple[float, float]:
        return self.families[0].x_range

    @property
    def n_latents(self) -> int:
        return sum(fam.n_latents for fam in self.families)

    @property
    def offsets(self) -> list[int]:
        """Index of each family's first latent."""
        out, start = [], 0
        for fam in self.families:
            out.append(start)
            start += fam.n_latents
        return out

    def log_prior(self) -> Tensor:
        """Log prior of every latent, shape (n_latents,)."""
        return torch.cat(
            [lw + fam.log_prior() for lw, fam in zip(self.log_family_weights, self.families,
                                                     strict=True)]
        )

    def mean(self, x: Tensor, latent: Tensor | None = None) -> Tensor:
        """Mean function m_L(x); shapes as in :meth:`StepPrior.mean`."""
        x = check_x(x)
        if latent is None:
            return torch.cat([fam.mean(x) for fam in self.families], dim=-1)
        latent = _check_latent_index(latent, self.n_latents)
        out = torch.zeros(latent.shape + x.shape[latent.ndim:], dtype=DTYPE)
        for fam, start in zip(self.families, self.offsets, strict=True):
            sel = (latent >= start) & (latent < start + fam.n_latents)
            if sel.any():
                out[sel] = fam.mean(x[sel], latent[sel] - start)
        return out

    def sample_latents(self, batch_size: int, generator: torch.Generator) -> Tensor:
        """Flat latent indices: a family per dataset, then a latent within it."""
        fam_idx = torch.multinomial(
            self.log_family_weights.exp(), batch_size, replacement=True, generator=generator
        )
        latent = torch.zeros(batch_size, dtype=torch.long)
        for k, (fam, start) in enumerate(zip(self.families, self.offsets, strict=True)):
            within = fam.sample_latents(batch_size, generator)  # drawn for all, kept where k
            latent = torch.where(fam_idx == k, within + start, latent)
        return latent

    def sample(
        self, batch_size: int, n_points: int, generator: torch.Generator
    ) -> Batch:
        """Draw `batch_size` datasets of `n_points` points, vectorised over the batch."""
        return _sample_regression(self, batch_size, n_points, generator)


# --------------------------------------------------------------------------------------------
# Classification: the coin
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoinPrior:
    """A coin per dataset: y ~ Bernoulli(q_L), with x constant (0).

    Attributes
    ----------
    q : Axis
        Probabilities of heads (y = 1), each strictly inside (0, 1), with prior weights.
    """

    q: Axis
    name: str = "coin"
    sigma: float = field(default=float("nan"), repr=False)  # no Gaussian noise: classification
    n_classes: int = 2
    x_range: tuple[float, float] = (0.0, 0.0)
    """x is constant: 0."""

    @classmethod
    def grid(cls, q: object, weights: object | None = None) -> CoinPrior:
        """Validated coin prior over heads probabilities `q` (each in [0, 1])."""
        ax = axis("q", q, weights)
        if (ax.values < 0).any() or (ax.values > 1).any():
            raise ValueError("q must lie in [0, 1]")
        return cls(ax)

    @property
    def n_features(self) -> int:
        """Input features d of x: 1 (x of shape (batch, points), no feature axis)."""
        return 1

    @property
    def n_latents(self) -> int:
        return len(self.q)

    def log_prior(self) -> Tensor:
        """Log prior of every latent, shape (n_latents,)."""
        return self.q.log_weights.clone()

    def mean(self, x: Tensor, latent: Tensor | None = None) -> Tensor:
        """P(y = 1 | L) at `x`; shapes as in :meth:`StepPrior.mean`."""
        x = check_x(x)
        if latent is None:
            return self.q.values.expand(*x.shape, self.n_latents)
        latent = _check_latent_index(latent, self.n_latents)
        return self.q.values[latent][..., None].expand(*latent.shape, *x.shape[latent.ndim:])

    def sample_latents(self, batch_size: int, generator: torch.Generator) -> Tensor:
        """Latent indices drawn from the prior, shape (batch_size,)."""
        return self.q.sample(batch_size, generator)

    def sample(self, batch_size: int, n_points: int, generator: torch.Generator) -> Batch:
        """Draw `batch_size` sequences of `n_points` flips; x is all zeros, y in {0., 1.}."""
        _check_sizes(batch_size, n_points)
        gen = check_generator(generator)
        latent = self.sample_latents(batch_size, gen)
        u = torch.rand(batch_size, n_points, generator=gen, dtype=DTYPE)
        y = (u < self.q.values[latent][:, None]).to(DTYPE)
        return Batch(torch.zeros(batch_size, n_points, dtype=DTYPE), y, latent)


Prior: TypeAlias = StepPrior | SinePrior | Mixture | CoinPrior
"""Any prior bayeslens can do exact inference for."""


@dataclass(frozen=True)
class Curriculum:
    """Training data from easier priors first, then from the ``target`` prior.

    Not a prior of its own: exact inference, the bar distribution's borders, evaluation and the
    saved model all use ``target``. :func:`bayeslens.train.train` draws the batch of step ``i``
    from :meth:`prior_at` ``(i)``: the first ``stages[0][0]`` steps from ``stages[0][1]``, the
    next ``stages[1][0]`` from ``stages[1][1]``, and so on, then from ``target`` to the end.
    Since the network ends on ``target`` alone, the stages only choose where it starts from.

    Attributes
    ----------
    target : Prior
    stages : tuple of (int, Prior)
        Step counts (each >= 1) and the priors drawn from for that many steps.
    """

    target: Prior
    stages: tuple[tuple[int, Prior], ...]

    def __post_init__(self) -> None:
        if isinstance(self.target, Curriculum) or not hasattr(self.target, "sample"):
            raise ValueError(f"target must be a prior, got {type(self.target).__name__}")
        for n, p in self.stages:
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                raise ValueError(f"stage lengths must be ints >= 1, got {n!r}")
            if type(p) is not type(self.target) or getattr(p, "n_classes", 0) != self.n_classes:
                raise ValueError(
                    f"stage priors must be of the target's kind ({type(self.target).__name__})"
                    f", got {type(p).__name__}"
                )

    @property
    def name(self) -> str:
        return f"{self.target.name} after a curriculum of {len(self.stages)} stages"

    @property
    def n_features(self) -> int:
        """Input features d of x: the target's (1 for every prior a curriculum takes)."""
        return int(self.target.n_features)

    @property
    def n_classes(self) -> int:
        return int(getattr(self.target, "n_classes", 0))

    @property
    def n_stage_steps(self) -> int:
        """Steps drawn from the stages before the target takes over."""
        return sum(n for n, _ in self.stages)

    def prior_at(self, step: int) -> Prior:
        """The prior that training step ``step`` (0-based) draws its batch from."""
        end = 0
        for n, p in self.stages:
            end += n
            if step < end:
                return p
        return self.target

    def sample(self, batch_size: int, n_points: int, generator: torch.Generator) -> Batch:
        """Datasets from the target prior (as for the bar distribution's borders)."""
        return self.target.sample(batch_size, n_points, generator)
