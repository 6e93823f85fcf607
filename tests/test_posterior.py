"""Exact posterior: hand-computed cases, fast path against the reference, bad input."""

from __future__ import annotations

import math

import pytest
import reference
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bayeslens import paper
from bayeslens import posterior as posterior_module
from bayeslens.posterior import Posterior, posterior
from bayeslens.priors import CoinPrior, Mixture, Prior, SinePrior, StepPrior

F64 = torch.float64
Ctx = tuple[torch.Tensor, torch.Tensor]
TOL = 1e-6


def t(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


# --------------------------------------------------------------------------------------------
# Worked on paper
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["sines", "steps"])
def test_three_latents_by_hand(family: str) -> None:
    """Means 0, 1, 2 with prior 1/4, 1/4, 1/2, sigma 1, one point y = 1.

    Likelihoods are phi(1), phi(0), phi(1) with phi the standard normal density, so
    p(L | D) = (e^-1/2, 1, 2 e^-1/2) / (1 + 3 e^-1/2), the PPD mean is
    (1 + 4 e^-1/2) / (1 + 3 e^-1/2) and p(D) = (1/4 + 3/4 e^-1/2) / sqrt(2 pi).
    """
    prior: Prior
    if family == "sines":
        prior = SinePrior.grid(sigma=1.0, y0=[0.0, 1.0, 2.0], weights={"y0": [1, 1, 2]})
    else:  # c = -1: every x in (-1, 1] is right of the step, so m = b + a = a
        prior = StepPrior.grid([-1.0], [0.0], [0.0, 1.0, 2.0], sigma=1.0, a_weights=[1, 1, 2])
    post = posterior(prior, t([0.5]), t([1.0]))
    e = math.exp(-0.5)
    expect = t([e, 1.0, 2 * e]) / (1 + 3 * e)
    assert torch.allclose(post.log_weights().exp(), expect, atol=1e-14)
    log_evidence = math.log((0.25 + 0.75 * e) / math.sqrt(2 * math.pi))
    assert math.isclose(float(post.log_evidence), log_evidence, abs_tol=1e-13)
    mean = (1 + 4 * e) / (1 + 3 * e)
    assert torch.allclose(post.mean(t([0.5, 0.9])), t([mean, mean]), atol=1e-14)
    # the density at y = 1 is the evidence of a second identical point divided by the first's
    dens = sum(w * math.exp(-0.5 * (1 - m) ** 2) for w, m in zip(expect, [0, 1, 2], strict=True))
    dens = float(dens) / math.sqrt(2 * math.pi)
    assert math.isclose(float(post.density(t([0.5]), t([1.0]))[0, 0]), dens, rel_tol=1e-12)
    assert math.isclose(float(post.log_density(t([0.5]), t([1.0]))[0]), math.log(dens),
                        rel_tol=1e-12)


@pytest.mark.parametrize("k", [0, 1, 2, 4, 8, 16, 32, 64])
def test_coin_after_k_heads_closed_form(k: int) -> None:
    """Uniform prior over q: p(q | k heads) ∝ q^k, so P(heads next) = sum q^(k+1) / sum q^k."""
    prior = paper.coin_e5()
    q = prior.q.values
    x, y = paper.heads(k)
    post = posterior(prior, x, y)
    assert torch.allclose(post.log_weights().exp(), q**k / (q**k).sum(), atol=1e-14)
    p_heads = float((q ** (k + 1)).sum() / (q**k).sum())
    probs = post.class_probs(t([0.0]))
    assert math.isclose(float(probs[0, 1]), p_heads, rel_tol=1e-12)
    assert math.isclose(float(probs.sum()), 1.0, rel_tol=1e-15)
    assert math.isclose(float(post.log_evidence), math.log(float((q**k).mean())), rel_tol=1e-12)


def test_coin_two_latents_mixed_flips() -> None:
    """E6 prior, 3 heads and 1 tail: weights ∝ q^3 (1 - q)."""
    post = posterior(paper.coin_e6(), torch.zeros(4), t([1, 1, 0, 1]))
    w3, w6 = 0.3**3 * 0.7, 0.6**3 * 0.4
    assert math.isclose(float(post.log_weights().exp()[1]), w6 / (w3 + w6), rel_tol=1e-12)
    assert math.isclose(float(post.mean(t([0.0]))[0]), (0.3 * w3 + 0.6 * w6) / (w3 + w6),
                        rel_tol=1e-12)
    assert math.isclose(float(post.log_density(t([0.0, 0.0]), t([1, 0]))[1]),
                        math.log(1 - (0.3 * w3 + 0.6 * w6) / (w3 + w6)), rel_tol=1e-12)


