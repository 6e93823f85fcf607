"""Exact-side sweeps for the sine chapters (E2, E3): phase sums, family means, switch slopes.

Everything here is computed from the exact posterior (:mod:`bayeslens.posterior`); the network
side of the same questions is in :mod:`bayeslens.evaluate`.

* E2 (:func:`phase_sum`): for sines ``A sin(f x + 2 pi phi)`` with one amplitude and one
  frequency, the PPD mean is ``A |R| sin(f x + arg R)`` with ``R = sum_L p(L|D) exp(2 pi i
  phi_L)``. ``|R|`` is how much of a sine survives the posterior average: 1 when one phase
  carries the posterior, 0 when the phases cancel (a flat mean).
* E2 (:func:`flatness`): the largest ``|PPD mean|`` for contexts ``A sin(k x)`` over a range
  of frequencies ``k``: where the prediction is flat.
* E3 (:func:`family_means`, :func:`family_log_odds`): each family's own PPD mean (the
  posterior of the family's prior alone) and the log posterior odds of two families.
* E3 (:func:`fit_sloped_sine`): offset, slope and amplitude of the sloped sine closest to a
  predictive mean (least squares); a mixture of one sine family and one line family has a mean
  of exactly this form.
* E3 (:func:`switch_slope`): the slope of the sloped-sine context at which the two families
  are equally probable, by bisection (:func:`find_crossing`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from bayeslens import paper
from bayeslens.posterior import Posterior, posterior
from bayeslens.priors import DTYPE, Mixture, SinePrior, StepPrior

__all__ = [
    "family_log_odds",
    "family_means",
    "find_crossing",
    "fit_sloped_sine",
    "flatness",
    "frequency_context",
    "phase_sum",
    "rms",
    "sloped_sine_truth",
    "step_modes",
    "switch_slope",
]


def frequency_context(
    frequency: float, n: int = 20, amplitude: float = 0.2
) -> tuple[Tensor, Tensor]:
    """``amplitude sin(frequency x)`` at ``x = linspace(-1, 1, n)``; float64, shapes (n,).

    ``frequency = 2 pi`` with ``n = 20`` is E2's unseen-frequency context
    (:func:`bayeslens.paper.sine_2pi`).
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    x = torch.linspace(-1, 1, n, dtype=DTYPE)
    return x, amplitude * torch.sin(frequency * x)


def sloped_sine_truth(x: Tensor, slope: float = 0.23, amplitude: float = 0.2) -> Tensor:
    """E3's generalisation function ``amplitude sin(3 pi x) + slope x`` at ``x``."""
    x = torch.as_tensor(x, dtype=DTYPE)
    return amplitude * torch.sin(3 * math.pi * x) + slope * x


def rms(a: Tensor, b: Tensor) -> float:
    """Root-mean-square difference of two equally shaped tensors."""
    a, b = torch.as_tensor(a, dtype=DTYPE), torch.as_tensor(b, dtype=DTYPE)
    if a.shape != b.shape or a.numel() == 0:
        raise ValueError(f"a and b must have one non-empty shape, got {a.shape} and {b.shape}")
    return float((a - b).pow(2).mean().sqrt())


# --------------------------------------------------------------------------------------------
# E2: sines of one frequency
# --------------------------------------------------------------------------------------------


def _single(prior: SinePrior, name: str) -> float:
    ax = getattr(prior, name)
    if len(ax) != 1:
        raise ValueError(f"the prior's {name} axis must hold one value, got {len(ax)}")
    return float(ax.values[0])


