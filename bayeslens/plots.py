"""One drawing function per figure, each on a matplotlib ``Axes``.

The static figures of the book and its explorers (:mod:`bayeslens.explore`) call the same
functions. Nothing here computes a posterior or trains a model, and nothing calls
``plt.show()``: a function draws on the ``Axes`` it is given and returns it.

Colours are fixed across the book: the exact posterior predictive (PPD) is blue, a network
is orange, the maximum-likelihood fit is red, the truth is a dashed grey line, the context
points are black.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes

__all__ = [
    "COLORS",
    "Band",
    "draw_band",
    "draw_coin_convergence",
    "draw_coin_weights",
    "draw_context",
    "draw_kl_curves",
    "draw_latent_weights",
    "draw_predictive",
    "draw_seed_predictions",
    "draw_spread",
    "draw_tabular_fit",
]

COLORS = {
    "exact": "C0",
    "network": "C1",
    "fixed": "C2",
    "mle": "C3",
    "truth": "0.45",
    "context": "black",
}

ArrayLike = npt.ArrayLike


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
) -> Axes:
    """Draw a mean line and a shaded band over ``x_query`` (n_query,)."""
    x = _np(x_query)
    ax.fill_between(
        x, _np(band.lower), _np(band.upper), color=color, alpha=alpha, lw=0, label=band_label
    )
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
            band_label=f"{network_label} {band_name}", linestyle="--", alpha=0.15,
        )
    if x_context is not None and y_context is not None:
        draw_context(ax, x_context, y_context)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    if title:
        ax.set_title(title)
    ax.legend(loc="best", fontsize="small", framealpha=0.8)
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
    ax.legend(loc="upper left", fontsize="small")
    return ax


def draw_kl_curves(
    ax: Axes,
    steps: ArrayLike,
    curves: Mapping[str, ArrayLike],
    *,
    ylabel: str = "E_x KL(p(y|x) || q(y|x)) [nats]",
    marker_step: int | None = None,
) -> Axes:
    """Distances over training (log-log), one line per named curve (n_checkpoints,)."""
    s = np.maximum(_np(steps), 1)
    styles = {"fresh": COLORS["network"], "fixed": COLORS["fixed"]}
    for name, values in curves.items():
        color = next((c for key, c in styles.items() if key in name), None)
        ax.plot(s, np.maximum(_np(values), 1e-8), "o-", ms=3, label=name, color=color)
    if marker_step is not None:
        ax.axvline(max(marker_step, 1), color="0.6", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small")
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
    ax.legend(loc="lower right", fontsize="small")
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
    ax.legend(loc="upper left", fontsize="small")
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
    ax.legend(loc="upper left", fontsize="small")
    return ax


def draw_spread(
    ax: Axes, values: Mapping[str, ArrayLike], *, at: float = 0.5, bins: int = 20
) -> Axes:
    """Histograms of each setting's per-seed P(y = 1 | x = at) on [0, 1]."""
    edges = np.linspace(0, 1, bins + 1).tolist()
    colors = [COLORS["network"], COLORS["exact"], COLORS["fixed"], COLORS["mle"]]
    for (name, v), color in zip(values.items(), colors, strict=False):
        ax.hist(_np(v), bins=edges, alpha=0.6, color=color, label=name)
    ax.set_xlabel(f"P(y = 1 | x = {at:g}) per seed")
    ax.set_ylabel("seeds")
    ax.legend(fontsize="small")
    return ax