def test_empty_context_is_prior_predictive() -> None:
    prior = paper.steps_e1()
    post = posterior(prior, t([]), t([]))
    assert float(post.log_evidence) == pytest.approx(0.0, abs=1e-12)
    assert torch.allclose(post.log_weights(), prior.log_prior(), atol=1e-12)
    # E[b + a 1[x > c]] = E[b] + E[a] P(c < x) = 0 + 1 * P(c < x) for c on 101 points
    x = t([-1.0, 0.0, 1.0])
    p_left = (prior.c.values[None, :] < x[:, None]).double().mean(1)
    assert torch.allclose(post.mean(x), p_left, atol=1e-12)


# --------------------------------------------------------------------------------------------
# Fast path against the reference on every paper context
# --------------------------------------------------------------------------------------------

X_QUERY = torch.linspace(-1, 1, 9, dtype=F64)
Y_GRID = torch.linspace(-2.5, 3.5, 61, dtype=F64)
LEVELS = t([0.05, 0.5, 0.95])


def assert_matches_reference(
    prior: Prior,
    post: Posterior,
    quantile_queries: int = 3,
    tol: float = TOL,
    bisect_quantiles: bool = False,
) -> None:
    """The fast posterior agrees with the reference on weights, evidence, mean, density, CDF
    quantiles; the weights compared as probabilities (log weights of -inf and -1e3 agree)."""
    x, y = post.x_context, post.y_context
    log_w, log_evidence = reference.log_weights(prior, x, y)
    assert torch.isfinite(post.log_evidence)
    assert float(post.log_evidence) == pytest.approx(float(log_evidence), abs=tol, rel=tol)
    fast_lw = post.log_weights()
    assert not torch.isnan(fast_lw).any()
    assert (fast_lw.exp() - log_w.exp()).abs().max() < tol
    big = log_w > -20  # where the weight matters, the log weights agree too
    assert (fast_lw[big] - log_w[big]).abs().max() < tol
    if isinstance(prior, CoinPrior):
        p1 = float((log_w.exp() * prior.q.values).sum())
        assert float(post.class_probs(t([0.0]))[0, 1]) == pytest.approx(p1, abs=tol)
        return
    lo, hi = prior.x_range
    xq = X_QUERY * (hi - lo) / 2 + (hi + lo) / 2
    assert (post.mean(xq) - reference.ppd_mean(prior, log_w, xq)).abs().max() < tol
    dens = reference.ppd_density(prior, log_w, xq, Y_GRID, prune=60.0)
    assert (post.density(xq, Y_GRID) - dens).abs().max() < tol
    # Quantiles: the reference CDF at the fast quantiles gives back the levels. (Between two
    # well-separated modes a whole stretch of y has CDF = level; any point of it is right.)
    sub = xq[:: max(1, xq.numel() // quantile_queries)][:quantile_queries]
    q_fast = post.quantiles(sub, LEVELS)  # (n_sub, n_levels)
    keep = (log_w >= log_w.max() - 60).nonzero()[:, 0]
    for j, level in enumerate(LEVELS):
        cdf = reference.ppd_cdf_at(prior, log_w, keep, sub, q_fast[:, j])
        assert (cdf - level).abs().max() < 1e-9
    if bisect_quantiles:  # and, where the density is not tiny, the reference's own bisection
        q_ref = reference.ppd_quantiles(prior, log_w, sub, LEVELS)
        dens = torch.stack(
            [reference.ppd_density(prior, log_w, sub[i : i + 1], q_ref[i], 60.0)[0]
             for i in range(sub.numel())]
        )
        well_posed = dens > 1e-3
        assert ((q_fast - q_ref).abs()[well_posed] < tol).all()


def _ids(ctx: paper.Context) -> str:
    return f"{ctx.experiment}-{ctx.label}"


@pytest.mark.parametrize(
    "ctx",
    [
        pytest.param(c, marks=pytest.mark.slow) if c.experiment == "E4" else c
        for c in paper.CONTEXTS
    ],
    ids=_ids,
)
def test_paper_context_matches_reference(ctx: paper.Context) -> None:
    prior = ctx.prior()
    x, y = ctx.make()
    assert_matches_reference(prior, posterior(prior, x, y))


@pytest.mark.slow
def test_e2_two_million_points() -> None:
    """E2 with 2,000,001 points of 0.2 sin(2 pi x): log-likelihoods near -1e6 stay exact."""
    prior = paper.sines_e2()
    x, y = paper.sine_2pi(2_000_001)
    post = posterior(prior, x, y)
    log_w, log_evidence = reference.log_weights(prior, x, y)
    assert float(log_evidence) < -1e5  # the regime the test is about
    assert torch.isfinite(post.log_weights()).all()
    assert float(post.log_evidence) == pytest.approx(float(log_evidence), rel=1e-9)
    assert (post.log_weights().exp() - log_w.exp()).abs().max() < TOL
    assert (post.mean(X_QUERY) - reference.ppd_mean(prior, log_w, X_QUERY)).abs().max() < TOL


def test_ppd_density_integrates_to_one_and_quantiles_invert_cdf() -> None:
    prior = paper.sines_and_lines_e3()
    post = posterior(prior, *paper.sloped_sine())
    y = torch.linspace(-3, 3, 6001, dtype=F64)
    xq = t([-0.7, 0.1, 0.8])
    dens = post.density(xq, y)
    assert torch.allclose(torch.trapezoid(dens, y, dim=1), torch.ones(3, dtype=F64), atol=1e-8)
    mean = torch.trapezoid(dens * y, y, dim=1)
    assert torch.allclose(mean, post.mean(xq), atol=1e-8)
    q = post.quantiles(xq, LEVELS)
    cdf_at_q = torch.stack([post.cdf(xq[i : i + 1], q[i])[0] for i in range(3)])
    assert torch.allclose(cdf_at_q, LEVELS.expand(3, -1), atol=1e-10)


def test_top_latents() -> None:
    prior = paper.steps_e1()
    x, y = paper.step_context(-0.2, 0.0, 0.5)
    post = posterior(prior, x, y)
    log_w, idx = post.top(3)
    assert log_w.shape == idx.shape == (3,)
    assert (log_w[:-1] >= log_w[1:]).all()
    assert torch.equal(log_w, post.log_weights()[idx])
    # the best latent reproduces the noise-free context
    assert torch.allclose(prior.mean(x[None, :], idx[:1])[0], y, atol=1e-9)


# --------------------------------------------------------------------------------------------
# Property tests: random small priors and contexts, fast against reference
# --------------------------------------------------------------------------------------------

finite = st.floats(-2, 2, allow_nan=False, allow_subnormal=False)
weights = st.floats(0, 5, allow_nan=False, allow_subnormal=False)


@st.composite
def grid(draw: st.DrawFn, n_max: int = 5, aligned: bool | None = None) -> list[float]:
    n = draw(st.integers(1, n_max))
    if aligned if aligned is not None else draw(st.booleans()):
        start = draw(st.sampled_from([-1.0, -0.5, 0.0]))
        return [start + 0.25 * i for i in range(n)]
    return draw(st.lists(finite, min_size=n, max_size=n))


@st.composite
def maybe_weights(draw: st.DrawFn, n: int) -> list[float] | None:
    if draw(st.booleans()):
        return None
    w = draw(st.lists(weights, min_size=n, max_size=n))
    if sum(w) == 0:
        w[0] = 1.0
    return w


@st.composite
def step_priors(draw: st.DrawFn) -> StepPrior:
    c = sorted(draw(grid()))
    b, a = draw(grid()), draw(grid())
    sigma = draw(st.sampled_from([0.03, 0.1, 0.5]))
    return StepPrior.grid(
        c, b, a, sigma,
        c_weights=draw(maybe_weights(len(c))),
        b_weights=draw(maybe_weights(len(b))),
        a_weights=draw(maybe_weights(len(a))),
    )


@st.composite
def sine_priors(draw: st.DrawFn, sigma: float | None = None) -> SinePrior:
    axes = {k: draw(grid(3)) for k in ("y0", "s", "A", "f", "phi")}
    sig = sigma if sigma is not None else draw(st.sampled_from([0.05, 0.1, 0.5]))
    return SinePrior.grid(sigma=sig, **axes)  # type: ignore[arg-type]


@st.composite
def contexts(draw: st.DrawFn, y_scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    n = draw(st.integers(0, 12))
    x = draw(st.lists(st.floats(-1, 1, allow_nan=False), min_size=n, max_size=n))
    y = draw(st.lists(st.floats(-y_scale, y_scale, allow_nan=False), min_size=n, max_size=n))
    return t(x), t(y)


PROPERTY = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY
@given(prior=step_priors(), ctx=contexts(3.0))
def test_steps_fast_matches_reference(prior: StepPrior, ctx: Ctx) -> None:
    assert_matches_reference(prior, posterior(prior, *ctx), bisect_quantiles=True)


@PROPERTY
@given(prior=sine_priors(), ctx=contexts(3.0))
def test_sines_fast_matches_reference(prior: SinePrior, ctx: Ctx) -> None:
    assert_matches_reference(prior, posterior(prior, *ctx), bisect_quantiles=True)


@PROPERTY
@given(
    steps=step_priors(),
    sines=sine_priors(),
    w=st.lists(weights, min_size=2, max_size=2).filter(lambda w: sum(w) > 0),
    ctx=contexts(2.0),
)
def test_mixture_fast_matches_reference(
    steps: StepPrior, sines: SinePrior, w: list[float], ctx: tuple[torch.Tensor, torch.Tensor]
) -> None:
    sines = SinePrior.grid(
        sigma=steps.sigma, **{k: ax.values for k, ax in zip(
            ("y0", "s", "A", "f", "phi"), sines.axes, strict=True)}
    )
    prior = Mixture.of([steps, sines], weights=w)
    assert_matches_reference(prior, posterior(prior, *ctx))


@PROPERTY
@given(
    q=st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=6),
    flips=st.lists(st.sampled_from([0.0, 1.0]), max_size=30),
)
def test_coin_fast_matches_reference(q: list[float], flips: list[float]) -> None:
    prior = CoinPrior.grid(q)
    y = t(flips)
    lj = reference.log_joint(prior, torch.zeros(len(flips)), y)
    if not torch.isfinite(lj).any():  # e.g. a head under q = 0 only: impossible data
        with pytest.raises(ValueError, match="impossible under the prior"):
            posterior(prior, torch.zeros(len(flips)), y)
        return
    assert_matches_reference(prior, posterior(prior, torch.zeros(len(flips)), y))


def test_incompatible_best_steps_take_exact_path() -> None:
    """Left points far below, right points far above what one latent can reach: the per-c
    sums underflow in the shifted fast path, and the exact fallback must take over."""
    prior = StepPrior.grid(
        torch.linspace(-1, 1, 21), torch.linspace(-1, 1, 21), torch.linspace(-1, 1, 21), 0.02
    )
    x = torch.linspace(-1, 1, 12, dtype=F64)
    y = torch.where(x < 0, -3.0, 3.0).to(F64)
    assert_matches_reference(prior, posterior(prior, x, y))


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        ([0.0, 0.1], [1.0], "same length"),
        ([[0.0]], [[1.0]], "must be 1-d"),
        ([float("nan")], [1.0], "x_context must be finite"),
        ([0.0], [float("inf")], "y_context must be finite"),
        ([2.0], [1.0], r"x_context must lie in the prior's x range \[-1.0, 1.0\]"),
        (["a"], [1.0], "x_context must be numeric"),
    ],
)
def test_bad_context(x: object, y: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        posterior(paper.sines_e2(), x, y)


def test_bad_queries() -> None:
    post = posterior(paper.sines_e2(), *paper.sine_context(0.0))
    with pytest.raises(ValueError, match="x_query must be finite"):
        post.mean(t([float("nan")]))
    with pytest.raises(ValueError, match="x_query must be 1-d"):
        post.mean(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="x_query must lie in the prior's x range"):
        post.mean(t([1.5]))
    with pytest.raises(ValueError, match="y_grid must be a non-empty 1-d"):
        post.density(t([0.0]), t([]))
    with pytest.raises(ValueError, match="levels must lie strictly between 0 and 1"):
        post.quantiles(t([0.0]), t([0.0, 0.5]))
    with pytest.raises(ValueError, match="y must have one value per query"):
        post.log_density(t([0.0, 0.5]), t([0.0]))
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        post.top(0)
    with pytest.raises(ValueError, match="class_probs needs a CoinPrior"):
        post.class_probs(t([0.0]))


def test_bad_coin_input() -> None:
    prior = paper.coin_e5()
    with pytest.raises(ValueError, match="class labels 0 or 1"):
        posterior(prior, torch.zeros(2), t([1.0, 0.5]))
    with pytest.raises(ValueError, match="x range"):
        posterior(prior, t([0.5]), t([1.0]))
    post = posterior(prior, torch.zeros(1), t([1.0]))
    with pytest.raises(ValueError, match="classification prior: use class_probs"):
        post.density(t([0.0]), t([0.0]))
    with pytest.raises(ValueError, match="prior must be a bayeslens prior"):
        posterior("coin", torch.zeros(1), t([1.0]))  # type: ignore[arg-type]


@settings(max_examples=30, deadline=None)
@given(
    bad=st.sampled_from([float("nan"), float("inf"), -float("inf")]),
    where=st.sampled_from(["x_context", "y_context", "x_query", "y_grid", "levels"]),
)
def test_non_finite_input_is_refused_everywhere(bad: float, where: str) -> None:
    prior = paper.sines_and_lines_e3()
    x, y = paper.sloped_sine()
    if where in ("x_context", "y_context"):
        arr = (x if where == "x_context" else y).clone()
        arr[3] = bad
        args = (arr, y) if where == "x_context" else (x, arr)
        with pytest.raises(ValueError, match=f"{where} must be finite"):
            posterior(prior, *args)
        return
    post = posterior(prior, x, y)
    calls = {
        "x_query": lambda: post.mean(t([0.0, bad])),
        "y_grid": lambda: post.density(t([0.0]), t([0.0, bad])),
        "levels": lambda: post.quantiles(t([0.0]), t([0.5, bad])),
    }
    with pytest.raises(ValueError, match=f"{where} must be finite"):
        calls[where]()


@pytest.mark.parametrize("n", [1, 10, 80])
def test_family_weights_sum_the_reference_latent_weights(n: int) -> None:
    """p(family | D) is the sum of p(L | D) over the family's latents (E3, sloped sine)."""
    prior = paper.sines_and_lines_e3()
    x, y = paper.sloped_sine(n=n)
    log_w, _ = reference.log_weights(prior, x, y)
    sizes = [fam.n_latents for fam in prior.families]
    expected = torch.stack([torch.logsumexp(part, 0) for part in log_w.split(sizes)])
    got = posterior(prior, x, y).log_family_weights()
    assert got.shape == (2,)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-9)


