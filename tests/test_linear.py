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
from bayeslens import linear_posterior as lp
from bayeslens.linear import LinearGaussian, LinearPool

DTYPE = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _close(actual, expected, atol: float = 1e-10) -> None:
    expected = torch.as_tensor(expected, dtype=DTYPE)
    torch.testing.assert_close(torch.as_tensor(actual, dtype=DTYPE), expected, rtol=0, atol=atol)


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


# --------------------------------------------------------------------------------------------
# Slow references
# --------------------------------------------------------------------------------------------


def _log_normal(y: float, mean: float, sigma: float) -> float:
    return -0.5 * ((y - mean) / sigma) ** 2 - math.log(sigma) - 0.5 * math.log(2 * math.pi)


def _pool_reference(pool, x, y, x_query, y_query):
    """Bayes' rule by hand: a Python loop over the M tasks and the points.

    Returns the posterior p(m | D) (M,), log p(D), and the PPD's mean, variance and log
    density at the paired queries, as lists of floats.
    """
    w, sigma, d = pool.w.tolist(), pool.sigma, pool.d
    x, y, x_query, y_query = x.tolist(), y.tolist(), x_query.tolist(), y_query.tolist()
    log_joint = []
    for m in range(pool.n_tasks):
        value = math.log(1 / pool.n_tasks)  # uniform prior
        for i in range(len(y)):
            value += _log_normal(y[i], sum(w[m][j] * x[i][j] for j in range(d)), sigma)
        log_joint.append(value)
    top = max(log_joint)
    log_evidence = top + math.log(sum(math.exp(v - top) for v in log_joint))
    post = [math.exp(v - log_evidence) for v in log_joint]
    means, variances, log_densities = [], [], []
    for xq, yq in zip(x_query, y_query, strict=True):
        mu = [sum(w[m][j] * xq[j] for j in range(d)) for m in range(pool.n_tasks)]
        mean = sum(p * v for p, v in zip(post, mu, strict=True))
        second = sum(p * (sigma**2 + v**2) for p, v in zip(post, mu, strict=True))
        density = sum(
            p * math.exp(_log_normal(yq, v, sigma)) for p, v in zip(post, mu, strict=True)
        )
        means.append(mean)
        variances.append(second - mean**2)
        log_densities.append(math.log(density))
    return post, log_evidence, means, variances, log_densities


def _gaussian_reference(sigma, x, y, x_query, y_query):
    """Ridge regression with explicit solves and inverses; evidence by a direct MVN density."""
    n, d = x.shape
    eye = torch.eye(d, dtype=DTYPE)
    mu = torch.linalg.solve(x.T @ x + sigma**2 * eye, x.T @ y)  # ridge, penalty sigma^2
    cov = torch.linalg.inv(eye + x.T @ x / sigma**2)
    mean = x_query @ mu
    var = sigma**2 + torch.diagonal(x_query @ cov @ x_query.T)
    log_density = torch.distributions.Normal(mean, var.sqrt()).log_prob(y_query)
    if n == 0:
        log_evidence = torch.zeros((), dtype=DTYPE)
    else:
        k = x @ x.T + sigma**2 * torch.eye(n, dtype=DTYPE)
        mvn = torch.distributions.MultivariateNormal(torch.zeros(n, dtype=DTYPE), k)
        log_evidence = mvn.log_prob(y)
    return mu, cov, log_evidence, mean, var, log_density


def _data(prior, n, n_query, seed):
    batch = prior.sample(1, n + n_query, _gen(seed))
    x, y = batch.x[0], batch.y[0]
    return x[:n], y[:n], x[n:], y[n:]


