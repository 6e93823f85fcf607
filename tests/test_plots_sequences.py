"""The sequence chapter's drawing functions: what each draws, checked on its artists."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bayeslens import plots, sequence_pools
from bayeslens.evaluate import SequenceKL


def _kl(values: list[float]) -> SequenceKL:
    v = torch.tensor(values, dtype=torch.float64)
    return SequenceKL(v, v / 10, float(v.mean()), 0.0, 10, len(values))


def test_transitions_grid_and_numbers(ax) -> None:
    p = np.array([[0.8, 0.1, 0.1], [0.2, 0.5, 0.3], [0.0, 0.4, 0.6]])
    plots.draw_transitions(ax, p, title="chain 0")
    assert np.allclose(ax.images[0].get_array(), p)
    assert [t.get_text() for t in ax.texts] == [f"{v:.2f}" for v in p.ravel()]
    assert ax.get_title() == "chain 0"
    with pytest.raises(ValueError, match="square"):
        plots.draw_transitions(ax, np.ones((2, 3)) / 3)


def test_token_kl_styles_and_leaves_out_position_zero(ax) -> None:
    plots.draw_token_kl(ax, {"network": _kl([0.0, 0.01, 0.02, 0.03]),
                             "bigram counts": _kl([0.0, 0.1, 0.05, 0.04])})
    lines = {ln.get_label(): ln for ln in ax.get_lines() if not ln.get_label().startswith("_")}
    assert set(lines) == {"network", "bigram counts"}
    assert lines["network"].get_linestyle() == "--"
    assert lines["network"].get_color() == plots.PREDICTOR_STYLES["network"][0]
    assert list(lines["network"].get_xdata()) == [1, 2, 3]  # t = 0 (KL 0) is not on a log axis
    assert ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="names none of the predictors"):
        plots.draw_token_kl(ax, {"mystery": _kl([0.1, 0.2])})


def test_chain_posterior_by_position(ax) -> None:
    post = np.array([[0.5, 0.25, 0.25], [0.6, 0.3, 0.1], [0.8, 0.15, 0.05]])
    plots.draw_chain_posterior_by_position(ax, post, highlight=[0])
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert labels == ["other chains", "_child1", "chain 0"]
    assert np.allclose(ax.get_lines()[-1].get_ydata(), post[:, 0])
    with pytest.raises(ValueError, match="one name per chain"):
        plots.draw_chain_posterior_by_position(ax, post, labels=["a"])
    with pytest.raises(ValueError, match="length \\+ 1, K"):
        plots.draw_chain_posterior_by_position(ax, post[0])


def test_training_phases_draw_step_zero_at_one(ax) -> None:
    plots.draw_training_phases(ax, [0, 10, 100], {
        "to uniform": ([0.1, 0.2, 0.3], [0.01] * 3),
        "to bigram": ([0.3, 0.1, 0.01], [0.01] * 3)})
    by_label = {c.get_label(): c for c in ax.containers}
    assert set(by_label) == {"to uniform", "to bigram"}
    assert list(by_label["to bigram"].lines[0].get_xdata()) == [1, 10, 100]
    assert ax.get_xscale() == ax.get_yscale() == "log"


def test_pool_distances_on_the_shipped_sweep(ax) -> None:
    doc = sequence_pools.read_results(sequence_pools.DEFAULT_OUT)
    c = sequence_pools.curves(doc, "fresh")
    k_star = sequence_pools.threshold(doc, "fresh")
    plots.draw_pool_distances(ax, c, threshold=k_star)
    by_label = {cont.get_label(): cont for cont in ax.containers}
    assert np.allclose(by_label["KL(bigram counts || network)"].lines[0].get_ydata(), c.to_bigram)
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"{k:,.0f}" for k in c.n_chains]
    if k_star is not None:
        assert any(t.get_text().startswith("K* ≈") for t in ax.texts)