def test_family_weights_need_a_mixture() -> None:
    with pytest.raises(ValueError, match="Mixture"):
        posterior(paper.sines_e2(), *paper.sine_2pi()).log_family_weights()


# --------------------------------------------------------------------------------------------
# Sines and lines: the spectral PPD, the pruned atoms and the mean, against the reference
# --------------------------------------------------------------------------------------------


@PROPERTY
@given(prior=sine_priors(), ctx=contexts(3.0), path=st.sampled_from(["spectral", "direct"]))
def test_sines_both_ppd_paths_match_reference(prior: SinePrior, ctx: Ctx, path: str) -> None:
    with pytest.MonkeyPatch.context() as mp:  # the cost model would choose one path
        mp.setattr(posterior_module, "_spectrum_is_cheaper", lambda *_: path == "spectral")
        assert_matches_reference(prior, posterior(prior, *ctx), bisect_quantiles=True)


@PROPERTY
@given(
    a=sine_priors(sigma=0.1),
    b=sine_priors(sigma=0.1),
    w=st.lists(weights, min_size=2, max_size=2).filter(lambda w: sum(w) > 0),
    ctx=contexts(2.0),
    path=st.sampled_from(["spectral", "direct"]),
)
def test_sine_mixtures_both_ppd_paths_match_reference(
    a: SinePrior, b: SinePrior, w: list[float], ctx: Ctx, path: str
) -> None:
    prior = Mixture.of([a, b], weights=w)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(posterior_module, "_spectrum_is_cheaper", lambda *_: path == "spectral")
        assert_matches_reference(prior, posterior(prior, *ctx))