# --------------------------------------------------------------------------------------------
# Finite pool
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 5, 12])
def test_pool_posterior_matches_bayes_rule_by_hand(n):
    pool = LinearPool(7, 3, 0.6, seed=4)
    x, y, xq, yq = _data(pool, n, 4, seed=n)
    post, log_ev, mean, var, log_dens = _pool_reference(pool, x, y, xq, yq)
    exact = lp.pool_posterior(pool, x, y)
    assert exact.log_weights.shape == (7,)
    assert exact.log_evidence.shape == ()
    _close(exact.log_weights.exp(), post)
    _close(exact.log_evidence, log_ev)
    _close(exact.mean(xq), mean)
    _close(exact.variance(xq), var)
    _close(exact.log_density(xq, yq), log_dens)
    pred = lp.predictive(pool, x, y, xq, yq)
    _close(pred.mean, mean)
    _close(pred.variance, var)
    _close(pred.log_density, log_dens)
    if n == 0:  # the prior predictive: uniform over the pool, evidence 1
        _close(exact.log_weights, [-math.log(7)] * 7)
        _close(exact.log_evidence, 0.0)


def test_pool_batched_and_chunked_match_one_dataset_at_a_time():
    pool = LinearPool(33, 3, 0.5, seed=5)
    batch = pool.sample(5, 10, _gen(6))
    x, y, xq, yq = batch.x[:, :7], batch.y[:, :7], batch.x[:, 7:], batch.y[:, 7:]
    whole = lp.pool_posterior(pool, x, y)
    assert whole.log_weights.shape == (5, 33)
    assert whole.log_evidence.shape == (5,)
    assert whole.predict(xq).log_density is None
    tiny = lp.predictive(pool, x, y, xq, yq, max_elements=50)  # one dataset per chunk
    big = lp.predictive(pool, x, y, xq, yq)
    for b in range(5):
        one = lp.pool_posterior(pool, x[b], y[b])
        _close(whole.log_weights[b], one.log_weights)
        _close(whole.log_evidence[b], one.log_evidence)
        for pred in (whole.predict(xq, yq), tiny, big):
            _close(pred.mean[b], one.mean(xq[b]))
            _close(pred.variance[b], one.variance(xq[b]))
            _close(pred.log_density[b], one.log_density(xq[b], yq[b]))


def test_pool_posterior_concentrates_on_the_true_task():
    pool = LinearPool(64, 4, 0.5, seed=6)
    batch = pool.sample(1, 300, _gen(7))
    assert batch.latent is not None
    true = int(batch.latent[0])
    xq = torch.randn(3, 4, generator=_gen(8), dtype=DTYPE)
    mass = []
    for n in (0, 2, 10, 300):
        post = lp.pool_posterior(pool, batch.x[0, :n], batch.y[0, :n])
        mass.append(float(post.log_weights[true].exp()))
    assert mass[0] == pytest.approx(1 / 64)
    assert mass[-1] > 1 - 1e-12
    assert mass == sorted(mass)
    # With the task known, the PPD is its likelihood: mean w . x_q and variance sigma^2.
    _close(post.mean(xq), xq @ pool.w[true], atol=1e-9)
    _close(post.variance(xq), [0.25] * 3, atol=1e-9)


def test_pool_ppd_approaches_the_gaussian_as_the_pool_grows():
    # The pool is M draws from the Gaussian prior, so its posterior is an importance-sampling
    # estimate of the Gaussian's: the gap shrinks like 1 / sqrt(M) (over 12 contexts it was at
    # most 0.08 at M = 2^14, and up to 1.0 at M = 2^6).
    gauss = LinearGaussian(2, 0.5)
    x, y, xq, yq = _data(gauss, 4, 5, seed=11)
    exact = lp.predictive(gauss, x, y, xq, yq)
    log_ev = lp.gaussian_posterior(gauss, x, y).log_evidence

    def gap(n_tasks: int) -> float:
        pool = LinearPool(n_tasks, 2, 0.5, seed=9)
        pred = lp.predictive(pool, x, y, xq, yq)
        diffs = [pred.mean - exact.mean, pred.variance - exact.variance]
        diffs += [pred.log_density - exact.log_density]
        diffs += [lp.pool_posterior(pool, x, y).log_evidence - log_ev]
        return max(float(diff.abs().max()) for diff in diffs)

    small, large = gap(2**6), gap(2**14)
    assert large < 0.15
    assert large < small / 2
    assert gap(4) > 0.3  # a tiny pool is visibly not the Gaussian