def phase_sum(post: Posterior) -> complex:
    """``R = sum_L p(L | D) exp(2 pi i phi_L)``: the posterior's average phase vector.

    For a :class:`~bayeslens.priors.SinePrior` whose y0, s, A and f axes hold one value each,
    the PPD mean is ``y0 + s x + A |R| sin(f x + arg R)``.

    Raises
    ------
    ValueError
        If the posterior's prior is not such a sine prior.
    """
    prior = post.prior
    if not isinstance(prior, SinePrior):
        raise ValueError(f"phase_sum needs a SinePrior posterior, got {type(prior).__name__}")
    for name in ("y0", "s", "A", "f"):
        _single(prior, name)
    w = post.log_weights().exp()
    angle = 2 * math.pi * prior.latent_params()["phi"]
    return complex(float((w * torch.cos(angle)).sum()), float((w * torch.sin(angle)).sum()))


def flatness(
    prior: SinePrior, frequencies: Sequence[float], n: int, x_query: Tensor,
    amplitude: float = 0.2,
) -> Tensor:
    """Largest ``|PPD mean|`` over ``x_query`` for each context ``amplitude sin(k x)``.

    Parameters
    ----------
    frequencies : sequence of float, length n_freq
        The contexts' frequencies k (E2's prior has 3 pi).
    n : int
        Context points, at ``linspace(-1, 1, n)``.
    x_query : Tensor, shape (n_query,)

    Returns
    -------
    Tensor, shape (n_freq,), float64
    """
    out = [
        posterior(prior, *frequency_context(k, n, amplitude)).mean(x_query).abs().max()
        for k in frequencies
    ]
    return torch.stack(out) if out else torch.empty(0, dtype=DTYPE)


# --------------------------------------------------------------------------------------------
# E3: a mixture of families
# --------------------------------------------------------------------------------------------


def family_means(
    prior: Mixture, x_context: Tensor, y_context: Tensor, x_query: Tensor
) -> Tensor:
    """Each family's own PPD mean: the posterior of ``prior.families[k]`` alone.

    The mixture's PPD mean is ``sum_k p(family k | D) * family_means[k]``.

    Returns
    -------
    Tensor, shape (n_families, n_query), float64
    """
    if not isinstance(prior, Mixture):
        raise ValueError(f"prior must be a Mixture, got {type(prior).__name__}")
    return torch.stack(
        [posterior(fam, x_context, y_context).mean(x_query) for fam in prior.families]
    )


def family_log_odds(prior: Mixture, x_context: Tensor, y_context: Tensor) -> float:
    """``log p(family 0 | D) - log p(family 1 | D)`` of a two-family mixture (E3: sines, lines)."""
    if not isinstance(prior, Mixture) or len(prior.families) != 2:
        raise ValueError("prior must be a Mixture of exactly two families")
    lf = posterior(prior, x_context, y_context).log_family_weights()
    return float(lf[0] - lf[1])


def fit_sloped_sine(x: Tensor, y: Tensor, frequency: float = 3 * math.pi) -> dict[str, float]:
    """Least-squares ``y ~ offset + slope x + amplitude sin(frequency x)`` over points (n,).

    Returns
    -------
    dict
        ``offset``, ``slope``, ``amplitude`` and ``residual_rms``.
    """
    x, y = torch.as_tensor(x, dtype=DTYPE), torch.as_tensor(y, dtype=DTYPE)
    if x.ndim != 1 or x.shape != y.shape or x.numel() < 3:
        raise ValueError(f"x and y must be 1-d of one length >= 3, got {x.shape}, {y.shape}")
    basis = torch.stack([torch.ones_like(x), x, torch.sin(frequency * x)], 1)  # (n, 3)
    coef = torch.linalg.lstsq(basis, y[:, None]).solution[:, 0]  # (3,)
    resid = y - basis @ coef
    return {
        "offset": float(coef[0]),
        "slope": float(coef[1]),
        "amplitude": float(coef[2]),
        "residual_rms": float(resid.pow(2).mean().sqrt()),
    }