SINE_CONTEXTS = [c for c in paper.CONTEXTS if c.experiment in ("E2", "E3")]


@pytest.mark.parametrize("ctx", SINE_CONTEXTS, ids=_ids)
def test_spectral_ppd_within_its_error_bound(ctx: paper.Context) -> None:
    """Against the PPD summed over *every* latent (no pruning at all): the spectral density
    and CDF are within 1e-12 (the bound: periodic images and cut frequencies < 2e-16 of the
    peak, left-out latents < 2e-15, rounding), at 9 queries on a grid wider than the window."""
    prior = ctx.prior()
    post = posterior(prior, *ctx.make())
    y = torch.linspace(-3, 3, 41, dtype=F64)
    spectral = post._ppd(X_QUERY, 10**6)  # many evaluations: the spectrum is cheaper
    assert isinstance(spectral, posterior_module._Spectrum)
    log_w = post.log_weights()
    everything = torch.arange(log_w.numel())
    dens = reference.ppd_density(prior, log_w, X_QUERY, y)
    assert (spectral.density(y) - dens).abs().max() < 1e-12
    cdf = torch.stack(
        [reference.ppd_cdf_at(prior, log_w, everything, X_QUERY, y[j].expand(9))
         for j in range(y.numel())], 1
    )
    assert (spectral.cdf(y) - cdf).abs().max() < 1e-12


