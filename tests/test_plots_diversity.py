"""The task-diversity chapter's drawing functions: what each draws, checked on its artists."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from bayeslens import diversity, plots

SHIPPED = Path(diversity.__file__).with_name("data") / "diversity.json"
METRIC_KEYS = [f"{m}_{p}" for m in ("mse", "kl") for p in ("to_pool", "to_ridge")] + [
    "mse_pool_ridge", "kl_pool_ridge", "mse_to_ridge_minus_pool", "kl_to_ridge_minus_pool",
    "nll_gap_to_pool", "nll_gap_to_ridge", "nll_pool_minus_ridge",
]


def _record(m: int, to_pool: float, to_ridge: float) -> dict:
    split = {k: {"mean": 0.5, "se": 0.01} for k in METRIC_KEYS}
    for metric in ("mse", "kl"):
        split[f"{metric}_to_pool"] = {"mean": to_pool, "se": 0.05}
        split[f"{metric}_to_ridge"] = {"mean": to_ridge, "se": 0.05}
    k = list(range(1, 16))
    curve = {"n_context": k, **{name: {"mean": [1.0 + i for i in range(15)], "se": [0.1] * 15}
                                for name in ("network", "least_squares", "ridge", "pool")}}
    return {"n_tasks": m, "in_pool": split, "fresh": split, "context_curve": curve}


# to pool 0.1 -> 1 (worse with M), to ridge 1 -> 0.1: they cross between M = 8 and M = 32
DOC = {"prior": {}, "runs": [_record(2, 0.1, 1.0), _record(8, 0.2, 0.5), _record(32, 1.0, 0.1)]}


def _series(ax) -> dict[str, np.ndarray]:
    """The y data of each labelled errorbar (its line)."""
    return {c.get_label(): np.asarray(c.lines[0].get_ydata(), dtype=float)
            for c in ax.containers}


def test_distances_draw_each_posterior_the_reference_and_the_thresholds(ax):
    c = diversity.curves(DOC, "fresh", "mse")
    m_star = diversity.threshold(DOC, "fresh", "mse")
    assert m_star is not None
    assert 8 < m_star < 32
    out = plots.draw_posterior_distances(ax, c, threshold=m_star, paper=(2**13, 2**14),
                                         paper_label="paper", ylabel="MSE", title="t")
    assert out is ax
    series = _series(ax)
    np.testing.assert_allclose(series["network to pool posterior"], [0.1, 0.2, 1.0])
    np.testing.assert_allclose(series["network to ridge"], [1.0, 0.5, 0.1])
    np.testing.assert_allclose(series["pool posterior to ridge"], 0.5)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "paper" in labels
    assert "crossing M*" in labels
    (value,) = ax.texts
    assert value.get_text() == f"M* ≈ {m_star:,.0f}"
    assert value.get_ha() == "left"  # in the middle of the axis: right of its line
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["$2^{1}$", "$2^{3}$", "$2^{5}$"]
    # networks dashed, the two exact posteriors' distance solid
    styles = {c.get_label(): c.lines[0].get_linestyle() for c in ax.containers}
    assert styles == {"network to pool posterior": "--", "network to ridge": "--",
                      "pool posterior to ridge": "-"}


def test_a_crossing_near_the_right_edge_is_written_left_of_its_line(ax):
    plots.draw_posterior_distances(ax, diversity.curves(DOC), threshold=30.0)
    (value,) = ax.texts
    assert value.get_ha() == "right"
    assert value.get_window_extent().x1 <= ax.get_window_extent().x1


def test_distances_leave_out_values_a_log_axis_cannot_show(ax):
    doc = {"prior": {}, "runs": [_record(2, -0.01, 1.0), _record(10, 0.2, 0.5)]}
    plots.draw_posterior_distances(ax, diversity.curves(doc, "in_pool", "kl"))
    series = _series(ax)
    np.testing.assert_allclose(series["network to pool posterior"], [0.2])
    np.testing.assert_allclose(series["network to ridge"], [1.0, 0.5])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["$2^{1}$", "10"]
    # the lower error bar stays above zero, so it stays on the log axis
    for c in ax.containers:
        for segments in c.lines[2]:
            assert (np.asarray(segments.get_segments())[:, :, 1] > 0).all()


def test_distances_draw_one_pool_size(ax):
    doc = {"prior": {}, "runs": [_record(32768, 0.6, 0.15)]}
    plots.draw_posterior_distances(ax, diversity.curves(doc), paper=(2**13, 2**14))
    assert len(ax.containers) == 3
    lo, hi = ax.get_xlim()
    assert lo < 2**13  # the published range is in view beside our point
    assert hi > 32768


def test_context_curve_draws_four_predictors_and_the_marks(ax):
    curve = _record(2, 0.1, 1.0)["context_curve"]
    out = plots.draw_context_curve(ax, curve, d=8, noise_variance=0.25,
                                   network_label="network, M = 2", title="t")
    assert out is ax
    series = _series(ax)
    assert list(series) == ["least squares", "ridge (Gaussian prior)", "pool posterior",
                            "network, M = 2"]
    np.testing.assert_allclose(series["ridge (Gaussian prior)"], np.arange(1, 16))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "k = d = 8" in labels
    assert "noise σ² = 0.25" in labels
    assert ax.get_yscale() == "log"
    assert ax.get_title() == "t"
    styles = {c.get_label(): c.lines[0].get_linestyle() for c in ax.containers}
    assert styles["network, M = 2"] == "--"
    assert styles["ridge (Gaussian prior)"] == styles["pool posterior"] == "-"


def test_log_axes_are_labelled_in_plain_numbers(ax):
    plots.draw_posterior_distances(ax, diversity.curves(DOC))
    ax.figure.canvas.draw()
    text = [t.get_text() for t in ax.get_yticklabels() + ax.get_yticklabels(minor=True)]
    assert any(text)
    assert not any("e" in t or "times" in t for t in text)


@pytest.mark.parametrize("draw", ["distances", "context"])
def test_legends_sit_below_the_data_and_the_x_label(draw):
    with plots.book_style():
        fig, ax = plt.subplots(figsize=(plots.FIGURE_WIDTH, 3.4), layout="constrained")
        if draw == "distances":
            plots.draw_posterior_distances(ax, diversity.curves(DOC), threshold=10.0,
                                           paper=(2**13, 2**14))
        else:
            plots.draw_context_curve(ax, DOC["runs"][0]["context_curve"], d=8,
                                     noise_variance=0.25)
        fig.canvas.draw()
    box = ax.get_legend().get_window_extent()
    data = ax.get_window_extent()
    assert not (box.x0 < data.x1 and data.x0 < box.x1 and box.y0 < data.y1 and data.y0 < box.y1)
    assert box.y1 <= ax.xaxis.label.get_window_extent().y0 + 1
    plt.close(fig)


@pytest.mark.skipif(not SHIPPED.exists(), reason="no shipped diversity results")
def test_the_shipped_results_draw(ax):
    doc = diversity.read_results(SHIPPED)
    assert doc["runs"], "the shipped file holds at least one pool size"
    for split in diversity.SPLITS:
        for metric in ("mse", "kl"):
            ax.clear()
            plots.draw_posterior_distances(ax, diversity.curves(doc, split, metric))
            assert len(ax.containers) == 3
    ax.clear()
    plots.draw_context_curve(ax, doc["runs"][-1]["context_curve"], d=doc["prior"]["d"],
                             noise_variance=doc["prior"]["sigma"] ** 2)
    assert len(ax.containers) == 4
