"""Linear-regression priors and their exact posteriors, against slow, obviously right references.

The references below are written to be read, not to be fast: the pool's posterior by Bayes'
rule in a Python loop over tasks and points, the Gaussian's by the ridge formula with explicit
inverses and a direct multivariate normal density.
"""

from __future__ import annotations

import math

import pytest
import torch

from bayeslens import linear
from bayeslens.linear import LinearGaussian, LinearPool

DTYPE = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------------------------
# Priors and samplers
# --------------------------------------------------------------------------------------------


def test_pool_is_a_deterministic_function_of_its_settings():
    a = LinearPool(50, 3, 0.5, seed=7)
    torch.manual_seed(123)  # the global random state must not matter
    torch.randn(10)
    b = LinearPool(50, 3, 0.5, seed=7)
    assert torch.equal(a.w, b.w)
    assert a == b
    assert a.w.shape == (50, 3)
    assert a.w.dtype == DTYPE
    assert not torch.equal(a.w, LinearPool(50, 3, 0.5, seed=8).w)
    assert LinearPool(**a.settings()) == a


def test_sample_shapes_and_determinism():
    pool = LinearPool(20, 4, 0.5, seed=1)
    batch = pool.sample(6, 9, _gen(3))
    assert batch.x.shape == (6, 9, 4)
    assert batch.y.shape == (6, 9)
    assert batch.w.shape == (6, 4)
    assert batch.latent is not None
    assert batch.latent.shape == (6,)
    assert batch.latent.dtype == torch.int64
    assert batch.x.dtype == batch.y.dtype == DTYPE
    assert torch.equal(batch.w, pool.w[batch.latent])
    again = pool.sample(6, 9, _gen(3))
    assert torch.equal(batch.x, again.x)
    assert torch.equal(batch.y, again.y)
    assert torch.equal(batch.latent, again.latent)
    fresh = pool.sample_fresh(6, 9, _gen(3))
    assert fresh.latent is None
    assert fresh.x.shape == (6, 9, 4)
    assert fresh.w.shape == (6, 4)


def test_samples_follow_the_likelihood():
    # x ~ N(0, I), y - w . x ~ N(0, sigma^2), latents uniform over the pool.
    pool = LinearPool(5, 3, 0.3, seed=2)
    batch = pool.sample(2000, 20, _gen(4))
    assert batch.latent is not None
    resid = batch.y - torch.einsum("bnd,bd->bn", batch.x, batch.w)
    assert float(resid.std()) == pytest.approx(0.3, rel=0.02)
    assert float(resid.mean()) == pytest.approx(0.0, abs=0.01)
    assert float(batch.x.std()) == pytest.approx(1.0, rel=0.02)
    counts = torch.bincount(batch.latent, minlength=5).double()
    assert torch.allclose(counts / 2000, torch.full((5,), 0.2, dtype=DTYPE), atol=0.04)
    for sample in (pool.sample_fresh, LinearGaussian(3, 0.3).sample):
        fresh = sample(2000, 20, _gen(5))
        resid = fresh.y - torch.einsum("bnd,bd->bn", fresh.x, fresh.w)
        assert float(resid.std()) == pytest.approx(0.3, rel=0.02)
        assert float(fresh.w.std()) == pytest.approx(1.0, rel=0.05)  # w ~ N(0, I), not the pool


def test_fresh_tasks_are_not_the_pool():
    pool = LinearPool(8, 2, 0.5, seed=0)
    w = pool.sample_fresh(100, 1, _gen(1)).w
    gap = torch.cdist(w, pool.w).amin(-1)
    assert bool((gap > 0).all())


def test_raventos_settings():
    pool = linear.raventos_pool(64, seed=3)
    assert pool.settings() == {"n_tasks": 64, "d": 8, "sigma": 0.5, "seed": 3}
    assert linear.raventos_gaussian().settings() == {"d": 8, "sigma": 0.5}
    assert (linear.RAVENTOS_D, linear.RAVENTOS_POINTS, linear.RAVENTOS_SIGMA) == (8, 16, 0.5)


def test_check_settings():
    pool = LinearPool(16, 2, 0.5, seed=0)
    pool.check_settings({"n_tasks": 16, "d": 2, "sigma": 0.5, "seed": 0})
    with pytest.raises(ValueError, match=r"settings\['seed'\] is 1 but this linear pool has seed"):
        pool.check_settings({"n_tasks": 16, "d": 2, "sigma": 0.5, "seed": 1})
    with pytest.raises(ValueError, match=r"settings\['n_tasks'\] is 32"):
        pool.check_settings({"n_tasks": 32, "d": 2, "sigma": 0.5, "seed": 0})
    with pytest.raises(ValueError, match=r"missing \['seed'\]"):
        pool.check_settings({"n_tasks": 16, "d": 2, "sigma": 0.5})
    with pytest.raises(ValueError, match=r"unknown \['lr'\]"):
        pool.check_settings({"n_tasks": 16, "d": 2, "sigma": 0.5, "seed": 0, "lr": 1})
    with pytest.raises(ValueError, match="settings must be a mapping"):
        pool.check_settings([16, 2, 0.5, 0])
    prior = LinearGaussian(2, 0.5)
    prior.check_settings({"d": 2, "sigma": 0.5})
    with pytest.raises(ValueError, match=r"settings\['sigma'\] is 0.1"):
        prior.check_settings({"d": 2, "sigma": 0.1})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_tasks": 0}, "n_tasks must be an int >= 1"),
        ({"n_tasks": 2.0}, "n_tasks must be an int >= 1"),
        ({"d": 0}, "d must be an int >= 1"),
        ({"sigma": 0.0}, "sigma must be a finite number > 0"),
        ({"sigma": -1.0}, "sigma must be a finite number > 0"),
        ({"sigma": math.nan}, "sigma must be a finite number > 0"),
        ({"sigma": math.inf}, "sigma must be a finite number > 0"),
        ({"sigma": "0.5"}, "sigma must be a finite number > 0"),
        ({"seed": -1}, "seed must be an int >= 0"),
    ],
)
def test_pool_bad_settings(kwargs, match):
    settings = {"n_tasks": 4, "d": 2, "sigma": 0.5, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        LinearPool(**settings)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"d": 0}, "d must be an int >= 1"),
        ({"sigma": 0.0}, "sigma must be a finite number > 0"),
        ({"sigma": math.nan}, "sigma must be a finite number > 0"),
    ],
)
def test_gaussian_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LinearGaussian(**{"d": 2, "sigma": 0.5, **kwargs})


@pytest.mark.parametrize("which", ["pool", "fresh", "gaussian"])
def test_sample_bad_sizes(which):
    pool = LinearPool(4, 2, 0.5)
    sample = {
        "pool": pool.sample, "fresh": pool.sample_fresh, "gaussian": LinearGaussian(2, 0.5).sample
    }[which]
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        sample(0, 4, _gen())
    with pytest.raises(ValueError, match="n_points must be an int >= 1"):
        sample(2, 0, _gen())
    with pytest.raises(ValueError, match=r"generator must be a torch\.Generator"):
        sample(2, 4, 0)
