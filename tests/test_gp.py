"""The closed-form GP posterior against the textbook formula with explicit inverses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bayeslens import gp


def _direct(x, y, xq, s=1.0, ell=0.4, noise=0.1):
    """Rasmussen & Williams eq. 2.25-2.26 with numpy and an explicit matrix inverse."""

    def k(a, b):
        return s**2 * np.exp(-((a[:, None] - b[None, :]) ** 2) / (2 * ell**2))

    inv = np.linalg.inv(k(x, x) + noise**2 * np.eye(len(x)))
    mean = k(xq, x) @ inv @ y
    cov = k(xq, xq) - k(xq, x) @ inv @ k(x, xq)
    _sign, logdet = np.linalg.slogdet(k(x, x) + noise**2 * np.eye(len(x)))
    log_ev = -0.5 * y @ inv @ y - 0.5 * logdet - 0.5 * len(x) * np.log(2 * np.pi)
    return mean, np.sqrt(np.clip(np.diag(cov), 0, None)), log_ev


@pytest.mark.parametrize(("n", "ell"), [(10, 0.4), (50, 0.2), (7, 1.3)])
def test_posterior_matches_direct_formula(n, ell):
    x, y = gp.e7_data(n)
    xq = torch.linspace(-3, 3, 41, dtype=torch.float64)
    post = gp.gp_posterior(x, y, xq, length_scale=ell)
    mean, std, log_ev = _direct(x.numpy(), y.numpy(), xq.numpy(), ell=ell)
    np.testing.assert_allclose(post.mean.numpy(), mean, atol=1e-9)
    np.testing.assert_allclose(post.std_f.numpy(), std, atol=1e-7)
    assert post.log_evidence == pytest.approx(log_ev, abs=1e-8)


def test_one_point_by_hand():
    # One observation y = 1 at x = 0: mean at 0 is k/(k + s^2) = 1 / 1.01.
    post = gp.gp_posterior(torch.tensor([0.0]), torch.tensor([1.0]), torch.tensor([0.0, 100.0]))
    assert float(post.mean[0]) == pytest.approx(1 / 1.01)
    assert float(post.std_f[0]) == pytest.approx(np.sqrt(1 - 1 / 1.01))
    # Far away the posterior is the prior: mean 0, std 1.
    assert float(post.mean[1]) == pytest.approx(0.0, abs=1e-12)
    assert float(post.std_f[1]) == pytest.approx(1.0)


def test_bands_and_e7_finding():
    xq = torch.linspace(-2, 2, 401, dtype=torch.float64)
    truth = (xq >= 0).double()
    outside = []
    for n in gp.E7_SIZES:
        post = gp.gp_posterior(*gp.e7_data(n), xq)
        lo, hi = post.band("f")
        ylo, yhi = post.band("y")
        assert torch.all(ylo <= lo)
        assert torch.all(hi <= yhi)
        outside.append(gp.outside_band_fraction(post, truth))
    # More data, more confidently wrong (E7): the truth leaves the band on more of [-2, 2].
    assert outside[-1] > 3 * outside[0]
    assert outside == sorted(outside)


def test_kernel_and_validation():
    k = gp.rbf_kernel(torch.tensor([0.0, 0.4]), torch.tensor([0.0]), output_scale=2.0)
    np.testing.assert_allclose(k[:, 0].numpy(), [4.0, 4.0 * np.exp(-0.5)])
    with pytest.raises(ValueError, match="length_scale"):
        gp.rbf_kernel(torch.zeros(1), torch.zeros(1), length_scale=0.0)
    with pytest.raises(ValueError, match="noise_std"):
        gp.gp_posterior(torch.zeros(1), torch.zeros(1), torch.zeros(1), noise_std=0.0)
    with pytest.raises(ValueError, match="same length"):
        gp.gp_posterior(torch.zeros(2), torch.zeros(1), torch.zeros(1))
    with pytest.raises(ValueError, match="of must be"):
        gp.gp_posterior(torch.zeros(1), torch.zeros(1), torch.zeros(1)).band("z")
    with pytest.raises(ValueError, match="n must be"):
        gp.e7_data(0)
