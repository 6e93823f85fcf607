"""E2/E3 sweeps: hand-computed values, the slow reference, and a grid scan for the bisection.

Covers :mod:`bayeslens.ablations` (exact side) and the family-weight functions of
:mod:`bayeslens.evaluate` (network side).
"""

from __future__ import annotations

import math

import pytest
import reference
import torch

from bayeslens import ablations, evaluate, paper
from bayeslens.model import PFN, PFNConfig
from bayeslens.posterior import posterior
from bayeslens.priors import SinePrior

F64 = torch.float64
X_QUERY = torch.linspace(-1, 1, 41, dtype=F64)


class ExactModel:
    """A stand-in 'network' whose predictive mean is the exact PPD mean (float32, as a PFN)."""

    def __init__(self, prior: object) -> None:
        self.prior = prior

    def mean(self, x_context: torch.Tensor, y_context: torch.Tensor, x_query: torch.Tensor):
        return posterior(self.prior, x_context, y_context).mean(x_query).float()


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def test_contexts_and_rms_by_hand() -> None:
    x, y = ablations.frequency_context(math.pi, n=5, amplitude=2.0)
    torch.testing.assert_close(x, torch.tensor([-1, -0.5, 0, 0.5, 1], dtype=F64))
    torch.testing.assert_close(y, torch.tensor([0, -2.0, 0, 2.0, 0], dtype=F64), atol=1e-12,
                               rtol=0)
    x_2pi, y_2pi = ablations.frequency_context(2 * math.pi, 20)
    torch.testing.assert_close(torch.stack([x_2pi, y_2pi]), torch.stack(paper.sine_2pi(20)))
    xs, ys = paper.sloped_sine(0.25, 0.1, n=7)
    torch.testing.assert_close(ablations.sloped_sine_truth(xs, 0.25, 0.1), ys)
    assert ablations.rms(torch.tensor([0.0, 0.0]), torch.tensor([3.0, 4.0])) == pytest.approx(
        math.sqrt(12.5)
    )
    with pytest.raises(ValueError, match="n must be"):
        ablations.frequency_context(1.0, 0)
    with pytest.raises(ValueError, match="one non-empty shape"):
        ablations.rms(torch.zeros(2), torch.zeros(3))


def test_fit_sloped_sine_recovers_coefficients() -> None:
    x = torch.linspace(-1, 1, 33, dtype=F64)
    y = 0.1 - 0.4 * x + 0.7 * torch.sin(3 * math.pi * x)
    fit = ablations.fit_sloped_sine(x, y)
    assert fit["offset"] == pytest.approx(0.1)
    assert fit["slope"] == pytest.approx(-0.4)
    assert fit["amplitude"] == pytest.approx(0.7)
    assert fit["residual_rms"] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="1-d of one length"):
        ablations.fit_sloped_sine(x, y[:-1])


# --------------------------------------------------------------------------------------------
# E2: the phase sum
# --------------------------------------------------------------------------------------------


def test_phase_sum_of_the_unseen_frequency_by_hand() -> None:
    # For A sin(2 pi x) on linspace(-1, 1, n) (n not in {2, 3, 4, 6, 7}) the data term vanishes
    # and p(phi | D) ∝ exp(cos 4 pi phi) (the chapter derives it). Pairs phi, phi + 1/2 cancel;
    # phi = 1 (a copy of phi = 0) is left over, so R = p(phi = 0 | D), a real number.
    prior = paper.sines_e2()
    phi = torch.linspace(0, 1, 101, dtype=F64)
    w0 = math.e / float(torch.exp(torch.cos(4 * math.pi * phi)).sum())
    for n, amplitude in [(5, 0.2), (20, 0.2), (20, 0.7), (33, 0.05)]:
        post = posterior(prior, *ablations.frequency_context(2 * math.pi, n, amplitude))
        r = ablations.phase_sum(post)
        assert r.real == pytest.approx(w0, rel=1e-9)
        assert r.imag == pytest.approx(0.0, abs=1e-12)