def test_pool_at_raventos_scale():
    # M = 2^16 tasks in d = 8 with 16 context points: 4 datasets of 25 queries, in chunks.
    pool = linear.raventos_pool(2**16, seed=0)
    n = linear.RAVENTOS_POINTS
    batch = pool.sample(4, n + 25, _gen(11))
    x, y, xq, yq = batch.x[:, :n], batch.y[:, :n], batch.x[:, n:], batch.y[:, n:]
    pred = lp.predictive(pool, x, y, xq, yq, max_elements=2**21)
    assert pred.mean.shape == pred.variance.shape == (4, 25)
    assert pred.log_density is not None
    assert bool(torch.isfinite(pred.log_density).all())
    assert bool((pred.variance >= 0.25 - 1e-12).all())


# --------------------------------------------------------------------------------------------
# Gaussian prior
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 3, 20])
def test_gaussian_posterior_matches_ridge_and_mvn(n):
    prior = LinearGaussian(3, 0.7)
    x, y, xq, yq = _data(prior, n, 6, seed=20 + n)
    mu, cov, log_ev, mean, var, log_dens = _gaussian_reference(0.7, x, y, xq, yq)
    post = lp.gaussian_posterior(prior, x, y)
    assert post.mu.shape == (3,)
    assert post.log_evidence.shape == ()
    _close(post.mu, mu)
    _close(post.cov, cov)
    _close(post.log_evidence, log_ev)
    _close(post.mean(xq), mean)
    _close(post.variance(xq), var)
    _close(post.log_density(xq, yq), log_dens)
    pred = lp.predictive(prior, x, y, xq, yq)
    _close(pred.mean, mean)
    _close(pred.variance, var)
    _close(pred.log_density, log_dens)


def test_gaussian_one_point_by_hand():
    # d = 1, sigma = 1, one point (x, y) = (1, 1): precision 2, mu = 1/2, Sigma = 1/2; the PPD
    # at x = 1 is N(1/2, 3/2) and y ~ N(0, 2) gives the evidence.
    post = lp.gaussian_posterior(LinearGaussian(1, 1.0), [[1.0]], [1.0])
    _close(post.mu, [0.5])
    _close(post.cov, [[0.5]])
    _close(post.mean([[1.0]]), [0.5])
    _close(post.variance([[1.0]]), [1.5])
    _close(post.log_evidence, -0.5 * math.log(2 * math.pi * 2) - 0.25)
    # Empty context: the prior predictive N(0, sigma^2 + |x|^2), evidence 1.
    empty = lp.gaussian_posterior(LinearGaussian(2, 0.5), torch.empty(0, 2), torch.empty(0))
    _close(empty.mean([[1.0, 2.0]]), [0.0])
    _close(empty.variance([[1.0, 2.0]]), [5.25])
    _close(empty.log_evidence, 0.0)


def test_gaussian_batched_matches_one_dataset_at_a_time():
    prior = LinearGaussian(4, 0.5)
    batch = prior.sample(6, 12, _gen(30))
    x, y, xq, yq = batch.x[:, :9], batch.y[:, :9], batch.x[:, 9:], batch.y[:, 9:]
    whole = lp.gaussian_posterior(prior, x, y)
    assert whole.mu.shape == (6, 4)
    assert whole.precision_tril.shape == (6, 4, 4)
    pred = whole.predict(xq, yq)
    assert pred.mean.shape == (6, 3)
    for b in range(6):
        one = lp.gaussian_posterior(prior, x[b], y[b])
        _close(whole.mu[b], one.mu)
        _close(whole.log_evidence[b], one.log_evidence)
        _close(pred.mean[b], one.mean(xq[b]))
        _close(pred.variance[b], one.variance(xq[b]))
        _close(pred.log_density[b], one.log_density(xq[b], yq[b]))


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------

