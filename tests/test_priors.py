"""Priors: latent bookkeeping, vectorised sampling, and clear errors on bad input."""

from __future__ import annotations

import math

import pytest
import torch

from bayeslens import paper
from bayeslens.priors import CoinPrior, Mixture, SinePrior, StepPrior


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_paper_latent_counts() -> None:
    assert paper.steps_e1().n_latents == 1_030_301
    assert paper.steps_e4().n_latents == 8_120_601
    assert paper.sines_e2().n_latents == 101
    assert paper.sines_and_lines_e3().n_latents == 101 + 10_201
    assert paper.coin_e5().n_latents == 101
    assert paper.coin_e6().n_latents == 2


@pytest.mark.parametrize(
    "prior", [paper.steps_e1(), paper.sines_e2(), paper.sines_and_lines_e3(), paper.coin_e5()]
)
def test_log_prior_normalised(prior: StepPrior) -> None:
    lp = prior.log_prior()
    assert lp.shape == (prior.n_latents,)
    assert math.isclose(float(torch.logsumexp(lp, 0)), 0.0, abs_tol=1e-12)


def test_mixture_weights_are_per_family() -> None:
    prior = paper.sines_and_lines_e3()
    lp = prior.log_prior().exp()
    assert math.isclose(float(lp[:101].sum()), 0.5, rel_tol=1e-12)
    # each sine latent weighs 10,201 / 101 = 101 times a line latent
    assert math.isclose(float(lp[0] / lp[101]), 101.0, rel_tol=1e-9)


def test_step_mean_matches_formula() -> None:
    prior = StepPrior.grid([-0.5, 0.5], [0.0, 1.0], [2.0], sigma=0.1)
    x = torch.tensor([-1.0, 0.0, 0.5, 1.0], dtype=torch.float64)
    m = prior.mean(x)  # (points, n_latents); latents (c, b, a) in C order
    assert m.shape == (4, 4)
    # latent 1: c = -0.5, b = 1, a = 2
    assert m[:, 1].tolist() == [1.0, 3.0, 3.0, 3.0]
    # latent 2: c = 0.5, b = 0, a = 2 (x = 0.5 is not > c)
    assert m[:, 2].tolist() == [0.0, 0.0, 0.0, 2.0]
    assert torch.equal(prior.mean(x.expand(4, -1), torch.arange(4)), m.T)


def test_sine_mean_matches_formula() -> None:
    prior = SinePrior.grid(sigma=0.1, y0=[0.5], s=[0.3], A=[0.2], f=[3.0], phi=[0.0, 0.25])
    x = torch.linspace(-1, 1, 5, dtype=torch.float64)
    m = prior.mean(x)
    expect = 0.5 + 0.2 * torch.sin(3 * x + 2 * math.pi * 0.25) + 0.3 * x
    assert torch.allclose(m[:, 1], expect, atol=1e-15)


@pytest.mark.parametrize(
    "prior",
    [paper.steps_e1(), paper.steps_e4(), paper.sines_e2(), paper.sines_and_lines_e3()],
    ids=["e1", "e4", "e2", "e3"],
)
def test_sample_shapes_and_consistency(prior: StepPrior) -> None:
    batch = prior.sample(64, 20, gen())
    assert batch.x.shape == batch.y.shape == (64, 20)
    assert batch.latent.shape == (64,)
    assert ((batch.x >= -1) & (batch.x <= 1)).all()
    resid = batch.y - prior.mean(batch.x, batch.latent)
    assert 0.05 < float(resid.std()) < 0.15  # sigma = 0.1


def test_sample_is_deterministic_given_generator() -> None:
    prior = paper.sines_and_lines_e3()
    a = prior.sample(8, 5, gen(3))
    b = prior.sample(8, 5, gen(3))
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))


def test_sample_latent_frequencies_follow_prior() -> None:
    prior = StepPrior.grid([0.0, 0.5], [0.0], [1.0, 2.0], sigma=0.1, c_weights=[1, 3])
    latent = prior.sample(40_000, 1, gen()).latent
    freq = torch.bincount(latent, minlength=4).double() / latent.numel()
    expect = prior.log_prior().exp()
    assert torch.allclose(freq, expect, atol=0.01)


def test_mixture_family_frequencies() -> None:
    latent = paper.sines_and_lines_e3().sample(20_000, 1, gen()).latent
    assert abs(float((latent < 101).double().mean()) - 0.5) < 0.02


def test_coin_sample() -> None:
    prior = CoinPrior.grid([0.0, 1.0])
    batch = prior.sample(100, 7, gen())
    assert (batch.x == 0).all()
    assert torch.equal(batch.y, batch.latent.double()[:, None].expand(-1, 7))


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_sigma(sigma: float) -> None:
    with pytest.raises(ValueError, match="sigma must be"):
        StepPrior.grid([0.0], [0.0], [1.0], sigma=sigma)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"c_weights": [-1.0, 2.0]}, "c_weights must be non-negative"),
        ({"c_weights": [0.0, 0.0]}, "c_weights must not be all zero"),
        ({"c_weights": [1.0]}, "c_weights must have 2 entries"),
        ({"b_weights": [float("nan")]}, "b_weights must be finite"),
    ],
)
def test_bad_weights(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        StepPrior.grid([0.0, 0.5], [0.0], [1.0], sigma=0.1, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("grids", "match"),
    [
        (([[0.0, 1.0]], [0.0], [1.0]), "c must be 1-d"),
        (([], [0.0], [1.0]), "c must hold at least one value"),
        (([0.0], [float("inf")], [1.0]), "b must be finite"),
        (([0.0], [0.0], "abc"), "a must be a 1-d sequence of numbers"),
    ],
)
def test_bad_grids(grids: tuple[object, object, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        StepPrior.grid(*grids, sigma=0.1)


def test_bad_sampling_arguments() -> None:
    prior = paper.sines_e2()
    with pytest.raises(ValueError, match=r"generator must be a torch\.Generator"):
        prior.sample(2, 3, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size must be"):
        prior.sample(0, 3, gen())
    with pytest.raises(ValueError, match="n_points must be"):
        prior.sample(2, -1, gen())


def test_bad_latent_and_x() -> None:
    prior = paper.sines_e2()
    with pytest.raises(ValueError, match="latent indices must lie in"):
        prior.mean(torch.zeros(1, 3), torch.tensor([101]))
    with pytest.raises(ValueError, match="latent must hold integer"):
        prior.mean(torch.zeros(1, 3), torch.tensor([0.5]))
    with pytest.raises(ValueError, match="x must be finite"):
        prior.mean(torch.tensor([float("nan")]))


def test_bad_mixture_and_coin() -> None:
    a = SinePrior.grid(sigma=0.1)
    b = SinePrior.grid(sigma=0.2)
    with pytest.raises(ValueError, match="families must share one sigma"):
        Mixture.of([a, b])
    with pytest.raises(ValueError, match="families must hold at least one"):
        Mixture.of([])
    with pytest.raises(ValueError, match="weights must have 1 entries"):
        Mixture.of([a], weights=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"q must lie in \[0, 1\]"):
        CoinPrior.grid([0.5, 1.5])
    with pytest.raises(ValueError, match="weights has unknown axes"):
        SinePrior.grid(sigma=0.1, weights={"amplitude": [1.0]})
