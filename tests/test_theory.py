"""Chapter 1 and 2 maths: the KL decomposition, training to the PPD or the MLE, E6."""

from __future__ import annotations

import math

import pytest
import torch

from bayeslens import theory
from bayeslens.priors import CoinPrior


@pytest.fixture
def prior():
    return CoinPrior.grid(torch.linspace(0.05, 0.95, 10))


def test_joint_by_hand():
    # One coin q = 0.3, one context flip: p(x=1, y=1) = q^2, p(x=0, y=0) = (1-q)^2.
    joint = theory.coin_joint(CoinPrior.grid([0.3]), 1)
    expected = torch.tensor([[0.49, 0.21], [0.21, 0.09]], dtype=torch.float64)
    torch.testing.assert_close(joint, expected)


def test_uniform_prior_gives_laplace_rule():
    # A fine uniform grid approximates q ~ U(0, 1): PPD (k + 1) / (n + 2).
    grid = (torch.arange(2000, dtype=torch.float64) + 0.5) / 2000
    ppd = theory.posterior_predictive_table(theory.coin_joint(CoinPrior.grid(grid), 4))
    torch.testing.assert_close(ppd[:, 1], (torch.arange(5.0, dtype=torch.float64) + 1) / 6,
                               atol=1e-6, rtol=0)


def test_decomposition_holds(prior):
    joint = theory.coin_joint(prior, 4)
    h = theory.conditional_entropy(joint)
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        p1 = torch.rand(5, generator=gen, dtype=torch.float64) * 0.98 + 0.01
        q = torch.stack([1 - p1, p1], dim=-1)
        ce = theory.cross_entropy(joint, q)
        assert ce == pytest.approx(theory.expected_kl(joint, q) + h, abs=1e-12)
        assert theory.expected_kl(joint, q) > 0
    ppd = theory.posterior_predictive_table(joint)
    assert theory.expected_kl(joint, ppd) == pytest.approx(0, abs=1e-12)
    assert float(theory.kl_to_ppd(joint, ppd[:, 1])) == pytest.approx(0, abs=1e-9)


def test_monte_carlo_agrees(prior):
    joint = theory.coin_joint(prior, 3)
    q = torch.full((4, 2), 0.5, dtype=torch.float64)
    q[:, 1] = torch.tensor([0.2, 0.4, 0.6, 0.8])
    q[:, 0] = 1 - q[:, 1]
    est, se = theory.monte_carlo_cross_entropy(joint, q, 200_000, torch.Generator().manual_seed(0))
    assert abs(est - theory.cross_entropy(joint, q)) < 5 * se


def test_predictor_validation(prior):
    joint = theory.coin_joint(prior, 2)
    with pytest.raises(ValueError, match="shape"):
        theory.cross_entropy(joint, torch.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="distribution"):
        theory.cross_entropy(joint, torch.full((3, 2), 0.7))
    with pytest.raises(ValueError, match="n_flips"):
        theory.coin_joint(prior, -1)


def test_mle_fit_by_hand():
    tasks = theory.CoinTask(torch.tensor([0, 0, 2, 2, 2]), torch.tensor([1, 0, 1, 1, 0]))
    fit = theory.mle_fit(tasks, 2)
    assert float(fit[0]) == pytest.approx(0.5)
    assert math.isnan(float(fit[1]))
    assert float(fit[2]) == pytest.approx(2 / 3)
    assert float(theory.excess_empirical_loss(tasks, fit.nan_to_num(0.5))) == pytest.approx(0)


def test_training_approaches_ppd_or_mle(prior):
    """A shrunken chapter 1: fresh data -> PPD, a fixed set -> its MLE."""
    joint = theory.coin_joint(prior, 2)
    cfg = theory.TrainConfig(n_flips=2, n_steps=4000, batch_size=64, lr=0.05)
    fresh = theory.train_tabular(prior, cfg)
    fixed = theory.train_tabular(prior, theory.TrainConfig(**{**cfg.__dict__, "fixed_tasks": 20}))
    assert fresh.train_tasks is None
    assert fixed.train_tasks is not None
    assert fresh.steps[0] == 0
    assert fresh.steps[-1] == 4000
    torch.testing.assert_close(fresh.prob_one[0], torch.full((3,), 0.5, dtype=torch.float64))
    assert float(theory.kl_to_ppd(joint, fresh.final)) < 1e-3
    assert float(theory.excess_empirical_loss(fixed.train_tasks, fixed.final)) < 1e-3
    assert float(theory.kl_to_ppd(joint, fixed.final)) > 10 * float(
        theory.kl_to_ppd(joint, fresh.final)
    )


def test_training_gradient_matches_autograd(prior):
    # The count-based gradient used by train_tabular equals autograd on the batch.
    tasks = theory.sample_tasks(prior, 3, 16, torch.Generator().manual_seed(0))
    theta = torch.randn(4, dtype=torch.float64, requires_grad=True)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        theta[tasks.x], tasks.y.to(torch.float64)
    )
    loss.backward()
    counts = theory._batch_counts(tasks, 1, 16, 4)[0]
    manual = (counts[:, 0] * torch.sigmoid(theta.detach()) - counts[:, 1]) / 16
    torch.testing.assert_close(theta.grad, manual)


def test_e6_converges_to_the_wrong_coin():
    prior = CoinPrior.grid([0.3, 0.6])
    ppd = theory.expected_coin_ppd(prior, 0.5, [0, 1024])
    assert float(ppd[0]) == pytest.approx(0.45)
    assert float(ppd[1]) == pytest.approx(0.6, abs=1e-12)
    # One flip of expected likelihood by hand: w_q ∝ sqrt(q (1 - q)).
    w = theory.expected_coin_log_weights(prior, 0.5, [1]).exp()[0]
    r = math.sqrt(0.6 * 0.4) / math.sqrt(0.3 * 0.7)
    assert float(w[1]) == pytest.approx(r / (1 + r))


def test_crossover_and_kl():
    p = theory.crossover_truth(0.3, 0.6)
    assert p == pytest.approx(math.log(1.75) / (math.log(2) + math.log(1.75)))
    kl = theory.kl_bernoulli(p, torch.tensor([0.3, 0.6]))
    assert float(kl[0]) == pytest.approx(float(kl[1]))
    assert float(theory.kl_bernoulli(0.5, 0.5)) == 0
    with pytest.raises(ValueError, match="q_low"):
        theory.crossover_truth(0.6, 0.3)
    prior = CoinPrior.grid([0.3, 0.6])
    below = theory.expected_coin_ppd(prior, p - 0.01, [5000])
    above = theory.expected_coin_ppd(prior, p + 0.01, [5000])
    assert float(below[0]) == pytest.approx(0.3, abs=1e-6)
    assert float(above[0]) == pytest.approx(0.6, abs=1e-6)


def test_sampled_paths():
    prior = CoinPrior.grid([0.3, 0.6])
    paths = theory.sampled_coin_ppd(prior, 0.5, 2000, 4, torch.Generator().manual_seed(0))
    assert paths.shape == (4, 2001)
    torch.testing.assert_close(paths[:, 0], torch.full((4,), 0.45, dtype=torch.float64))
    assert torch.all((paths[:, -1] - 0.6).abs() < 1e-3)