@pytest.mark.parametrize("ctx", SINE_CONTEXTS, ids=_ids)
def test_sine_mean_at_many_queries_matches_reference(ctx: paper.Context) -> None:
    """The mean (sum_L p(L | D) theta_L) . phi(x) at 100 queries, as the benchmark asks it."""
    prior = ctx.prior()
    x, y = ctx.make()
    log_w, _ = reference.log_weights(prior, x, y)
    xq = torch.linspace(-1, 1, 100, dtype=F64)
    expected = reference.ppd_mean(prior, log_w, xq)
    assert (posterior(prior, x, y).mean(xq) - expected).abs().max() < 1e-12


@settings(max_examples=60, deadline=None)
@given(
    logits=st.lists(st.floats(-80, 5, allow_nan=False), min_size=1, max_size=300),
    spread=st.sampled_from([1.0, 10.0, 100.0]),
)
def test_pruned_latents_carry_at_most_tail_mass(logits: list[float], spread: float) -> None:
    """The latents left out of a sine family's atoms weigh at most TAIL_MASS together."""
    log_w = torch.log_softmax(t(logits) * spread, 0)
    keep = posterior_module._keep_mask(log_w)
    assert keep[log_w.argmax()]
    assert float(log_w[~keep].exp().sum()) <= posterior_module.TAIL_MASS


