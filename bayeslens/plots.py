"""One drawing function per figure, each on a matplotlib ``Axes``, and the book's one style.

The static figures of the book and its explorers (:mod:`bayeslens.explore`) call the same
functions. Nothing here computes a posterior or trains a model, and nothing calls
``plt.show()``: a function draws on the ``Axes`` it is given and returns it.

**Style.** :data:`BOOK_STYLE` is the book's one figure style: every chapter calls
:func:`use_book_style` in its first code cell, and the explorers draw their frames inside
:func:`book_style`. Figures are drawn :data:`FIGURE_WIDTH` inches wide, which the chapters' 90
dpi shows at about the width of the text column (~690 CSS pixels at 1280 x 900), so the
style's 10-11 pt text is displayed at 9-10 pt.

**Exact versus network**, told apart by more than colour (so also in greyscale and for
colour-blind readers): the exact posterior predictive (PPD) is blue, a *filled* band and a
*solid* line; a network is orange, an *outlined* band (dotted edges) and a *dashed* line. The
maximum-likelihood fit is red (hollow markers), the truth a dashed grey line, the context
points black dots. **Legends** go below the panel (:func:`legend_below`), or below a row of
panels (:func:`figure_legend`), never over the data.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

import matplotlib as mpl
import numpy as np
import numpy.typing as npt
from matplotlib import transforms
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.legend import Legend
from matplotlib.ticker import FuncFormatter, NullLocator

__all__ = [
    "BOOK_STYLE",
    "COLORS",
    "FAMILY_COLORS",
    "FIGURE_WIDTH",
    "POSTERIOR_COLORS",
    "PREDICTOR_STYLES",
    "TOKEN_COLORS",
    "Band",
    "LiveLossCurve",
    "book_style",
    "budget_text",
    "draw_band",
    "draw_chain_posterior",
    "draw_chain_posterior_by_position",
    "draw_coin_convergence",
    "draw_coin_posterior",
    "draw_coin_predictions",
    "draw_coin_weights",
    "draw_context",
    "draw_context_curve",
    "draw_dataset",
    "draw_family_curve",
    "draw_family_masses",
    "draw_family_mix",
    "draw_fit_by_size",
    "draw_flatness",
    "draw_gap_curve",
    "draw_gap_split",
    "draw_gap_vs_evidence",
    "draw_heads",
    "draw_jump_posterior",
    "draw_kl_curves",
    "draw_latent_weights",
    "draw_loss_curve",
    "draw_next_token",
    "draw_phase_sum",
    "draw_phase_weights",
    "draw_pool_distances",
    "draw_posterior_distances",
    "draw_predictive",
    "draw_scaling_compute",
    "draw_scaling_params",
    "draw_seed_predictions",
    "draw_spread",
    "draw_step_modes",
    "draw_step_samples",
    "draw_tabular_fit",
    "draw_token_kl",
    "draw_training_phases",
    "draw_transitions",
    "figure_legend",
    "legend_below",
    "use_book_style",
]

COLORS = {
    "exact": "C0",
    "network": "C1",
    "fixed": "C2",
    "mle": "C3",
    "truth": "0.45",
    "context": "black",
}

FAMILY_COLORS = ("C4", "C8")
"""Colours of a mixture's families, in the prior's order (E3: sines purple, lines olive)."""

TOKEN_COLORS = ("#6a3d9a", "#1b7837", "#8c510a")
"""Colours of the tokens 0, 1, 2 of the sequence priors (purple, green, brown: apart from the
exact blue and the network orange); the token explorers' buttons use the same
(``book/vendor/bayeslens/live-tokens.js``)."""

FIGURE_WIDTH = 7.5
"""Width in inches of a figure in the text column (at the chapters' 90 dpi: 675 pixels)."""

BOOK_STYLE: Mapping[str, Any] = MappingProxyType({
    "figure.dpi": 90,
    "figure.figsize": (FIGURE_WIDTH, 3.4),
    "figure.constrained_layout.use": True,
    "figure.titlesize": 12,
    "font.size": 11,
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
})
"""The book's figure style (matplotlib rcParams): text of 10-11 pt in figures
:data:`FIGURE_WIDTH` inches wide at 90 dpi, shown at about the column's width."""

LEGEND_GAP_PT = 38.0
"""How far below a panel's bottom edge :func:`legend_below` puts the legend: clear of the tick
labels and the x label at the style's sizes."""


def use_book_style() -> None:
    """Apply :data:`BOOK_STYLE` to every figure drawn from now on (a chapter's first cell)."""
    mpl.rcParams.update(_rc())


def book_style() -> contextlib.AbstractContextManager[Any]:
    """:data:`BOOK_STYLE` for the figures drawn inside a ``with`` block only.

    The explorers draw their frames in it, so a frame looks like the chapter's figures
    wherever it is drawn.
    """
    return mpl.rc_context(_rc())


def _rc() -> dict[Any, Any]:
    """BOOK_STYLE as the plain dict matplotlib's typed rcParams API takes."""
    return dict(BOOK_STYLE)


def _legend_ncols(ax: Axes, labels: Sequence[str], fontsize: float, most: int = 3) -> int:
    """The most columns (at most ``most``) whose estimated width fits the panel's width."""
    width_pt = ax.bbox.width / ax.figure.dpi * 72
    # each entry: handle (2 em) + pad (0.8 em) + text (~0.55 em a character) + spacing (2 em)
    entry_pt = fontsize * (4.8 + 0.55 * max(len(label) for label in labels))
    return max(1, min(most, len(labels), int(width_pt // entry_pt)))


def legend_below(ax: Axes, *, ncols: int | None = None) -> Legend | None:
    """The panel's legend under its x axis, clear of the tick labels and the x label.

    In as many columns (at most 3) as fit the panel's width, without a frame; a
    constrained-layout figure makes room for it. Nothing is drawn (None) when no artist
    has a label.
    """
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    fontsize = FontProperties(size=mpl.rcParams["legend.fontsize"]).get_size_in_points()
    below = ax.transAxes + transforms.ScaledTranslation(
        0, -LEGEND_GAP_PT / 72, ax.figure.dpi_scale_trans
    )
    return ax.legend(
        handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=below,
        ncols=ncols or _legend_ncols(ax, labels, fontsize), frameon=False,
    )


ArrayLike = npt.ArrayLike


def _finish_xy(ax: Axes, title: str | None) -> None:
    """A panel of y over x: its axis labels, its title (if any) and its legend below."""
    _finish(ax, "x", "y", title, grid=False)


def _finish(ax: Axes, xlabel: str, ylabel: str, title: str | None, *, grid: bool = True) -> None:
    """Axis labels, the title (if any), a light grid at the major ticks, the legend below."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if grid:
        ax.grid(alpha=0.3, which="major")
    legend_below(ax)


def _log2_axis(ax: Axes, values: np.ndarray) -> None:
    """A base-2 log x axis ticked at ``values``, labelled as plain numbers."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(values, [f"{v:g}" for v in values])


def _stems(ax: Axes, values: ArrayLike, weights: ArrayLike, xlim: tuple[float, float]) -> None:
    """Posterior weights as one stem per latent value (one collection: fast in explorers)."""
    w = _np(weights)
    ax.vlines(_np(values), 0, w, color=COLORS["exact"], lw=1.8)
    ax.set_xlim(*xlim)
    ax.set_ylim(0, max(1e-12, float(w.max())) * 1.15)


def _np(values: ArrayLike) -> np.ndarray:
    """A float numpy array from a tensor, array or sequence."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=float)


class Band(NamedTuple):
    """A predictive summary over query points: the mean and a central band.

    Attributes
    ----------
    mean, lower, upper : array-like, shape (n_query,)
    """

    mean: ArrayLike
    lower: ArrayLike
    upper: ArrayLike


def draw_band(
    ax: Axes,
    x_query: ArrayLike,
    band: Band,
    *,
    color: str,
    label: str,
    band_label: str | None = None,
    linestyle: str = "-",
    alpha: float = 0.2,
    fill: bool = True,
) -> Axes:
    """Draw a mean line and a band over ``x_query`` (n_query,): shaded, or (``fill=False``)
    outlined by its two edges, so that a second band drawn over a shaded one stays visible."""
    x = _np(x_query)
    if fill:
        ax.fill_between(x, _np(band.lower), _np(band.upper), color=color, alpha=alpha, lw=0,
                        label=band_label)
    else:
        ax.plot(x, _np(band.lower), color=color, lw=1.1, ls=(0, (1, 1.5)), label=band_label)
        ax.plot(x, _np(band.upper), color=color, lw=1.1, ls=(0, (1, 1.5)))
    ax.plot(x, _np(band.mean), color=color, lw=2, ls=linestyle, label=label)
    return ax


def draw_context(
    ax: Axes, x_context: ArrayLike, y_context: ArrayLike, *, label: str = "context"
) -> Axes:
    """Draw the context points (n_context,) as black dots."""
    ax.scatter(
        _np(x_context), _np(y_context), s=18, color=COLORS["context"], zorder=5, label=label
    )
    return ax


def draw_predictive(
    ax: Axes,
    x_query: ArrayLike,
    exact: Band | None = None,
    network: Band | None = None,
    *,
    x_context: ArrayLike | None = None,
    y_context: ArrayLike | None = None,
    truth: ArrayLike | None = None,
    exact_label: str = "exact PPD",
    network_label: str = "network",
    band_name: str = "95%",
    title: str | None = None,
    ylim: tuple[float, float] | None = None,
) -> Axes:
    """The book's main figure: exact PPD and network (means and bands), context, truth.

    The exact PPD's band is shaded, the network's outlined (dotted edges), so either stays
    readable where they overlap, in colour and in greyscale.

    Parameters
    ----------
    x_query : array-like, shape (n_query,)
    exact, network : Band, optional
        Summaries over ``x_query``; either may be omitted.
    x_context, y_context : array-like, shape (n_context,), optional
    truth : array-like, shape (n_query,), optional
        The function that generated the context, drawn dashed.
    """
    if truth is not None:
        ax.plot(_np(x_query), _np(truth), color=COLORS["truth"], ls="--", lw=1.5, label="truth")
    if exact is not None:
        draw_band(
            ax, x_query, exact, color=COLORS["exact"], label=f"{exact_label} mean",
            band_label=f"{exact_label} {band_name}",
        )
    if network is not None:
        draw_band(
            ax, x_query, network, color=COLORS["network"], label=f"{network_label} mean",
            band_label=f"{network_label} {band_name}", linestyle="--", fill=False,
        )
    if x_context is not None and y_context is not None:
        draw_context(ax, x_context, y_context)
    if ylim is not None:
        ax.set_ylim(*ylim)
    _finish_xy(ax, title)
    return ax


def draw_latent_weights(
    ax: Axes, weights: ArrayLike, labels: Sequence[str], *, title: str = "posterior weights"
) -> Axes:
    """Horizontal bars of posterior weights (k,), largest at the top."""
    w = _np(weights)
    order = np.argsort(w)
    ax.barh(np.arange(len(w)), w[order], color=COLORS["exact"])
    ax.set_yticks(np.arange(len(w)), [labels[i] for i in order], fontsize="small")
    ax.set_xlim(0, max(1e-12, float(w.max())) * 1.1)
    ax.set_xlabel("p(latent | context)")
    ax.set_title(title)
    return ax


def draw_step_samples(
    ax: Axes,
    x_query: ArrayLike,
    c: ArrayLike,
    b: ArrayLike,
    a: ArrayLike,
    *,
    mean: ArrayLike | None = None,
    network: ArrayLike | None = None,
    x_context: ArrayLike | None = None,
    y_context: ArrayLike | None = None,
    title: str | None = None,
) -> Axes:
    """Step functions drawn from the posterior (thin, transparent) under the PPD mean.

    Each sample ``m(x) = b + a 1[x > c]`` is drawn exactly, jump included, over the range of
    ``x_query``; where many samples agree the drawing darkens. The PPD mean is their
    average over infinitely many draws.

    Parameters
    ----------
    x_query : array-like, shape (n_query,)
    c, b, a : array-like, shape (n_samples,)
        The samples' parameters, e.g. ``prior.latent_params(post.sample_latents(n, gen))``.
    mean : array-like, shape (n_query,), optional
        The exact PPD mean, drawn solid blue over the samples.
    network : array-like, shape (n_query,), optional
        A network's mean, drawn dashed orange.
    x_context, y_context : array-like, shape (n_context,), optional
    """
    x = _np(x_query)
    lo, hi = float(x.min()), float(x.max())
    c_raw, bs, as_ = _np(c), _np(b), _np(a)
    cs = np.clip(c_raw, lo, hi)
    # a jump outside (lo, hi) is not seen: the step is flat at b (c >= hi) or b + a (c < lo)
    left = np.where(c_raw < lo, bs + as_, bs)
    right = np.where(c_raw >= hi, bs, bs + as_)
    xs = np.stack([np.full_like(cs, lo), cs, cs, np.full_like(cs, hi)], 1)  # (n, 4)
    ys = np.stack([left, left, right, right], 1)
    alpha = float(np.clip(20 / max(1, len(cs)), 0.03, 0.5))
    ax.add_collection(LineCollection(
        list(np.stack([xs, ys], -1)), colors=COLORS["exact"], linewidths=0.7, alpha=alpha,
    ))
    ax.autoscale_view()
    # the legend's entry: one sample as the eye sees many of them
    ax.plot([], [], color=COLORS["exact"], lw=0.8, alpha=0.5, label=f"{len(cs)} posterior steps")
    if mean is not None:
        ax.plot(x, _np(mean), color="white", lw=4.5)  # a halo: the mean stays visible
        ax.plot(x, _np(mean), color=COLORS["exact"], lw=2.2, label="exact PPD mean")
    if network is not None:
        ax.plot(x, _np(network), color=COLORS["network"], lw=2, ls="--", label="network mean")
    if x_context is not None and y_context is not None:
        draw_context(ax, x_context, y_context)
    _finish_xy(ax, title)
    return ax


def draw_jump_posterior(
    ax: Axes,
    c_values: ArrayLike,
    weights: ArrayLike,
    *,
    x_context: ArrayLike | None = None,
    title: str | None = None,
) -> Axes:
    """The posterior over a step's jump position, p(c | D): one stem per c (n_c,).

    ``x_context`` (n_context,) is marked by dotted vertical lines: jumps between the same two
    context points explain the data equally well, so p(c | D) is flat between them.
    """
    c = _np(c_values)
    if x_context is not None:
        for i, x in enumerate(_np(x_context)):
            ax.axvline(x, color=COLORS["truth"], lw=0.8, ls=":", zorder=0,
                       label="context x" if i == 0 else None)
    _stems(ax, c, weights, (float(c.min()), float(c.max())))
    ax.set_xlabel("jump position c")
    ax.set_ylabel("p(c | context)")
    if title:
        ax.set_title(title)
    return ax


# --------------------------------------------------------------------------------------------
# Chapter 1: MLE versus the posterior
# --------------------------------------------------------------------------------------------


def draw_tabular_fit(
    ax: Axes,
    ppd: ArrayLike,
    mle: ArrayLike,
    fresh: ArrayLike | None = None,
    fixed: ArrayLike | None = None,
    *,
    step: int | None = None,
) -> Axes:
    """P(next flip = heads | x heads in the context) against x, for each predictor.

    Parameters
    ----------
    ppd, mle : array-like, shape (n_x,)
        The exact posterior predictive and the MLE fit to the fixed set (NaN where unseen).
    fresh, fixed : array-like, shape (n_x,), optional
        The model trained on fresh data and on the fixed set.
    """
    x = np.arange(len(_np(ppd)))
    ax.plot(x, _np(ppd), "o-", color=COLORS["exact"], lw=2, ms=7, label="exact PPD p(y|x)")
    ax.plot(x, _np(mle), "s", color=COLORS["mle"], ms=10, mfc="none", mew=2,
            label="MLE on the fixed set")
    if fresh is not None:
        ax.plot(x, _np(fresh), "^--", color=COLORS["network"], ms=7, label="trained, fresh data")
    if fixed is not None:
        ax.plot(x, _np(fixed), "v:", color=COLORS["fixed"], ms=7, label="trained, fixed set")
    ax.set_xticks(x)
    ax.set_xlabel("x = heads among the context flips")
    ax.set_ylabel("P(next flip = heads | x)")
    ax.set_ylim(-0.03, 1.03)
    if step is not None:
        ax.set_title(f"after {step:,} steps")
    legend_below(ax)
    return ax


def draw_kl_curves(
    ax: Axes,
    steps: ArrayLike,
    curves: Mapping[str, ArrayLike],
    *,
    ylabel: str = "E_x KL(p(y|x) || q(y|x)) [nats]",
    marker_step: int | None = None,
) -> Axes:
    """Distances over training (log-log), one line per named curve (n_checkpoints,).

    A model is told by colour and line (a name with "fresh": orange, dashed; "fixed": green,
    dotted), a measure by its marker: the part of the name after the first comma (e.g.
    ``"fresh, KL to the PPD"``), filled circles for the first measure, hollow squares next.
    """
    s = np.maximum(_np(steps), 1)
    styles = {"fresh": (COLORS["network"], "--"), "fixed": (COLORS["fixed"], ":")}
    measures: list[str] = []
    for name, values in curves.items():
        color, ls = next((st for key, st in styles.items() if key in name), (None, "-"))
        measure = name.split(",", 1)[-1].strip()
        if measure not in measures:
            measures.append(measure)
        k = measures.index(measure)
        ax.plot(s, np.maximum(_np(values), 1e-8), ls=ls, marker="os^"[k % 3], ms=4,
                mfc=None if k == 0 else "white", label=name, color=color)
    if marker_step is not None:
        ax.axvline(max(marker_step, 1), color="0.6", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel)
    legend_below(ax)
    return ax


# --------------------------------------------------------------------------------------------
# Chapter 2: the coin that converges to the wrong answer
# --------------------------------------------------------------------------------------------


def draw_coin_convergence(
    ax: Axes,
    n: ArrayLike,
    ppd: ArrayLike,
    *,
    q_values: ArrayLike,
    truth: float,
    n_paths: ArrayLike | None = None,
    paths: ArrayLike | None = None,
) -> Axes:
    """The posterior predictive P(heads) against the number of flips n (log axis).

    Parameters
    ----------
    n, ppd : array-like, shape (n_n,)
        Flips and the PPD under the expected likelihood.
    q_values : array-like
        The prior's coins, drawn as dotted lines.
    n_paths, paths : array-like, shapes (n_steps,) and (n_paths, n_steps), optional
        PPD along sampled flip sequences.
    """
    if paths is not None and n_paths is not None:
        p = _np(paths)
        for row in p:
            ax.plot(np.maximum(_np(n_paths), 1), row, color=COLORS["exact"], alpha=0.25, lw=0.8)
    ax.plot(np.maximum(_np(n), 1), _np(ppd), "o-", color=COLORS["exact"], lw=2.5,
            label="PPD P(heads), expected likelihood")
    for q in _np(q_values):
        ax.axhline(q, color="0.3", ls=":", lw=1)
        ax.text(1.05, q + 0.005, f"prior coin q = {q:g}", fontsize="small", va="bottom")
    ax.axhline(truth, color=COLORS["truth"], ls="--", lw=1.5, label=f"truth p = {truth:g}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("number of flips n")
    ax.set_ylabel("P(next flip = heads | flips)")
    ax.set_ylim(0.2, 0.7)
    legend_below(ax)
    return ax


def draw_coin_weights(
    ax: Axes, q_values: ArrayLike, weights: ArrayLike, *, truth: float, n: int
) -> Axes:
    """Posterior weight of each prior coin after n flips (bars at q)."""
    q = _np(q_values)
    ax.bar(q, _np(weights), width=0.06, color=COLORS["exact"])
    ax.axvline(truth, color=COLORS["truth"], ls="--", label=f"truth p = {truth:g}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("coin q")
    ax.set_ylabel("posterior weight")
    ax.set_title(f"after n = {n:,} flips")
    legend_below(ax)
    return ax


# --------------------------------------------------------------------------------------------
# Chapter 4: tiny MLPs
# --------------------------------------------------------------------------------------------


def draw_seed_predictions(
    ax: Axes,
    x_query: ArrayLike,
    prob_one: ArrayLike,
    *,
    exact: ArrayLike | None = None,
    xlim: tuple[float, float] = (0.3, 0.7),
    title: str | None = None,
) -> Axes:
    """One line per seed: P(y = 1 | x) over ``x_query`` (n_query,); prob_one (n_seeds, n_query).

    ``exact`` (n_query,) is the true posterior where defined (NaN elsewhere is not drawn).
    """
    x = _np(x_query)
    p = _np(prob_one)
    for row in p:
        ax.plot(x, row, color=COLORS["network"], alpha=0.25, lw=0.8)
    ax.plot([], [], color=COLORS["network"], label=f"{len(p)} seeds")
    if exact is not None:
        e = _np(exact)
        if np.isfinite(e).any():
            ax.plot(x, e, color=COLORS["exact"], lw=2.5, label="exact posterior")
    ax.axvline(0.5, color="0.6", lw=1)
    ax.set_xlim(*xlim)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("x")
    ax.set_ylabel("P(y = 1 | x)")
    if title:
        ax.set_title(title)
    legend_below(ax)
    return ax


def draw_spread(
    ax: Axes, values: Mapping[str, ArrayLike], *, at: float = 0.5, bins: int = 20
) -> Axes:
    """Histograms of each setting's per-seed P(y = 1 | x = at) on [0, 1].

    Every setting is a set of networks: the first is filled orange, the others outlined
    (purple, green, red), so overlapping bars stay readable (and blue stays the exact
    posterior's).
    """
    edges = np.linspace(0, 1, bins + 1).tolist()
    colors = [COLORS["network"], "C4", COLORS["fixed"], COLORS["mle"]]
    for i, ((name, v), color) in enumerate(zip(values.items(), colors, strict=False)):
        if i == 0:
            ax.hist(_np(v), bins=edges, alpha=0.55, color=color, label=name)
        else:
            ax.hist(_np(v), bins=edges, histtype="step", lw=2, color=color, label=name)
    ax.set_xlabel(f"P(y = 1 | x = {at:g}) per seed")
    ax.set_ylabel("seeds")
    legend_below(ax)
    return ax


def figure_legend(
    fig: Figure, axes: Sequence[Axes] | np.ndarray, *, ncols: int = 3
) -> None:
    """One legend for a row of panels, below them; the panels' own legends are removed.

    The entries are those of the panel with the most, then any other panel's entries with a
    label not yet shown, so small panels keep their data in view and no entry is lost.
    """
    flat = list(np.ravel(np.asarray(axes, dtype=object)))
    best = max(flat, key=lambda ax: len(ax.get_legend_handles_labels()[0]))
    handles: list[Any] = []
    labels: list[str] = []
    for ax in [best, *(a for a in flat if a is not best)]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    for ax in flat:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    fig.legend(handles, labels, loc="outside lower center", ncols=ncols, frameon=False)


# --------------------------------------------------------------------------------------------
# E2: sines of one frequency
# --------------------------------------------------------------------------------------------


def draw_phase_weights(
    ax: Axes, phi: ArrayLike, weights: ArrayLike, *, title: str | None = None
) -> Axes:
    """Posterior weight of each phase: a stem per phase ``phi`` (n_latents,) in [0, 1]."""
    _stems(ax, phi, weights, (-0.02, 1.02))
    ax.set_xlabel("phase φ")
    ax.set_ylabel("p(φ | context)")
    if title:
        ax.set_title(title)
    return ax


def draw_phase_sum(
    ax: Axes, phi: ArrayLike, weights: ArrayLike, *, title: str | None = None
) -> Axes:
    """The phases as spokes on the unit circle (length ~ weight) and their weighted sum R.

    Phase φ sits at angle 2 pi φ; opposite spokes are sines of opposite sign. The arrow is
    ``R = sum p(φ | D) exp(2 pi i φ)``; the PPD mean is a sine of amplitude ``A |R|``.
    """
    p, w = _np(phi), _np(weights)
    angle = 2 * np.pi * p
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(t), np.sin(t), color="0.75", lw=1)
    length = 1 + 0.5 * w / max(1e-300, float(w.max()))
    for a, r in zip(angle, length, strict=True):
        ax.plot([np.cos(a), r * np.cos(a)], [np.sin(a), r * np.sin(a)],
                color=COLORS["exact"], lw=1.5)
    r = complex(float(np.sum(w * np.cos(angle))), float(np.sum(w * np.sin(angle))))
    ax.annotate("", xy=(r.real, r.imag), xytext=(0, 0),
                arrowprops={"arrowstyle": "-|>", "color": COLORS["context"], "lw": 2})
    ax.plot([0], [0], "o", color=COLORS["context"], ms=3)
    ax.text(0.0, -1.55, f"|R| = {abs(r):.3f}", ha="center", va="bottom")
    ax.set_xlim(-1.6, 1.6)
    ax.set_ylim(-1.6, 1.6)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("φ = 0 right, ½ left", fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def draw_flatness(
    ax: Axes,
    frequencies: ArrayLike,
    exact: Mapping[str, ArrayLike],
    network: Mapping[str, ArrayLike] | None = None,
    *,
    prior_frequency: float = 3 * np.pi,
    amplitude: float = 0.2,
) -> Axes:
    """Largest absolute PPD mean over x against the context's frequency (in units of pi).

    Parameters
    ----------
    frequencies : array-like, shape (n_freq,)
        In radians per unit x; drawn as multiples of pi.
    exact, network : mapping of label to array-like, shape (n_freq,)
        One curve each, e.g. ``{"exact, 20 points": ...}``; network curves are dashed.
    """
    f = _np(frequencies) / np.pi
    for (label, v), ls in zip(exact.items(), ["-", ":", "-."], strict=False):
        ax.plot(f, _np(v), color=COLORS["exact"], ls=ls, lw=2, label=label)
    dashes: list[Any] = ["--", (0, (1, 1))]
    for (label, v), ls in zip((network or {}).items(), dashes, strict=False):
        ax.plot(f, _np(v), color=COLORS["network"], ls=ls, lw=2, label=label)
    ax.axvline(prior_frequency / np.pi, color=COLORS["truth"], lw=1)
    ax.axhline(amplitude, color=COLORS["truth"], ls=":", lw=1)
    ax.set_xlabel("frequency of the context's sine / π")
    ax.set_ylabel("max |mean| over x")
    ax.set_ylim(-0.01, amplitude * 1.2)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return ax


# --------------------------------------------------------------------------------------------
# E3: families of latents
# --------------------------------------------------------------------------------------------


def draw_family_masses(
    ax: Axes,
    masses: Mapping[str, ArrayLike],
    *,
    names: Sequence[str] = ("sines", "lines"),
    title: str | None = None,
    xlabel: str | None = "family mass",
) -> Axes:
    """Stacked horizontal bars of family masses, one bar per entry, first entry on top.

    Each segment is labelled with its family's name and mass where it is wide enough.

    Parameters
    ----------
    masses : mapping of label to array-like, shape (n_families,)
        E.g. ``{"exact": p(family | D), "PFN": (w, 1 - w)}``; each sums to 1.
    """
    rows = list(masses.items())
    y = np.arange(len(rows))[::-1]
    for yi, (_label, m) in zip(y, rows, strict=True):
        left = 0.0
        for k, v in enumerate(_np(m)):
            color = FAMILY_COLORS[k % len(FAMILY_COLORS)]
            ax.barh(yi, v, left=left, color=color, height=0.7)
            text = f"{names[k]} {v:.2f}" if v >= 0.4 else f"{v:.2f}" if v >= 0.15 else ""
            ax.text(left + v / 2, yi, text, ha="center", va="center", fontsize="small",
                    color="white" if k % len(FAMILY_COLORS) == 0 else "black")
            left += v
    ax.set_yticks(y, [label for label, _ in rows])
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.5, len(rows) - 0.5)
    if xlabel:
        ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    return ax


def draw_family_mix(
    ax: Axes,
    x_query: ArrayLike,
    family_means: ArrayLike,
    weights: ArrayLike,
    *,
    names: Sequence[str] = ("sines", "lines"),
    network: ArrayLike | None = None,
    x_context: ArrayLike | None = None,
    y_context: ArrayLike | None = None,
    truth: ArrayLike | None = None,
    title: str | None = None,
) -> Axes:
    """A mixture's PPD mean as the weighted sum of its families' own means.

    Parameters
    ----------
    x_query : array-like, shape (n_query,)
    family_means : array-like, shape (n_families, n_query)
        Each family's PPD mean (``bayeslens.ablations.family_means``).
    weights : array-like, shape (n_families,)
        p(family | D); the exact PPD mean is ``weights @ family_means``.
    network : array-like, shape (n_query,), optional
        The network's mean, dashed.
    """
    x, fm, w = _np(x_query), _np(family_means), _np(weights)
    if truth is not None:
        ax.plot(x, _np(truth), color=COLORS["truth"], ls="--", lw=1.5, label="truth")
    for k, (m, wk) in enumerate(zip(fm, w, strict=True)):
        ax.plot(x, m, color=FAMILY_COLORS[k % len(FAMILY_COLORS)], lw=1.5, ls="-.",
                label=f"{names[k]} alone (weight {wk:.2f})")
    ax.plot(x, w @ fm, color=COLORS["exact"], lw=2.5, label="exact PPD mean")
    if network is not None:
        ax.plot(x, _np(network), color=COLORS["network"], lw=2, ls="--", label="network mean")
    if x_context is not None and y_context is not None:
        draw_context(ax, x_context, y_context)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    if title:
        ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return ax


def draw_family_curve(
    ax: Axes,
    values: ArrayLike,
    exact: ArrayLike,
    network: ArrayLike | None = None,
    *,
    xlabel: str,
    family: str = "sines",
    switch_exact: float | None = None,
    switch_network: float | None = None,
    log_x: bool = False,
    network_label: str = "network",
) -> Axes:
    """p(family | D) against a context setting (slope, points), exact and network-implied.

    Parameters
    ----------
    values, exact : array-like, shape (n,)
        The settings and the exact posterior mass of ``family``.
    network : array-like, shape (n,), optional
        The network's implied weight (:func:`bayeslens.evaluate.network_family_weight`).
    switch_exact, switch_network : float, optional
        Where each crosses 1/2, drawn as vertical lines.
    """
    x = _np(values)
    ax.plot(x, _np(exact), "o-", color=COLORS["exact"], lw=2, ms=4,
            label=f"exact p({family} | D)")
    if network is not None:
        ax.plot(x, _np(network), "s--", color=COLORS["network"], lw=2, ms=4,
                label=f"{network_label}, implied weight")
    ax.axhline(0.5, color="0.6", lw=1)
    if switch_exact is not None:
        ax.axvline(switch_exact, color=COLORS["exact"], lw=1,
                   label=f"exact switch {switch_exact:.4f}")
    if switch_network is not None:
        ax.axvline(switch_network, color=COLORS["network"], lw=1, ls="--",
                   label=f"{network_label} switch {switch_network:.4f}")
    if log_x:
        _log2_axis(ax, x)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"weight of the {family}")
    legend_below(ax)
    return ax


def draw_fit_by_size(
    ax: Axes,
    sizes: ArrayLike,
    rms: Mapping[str, ArrayLike],
    *,
    references: Mapping[str, ArrayLike] | None = None,
) -> Axes:
    """RMS error of predictive means to the true function against context size (log x).

    Parameters
    ----------
    sizes : array-like, shape (n_sizes,)
    rms : mapping of label to array-like, shape (n_sizes,)
        A label containing "network" or "PFN" is drawn dashed orange, others solid blue.
    references : mapping of label to array-like, shape (n_sizes,), optional
        Dotted lines in the family colours, e.g. the RMS of each family's fit alone.
    """
    n = _np(sizes)
    for label, v in rms.items():
        net = "network" in label or "PFN" in label
        ax.plot(n, _np(v), "s--" if net else "o-", lw=2, ms=4, label=label,
                color=COLORS["network"] if net else COLORS["exact"])
    for (label, v), color in zip((references or {}).items(), FAMILY_COLORS, strict=False):
        ax.plot(n, _np(v), ":", color=color, lw=1.5, label=label)
    _log2_axis(ax, n)
    ax.set_xlabel("context points")
    ax.set_ylabel("RMS of mean − truth")
    legend_below(ax)
    return ax


# --------------------------------------------------------------------------------------------
# E4: steps up and down
# --------------------------------------------------------------------------------------------


def draw_step_modes(
    ax: Axes,
    x_query: ArrayLike,
    modes: Sequence[Mapping[str, float]],
    *,
    exact_mean: ArrayLike | None = None,
    x_context: ArrayLike | None = None,
    y_context: ArrayLike | None = None,
    truth: ArrayLike | None = None,
    title: str | None = None,
) -> Axes:
    """The single steps a step posterior is made of, each as thick as its posterior mass.

    Parameters
    ----------
    x_query : array-like, shape (n_query,)
    modes : sequence of mappings
        From :func:`bayeslens.ablations.step_modes` (``mass``, ``c_lo``, ``c_hi``, ``b``,
        ``a``); each is drawn at the middle of its change-point range.
    exact_mean : array-like, shape (n_query,), optional
        The PPD mean, drawn over the steps.
    """
    x = _np(x_query)
    top = max(m["mass"] for m in modes)
    for i, m in enumerate(modes):
        c = 0.5 * (m["c_lo"] + m["c_hi"])
        y = m["b"] + m["a"] * (x > c)
        ax.plot(x, y, color=FAMILY_COLORS[i % 2], lw=0.8 + 3.2 * m["mass"] / top,
                alpha=0.9 if i < 2 else 0.45, drawstyle="steps-post",
                label=f"{'up' if m['a'] > 0 else 'down'} at {c:+.2f}: mass {m['mass']:.2f}")
    if truth is not None:
        ax.plot(x, _np(truth), color=COLORS["truth"], ls="--", lw=1.5, label="truth")
    if exact_mean is not None:
        ax.plot(x, _np(exact_mean), color=COLORS["exact"], lw=2, label="exact PPD mean")
    if x_context is not None and y_context is not None:
        draw_context(ax, x_context, y_context)
    _finish_xy(ax, title)
    return ax


def draw_gap_vs_evidence(
    ax: Axes,
    log_evidence: ArrayLike,
    gaps: Mapping[str, ArrayLike],
    labels: Sequence[str],
) -> Axes:
    """A network's gap to the exact PPD against the context's log evidence log p(D).

    Parameters
    ----------
    log_evidence : array-like, shape (n,)
    gaps : mapping of label to array-like, shape (n,)
        E.g. ``{"max |mean gap|": ..., "RMS mean gap": ...}``; one marker style each.
    labels : sequence of str, length n
        Written beside each point of the first series (e.g. the bump height).
    """
    ev = _np(log_evidence)
    for (name, g), marker in zip(gaps.items(), ("o-", "s--", "^:"), strict=False):
        ax.plot(ev, _np(g), marker, color=COLORS["network"], lw=1.5, ms=5, label=name)
    first = _np(next(iter(gaps.values())))
    for e, g, text in zip(ev, first, labels, strict=True):
        ax.annotate(text, (e, g), textcoords="offset points", xytext=(4, 5), fontsize="small")
    ax.margins(x=0.1, y=0.25)  # room for the labels inside the axes
    ax.set_ylim(bottom=0)
    ax.invert_xaxis()  # less likely data to the right
    ax.set_xlabel("log p(D) (less likely →)")
    ax.set_ylabel("network − exact PPD mean")
    legend_below(ax)
    return ax


# --------------------------------------------------------------------------------------------
# E5: counting
# --------------------------------------------------------------------------------------------


def draw_heads(
    ax: Axes,
    ks: ArrayLike,
    exact: ArrayLike,
    networks: Mapping[str, ArrayLike],
    *,
    xlabel: str = "k identical heads in the context",
) -> Axes:
    """P(heads) after k heads: the exact PPD (blue) and networks (orange, one style each).

    Parameters
    ----------
    ks, exact : array-like, shape (n,)
    networks : mapping of label to array-like, shape (n,)
    """
    k = _np(ks)
    ax.plot(k, _np(exact), "o-", color=COLORS["exact"], lw=2, ms=5, label="exact PPD")
    for (name, p), marker in zip(networks.items(), ("s--", "^:", "d-."), strict=False):
        ax.plot(k, _np(p), marker, color=COLORS["network"], lw=2, ms=5, label=name)
    _log2_axis(ax, k)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("P(next flip is heads)")
    legend_below(ax)
    return ax


def draw_coin_posterior(
    ax: Axes, q_values: ArrayLike, weights: ArrayLike, *, title: str | None = None
) -> Axes:
    """The exact posterior over coins: one stem per coin ``q`` (n_latents,) in (0, 1)."""
    _stems(ax, q_values, weights, (0, 1))
    ax.set_xlabel("coin q = P(heads)")
    ax.set_ylabel("p(q | context)")
    if title:
        ax.set_title(title)
    return ax


def draw_coin_predictions(
    ax: Axes, probs: Mapping[str, float], *, fraction: float | None = None
) -> Axes:
    """P(next flip is heads) as horizontal bars: ``"exact"`` blue, the networks orange.

    A NaN (a network given an empty context) is left out; ``fraction`` (heads / flips in
    the context) is drawn as a dashed line.
    """
    names = list(probs)
    for i, name in enumerate(names):
        v = probs[name]
        if not np.isfinite(v):
            continue
        exact = name == "exact"
        ax.barh(i, v, color=COLORS["exact"] if exact else COLORS["network"],
                hatch=None if exact or i == 1 else "//", edgecolor="white")
        inside = v > 0.8  # long bars carry their value inside, in white
        ax.text(v - 0.02 if inside else v + 0.02, i, f"{v:.3f}", va="center",
                ha="right" if inside else "left", fontsize="small",
                color="white" if inside else "black")
    if fraction is not None:
        ax.axvline(fraction, color=COLORS["truth"], ls="--", lw=1.5,
                   label=f"fraction of heads {fraction:.2f}")
        legend_below(ax)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("P(next flip is heads)")
    return ax


# --------------------------------------------------------------------------------------------
# Training a PFN
# --------------------------------------------------------------------------------------------


def draw_dataset(
    ax: Axes,
    x_context: ArrayLike,
    y_context: ArrayLike,
    x_query: ArrayLike,
    y_query: ArrayLike,
    *,
    x_truth: ArrayLike | None = None,
    truth: ArrayLike | None = None,
    title: str | None = None,
) -> Axes:
    """One training dataset: context (black dots), queries (hollow: what the loss scores).

    Parameters
    ----------
    x_context, y_context : array-like, shape (n_context,)
    x_query, y_query : array-like, shape (n_query,)
    x_truth, truth : array-like, shape (n_grid,), optional
        The latent function that generated the dataset, drawn dashed.
    """
    if x_truth is not None and truth is not None:
        ax.plot(_np(x_truth), _np(truth), color=COLORS["truth"], ls="--", lw=1.2,
                label="latent m(x)")
    draw_context(ax, x_context, y_context)
    ax.scatter(_np(x_query), _np(y_query), s=18, facecolors="none",
               edgecolors=COLORS["context"], linewidths=0.8, label="queries")
    if title:
        ax.set_title(title, fontsize="medium")
    return ax


def draw_loss_curve(
    ax: Axes,
    losses: ArrayLike,
    *,
    floor: float | None = None,
    window: int = 50,
    xmax: int | None = None,
) -> Axes:
    """Training loss against steps: each step (faint), the mean of ``window`` steps, and
    ``floor``, the exact PPD's loss on fresh prior data (no predictor beats it on average).

    Parameters
    ----------
    losses : array-like, shape (n_steps,)
        Loss of step 1, 2, ...
    xmax : int, optional
        The run's length, so that the axis stays put while a live curve grows.
    """
    y = _np(losses)
    steps = np.arange(1, len(y) + 1)
    ax.plot(steps, y, color=COLORS["network"], alpha=0.3, lw=0.7, label="loss of each step")
    w = min(window, len(y))
    if w >= 1:
        smooth = np.convolve(y, np.ones(w) / w, mode="valid")  # steps w .. n
        ax.plot(steps[w - 1:], smooth, color=COLORS["network"], lw=2,
                label=f"mean of {w} steps")
    if floor is not None:
        ax.axhline(floor, color=COLORS["exact"], lw=1.5, label="exact PPD (the floor)")
    if xmax is not None:
        ax.set_xlim(0, xmax)
    ax.set_xlabel("training step")
    ax.set_ylabel("NLL per query [nats]")
    legend_below(ax)
    return ax


def draw_gap_curve(
    ax: Axes,
    steps: ArrayLike,
    gap: ArrayLike,
    se: ArrayLike | None = None,
    *,
    label: str,
    color: str | None = None,
    marker: str = "o",
) -> Axes:
    """NLL gap to the exact PPD against training steps, log-log, with standard errors.

    Points with step 0 or a gap <= 0 cannot sit on log axes and are left out.

    Parameters
    ----------
    steps, gap, se : array-like, shape (n_snapshots,)
    """
    s, g = _np(steps), _np(gap)
    keep = (s > 0) & (g > 0)
    yerr = None if se is None else _np(se)[keep]
    ax.errorbar(s[keep], g[keep], yerr=yerr, marker=marker, ms=4, capsize=3, lw=1.5,
                color=color or COLORS["network"], label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("NLL gap to the exact PPD\n[nats per query]")
    ax.grid(alpha=0.3, which="both")
    legend_below(ax)
    return ax


class LiveLossCurve:
    """A training callback that redraws :func:`draw_loss_curve` in place as a run goes.

    Pass it as ``train(..., callback=LiveLossCurve(steps))``. Every ``every`` steps (and at
    the last) it redraws its own figure and updates that figure's one output in the
    notebook, so a running kernel shows the curve growing and a stored notebook keeps the
    final curve. Outside IPython nothing is shown.

    Parameters
    ----------
    steps : int
        The run's length (the x axis).
    every : int, optional
        Steps between redraws (default: a tenth of the run; each redraw costs a fraction of a
        second).
    floor : float, optional
        The exact PPD's loss, drawn as a line.
    window : int, optional
        Steps in the running mean (default: an eighth of the run, at least 10).
    """

    def __init__(
        self,
        steps: int,
        *,
        every: int | None = None,
        floor: float | None = None,
        window: int | None = None,
        figsize: tuple[float, float] = (FIGURE_WIDTH, 3.4),
    ) -> None:
        self.steps = steps
        self.every = every or max(1, steps // 10)
        self.floor = floor
        self.window = window or max(10, steps // 8)
        self.losses: list[float] = []
        self.figure = Figure(figsize=figsize, layout="constrained")
        self.ax = self.figure.subplots()
        self._handle: Any = None

    def __call__(self, info: Any) -> None:
        """Record ``info.loss`` (a :class:`bayeslens.train.StepInfo`); redraw when due."""
        self.losses.append(float(info.loss))
        if info.step % self.every == 0 or info.step == self.steps:
            self.redraw()

    def redraw(self) -> None:
        """Draw the curve so far and show it (the first time) or update it."""
        self.ax.clear()
        draw_loss_curve(self.ax, self.losses, floor=self.floor, window=self.window,
                        xmax=self.steps)
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            return
        if get_ipython() is None:
            return
        if self._handle is None:
            self._handle = display(self.figure, display_id=True)
        else:
            self._handle.update(self.figure)


# --------------------------------------------------------------------------------------------
# Scaling the approximation (E1 grid)
# --------------------------------------------------------------------------------------------

SIZE_MARKERS = ("o", "s", "^", "D", "v")


def _by_size(runs: Sequence[Mapping[str, Any]]) -> dict[int, list[Mapping[str, Any]]]:
    """Runs grouped by embedding width, each group by budget."""
    out: dict[int, list[Mapping[str, Any]]] = {}
    for r in sorted(runs, key=lambda r: (r["d_model"], r["flops"])):
        out.setdefault(int(r["d_model"]), []).append(r)
    return out


def draw_scaling_compute(
    ax: Axes,
    runs: Sequence[Mapping[str, Any]],
    *,
    fit: Any = None,
    anchor_flops: float | None = None,
    bucket_floor: float | None = None,
) -> Axes:
    """NLL gap to the exact PPD against training FLOPs, one line per model size, log-log.

    Parameters
    ----------
    runs : sequence of mapping
        Grid points with ``d_model``, ``n_params``, ``flops``, ``gap``, ``se``
        (:class:`bayeslens.scaling.GridRun` as dicts).
    fit : FrontierFit, optional
        Drawn over the budgets (with its floor) when given; needs ``anchor_flops``.
    bucket_floor : float, optional
        The best bar distribution's gap (:func:`bayeslens.scaling.bucket_floor`), drawn as a
        line: no network with these borders goes below it.
    """
    for (d, group), marker in zip(_by_size(runs).items(), SIZE_MARKERS, strict=False):
        flops = _np([r["flops"] for r in group])
        ax.errorbar(flops, _np([r["gap"] for r in group]), yerr=_np([r["se"] for r in group]),
                    marker=marker, ms=5, capsize=3, lw=1.5,
                    label=f"embedding {d} ({group[0]['n_params'] / 1e6:.2f} M)")
    if fit is not None and anchor_flops is not None:
        c = np.geomspace(min(r["flops"] for r in runs), max(r["flops"] for r in runs) * 4, 100)
        ax.plot(c, fit.predict(c / anchor_flops), color="0.3", lw=1.2, ls="--",
                label=f"frontier fit, b = {fit.b:.2f}")
        if fit.floor > 0:
            ax.axhline(fit.floor, color="0.3", lw=0.8, ls=":",
                       label=f"fitted floor {fit.floor:.4f}")
    if bucket_floor is not None and bucket_floor > 0:
        ax.axhline(bucket_floor, color=COLORS["exact"], lw=1.2, ls="-.",
                   label=f"bucket floor {bucket_floor:.4f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training compute [FLOPs]")
    ax.set_ylabel("NLL gap to the exact PPD\n[nats per query]")
    ax.grid(alpha=0.3, which="both")
    legend_below(ax)
    return ax


def draw_scaling_params(ax: Axes, runs: Sequence[Mapping[str, Any]]) -> Axes:
    """The gap against parameters at each budget (iso-FLOP curves), log-log."""
    budgets: dict[float, list[Mapping[str, Any]]] = {}
    for r in sorted(runs, key=lambda r: r["n_params"]):
        budgets.setdefault(float(r["fraction"]), []).append(r)
    cmap = mpl.colormaps["viridis"]
    for i, (f, group) in enumerate(sorted(budgets.items())):
        if len(group) < 2:
            continue
        ax.errorbar(_np([r["n_params"] for r in group]), _np([r["gap"] for r in group]),
                    yerr=_np([r["se"] for r in group]), marker="o", ms=5, capsize=3, lw=1.5,
                    color=cmap(i / max(1, len(budgets) - 1) * 0.9),
                    label=f"{budget_text(f)} of the recipe's FLOPs")
    ax.set_xscale("log")
    ax.set_yscale("log")
    params = sorted({int(r["n_params"]) for r in runs})
    ax.set_xticks(params, [f"{p / 1e6:.2f} M" for p in params])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("parameters")
    ax.set_ylabel("NLL gap to the exact PPD\n[nats per query]")
    ax.grid(alpha=0.3, which="both")
    legend_below(ax)
    return ax


def budget_text(fraction: float) -> str:
    """A budget as a fraction of the recipe's FLOPs, written as one: "1/32", "1"."""
    from fractions import Fraction

    return str(Fraction(fraction).limit_denominator(1024))


def draw_gap_split(
    ax: Axes,
    runs: Sequence[Mapping[str, Any]],
    key: str,
    positions: ArrayLike,
    *,
    xlabel: str,
    labels: Sequence[str] | None = None,
) -> Axes:
    """The gap split by context size or evidence bin, one line per run (budget).

    Parameters
    ----------
    runs : sequence of mapping
        Runs with ``key`` (a list of (gap, se) per split) and ``fraction``, cheapest first.
    positions : array-like, shape (n_splits,)
        Where each split sits on the x axis.
    labels : sequence of str, optional
        One legend entry per run (default: its budget).
    """
    x = _np(positions)
    cmap = mpl.colormaps["viridis"]
    labels = labels or [f"{budget_text(r['fraction'])} of the FLOPs" for r in runs]
    for i, (r, label) in enumerate(zip(runs, labels, strict=True)):
        g = _np([v[0] for v in r[key]])
        se = _np([v[1] for v in r[key]])
        ax.errorbar(x, g, yerr=se, marker="o", ms=3.5, capsize=2, lw=1.3,
                    color=cmap(i / max(1, len(runs) - 1) * 0.9), label=label)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("NLL gap [nats per query]")
    ax.grid(alpha=0.3)
    legend_below(ax)
    return ax


# --------------------------------------------------------------------------------------------
# Which prior does the network follow? (task diversity: a pool of M linear tasks)
# --------------------------------------------------------------------------------------------

POSTERIOR_COLORS: Mapping[str, str] = MappingProxyType({
    "pool": COLORS["exact"],
    "ridge": "C2",
    "least_squares": COLORS["mle"],
})
"""The task-diversity figures' predictors: the pool posterior blue (the exact PPD of the
training prior), ridge green (the Gaussian prior's), least squares red (the maximum-likelihood
fit); the network stays orange and dashed."""


def _log_errorbar(ax: Axes, x: np.ndarray, v: np.ndarray, se: np.ndarray, **kwargs: Any) -> None:
    """Values with +- 1 SE on a log axis: points <= 0 left out, the lower bar cut at 90% of
    the value so that it stays on the axis."""
    keep = np.isfinite(v) & (v > 0)
    v, se = v[keep], np.nan_to_num(se[keep])
    ax.errorbar(x[keep], v, yerr=np.vstack([np.minimum(se, 0.9 * v), se]), capsize=3,
                ms=5, lw=1.5, **kwargs)


def _plain_log_labels(axis: Any) -> None:
    """Tick labels of a log axis as plain numbers (0.2, 3, 100), not 2e-01 or 3 x 10^0. Minor
    ticks are labelled where the major ones are too few: at 2, 3 and 5 times a power of ten
    on an axis of less than about one and a half decades, at 2 and 5 on a longer one that
    shows fewer than two powers of ten."""

    def major(v: float, _: Any) -> str:
        return f"{v:g}"

    def minor(v: float, _: Any) -> str:
        lo, hi = sorted(axis.get_view_interval())
        if v <= 0 or lo <= 0:
            return ""
        powers = np.floor(np.log10(hi)) - np.ceil(np.log10(lo)) + 1
        if hi / lo <= 30:
            keep: tuple[int, ...] = (2, 3, 5)
        elif powers < 2:
            keep = (2, 5)
        else:
            return ""
        mantissa = v / 10 ** np.floor(np.log10(v) + 1e-9)
        return f"{v:g}" if round(mantissa) in keep else ""

    axis.set_major_formatter(FuncFormatter(major))
    axis.set_minor_formatter(FuncFormatter(minor))


def _pow2_ticks(ax: Axes, values: np.ndarray) -> None:
    """A base-2 log x axis ticked at ``values``, written 2^k where a value is a power of 2."""
    ax.set_xscale("log", base=2)
    labels = []
    for v in values:
        k = np.log2(v) if v > 0 else np.nan
        labels.append(f"$2^{{{k:.0f}}}$" if np.isfinite(k) and k == round(k) else f"{v:g}")
    ax.set_xticks(values, labels)
    ax.xaxis.set_minor_locator(NullLocator())


def draw_posterior_distances(
    ax: Axes,
    curves: Any,
    *,
    threshold: float | None = None,
    paper: tuple[float, float] | None = None,
    paper_label: str = "published threshold",
    ylabel: str = "distance",
    title: str | None = None,
) -> Axes:
    """A network's distance to each of two exact posteriors against the pool size M, log-log.

    The network's distance to the pool posterior (blue, circles) and to ridge (green, hollow
    squares) are dashed, as networks are; the distance between the two exact posteriors, the
    scale on which "close" is judged, is a solid grey line. Error bars are +- 1 standard
    error; values <= 0 (a KL estimate below zero) cannot sit on the log axis and are left out.

    Parameters
    ----------
    curves : Curves
        One split's distances, as ``bayeslens.diversity.curves`` returns them: attributes
        ``n_tasks``, ``to_pool``, ``to_pool_se``, ``to_ridge``, ``to_ridge_se``,
        ``reference`` and ``reference_se``, each of shape (n_sizes,).
    threshold : float, optional
        The pool size where the two distances cross (``bayeslens.diversity.threshold``),
        drawn as a vertical line with its value written beside it (the legend entry is the
        same in every panel, so one figure legend serves a row of them).
    paper : (float, float), optional
        A published threshold's range, shaded, with ``paper_label`` in the legend.
    """
    _draw_two_posteriors(
        ax, _np(curves.n_tasks), (_np(curves.to_pool), _np(curves.to_pool_se)),
        (_np(curves.to_ridge), _np(curves.to_ridge_se)),
        (_np(curves.reference), _np(curves.reference_se)),
        ("network to pool posterior", "network to ridge", "pool posterior to ridge"),
        colors=(POSTERIOR_COLORS["pool"], POSTERIOR_COLORS["ridge"]), size="M",
        xlabel="pool size M (tasks)", threshold=threshold, paper=paper,
        paper_label=paper_label, ylabel=ylabel, title=title)
    return ax


def _draw_two_posteriors(
    ax: Axes,
    sizes: np.ndarray,
    to_pool: tuple[np.ndarray, np.ndarray],
    to_other: tuple[np.ndarray, np.ndarray],
    reference: tuple[np.ndarray, np.ndarray],
    labels: tuple[str, str, str],
    *,
    colors: tuple[str, str],
    size: str,
    xlabel: str,
    threshold: float | None,
    paper: tuple[float, float] | None = None,
    paper_label: str = "",
    ylabel: str,
    title: str | None,
) -> None:
    """The body of :func:`draw_posterior_distances` and :func:`draw_pool_distances`: each
    pair is (mean, se) of shape (n_sizes,); ``size`` names the pool size (``M*``, ``K*``)."""
    if paper is not None:
        ax.axvspan(*paper, color="0.88", lw=0, zorder=0, label=paper_label)
    _log_errorbar(ax, sizes, *to_pool, color=colors[0], ls="--", marker="o", label=labels[0])
    _log_errorbar(ax, sizes, *to_other, color=colors[1], ls="--", marker="s", mfc="white",
                  label=labels[1])
    _log_errorbar(ax, sizes, *reference, color="0.35", ls="-", marker=".", label=labels[2])
    if threshold is not None:
        ax.axvline(threshold, color="black", lw=1.2, ls=":", label=f"crossing {size}*")
    ax.set_yscale("log")
    _plain_log_labels(ax.yaxis)
    _pow2_ticks(ax, sizes)
    if threshold is not None:
        lo, hi = np.log(ax.get_xlim())
        right = (np.log(threshold) - lo) / (hi - lo) > 0.6  # the value goes left of the line
        ax.text(threshold, 0.97, f"{size}* ≈ {threshold:,.0f}",
                ha="right" if right else "left", va="top", fontsize=9,
                bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 2},
                transform=transforms.blended_transform_factory(ax.transData, ax.transAxes))
    _finish(ax, xlabel, ylabel, title)


def draw_context_curve(
    ax: Axes,
    curve: Mapping[str, Any],
    *,
    d: int | None = None,
    noise_variance: float | None = None,
    network_label: str = "network",
    title: str | None = None,
) -> Axes:
    """Squared error to the true y against the number of context points (Garg et al.).

    The network (orange, dashed), least squares (red, hollow circles, dotted), ridge (green)
    and the pool posterior (blue), each +- 1 standard error, on a log y axis (least squares
    spikes where k = d).

    Parameters
    ----------
    curve : mapping
        ``"n_context"`` (n_k,) and ``"network"``, ``"least_squares"``, ``"ridge"``,
        ``"pool"``, each ``{"mean": (n_k,), "se": (n_k,)}``: a results record's
        ``context_curve`` (``bayeslens.diversity.context_curve`` summarised).
    d : int, optional
        The input dimension, drawn as a vertical line at k = d.
    noise_variance : float, optional
        sigma^2, drawn as a line: no predictor's error to a noisy y falls below it.
    """
    k = _np(curve["n_context"])
    series = (
        ("least_squares", "least squares", POSTERIOR_COLORS["least_squares"], ":", "o", "white"),
        ("ridge", "ridge (Gaussian prior)", POSTERIOR_COLORS["ridge"], "-", "s", None),
        ("pool", "pool posterior", POSTERIOR_COLORS["pool"], "-", "o", None),
        ("network", network_label, COLORS["network"], "--", "^", None),
    )
    for key, label, color, ls, marker, mfc in series:
        _log_errorbar(ax, k, _np(curve[key]["mean"]), _np(curve[key]["se"]), color=color,
                      ls=ls, marker=marker, mfc=mfc, label=label)
    if d is not None:
        ax.axvline(d, color="0.55", lw=1, ls="-.", label=f"k = d = {d}")
    if noise_variance is not None:
        ax.axhline(noise_variance, color=COLORS["truth"], lw=1, ls=(0, (4, 2)),
                   label=f"noise σ² = {noise_variance:g}")
    ax.set_yscale("log")
    _plain_log_labels(ax.yaxis)
    ax.set_xticks(k[::2])
    _finish(ax, "context points k", "squared error to y", title)
    return ax


# --------------------------------------------------------------------------------------------
# Chapter 13: sequences from Markov chains
# --------------------------------------------------------------------------------------------

PREDICTOR_STYLES: Mapping[str, tuple[str, str, str, bool]] = MappingProxyType({
    "network": (COLORS["network"], "--", "^", False),
    "exact": (COLORS["exact"], "-", "o", True),
    "bigram": (POSTERIOR_COLORS["ridge"], "-", "s", False),
    "unigram": ("C4", "-.", "D", False),
    "uniform": ("0.5", ":", "v", False),
})
"""(colour, line, marker, filled marker) of each next-token predictor in the sequence figures:
the network orange and dashed, the exact predictive blue with filled circles, the bigram
counts (the Dirichlet prior's exact predictive) green with hollow squares, as ridge is in the
task-diversity chapter (solid like the exact predictive, told apart by the markers also in
greyscale), unigram counts purple, the uniform guess grey."""


def _predictor_style(name: str) -> tuple[str, str, str, bool]:
    key = next((k for k in PREDICTOR_STYLES if k in name), None)
    if key is None:
        raise ValueError(f"curve name {name!r} names none of the predictors "
                         f"{sorted(PREDICTOR_STYLES)}")
    return PREDICTOR_STYLES[key]


def draw_transitions(ax: Axes, transitions: ArrayLike, *, title: str | None = None,
                     numbers: bool = True) -> Axes:
    """One Markov chain's transition matrix (V, V) as a grey-scale grid, rows = previous token.

    Each cell is written with its probability (two decimals) when ``numbers``; the shade runs
    from white (0) to black (1) on every panel, so panels compare.
    """
    p = _np(transitions)
    if p.ndim != 2 or p.shape[0] != p.shape[1]:
        raise ValueError(f"transitions must be a square (V, V) matrix, got shape {p.shape}")
    v = p.shape[0]
    ax.imshow(p, cmap="Greys", vmin=0.0, vmax=1.0)
    if numbers:
        for i in range(v):
            for j in range(v):
                ax.text(j, i, f"{p[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if p[i, j] > 0.55 else "black")
    ax.set_xticks(range(v))
    ax.set_yticks(range(v))
    ax.tick_params(length=0, labelsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def draw_token_kl(
    ax: Axes,
    curves: Mapping[str, Any],
    *,
    ylabel: str = "KL(exact || predictor) [nats]",
    title: str | None = None,
) -> Axes:
    """KL per position, one line per named predictor, on a log y axis.

    Parameters
    ----------
    curves : mapping of str to SequenceKL
        Each value has ``per_position`` and ``per_position_se`` of shape (length,)
        (:class:`bayeslens.evaluate.SequenceKL`); position t is the prediction after t tokens.
        A name must contain one of :data:`PREDICTOR_STYLES`' keys, which sets its style.
        Position 0 (no tokens: every predictor uses the first token's known distribution, KL
        0) is left out of the log axis.
    """
    for name, kl in curves.items():
        color, ls, marker, filled = _predictor_style(name)
        v = _np(kl.per_position).astype(float)
        se = _np(kl.per_position_se).astype(float)
        t = np.arange(v.size, dtype=float)
        keep = (t >= 1) & (v > 0)
        ax.plot(t[keep], v[keep], color=color, ls=ls, label=name)
        ax.fill_between(t[keep], np.maximum(v - se, 0.9 * v)[keep], (v + se)[keep],
                        color=color, alpha=0.2, lw=0)
        ax.plot(t[keep][::8], v[keep][::8], ls="none", marker=marker, ms=4, color=color,
                mfc=color if filled else "white")
    ax.set_yscale("log")
    _plain_log_labels(ax.yaxis)
    _finish(ax, "tokens seen", ylabel, title)
    return ax


def draw_chain_posterior_by_position(
    ax: Axes,
    posterior: ArrayLike,
    *,
    labels: Sequence[str] | None = None,
    highlight: Sequence[int] = (),
    title: str | None = None,
) -> Axes:
    """The posterior mass of each chain of a pool against the number of tokens seen (one
    prefix's posterior as bars: ``draw_chain_posterior``).

    Parameters
    ----------
    posterior : array, shape (length + 1, K)
        Row t: p(chain k | x_1..x_t) (e.g. a mean over sequences of
        ``sequence_posterior.log_posterior(...).exp()``); row 0 is the prior.
    labels : sequence of str, optional
        One per chain (default ``"chain k"``).
    highlight : sequence of int
        Chains drawn in colour and named in the legend; the others are thin grey lines.
    """
    p = _np(posterior).astype(float)
    if p.ndim != 2:
        raise ValueError(f"posterior must be (length + 1, K), got shape {p.shape}")
    k = p.shape[1]
    names = list(labels) if labels is not None else [f"chain {i}" for i in range(k)]
    if len(names) != k:
        raise ValueError(f"labels must have one name per chain ({k}), got {len(names)}")
    t = np.arange(p.shape[0])
    others = [i for i in range(k) if i not in highlight]
    for n, i in enumerate(others):
        ax.plot(t, p[:, i], color="0.65", lw=1,
                label="other chains" if n == 0 else None)
    for n, i in enumerate(highlight):
        ax.plot(t, p[:, i], color=f"C{(n + 4) % 10}", lw=2.2, label=names[i])
    ax.set_ylim(0, 1)
    ax.set_xlim(0, t[-1])
    _finish(ax, "tokens seen", "posterior mass", title)
    return ax


def draw_training_phases(
    ax: Axes,
    steps: ArrayLike,
    curves: Mapping[str, tuple[ArrayLike, ArrayLike]],
    *,
    ylabel: str = "KL(predictor || network) [nats]",
    xlabel: str = "training step (0 drawn at 1)",
    title: str | None = None,
) -> Axes:
    """A network's distance to each predictor over training, log-log.

    Parameters
    ----------
    steps : array, shape (n_snapshots,)
        Training steps (0, the untrained network, is drawn at 1).
    curves : mapping of str to (mean, se)
        Each of shape (n_snapshots,), named so that :data:`PREDICTOR_STYLES` knows it
        (e.g. ``"to uniform"``, ``"to exact"``). The predictor closest at a step is the one the
        network predicts like.
    """
    s = np.maximum(_np(steps).astype(float), 1)
    for name, (mean, se) in curves.items():
        color, ls, marker, filled = _predictor_style(name)
        _log_errorbar(ax, s, _np(mean).astype(float), _np(se).astype(float), color=color,
                      ls=ls, marker=marker, mfc=color if filled else "white", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log_labels(ax.xaxis)
    _plain_log_labels(ax.yaxis)
    _finish(ax, xlabel, ylabel, title)
    return ax


def draw_pool_distances(
    ax: Axes,
    curves: Any,
    *,
    threshold: float | None = None,
    reference_label: str = "KL(pool posterior || bigram counts)",
    ylabel: str = "KL [nats per token]",
    title: str | None = None,
) -> Axes:
    """A sequence model's distance to its pool's exact predictive and to the bigram counts
    against the pool size K: :func:`draw_posterior_distances` for chains.

    Parameters
    ----------
    curves : PoolCurves
        One split, as ``bayeslens.sequence_pools.curves`` returns it (``n_chains``,
        ``to_pool``, ``to_bigram``, ``reference``, each with ``_se``, shape (n_sizes,)).
    threshold : float, optional
        The crossing K* (``bayeslens.sequence_pools.threshold``).
    reference_label : str
        The grey line's label: the two exact predictives' KL, from the split's own process
        (``KL(bigram counts || pool posterior)`` on fresh chains).
    """
    sizes = _np(curves.n_chains).astype(float)
    _draw_two_posteriors(
        ax, sizes, (_np(curves.to_pool), _np(curves.to_pool_se)),
        (_np(curves.to_bigram), _np(curves.to_bigram_se)),
        (_np(curves.reference), _np(curves.reference_se)),
        ("KL(pool posterior || network)", "KL(bigram counts || network)", reference_label),
        colors=(PREDICTOR_STYLES["exact"][0], PREDICTOR_STYLES["bigram"][0]), size="K",
        xlabel="pool size K (chains)", threshold=threshold, ylabel=ylabel, title=title)
    ax.set_xticks(sizes, [f"{v:,.0f}" for v in sizes])
    return ax


def _probabilities(name: str, values: ArrayLike, n: int | None = None) -> np.ndarray:
    """``values`` as a 1-d array of probabilities summing to 1 (of length ``n``), else
    ValueError naming the argument."""
    p = _np(values)
    if p.ndim != 1 or (n is not None and p.shape[0] != n) or p.shape[0] < 1:
        want = f"({n},)" if n is not None else "(n,)"
        raise ValueError(f"{name} must have shape {want}, got shape {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any() or abs(p.sum() - 1) > 1e-6:
        raise ValueError(f"{name} must hold finite probabilities >= 0 that sum to 1")
    return p


def _bar_values(ax: Axes, x: np.ndarray, p: np.ndarray) -> None:
    for xi, pi in zip(x, p, strict=True):
        ax.text(xi, pi + 0.015, f"{pi:.3f}", ha="center", va="bottom", fontsize="small")


def draw_next_token(
    ax: Axes,
    exact: ArrayLike,
    network: ArrayLike | None = None,
    *,
    kl: float | None = None,
    network_label: str = "network",
    title: str | None = None,
) -> Axes:
    """The next token's distribution: exact (filled blue bars) beside the network's (orange
    outlined, hatched bars), one pair per token, each bar labelled with its probability.

    Parameters
    ----------
    exact : array-like, shape (V,)
        p(x_{t+1} = v | x_1..x_t), e.g. ``NextToken.exact``.
    network : array-like, shape (V,), optional
    kl : float, optional
        KL(exact || network) in nats, shown in the title.
    """
    p = _probabilities("exact", exact)
    v = p.shape[0]
    x = np.arange(v, dtype=float)
    width = 0.37 if network is not None else 0.6
    shift = 0.2 if network is not None else 0.0  # a gap between the pair
    ax.bar(x - shift, p, width, color=COLORS["exact"], label="exact predictive")
    _bar_values(ax, x - shift, p)
    if network is not None:
        q = _probabilities("network", network, v)
        ax.bar(x + shift, q, width, facecolor="white", edgecolor=COLORS["network"], lw=1.8,
               hatch="///", label=network_label)
        _bar_values(ax, x + shift, q)
    ax.set_xticks(x, [f"token {i}" for i in range(v)])
    for i, tick in enumerate(ax.get_xticklabels()):
        tick.set_color(TOKEN_COLORS[i % len(TOKEN_COLORS)])
        tick.set_fontweight("bold")
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("p(next token)")
    label = title or "next token"
    if kl is not None:  # small KLs in two significant digits, as the HTML book shows them
        value = f"{kl:.4f}" if kl >= 1e-3 else f"{kl:.1e}"
        label += f"\nKL(exact || {network_label}) = {value} nats"
    ax.set_title(label)
    legend_below(ax, ncols=2)
    return ax


def draw_chain_posterior(
    ax: Axes, posterior: ArrayLike, *, true_chain: int | None = None, title: str | None = None
) -> Axes:
    """The exact posterior over a pool's K chains as bars, each labelled in percent.

    Parameters
    ----------
    posterior : array-like, shape (K,)
        p(chain k | x_1..x_t), e.g. ``NextToken.posterior``.
    true_chain : int, optional
        The chain that drew the sequence, if known: its bar is outlined in black.
    """
    w = _probabilities("posterior", posterior)
    k = np.arange(w.shape[0])
    if true_chain is not None and not (isinstance(true_chain, int)
                                       and 0 <= true_chain < w.shape[0]):
        raise ValueError(f"true_chain must be an int in 0 .. {w.shape[0] - 1}, got "
                         f"{true_chain!r}")
    edges = ["black" if i == true_chain else COLORS["exact"] for i in k]
    ax.bar(k, w, 0.7, color=COLORS["exact"], edgecolor=edges, lw=1.8)
    for ki, wi in zip(k, w, strict=True):
        ax.text(float(ki), wi + 0.015, f"{100 * wi:.0f}%", ha="center", va="bottom",
                fontsize="small")
    ax.set_xticks(k, [str(i) for i in k])
    ax.set_xlabel("chain k of the pool")
    ax.set_ylabel("p(chain k | prefix)")
    ax.set_ylim(0, 1.08)
    ax.set_title(title or "exact posterior over the chains")
    return ax