def find_crossing(
    fn: Callable[[float], float], lo: float, hi: float, *, tol: float = 1e-9,
    max_iter: int = 200,
) -> float | None:
    """A zero of ``fn`` in ``[lo, hi]`` by bisection, or None if ``fn`` has one sign at both ends.

    ``fn`` should be continuous; the result lies within ``tol`` of a sign change.
    """
    if not lo < hi:
        raise ValueError(f"need lo < hi, got lo={lo!r}, hi={hi!r}")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol!r}")
    f_lo, f_hi = fn(lo), fn(hi)
    if not (math.isfinite(f_lo) and math.isfinite(f_hi)):
        raise ValueError(f"fn must be finite at the ends, got fn(lo)={f_lo}, fn(hi)={f_hi}")
    if f_lo == 0:
        return lo
    if f_hi == 0:
        return hi
    if (f_lo > 0) == (f_hi > 0):
        return None
    for _ in range(max_iter):
        if hi - lo <= tol:
            break
        mid = 0.5 * (lo + hi)
        f_mid = fn(mid)
        if f_mid == 0:
            return mid
        if (f_mid > 0) == (f_lo > 0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def switch_slope(
    prior: Mixture, lo: float = 0.21, hi: float = 0.28, *, n: int = 10,
    amplitude: float = 0.2, tol: float = 1e-9,
) -> float | None:
    """The slope s at which ``amplitude sin(3 pi x) + s x`` (n points) is equally well
    explained by the two families: ``p(family 0 | D) = p(family 1 | D)``.

    Returns None if the families do not swap places between ``lo`` and ``hi``.
    """
    return find_crossing(
        lambda s: family_log_odds(prior, *paper.sloped_sine(s, amplitude, n)), lo, hi, tol=tol
    )


# ------------------------------------------------------------------------------ E4: steps


def step_modes(post: Posterior, x_context: Tensor, k: int = 4) -> list[dict[str, float]]:
    """The posterior of a step prior grouped by what each step does on the context.

    Change points ``c`` between the same two context inputs give the same likelihood, so a
    posterior over a fine grid of ``c`` spreads one explanation over many tied latents. Here
    latents are grouped by the gap of sorted ``x_context`` their ``c`` falls in and by the
    sign of the jump ``a``: one group per "jump up (or down) between these two points".

    Parameters
    ----------
    post : Posterior
        Of a :class:`~bayeslens.priors.StepPrior`.
    x_context : Tensor, shape (n_context,)
    k : int
        Number of groups returned, largest mass first.

    Returns
    -------
    list of dict
        ``mass`` (posterior probability of the group), ``c_lo``, ``c_hi`` (the group's range
        of change points), ``b``, ``a`` (their posterior means within the group).
    """
    prior = post.prior
    if not isinstance(prior, StepPrior):
        raise ValueError(f"step_modes needs a StepPrior posterior, got {type(prior).__name__}")
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    xs = torch.sort(torch.as_tensor(x_context, dtype=DTYPE).reshape(-1)).values
    shape = (len(prior.c), len(prior.b), len(prior.a))
    w = post.log_weights().reshape(shape).exp()  # (n_c, n_b, n_a)
    gap = torch.searchsorted(xs, prior.c.values, right=True)  # (n_c,): context x <= c
    sign = torch.sign(prior.a.values)  # (n_a,)
    b, a = prior.b.values[:, None], prior.a.values[None, :]  # (n_b, 1), (1, n_a)
    groups = []
    for g in gap.unique().tolist():
        wc = w[gap == g].sum(0)  # (n_b, n_a)
        for s in sign.unique().tolist():
            wg = wc[:, sign == s]  # (n_b, n_a_s)
            mass = float(wg.sum())
            if mass <= 0:
                continue
            cs = prior.c.values[gap == g]
            groups.append({
                "mass": mass, "c_lo": float(cs.min()), "c_hi": float(cs.max()),
                "b": float((wg * b).sum() / mass),
                "a": float((wg * a[:, sign == s]).sum() / mass),
            })
    return sorted(groups, key=lambda d: -d["mass"])[:k]