def test_ppd_is_remembered_for_the_last_queries_only() -> None:
    """density, cdf and quantiles at the same x_query share one spectrum; new queries (or the
    caller changing its tensor in place) give a fresh one, never a stale answer."""
    prior = paper.sines_and_lines_e3()
    x, y = paper.sloped_sine()
    post = posterior(prior, x, y)
    xq = torch.linspace(-1, 1, 50, dtype=F64)
    y_grid = torch.linspace(-2, 2, 500, dtype=F64)
    first = post._ppd(xq, y_grid.numel())
    assert post._ppd(xq.clone(), 40) is first
    dens = post.density(xq, y_grid)
    xq.mul_(0.5)  # in place: the remembered queries must not follow
    fresh = posterior(prior, x, y)
    assert torch.equal(post.density(xq, y_grid), fresh.density(xq, y_grid))
    assert not torch.equal(post.density(xq, y_grid), dens)
    assert torch.equal(post.quantiles(xq, LEVELS), fresh.quantiles(xq, LEVELS))


@pytest.mark.parametrize("prior", [paper.sines_e2(), paper.sines_and_lines_e3()],
                         ids=["E2", "E3"])
def test_no_queries_give_empty_answers(prior: Prior) -> None:
    post = posterior(prior, *paper.sloped_sine())
    none = torch.zeros(0, dtype=F64)
    assert post.mean(none).shape == (0,)
    assert post.density(none, Y_GRID).shape == (0, Y_GRID.numel())
    assert post.cdf(none, Y_GRID).shape == (0, Y_GRID.numel())
    assert post.quantiles(none, LEVELS).shape == (0, LEVELS.numel())
