"""Linear-regression priors: a finite pool of tasks and the Gaussian prior over all tasks.

A *task* is a weight vector w in R^d. Data are drawn as x ~ N(0, I_d) and
y = w . x + eps with eps ~ N(0, sigma^2), independently per point. Two priors over w:

* :class:`LinearPool`: M weight vectors w_1, ..., w_M ~ N(0, I_d), drawn once from a seed, and
  a uniform prior over them. A network trained on a small pool follows the exact posterior
  over the pool (the "discrete MMSE" estimator); past a threshold in M it switches to ridge
  regression, the posterior of the Gaussian prior (Raventós et al., 2023).
* :class:`LinearGaussian`: w ~ N(0, I_d) fresh per dataset, whose PPD mean is ridge regression
  with penalty sigma^2 (transformers track it: Garg et al., 2022).

Raventós et al.'s reference setting is :func:`raventos_pool` and :func:`raventos_gaussian`.
The priors only describe the world; exact inference lives in
:mod:`bayeslens.linear_posterior`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
from torch import Tensor

from bayeslens._checks import check_generator, check_int, check_positive

__all__ = [
    "RAVENTOS_D",
    "RAVENTOS_POINTS",
    "RAVENTOS_SIGMA",
    "LinearBatch",
    "LinearGaussian",
    "LinearPool",
    "raventos_gaussian",
    "raventos_pool",
]

DTYPE = torch.float64

RAVENTOS_D = 8
"""Raventós et al. (2023): input dimension d."""
RAVENTOS_POINTS = 16
"""Raventós et al. (2023): K = 16 (x, y) pairs per sequence; the k-th is predicted from the
k - 1 before it."""
RAVENTOS_SIGMA = 0.5
"""Raventós et al. (2023): noise standard deviation (noise variance sigma^2 = 0.25)."""


class LinearBatch(NamedTuple):
    """A batch of datasets drawn from a linear-regression prior.

    Attributes
    ----------
    x : Tensor, shape (batch, points, d)
    y : Tensor, shape (batch, points)
    latent : Tensor of int64, shape (batch,), or None
        Index into the pool of each dataset's task; None when the tasks were drawn fresh
        from N(0, I_d) (:meth:`LinearPool.sample_fresh`, :class:`LinearGaussian`).
    w : Tensor, shape (batch, d)
        Each dataset's weight vector.
    """

    x: Tensor
    y: Tensor
    latent: Tensor | None
    w: Tensor


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _check_settings(kind: str, own: dict[str, Any], recorded: object) -> None:
    """Raise ValueError unless `recorded` holds exactly the keys and values of `own`."""
    if not isinstance(recorded, Mapping):
        raise ValueError(f"settings must be a mapping, got {type(recorded).__name__}")
    missing = sorted(set(own) - set(recorded))
    unknown = sorted(set(recorded) - set(own))
    if missing or unknown:
        raise ValueError(
            f"settings must have the keys {sorted(own)} of a {kind}; missing {missing}, "
            f"unknown {unknown}"
        )
    for key, value in own.items():
        if recorded[key] != value:
            raise ValueError(
                f"settings[{key!r}] is {recorded[key]!r} but this {kind} has {key} = {value!r}"
                " (the recorded settings, e.g. a saved model's, are for a different prior)"
            )


def _sample_linear(
    w: Tensor, n_points: int, sigma: float, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """x ~ N(0, I_d) and y = w . x + N(0, sigma^2) for weights w (batch, d).

    Returns x (batch, n_points, d) and y (batch, n_points).
    """
    batch_size, d = w.shape
    x = torch.randn(batch_size, n_points, d, generator=generator, dtype=DTYPE)
    noise = torch.randn(batch_size, n_points, generator=generator, dtype=DTYPE) * sigma
    y = (x @ w[:, :, None])[..., 0] + noise  # (batch, points, d) @ (batch, d, 1)
    return x, y


def _check_sizes(batch_size: int, n_points: int) -> None:
    check_int("batch_size", batch_size, 1)
    check_int("n_points", n_points, 1)


# --------------------------------------------------------------------------------------------
# The priors
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinearPool:
    """A finite pool of M linear tasks w_1, ..., w_M ~ N(0, I_d) with a uniform prior.

    The pool is a deterministic function of (n_tasks, d, seed): the weights are drawn from a
    fresh ``torch.Generator`` seeded with `seed`, never from the global random state. Two pools
    with equal settings compare equal and hold the same weights.

    Attributes
    ----------
    n_tasks : int
        M, the number of tasks in the pool (the task diversity).
    d : int
        Input dimension.
    sigma : float
        Noise standard deviation.
    seed : int
        Seed the pool's weights are drawn from.
    w : Tensor, shape (n_tasks, d)
        The pool's weight vectors (derived from the settings, not passed in).
    """

    n_tasks: int
    d: int
    sigma: float
    seed: int = 0
    name: str = "linear_pool"
    w: Tensor = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_int("n_tasks", self.n_tasks, 1)
        check_int("d", self.d, 1)
        object.__setattr__(self, "sigma", check_positive("sigma", self.sigma))
        check_int("seed", self.seed, 0)
        gen = torch.Generator().manual_seed(self.seed)
        object.__setattr__(
            self, "w", torch.randn(self.n_tasks, self.d, generator=gen, dtype=DTYPE)
        )

    @property
    def n_features(self) -> int:
        """Input features of x: d (x of shape (batch, points, d))."""
        return self.d

    @property
    def n_latents(self) -> int:
        """The number of latents (tasks), M."""
        return self.n_tasks

    def log_prior(self) -> Tensor:
        """Log prior of every task (uniform: -log M), shape (n_tasks,)."""
        return torch.full((self.n_tasks,), -math.log(self.n_tasks), dtype=DTYPE)

    def sample(self, batch_size: int, n_points: int, generator: torch.Generator) -> LinearBatch:
        """Draw `batch_size` datasets of `n_points` points, each from a task of the pool.

        Returns
        -------
        LinearBatch
            x (batch_size, n_points, d), y (batch_size, n_points), the task index `latent`
            (batch_size,) drawn uniformly from the pool, and its weights w (batch_size, d).
        """
        _check_sizes(batch_size, n_points)
        gen = check_generator(generator)
        latent = torch.randint(self.n_tasks, (batch_size,), generator=gen)
        w = self.w[latent]
        x, y = _sample_linear(w, n_points, self.sigma, gen)
        return LinearBatch(x, y, latent, w)

    def sample_fresh(
        self, batch_size: int, n_points: int, generator: torch.Generator
    ) -> LinearBatch:
        """Draw datasets from tasks *outside* the pool: w ~ N(0, I_d) fresh per dataset.

        For evaluation on unseen tasks; same likelihood and shapes as :meth:`sample`, with
        ``latent`` None (a fresh task lies in the pool with probability 0).
        """
        return _sample_gaussian(self.d, self.sigma, batch_size, n_points, generator)

    def settings(self) -> dict[str, Any]:
        """The pool's settings, enough to rebuild it: ``LinearPool(**settings)``."""
        return {"n_tasks": self.n_tasks, "d": self.d, "sigma": self.sigma, "seed": self.seed}

    def check_settings(self, settings: object) -> None:
        """Raise ValueError naming the first field where recorded `settings` differ from ours.

        Use it to refuse a saved model trained on another pool (another seed, M, d or sigma).
        """
        _check_settings("linear pool", self.settings(), settings)


