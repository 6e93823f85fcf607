"""Drawing functions: each draws on the Axes it is given, returns it, never shows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from bayeslens import plots
from bayeslens.plots import Band


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


# --------------------------------------------------------------------------------------------
# The book's style, legends out of the data, and the posterior's samples
# --------------------------------------------------------------------------------------------


def test_book_style_text_is_readable_at_column_width():
    """A FIGURE_WIDTH-inch figure at the style's dpi is about the column's ~690 CSS pixels
    wide, so its smallest text (ticks, legends) is displayed at >= 9 pt."""
    style = plots.BOOK_STYLE
    width_px = plots.FIGURE_WIDTH * style["figure.dpi"]
    assert 600 <= width_px <= 700
    for key in ("font.size", "axes.labelsize", "axes.titlesize", "xtick.labelsize",
                "ytick.labelsize", "legend.fontsize"):
        displayed_pt = style[key] * style["figure.dpi"] / 96  # CSS: 96 px per inch
        assert displayed_pt >= 9, key


def test_book_style_applies_inside_the_block_only():
    before = dict(matplotlib.rcParams)
    with plots.book_style():
        assert matplotlib.rcParams["legend.fontsize"] == plots.BOOK_STYLE["legend.fontsize"]
        fig = plt.figure()
        assert fig.get_size_inches()[0] == plots.FIGURE_WIDTH
        plt.close(fig)
    assert matplotlib.rcParams["font.size"] == before["font.size"]
    with matplotlib.rc_context():
        plots.use_book_style()
        assert matplotlib.rcParams["font.size"] == plots.BOOK_STYLE["font.size"]


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _drawn(draw):
    with plots.book_style():
        fig, ax = plt.subplots(figsize=(plots.FIGURE_WIDTH, 3.4), layout="constrained")
        draw(ax)
        ax.set_xlabel(ax.get_xlabel() or "x")
        fig.canvas.draw()
    return fig, ax


X = np.linspace(-1, 1, 21)
GRID = [{"d_model": d, "n_params": 10 * d, "flops": f * 1e12, "fraction": f, "gap": 0.1 / f / d,
         "se": 0.001, "by_context": [(0.1, 0.01), (0.05, 0.01)]}
        for d in (64, 128) for f in (0.25, 0.5)]
BAND = Band(X * 0, X * 0 - 1, X * 0 + 1)
LEGENDS = {
    "predictive": lambda ax: plots.draw_predictive(
        ax, X, BAND, BAND, x_context=[0.0], y_context=[0.0], truth=X),
    "tabular": lambda ax: plots.draw_tabular_fit(ax, [0.2, 0.5], [0.3, 1.0], [0.2, 0.5],
                                                 [0.5, 1.0]),
    "kl": lambda ax: plots.draw_kl_curves(ax, [1, 10], {"fresh, KL": [1, 0.1],
                                                        "fixed, KL": [1, 0.5]}),
    "coin": lambda ax: plots.draw_coin_convergence(ax, [1, 2], [0.45, 0.5], q_values=[0.3],
                                                   truth=0.5),
    "seeds": lambda ax: plots.draw_seed_predictions(ax, X, np.zeros((2, 21)), exact=X),
    "spread": lambda ax: plots.draw_spread(ax, {"a": [0.1, 0.9], "b": [0.5]}),
    "heads": lambda ax: plots.draw_heads(ax, [1, 2], [0.6, 0.7], {"PFN": [0.9, 0.9]}),
    "steps": lambda ax: plots.draw_step_samples(ax, X, [0.0], [0.0], [1.0], mean=X,
                                                x_context=[0.0], y_context=[0.0]),
    "loss": lambda ax: plots.draw_loss_curve(ax, np.ones(20), floor=0.5, window=5),
    "gap": lambda ax: plots.draw_gap_curve(ax, [10, 100], [0.1, 0.01], label="PFN"),
    "weights": lambda ax: plots.draw_coin_weights(ax, [0.3, 0.6], [0.2, 0.8], truth=0.5, n=3),
    "bars": lambda ax: plots.draw_coin_predictions(ax, {"exact": 0.7, "PFN": 0.9},
                                                   fraction=1.0),
    "modes": lambda ax: plots.draw_step_modes(
        ax, X, [{"mass": 0.4, "c_lo": -0.6, "c_hi": -0.5, "b": 0.0, "a": 0.13}],
        exact_mean=X),
    "evidence": lambda ax: plots.draw_gap_vs_evidence(ax, [1, 0], {"max": [0.1, 0.2]},
                                                      ["a", "b"]),
    "family": lambda ax: plots.draw_family_curve(ax, [0, 1], [0.2, 0.8], [0.3, 0.7],
                                                 xlabel="slope", switch_exact=0.5),
    "sizes": lambda ax: plots.draw_fit_by_size(ax, [2, 4], {"exact": [1, 0.5],
                                                            "network": [1, 0.6]}),
    "scaling": lambda ax: plots.draw_scaling_compute(ax, GRID, bucket_floor=0.002),
    "iso-flop": lambda ax: plots.draw_scaling_params(ax, GRID),
    "split": lambda ax: plots.draw_gap_split(ax, GRID[:2], "by_context", [1, 2],
                                             xlabel="context points"),
}


@pytest.mark.parametrize("name", list(LEGENDS))
def test_legends_sit_below_the_data_and_the_x_label(name):
    fig, ax = _drawn(LEGENDS[name])
    legend = ax.get_legend()
    assert legend is not None
    box = legend.get_window_extent()
    assert not _overlap(box, ax.get_window_extent()), "the legend covers the data"
    assert box.y1 <= ax.xaxis.label.get_window_extent().y0 + 1, "the legend covers the x label"
    plt.close(fig)


def test_legend_below_without_labels_draws_nothing(ax):
    ax.plot([0, 1])
    assert plots.legend_below(ax) is None
    assert ax.get_legend() is None


def test_figure_legend_keeps_every_panels_entries():
    fig, axes = plt.subplots(1, 2, layout="constrained")
    plots.draw_step_samples(axes[0], X, [0.0], [0.0], [1.0], mean=X)
    plots.draw_jump_posterior(axes[1], [-0.5, 0.5], [0.3, 0.7], x_context=[0.0, 0.1])
    plots.figure_legend(fig, axes)
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [
        "1 posterior steps", "exact PPD mean", "context x"
    ]
    plt.close(fig)


def test_step_samples_are_drawn_exactly_with_their_jumps(ax):
    plots.draw_step_samples(ax, X, c=[0.25, 1.0, -3.0], b=[0.1, -0.2, 0.0], a=[0.5, 1.0, 0.4],
                            mean=X)
    (samples,) = ax.collections
    inside, at_the_end, before = samples.get_segments()
    np.testing.assert_allclose(inside, [[-1, 0.1], [0.25, 0.1], [0.25, 0.6], [1, 0.6]])
    # m(x) = b + a 1[x > c]: c = 1 is flat at b on [-1, 1], c < -1 flat at b + a
    np.testing.assert_allclose(at_the_end[:, 1], -0.2)
    np.testing.assert_allclose(before[:, 1], 0.4)
    mean = [ln for ln in ax.lines if ln.get_label() == "exact PPD mean"]
    assert len(mean) == 1
    assert mean[0].get_linestyle() == "-"


def test_jump_posterior_one_stem_per_c(ax):
    plots.draw_jump_posterior(ax, [-1.0, 0.0, 1.0], [0.2, 0.5, 0.3], title="t")
    (stems,) = ax.collections
    assert len(stems.get_segments()) == 3
    assert ax.get_xlabel() == "jump position c"


def test_networks_are_dashed_or_dotted_and_the_exact_side_solid(ax):
    plots.draw_kl_curves(ax, [1, 10], {"fresh, KL": [1, 0.1], "fixed, KL": [1, 0.5],
                                       "fresh, excess": [1, 0.2]})
    styles = {ln.get_label(): (ln.get_linestyle(), ln.get_markerfacecolor())
              for ln in ax.lines}
    assert styles["fresh, KL"][0] == "--"
    assert styles["fixed, KL"][0] == ":"
    assert styles["fresh, excess"][1] == "white"  # the second measure: hollow markers
    ax.clear()
    plots.draw_spread(ax, {"no noise": [0.1, 0.9], "noise 0.1": [0.5, 0.5]})
    fills = [patch.get_fill() for patch in ax.patches]
    assert fills[0]  # the first setting's bars
    assert fills[-1] is False  # the second's outline


def test_book_figures_are_drawn_for_the_column():
    """No chapter draws a figure (or an explorer frame) wider than the text column."""
    book = Path(__file__).resolve().parents[1] / "book"
    for path in sorted(book.glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        for width in re.findall(r"figsize=\(\s*([0-9.]+)", code):
            assert float(width) <= plots.FIGURE_WIDTH, f"{path.name}: figsize width {width}"


def test_scaling_figures_draw_one_line_per_width_and_per_budget(ax):
    plots.draw_scaling_compute(ax, GRID, bucket_floor=0.002)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(labels) == ["bucket floor 0.0020", "embedding 128 (0.00 M)",
                              "embedding 64 (0.00 M)"]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    ax.clear()
    plots.draw_scaling_params(ax, GRID)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "1/4 of the recipe's FLOPs", "1/2 of the recipe's FLOPs"]
    assert plots.budget_text(1 / 32) == "1/32"
    assert plots.budget_text(1.0) == "1"