def test_phase_sum_gives_the_ppd_mean() -> None:
    prior = paper.sines_e2()
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        x = torch.rand(8, generator=gen, dtype=F64) * 2 - 1
        y = 0.3 * torch.randn(8, generator=gen, dtype=F64)
        post = posterior(prior, x, y)
        r = ablations.phase_sum(post)
        expected = 0.2 * abs(r) * torch.sin(3 * math.pi * X_QUERY + math.atan2(r.imag, r.real))
        torch.testing.assert_close(post.mean(X_QUERY), expected)
        assert abs(r) <= 1 + 1e-12


def test_phase_sum_of_a_single_phase_and_bad_priors() -> None:
    one = SinePrior.grid(sigma=0.1, A=0.2, f=3 * math.pi, phi=[0.125])
    r = ablations.phase_sum(posterior(one, torch.zeros(1, dtype=F64), torch.zeros(1, dtype=F64)))
    assert r.real == pytest.approx(math.cos(math.pi / 4))
    assert r.imag == pytest.approx(math.sin(math.pi / 4))
    with pytest.raises(ValueError, match="SinePrior"):
        ablations.phase_sum(posterior(paper.sines_and_lines_e3(), *paper.sloped_sine()))
    two_f = SinePrior.grid(sigma=0.1, A=0.2, f=[1.0, 2.0], phi=[0.0, 0.5])
    with pytest.raises(ValueError, match="f axis must hold one value"):
        ablations.phase_sum(posterior(two_f, *paper.sine_2pi(5)))


def test_flatness_one_frequency_at_a_time() -> None:
    prior = paper.sines_e2()
    freqs = [2 * math.pi, 2.5 * math.pi, 3 * math.pi]
    flat = ablations.flatness(prior, freqs, 20, X_QUERY)
    for k, value in zip(freqs, flat, strict=True):
        mean = posterior(prior, *ablations.frequency_context(k, 20)).mean(X_QUERY)
        assert float(value) == pytest.approx(float(mean.abs().max()))
    assert float(flat[0]) < 0.005 < 0.15 < float(flat[1])  # flat at 2 pi only
    assert ablations.flatness(prior, [], 20, X_QUERY).shape == (0,)


# --------------------------------------------------------------------------------------------
# E3: families
# --------------------------------------------------------------------------------------------


def test_family_means_and_odds_against_the_reference() -> None:
    prior = paper.sines_and_lines_e3()
    x, y = paper.sloped_sine(0.23, n=10)
    fm = ablations.family_means(prior, x, y, X_QUERY)
    assert fm.shape == (2, X_QUERY.numel())
    for k, fam in enumerate(prior.families):
        log_w, _ = reference.log_weights(fam, x, y)
        torch.testing.assert_close(fm[k], reference.ppd_mean(fam, log_w, X_QUERY))
    # The mixture's mean is the family-weighted sum; the odds come from the summed weights.
    log_w, _ = reference.log_weights(prior, x, y)
    start = prior.offsets[1]
    log_fam = torch.stack([log_w[:start].logsumexp(0), log_w[start:].logsumexp(0)])
    assert ablations.family_log_odds(prior, x, y) == pytest.approx(
        float(log_fam[0] - log_fam[1]), abs=1e-9
    )
    torch.testing.assert_close(
        log_fam.exp() @ fm, posterior(prior, x, y).mean(X_QUERY), atol=1e-12, rtol=0
    )
    with pytest.raises(ValueError, match="Mixture"):
        ablations.family_means(paper.sines_e2(), x, y, X_QUERY)
    with pytest.raises(ValueError, match="two families"):
        ablations.family_log_odds(paper.sines_e2(), x, y)


def test_find_crossing_by_hand() -> None:
    assert ablations.find_crossing(lambda s: s - 0.3, 0.0, 1.0, tol=1e-12) == pytest.approx(0.3)
    assert ablations.find_crossing(lambda s: 0.7 - s * s, 0.0, 1.0, tol=1e-12) == pytest.approx(
        math.sqrt(0.7)
    )
    assert ablations.find_crossing(lambda s: s + 1.0, 0.0, 1.0) is None
    assert ablations.find_crossing(lambda s: s, 0.0, 1.0) == 0.0
    with pytest.raises(ValueError, match="lo < hi"):
        ablations.find_crossing(lambda s: s, 1.0, 1.0)
    with pytest.raises(ValueError, match="finite"):
        ablations.find_crossing(lambda s: math.nan, 0.0, 1.0)