@dataclass(frozen=True)
class LinearGaussian:
    """The Gaussian prior over linear tasks: w ~ N(0, I_d) fresh per dataset.

    Attributes
    ----------
    d : int
        Input dimension.
    sigma : float
        Noise standard deviation.
    """

    d: int
    sigma: float
    name: str = "linear_gaussian"

    def __post_init__(self) -> None:
        check_int("d", self.d, 1)
        object.__setattr__(self, "sigma", check_positive("sigma", self.sigma))

    @property
    def n_features(self) -> int:
        """Input features of x: d (x of shape (batch, points, d))."""
        return self.d

    def sample(self, batch_size: int, n_points: int, generator: torch.Generator) -> LinearBatch:
        """Draw `batch_size` datasets of `n_points` points, each with its own w ~ N(0, I_d).

        Returns
        -------
        LinearBatch
            x (batch_size, n_points, d), y (batch_size, n_points), ``latent`` None and the
            weights w (batch_size, d).
        """
        return _sample_gaussian(self.d, self.sigma, batch_size, n_points, generator)

    def settings(self) -> dict[str, Any]:
        """The prior's settings, enough to rebuild it: ``LinearGaussian(**settings)``."""
        return {"d": self.d, "sigma": self.sigma}

    def check_settings(self, settings: object) -> None:
        """Raise ValueError naming the first field where recorded `settings` differ from ours."""
        _check_settings("linear Gaussian prior", self.settings(), settings)


def _sample_gaussian(
    d: int, sigma: float, batch_size: int, n_points: int, generator: object
) -> LinearBatch:
    _check_sizes(batch_size, n_points)
    gen = check_generator(generator)
    w = torch.randn(batch_size, d, generator=gen, dtype=DTYPE)
    x, y = _sample_linear(w, n_points, sigma, gen)
    return LinearBatch(x, y, None, w)


# --------------------------------------------------------------------------------------------
# Named settings
# --------------------------------------------------------------------------------------------


def raventos_pool(n_tasks: int, seed: int = 0) -> LinearPool:
    """Raventós et al.'s (2023) pool: M = `n_tasks` tasks in d = 8, noise std 0.5.

    Sequences there have 16 points (:data:`RAVENTOS_POINTS`); the threshold in M where the
    network leaves the pool's posterior for ridge regression grows roughly linearly with d.

    On a 2-core CPU a study would scale this down: a smaller d (which also moves the threshold
    to smaller M) and fewer points per sequence. That choice is left to the study; build its
    pool with ``LinearPool(n_tasks, d, sigma, seed)``.
    """
    return LinearPool(n_tasks, RAVENTOS_D, RAVENTOS_SIGMA, seed)


def raventos_gaussian() -> LinearGaussian:
    """Raventós et al.'s (2023) Gaussian prior over all tasks: d = 8, noise std 0.5.

    Its PPD mean is ridge regression with penalty sigma^2 = 0.25. For a 2-core CPU the same
    scaling down as in :func:`raventos_pool` applies (smaller d, fewer points), undecided here.
    """
    return LinearGaussian(RAVENTOS_D, RAVENTOS_SIGMA)
