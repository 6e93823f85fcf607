"""Drawing functions: each draws on the Axes it is given, returns it, never shows."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from bayeslens import plots
from bayeslens.plots import Band


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def test_predictive_draws_every_layer(ax):
    x = torch.linspace(-1, 1, 11)
    exact = Band(x * 0, x * 0 - 1, x * 0 + 1)
    network = Band(np.zeros(11), -np.ones(11), np.ones(11))
    out = plots.draw_predictive(
        ax, x, exact, network, x_context=[0.0, 0.5], y_context=[0.1, 0.2], truth=x, title="t"
    )
    assert out is ax
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [
        "truth", "exact PPD 95%", "exact PPD mean", "network 95%", "network mean", "context"
    ]
    assert ax.get_title() == "t"
    np.testing.assert_allclose(ax.lines[1].get_ydata(), 0)


def test_predictive_with_only_the_exact_side(ax):
    plots.draw_predictive(ax, [0.0, 1.0], Band([0, 1], [0, 0], [1, 1]), exact_label="GP")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["GP 95%", "GP mean"]


def test_latent_weights_sorted(ax):
    plots.draw_latent_weights(ax, torch.tensor([0.2, 0.5, 0.3]), ["a", "b", "c"])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "c", "b"]  # largest on top


def test_chapter_figures(ax):
    plots.draw_tabular_fit(ax, [0.2, 0.5], [float("nan"), 1.0], [0.2, 0.5], [0.5, 1.0], step=10)
    assert ax.get_title() == "after 10 steps"
    fig, axes = plt.subplots(1, 5)
    plots.draw_kl_curves(axes[0], [0, 1, 10], {"fresh": [1, 0.1, 0.01]}, marker_step=10)
    plots.draw_coin_convergence(
        axes[1], [0, 1, 2], [0.45, 0.46, 0.47], q_values=[0.3, 0.6], truth=0.5,
        n_paths=[0, 1, 2], paths=np.full((2, 3), 0.5),
    )
    plots.draw_coin_weights(axes[2], [0.3, 0.6], [0.2, 0.8], truth=0.5, n=3)
    x = np.linspace(0, 1, 5)
    plots.draw_seed_predictions(axes[3], x, np.random.default_rng(0).random((3, 5)),
                                exact=np.full(5, np.nan))
    plots.draw_spread(axes[4], {"a": [0.1, 0.9], "b": [0.5, 0.5]})
    assert axes[1].get_xscale() == "log"
    # 3 seeds + the legend's proxy line + the vertical line at 0.5; the all-NaN exact is skipped
    assert len(axes[3].lines) == 3 + 1 + 1
    plt.close(fig)


def test_never_shows(monkeypatch, ax):
    def boom(*args, **kwargs):
        raise AssertionError("plt.show() called")

    monkeypatch.setattr(plt, "show", boom)
    plots.draw_predictive(ax, [0.0, 1.0], Band([0, 1], [0, 0], [1, 1]))


def test_the_network_band_is_an_outline_over_the_shaded_exact_band(ax):
    x = torch.linspace(-1, 1, 11)
    plots.draw_predictive(ax, x, Band(x * 0, x - 1, x + 1), Band(x, x - 0.5, x + 0.5))
    assert len(ax.collections) == 1  # one shaded band: the exact PPD's
    edges = [ln for ln in ax.lines if ln.get_color() == plots.COLORS["network"]]
    assert len(edges) == 3  # lower edge, upper edge, mean
    np.testing.assert_allclose(edges[0].get_ydata(), x - 0.5)


def test_e4_and_e5_figures(ax):
    x = torch.linspace(-1, 1, 21)
    modes = [{"mass": 0.4, "c_lo": -0.6, "c_hi": -0.5, "b": 0.0, "a": 0.13},
             {"mass": 0.4, "c_lo": 0.5, "c_hi": 0.6, "b": 0.13, "a": -0.13}]
    plots.draw_step_modes(ax, x, modes, exact_mean=x * 0, truth=x * 0, title="t")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["up at -0.55: mass 0.40", "down at +0.55: mass 0.40"]
    ax.clear()
    plots.draw_gap_vs_evidence(ax, [10, 0, -10], {"max": [0.1, 0.2, 0.3]}, ["a", "b", "c"])
    assert ax.xaxis_inverted()
    ax.clear()
    plots.draw_heads(ax, [1, 2, 4], [0.6, 0.7, 0.8], {"PFN": [0.9, 0.9, 0.9]})
    assert len(ax.lines) == 2
    ax.clear()
    plots.draw_coin_posterior(ax, [0.25, 0.5, 0.75], [0.2, 0.5, 0.3], title="t")
    ax.clear()
    plots.draw_coin_predictions(ax, {"exact": 0.7, "PFN": float("nan"), "sink": 0.69},
                                fraction=1.0)
    assert len(ax.patches) == 2  # the NaN is left out
