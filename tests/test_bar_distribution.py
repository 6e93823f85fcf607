"""The bar distribution against hand values and numerical integration."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from bayeslens import paper
from bayeslens.bar_distribution import BarDistribution, borders_from_prior

Z75 = 0.6744897501960817  # Phi^-1(0.75)


def _random_bar(seed: int, n: int = 12) -> tuple[BarDistribution, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    widths = torch.rand(n, generator=g, dtype=torch.float64) + 0.05
    borders = torch.cat([torch.zeros(1, dtype=torch.float64), widths.cumsum(0)]) - 1.0
    logits = torch.randn(3, n, generator=g, dtype=torch.float64) * 2
    return BarDistribution(borders), logits


def test_hand_values_uniform_logits() -> None:
    bar = BarDistribution(torch.tensor([0.0, 1.0, 2.0, 3.0]))
    logits = torch.zeros(3)
    # interior bucket [1, 2]: mass 1/3 spread flat over width 1
    assert bar.log_density(logits, torch.tensor(1.5)).item() == pytest.approx(-math.log(3))
    # left tail at its inner border: (1/3) * half-normal density at 0, scale = width / Z75
    s = 1.0 / Z75
    expected = (1 / 3) * math.sqrt(2 / math.pi) / s
    assert bar.log_density(logits, torch.tensor(1.0 - 1e-7)).exp().item() == pytest.approx(
        expected, rel=1e-5
    )
    # right tail, 1 unit beyond its inner border (2)
    expected_r = (1 / 3) * math.sqrt(2 / math.pi) / s * math.exp(-1 / (2 * s**2))
    assert bar.log_density(logits, torch.tensor(3.0)).exp().item() == pytest.approx(
        expected_r, rel=1e-5
    )
    # mean: the tails pull symmetrically, so the mean is the centre
    assert bar.mean(logits).item() == pytest.approx(1.5, abs=1e-6)
    # half of each tail's mass lies within its bucket: CDF at the outer border is 1/6
    assert bar.cdf(logits, torch.tensor(0.0)).item() == pytest.approx(1 / 6, rel=1e-5)
    assert bar.cdf(logits, torch.tensor(1.5)).item() == pytest.approx(0.5, rel=1e-6)
    assert bar.quantiles(logits, torch.tensor([0.5])).item() == pytest.approx(1.5, rel=1e-6)


def _midpoints(bar: BarDistribution, upper: float, per_piece: int = 20_000) -> torch.Tensor:
    """Midpoint-rule nodes on [-40, upper], split at the borders so no cell straddles a jump.

    Returns (nodes, widths) stacked as a (2, n) float64 tensor.
    """
    b = bar.borders.double()
    inner = [b[1].item() - 2, *b[1:-1].tolist(), b[-2].item() + 2]  # finer near the tails
    cuts = [-40.0] + [v for v in inner if v < upper] + [upper]
    nodes, widths = [], []
    for lo, hi in itertools.pairwise(cuts):
        h = (hi - lo) / per_piece
        nodes.append(lo + h * (torch.arange(per_piece, dtype=torch.float64) + 0.5))
        widths.append(torch.full((per_piece,), h, dtype=torch.float64))
    return torch.stack([torch.cat(nodes), torch.cat(widths)])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_density_integrates_to_one_and_mean_matches(seed: int) -> None:
    bar, logits = _random_bar(seed)
    y, h = _midpoints(bar, 40.0)
    dens = bar.density(logits, y)  # (3, n_y)
    torch.testing.assert_close((dens * h).sum(-1), torch.ones(3, dtype=torch.float64),
                               atol=1e-6, rtol=0)
    torch.testing.assert_close(bar.mean(logits), (dens * h * y).sum(-1), atol=1e-6, rtol=0)


@pytest.mark.parametrize("seed", [0, 3])
def test_cdf_is_the_integral_and_quantiles_invert_it(seed: int) -> None:
    bar, logits = _random_bar(seed)
    for probe in (-2.0, -0.7, 0.3, 4.0):
        y, h = _midpoints(bar, probe)
        integral = (bar.density(logits, y) * h).sum(-1)
        cdf = bar.cdf(logits, torch.full((3,), probe, dtype=torch.float64))
        torch.testing.assert_close(cdf, integral, atol=1e-6, rtol=0)
    levels = torch.tensor([0.001, 0.05, 0.3, 0.5, 0.9, 0.999], dtype=torch.float64)
    q = bar.quantiles(logits, levels)  # (3, 6)
    assert (q[:, 1:] > q[:, :-1]).all()
    back = torch.stack([bar.cdf(logits, q[:, j]) for j in range(levels.numel())], dim=-1)
    torch.testing.assert_close(back, levels.expand(3, -1), atol=1e-9, rtol=1e-7)


def test_log_density_matches_density_and_is_batched() -> None:
    bar, logits = _random_bar(4)
    y = torch.tensor([[-5.0], [0.1], [9.0]], dtype=torch.float64)  # (3, 1)
    ld = bar.log_density(logits, y[:, 0])
    d = bar.density(logits, torch.tensor([-5.0, 0.1, 9.0], dtype=torch.float64))
    torch.testing.assert_close(ld.exp(), d.diagonal())


def test_borders_from_prior_are_quantiles() -> None:
    prior = paper.steps_e1()
    borders = borders_from_prior(prior, 100, generator=torch.Generator().manual_seed(0),
                                 n_datasets=2000, n_points=10)
    assert borders.shape == (101,)
    assert borders.dtype == torch.float32
    assert (borders[1:] > borders[:-1]).all()
    y = prior.sample(2000, 10, torch.Generator().manual_seed(0)).y.reshape(-1)
    assert borders[0] == pytest.approx(y.min().item(), rel=1e-6)
    assert borders[-1] == pytest.approx(y.max().item(), rel=1e-6)
    # about 1% of the samples fall in each bucket
    below = (y[:, None] < borders[None, 1:-1].double()).double().mean(0)  # (99,)
    torch.testing.assert_close(below, torch.arange(1, 100, dtype=torch.float64) / 100,
                               atol=2e-3, rtol=0)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        BarDistribution(torch.tensor([0.0, 1.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="finite"):
        BarDistribution(torch.tensor([0.0, 1.0, float("nan"), 2.0]))
    with pytest.raises(ValueError, match=">= 3 values"):
        BarDistribution(torch.tensor([0.0, 1.0]))
    bar = BarDistribution(torch.tensor([0.0, 1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="n_buckets = 3"):
        bar.mean(torch.zeros(4))
    with pytest.raises(ValueError, match="levels"):
        bar.quantiles(torch.zeros(3), torch.tensor([0.0, 0.5]))
    with pytest.raises(ValueError, match="n_buckets"):
        borders_from_prior(paper.steps_e1(), 1, generator=torch.Generator())
