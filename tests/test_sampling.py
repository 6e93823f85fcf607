"""Drawing latents from the exact posterior (``Posterior.sample_latents``).

The reference is the slow, obviously right one: the empirical frequencies of a big sample
against the posterior weights of ``tests/reference.py`` (latent by latent, no structure used),
on priors small enough to list every latent.
"""

from __future__ import annotations

import numpy as np
import pytest
import reference
import torch

from bayeslens import paper
from bayeslens.posterior import posterior
from bayeslens.priors import CoinPrior, Mixture, Prior, SinePrior, StepPrior

F64 = torch.float64
N_DRAWS = 200_000


def _t(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


STEPS = StepPrior.grid([-0.5, 0.0, 0.5], [-0.5, 0.0, 0.5], [0.0, 1.0], sigma=0.4,
                       a_weights=[1, 3])
SINES = SinePrior.grid(sigma=0.4, y0=[0.0, 0.3], s=[0.0, 0.5], A=[0.3], f=[3.0],
                       phi=[0.0, 0.25])
TINY = {
    "steps": (STEPS, _t([-0.8, -0.2, 0.3, 0.7]), _t([0.1, 0.0, 0.9, 1.2])),
    "sines": (SINES, _t([-0.5, 0.0, 0.5]), _t([0.0, 0.2, 0.6])),
    "mixture": (Mixture.of([STEPS, SINES], weights=[1, 2]), _t([-0.5, 0.5]), _t([0.0, 0.5])),
    "coin": (CoinPrior.grid([0.2, 0.5, 0.8]), _t([0, 0, 0, 0]), _t([1, 1, 0, 1])),
}


@pytest.mark.parametrize("name", list(TINY))
def test_frequencies_match_the_reference_weights(name: str) -> None:
    prior, x, y = TINY[name]
    want = reference.log_weights(prior, x, y)[0].exp().numpy()  # (n_latents,)
    draws = posterior(prior, x, y).sample_latents(N_DRAWS, torch.Generator().manual_seed(1))
    assert draws.shape == (N_DRAWS,)
    assert draws.dtype == torch.int64
    freq = np.bincount(draws.numpy(), minlength=prior.n_latents) / N_DRAWS
    assert freq.shape == want.shape  # no index beyond the last latent
    se = np.sqrt(want * (1 - want) / N_DRAWS)
    np.testing.assert_array_less(np.abs(freq - want), 5 * se + 1e-12)


def test_a_latent_of_weight_zero_is_never_drawn() -> None:
    prior: Prior = CoinPrior.grid([0.0, 0.5, 1.0])
    post = posterior(prior, torch.zeros(2), _t([1, 0]))  # a head and a tail: only q = 0.5
    draws = post.sample_latents(10_000, torch.Generator().manual_seed(0))
    assert set(draws.tolist()) == {1}


def test_the_mean_of_sampled_steps_is_the_ppd_mean() -> None:
    """The chapter's picture: the average of drawn step functions is the PPD mean."""
    prior = paper.steps_e1()
    post = posterior(prior, *paper.line())
    x_query = torch.linspace(-1, 1, 41, dtype=F64)
    draws = post.sample_latents(20_000, torch.Generator().manual_seed(2))
    curves = prior.mean(x_query.expand(draws.numel(), -1), draws)  # (20000, 41)
    se = curves.std(0) / draws.numel() ** 0.5
    gap = (curves.mean(0) - post.mean(x_query)).abs()
    assert bool((gap <= 5 * se + 1e-9).all()), float((gap / se).max())


def test_same_seed_same_draws() -> None:
    post = posterior(*TINY["steps"])
    first = post.sample_latents(50, torch.Generator().manual_seed(7))
    assert torch.equal(first, post.sample_latents(50, torch.Generator().manual_seed(7)))
    assert not torch.equal(first, post.sample_latents(50, torch.Generator().manual_seed(8)))


@pytest.mark.parametrize("n", [0, -3, 2.0, True, "5", None])
def test_bad_n(n: object) -> None:
    post = posterior(*TINY["coin"])
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        post.sample_latents(n, torch.Generator())  # type: ignore[arg-type]


@pytest.mark.parametrize("generator", [None, 0, np.random.default_rng(0)])
def test_bad_generator(generator: object) -> None:
    post = posterior(*TINY["coin"])
    with pytest.raises(ValueError, match=r"generator must be a torch\.Generator"):
        post.sample_latents(3, generator)  # type: ignore[arg-type]
