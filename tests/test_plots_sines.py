"""The sine chapters' drawing functions (E2, E3): what each draws, checked on its artists."""

from __future__ import annotations

import math

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from bayeslens import plots
from bayeslens.plots import Band


def test_figure_legend_moves_the_fullest_legend_below(ax):
    fig = ax.figure
    other = fig.add_subplot(2, 1, 2)
    x = [0.0, 1.0]
    plots.draw_predictive(other, x, Band([0, 1], [0, 0], [1, 1]))
    plots.draw_predictive(ax, x, Band([0, 1], [0, 0], [1, 1]), Band([0, 1], [0, 0], [1, 1]))
    plots.figure_legend(fig, [ax, other], ncols=2)
    assert ax.get_legend() is None
    assert other.get_legend() is None
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [
        "exact PPD 95%", "exact PPD mean", "network 95%", "network mean"
    ]


def test_phase_weights_are_stem_heights(ax):
    phi = np.linspace(0, 1, 5)
    w = np.array([0.1, 0.2, 0.4, 0.2, 0.1])
    out = plots.draw_phase_weights(ax, phi, w, title="t")
    assert out is ax
    (stems,) = ax.collections
    segments = stems.get_segments()
    np.testing.assert_allclose([seg[:, 0] for seg in segments], np.stack([phi, phi], 1))
    np.testing.assert_allclose([seg[:, 1] for seg in segments], np.stack([0 * w, w], 1))
    assert ax.get_title() == "t"


def test_phase_sum_arrow_is_the_weighted_sum(ax):
    # Weights 3/4 at phase 0 and 1/4 at phase 1/4: R = 3/4 + i/4, |R| = sqrt(10)/4.
    plots.draw_phase_sum(ax, [0.0, 0.25], [0.75, 0.25])
    (arrow,) = [c for c in ax.get_children() if isinstance(c, matplotlib.text.Annotation)]
    assert arrow.xy == pytest.approx((0.75, 0.25))
    texts = [t.get_text() for t in ax.texts]
    assert f"|R| = {math.sqrt(10) / 4:.3f}" in texts
    # one spoke per phase, its length 1 + 0.5 * weight / max weight
    spokes = [line for line in ax.lines if len(line.get_xdata()) == 2]
    lengths = [math.hypot(line.get_xdata()[1], line.get_ydata()[1]) for line in spokes]
    assert lengths == pytest.approx([1.5, 1 + 0.5 / 3])


def test_flatness_curves(ax):
    f = np.array([1.0, 2.0, 3.0]) * np.pi
    plots.draw_flatness(ax, f, {"exact": [0.1, 0.0, 0.2]}, {"network": [0.1, 0.05, 0.2]})
    exact, network = ax.lines[:2]
    np.testing.assert_allclose(exact.get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(network.get_ydata(), [0.1, 0.05, 0.2])
    assert network.get_linestyle() == "--"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["exact", "network"]


def test_family_masses_stack_to_one(ax):
    plots.draw_family_masses(ax, {"exact": [0.7, 0.3], "PFN": [0.1, 0.9]}, names=["s", "l"])
    widths = [p.get_width() for p in ax.patches]
    lefts = [p.get_x() for p in ax.patches]
    assert widths == pytest.approx([0.7, 0.3, 0.1, 0.9])
    assert lefts == pytest.approx([0.0, 0.7, 0.0, 0.1])
    ticks = {t.get_text(): t.get_position()[1] for t in ax.get_yticklabels()}
    assert ticks["exact"] > ticks["PFN"]  # the first entry on top
    # names where the segment is wide, the value where it is narrower, nothing below 0.15
    assert [t.get_text() for t in ax.texts] == ["s 0.70", "0.30", "", "l 0.90"]


def test_family_mix_draws_the_weighted_sum(ax):
    x = np.linspace(-1, 1, 5)
    fm = np.stack([np.sin(x), x])
    plots.draw_family_mix(ax, x, fm, [0.25, 0.75], network=x * 0, x_context=[0.0],
                          y_context=[0.0], truth=x)
    by_label = {line.get_label(): line for line in ax.lines}
    np.testing.assert_allclose(by_label["exact PPD mean"].get_ydata(), 0.25 * np.sin(x) + 0.75 * x)
    assert "sines alone (weight 0.25)" in by_label
    assert "lines alone (weight 0.75)" in by_label


def test_family_curve_marks_the_switches(ax):
    plots.draw_family_curve(ax, [0.21, 0.22, 0.23], [0.9, 0.5, 0.1], [0.8, 0.7, 0.6],
                            xlabel="slope", switch_exact=0.22, switch_network=0.225)
    vertical = [line.get_xdata()[0] for line in ax.lines if line.get_xdata()[0] ==
                line.get_xdata()[-1] and len(line.get_xdata()) == 2]
    assert vertical == pytest.approx([0.22, 0.225])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "exact switch 0.2200" in labels
    assert "network switch 0.2250" in labels
    fig, log_ax = plt.subplots()
    plots.draw_family_curve(log_ax, [10, 20, 40], [0.7, 0.8, 0.9], xlabel="n", log_x=True)
    assert log_ax.get_xscale() == "log"
    assert [t.get_text() for t in log_ax.get_xticklabels()] == ["10", "20", "40"]
    plt.close(fig)


def test_fit_by_size_styles(ax):
    plots.draw_fit_by_size(ax, [10, 20], {"exact PPD": [0.1, 0.2], "network": [0.3, 0.3]},
                           references={"sines alone": [0.25, 0.25]})
    exact, network, ref = ax.lines
    assert exact.get_color() == plots.COLORS["exact"]
    assert network.get_color() == plots.COLORS["network"]
    assert ref.get_color() == plots.FAMILY_COLORS[0]
    np.testing.assert_allclose(network.get_ydata(), [0.3, 0.3])
    assert ax.get_xscale() == "log"