_POOL = LinearPool(5, 2, 0.5, seed=0)
_GAUSS = LinearGaussian(2, 0.5)
_X = torch.zeros(3, 2, dtype=DTYPE)
_Y = torch.zeros(3, dtype=DTYPE)


@pytest.mark.parametrize("fit", [lp.pool_posterior, lp.gaussian_posterior])
@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        (torch.zeros(3, 4), _Y, r"x_context must have the prior's d = 2 features .* got 4"),
        (torch.zeros(3), _Y, r"x_context must have shape \(n_context, d\) or \(batch"),
        (torch.zeros(1, 1, 3, 2), _Y, r"x_context must have shape"),
        (_X, torch.zeros(4), r"y_context must have shape \(3,\)"),
        (_X, torch.zeros(1, 3), r"y_context must have shape \(3,\)"),
        (torch.zeros(2, 3, 2), _Y, r"y_context must have shape \(2, 3\)"),
        (torch.full((3, 2), math.nan), _Y, "x_context must be finite"),
        (_X, torch.tensor([0.0, math.inf, 0.0]), "y_context must be finite"),
        ("abc", _Y, "x_context must be numeric"),
    ],
)
def test_bad_context(fit, x, y, match):
    prior = _POOL if fit is lp.pool_posterior else _GAUSS
    with pytest.raises(ValueError, match=match):
        fit(prior, x, y)
    with pytest.raises(ValueError, match=match):
        lp.predictive(prior, x, y, torch.zeros(1, 2))


@pytest.mark.parametrize("prior", [_POOL, _GAUSS])
@pytest.mark.parametrize(
    ("batched", "xq", "yq", "match"),
    [
        (False, torch.zeros(4, 3), None, r"x_query must have the prior's d = 2 features"),
        (False, torch.zeros(2), None, r"x_query must have shape \(n_query, d\)"),
        (False, torch.zeros(1, 4, 2), None, r"x_query must have shape \(n_query, d\)"),
        (True, torch.zeros(4, 2), None, r"x_query must have shape \(2, n_query, d\)"),
        (True, torch.zeros(3, 4, 2), None, r"x_query must have shape \(2, n_query, d\)"),
        (False, torch.zeros(4, 2), torch.zeros(3), r"y_query must have shape \(4,\)"),
        (False, torch.full((4, 2), math.inf), None, "x_query must be finite"),
        (False, torch.zeros(4, 2), torch.full((4,), math.nan), "y_query must be finite"),
    ],
)
def test_bad_query(prior, batched, xq, yq, match):
    x, y = (_X.expand(2, 3, 2), _Y.expand(2, 3)) if batched else (_X, _Y)
    fit = lp.pool_posterior if prior is _POOL else lp.gaussian_posterior
    post = fit(prior, x, y)
    with pytest.raises(ValueError, match=match):
        post.predict(xq, yq)
    with pytest.raises(ValueError, match=match):
        lp.predictive(prior, x, y, xq, yq)
    if yq is not None:
        with pytest.raises(ValueError, match=match):
            post.log_density(xq, yq)
    else:
        with pytest.raises(ValueError, match=match):
            post.mean(xq)
        with pytest.raises(ValueError, match=match):
            post.variance(xq)


def test_bad_prior_and_chunk_size():
    with pytest.raises(ValueError, match="prior must be a LinearPool, got LinearGaussian"):
        lp.pool_posterior(_GAUSS, _X, _Y)
    with pytest.raises(ValueError, match="prior must be a LinearGaussian, got LinearPool"):
        lp.gaussian_posterior(_POOL, _X, _Y)
    with pytest.raises(ValueError, match="prior must be a LinearPool or LinearGaussian, got str"):
        lp.predictive("pool", _X, _Y, _X)
    with pytest.raises(ValueError, match="max_elements must be an int >= 1"):
        lp.pool_posterior(_POOL, _X, _Y).log_density(_X, _Y, max_elements=0)
    with pytest.raises(ValueError, match="max_elements must be an int >= 1"):
        lp.predictive(_POOL, _X, _Y, _X, max_elements=1.5)