def test_switch_slope_agrees_with_a_grid_scan() -> None:
    prior = paper.sines_and_lines_e3()
    slopes = torch.linspace(0.21, 0.28, 71, dtype=F64).tolist()  # steps of 0.001
    odds = [ablations.family_log_odds(prior, *paper.sloped_sine(s)) for s in slopes]
    changes = [i for i in range(70) if (odds[i] > 0) != (odds[i + 1] > 0)]
    assert len(changes) == 1  # sines below the switch, lines above
    i = changes[0]
    assert odds[0] > 0 > odds[-1]
    found = ablations.switch_slope(prior, tol=1e-9)
    assert found is not None
    assert slopes[i] <= found <= slopes[i + 1]
    interpolated = slopes[i] + (slopes[i + 1] - slopes[i]) * odds[i] / (odds[i] - odds[i + 1])
    assert found == pytest.approx(interpolated, abs=1e-5)
    assert abs(ablations.family_log_odds(prior, *paper.sloped_sine(found))) < 1e-6
    assert ablations.switch_slope(prior, 0.0, 0.1) is None  # the sines win throughout


# --------------------------------------------------------------------------------------------
# Network side (bayeslens.evaluate)
# --------------------------------------------------------------------------------------------


def test_implied_family_weight_by_hand() -> None:
    fm = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]], dtype=F64)
    w = evaluate.implied_family_weight(torch.full((3,), 0.25, dtype=F64), fm)
    assert (w.weight, w.raw) == (pytest.approx(0.25), pytest.approx(0.25))
    assert w.residual_rms == pytest.approx(0.0)
    # Beyond family 0: the raw weight is 2, clipped to 1, leaving a residual of 1.
    w = evaluate.implied_family_weight(torch.full((3,), 2.0, dtype=F64), fm)
    assert (w.weight, w.raw, w.residual_rms) == (1.0, pytest.approx(2.0), pytest.approx(1.0))
    # Least squares over queries: mean (1, 0, 0.5) against (1,1,1) vs (0,0,0) gives w = 0.5.
    w = evaluate.implied_family_weight(torch.tensor([1.0, 0.0, 0.5], dtype=F64), fm)
    assert w.weight == pytest.approx(0.5)
    assert w.residual_rms == pytest.approx(math.sqrt(0.5 / 3))
    with pytest.raises(ValueError, match="coincide"):
        evaluate.implied_family_weight(torch.zeros(3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="family_means"):
        evaluate.implied_family_weight(torch.zeros(3), torch.zeros(3, 3))


def test_implied_weight_of_the_exact_mean_is_the_family_mass() -> None:
    prior = paper.sines_and_lines_e3()
    for slope in (0.21, 0.23, 0.26):
        x, y = paper.sloped_sine(slope)
        post = posterior(prior, x, y)
        fm = ablations.family_means(prior, x, y, X_QUERY)
        w = evaluate.implied_family_weight(post.mean(X_QUERY), fm)
        assert w.weight == pytest.approx(float(post.log_family_weights()[0].exp()), abs=1e-9)
        assert w.residual_rms < 1e-12


def test_network_family_weight_uses_the_model_mean() -> None:
    prior = paper.sines_and_lines_e3()
    torch.manual_seed(0)
    tiny = PFNConfig(n_layers=1, d_model=16, n_heads=2, d_ff=32, n_buckets=40, max_context=9,
                     head_hidden=0)
    model = PFN(tiny, torch.linspace(-1.5, 1.5, 41)).eval()
    x, y = paper.sloped_sine(n=9)
    got = evaluate.network_family_weight(model, prior, x, y, X_QUERY)
    want = evaluate.implied_family_weight(
        model.mean(x, y, X_QUERY).double(), ablations.family_means(prior, x, y, X_QUERY)
    )
    assert got == want


def test_network_switch_and_flatness_of_an_exact_stand_in() -> None:
    # A 'network' that predicts the exact mean switches where the posterior does (up to its
    # float32 mean and the bisection's tolerance), and is exactly as flat.
    prior = paper.sines_and_lines_e3()
    stand_in = ExactModel(prior)
    found = evaluate.network_switch_slope(stand_in, prior, X_QUERY, tol=1e-5)
    exact = ablations.switch_slope(prior, tol=1e-9)
    assert found is not None
    assert exact is not None
    assert found == pytest.approx(exact, abs=1e-4)
    assert evaluate.network_switch_slope(stand_in, prior, X_QUERY, 0.0, 0.1) is None
    sines = paper.sines_e2()
    freqs = [2 * math.pi, 2.5 * math.pi]
    torch.testing.assert_close(
        evaluate.network_flatness(ExactModel(sines), freqs, 20, X_QUERY),
        ablations.flatness(sines, freqs, 20, X_QUERY),
        atol=1e-6, rtol=1e-5,
    )


# ------------------------------------------------------------------------------ E4: steps


def test_step_modes_match_grouping_latents_one_by_one() -> None:
    """Group every latent by its values on the context (the slow way) and compare."""
    from bayeslens.priors import StepPrior

    grid = torch.linspace(-1, 1, 21, dtype=F64)
    prior = StepPrior.grid(grid, grid, grid, 0.1)
    x, y = paper.bump(0.3, n=8)
    post = posterior(prior, x, y)
    modes = ablations.step_modes(post, x, k=5)
    log_w = reference.log_joint(prior, x, y)
    w = (log_w - torch.logsumexp(log_w, 0)).exp()
    params = prior.latent_params(torch.arange(prior.n_latents))
    groups: dict[tuple[int, float], list[int]] = {}
    for i in range(prior.n_latents):
        ups = int((x > params["c"][i]).sum())  # which context points the step lifts
        groups.setdefault((ups, float(torch.sign(params["a"][i]))), []).append(i)
    masses = sorted(((float(w[idx].sum()), idx) for idx in groups.values()),
                    key=lambda t: -t[0])
    for mode, (mass, idx) in zip(modes, masses, strict=False):
        assert mode["mass"] == pytest.approx(mass, rel=1e-9)
        sel = torch.tensor(idx)
        assert mode["b"] == pytest.approx(float((w[sel] * params["b"][sel]).sum() / mass))
        assert mode["a"] == pytest.approx(float((w[sel] * params["a"][sel]).sum() / mass))
        assert mode["c_lo"] == pytest.approx(float(params["c"][sel].min()))
        assert mode["c_hi"] == pytest.approx(float(params["c"][sel].max()))
    assert len(modes) == 5


def test_e4_bump_is_an_average_of_two_single_steps() -> None:
    """The paper's E4 finding, exactly: two mirror-image steps of height 2h/3."""
    prior = paper.steps_e4()
    x, y = paper.bump(0.5)
    modes = ablations.step_modes(posterior(prior, x, y), x, k=2)
    assert sum(m["mass"] for m in modes) > 0.99
    assert modes[0]["mass"] == pytest.approx(modes[1]["mass"], rel=1e-6)
    for m in modes:
        assert abs(m["a"]) == pytest.approx(2 / 3 * 0.5, abs=0.01)
    with pytest.raises(ValueError, match="StepPrior"):
        ablations.step_modes(posterior(paper.coin_e5(), *paper.heads(2)), x)
    with pytest.raises(ValueError, match="k must be"):
        ablations.step_modes(posterior(prior, x, y), x, k=0)


def test_bump_width_and_heads_and_tails() -> None:
    x, y = paper.bump(0.2)
    _, y2 = paper.bump(0.2, width=0.5)
    torch.testing.assert_close(y, y2)
    assert y.sum() == pytest.approx(0.2 * int(((x > -0.5) & (x <= 0.5)).sum()))
    _, y = paper.bump(0.3, n=20, width=0.25)
    assert int((y > 0).sum()) == 4
    x, y = paper.heads_and_tails(3, 2)
    assert x.tolist() == [0.0] * 5
    assert y.tolist() == [1.0, 1.0, 1.0, 0.0, 0.0]
