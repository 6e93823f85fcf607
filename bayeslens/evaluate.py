"""How far a trained PFN is from the exact posterior predictive, in numbers.

The one place where the exact side (:mod:`bayeslens.posterior`, and for the linear-regression
priors of :mod:`bayeslens.linear` with d input features,
:func:`bayeslens.linear_posterior.predictive`) and the network meet.

* :func:`nll_gap`: on fresh prior datasets, split at a context size drawn as in training
  (uniform over 1 .. n_points - 1), the PFN's mean negative log density of the query targets
  minus the exact PPD's, in nats per query. Because the exact PPD is the best any predictor
  can do in expectation (the PFN's expected loss is H(Y|X, D) + KL(PPD || PFN)), the gap is an
  estimate of the expected KL divergence and is >= 0 up to noise. Its standard error comes from
  the spread of the per-dataset gaps, which are independent.
* :func:`gap_curve`: the gap of each snapshot of a training run on the same datasets.
* :func:`mean_gap`: the PFN's predictive mean against the exact PPD mean on given inputs (each
  figure's context).
* :func:`implied_family_weight`, :func:`network_family_weight`, :func:`network_switch_slope`:
  a network has no family masses, so for a two-family mixture (E3: sines and lines) we ask
  which weight w in [0, 1] best explains its mean as ``w * (family 0's PPD mean) + (1 - w) *
  (family 1's PPD mean)``, by least squares over the queries. On the exact PPD mean this
  gives back p(family 0 | D) exactly.
* :func:`sequence_kl`, :func:`kl_from_log_probs`, :func:`sequence_kl_curve`: for a sequence
  model (:mod:`bayeslens.sequence_model`) on a sequence prior, KL(exact || network) between
  the next-token distributions at every position of fresh sequences
  (:func:`bayeslens.sequence_posterior.next_token_log_probs`), in nats per token: a sum over
  the V tokens, not a sampled estimate, so its only noise is which sequences were drawn.
* :func:`predictor_log_probs`, :func:`predictor_kl`, :func:`baseline_kls`: any two of the
  exact predictive, the in-context uniform, unigram and bigram predictors
  (:mod:`bayeslens.sequence_posterior`) and a network, compared the same way, per position;
  :func:`kl_per_token` and :func:`summarise_per_token` for paired differences of such KLs.
* :func:`next_token_after`: for one prefix the reader types, the exact and the network's
  next-token distributions, their KL and (for a pool) the posterior over the chains; the token
  explorers (:mod:`bayeslens.token_explorer`, and in the HTML book its JavaScript twin) show it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from bayeslens import ablations, paper
from bayeslens.linear import LinearGaussian, LinearPool
from bayeslens.linear_posterior import (
    MAX_ELEMENTS,
    gaussian_posterior,
    pool_posterior,
    predictive,
)
from bayeslens.model import PFN
from bayeslens.posterior import posterior
from bayeslens.sequence_model import SequenceModel
from bayeslens.sequence_posterior import (
    bigram_log_probs,
    check_tokens,
    log_posterior,
    next_token_log_probs,
    uniform_log_probs,
    unigram_log_probs,
)
from bayeslens.sequences import DirichletMarkov, MarkovPool

__all__ = [
    "BASELINES",
    "PREDICTORS",
    "EvalSet",
    "FamilyWeight",
    "GapResult",
    "MeanGap",
    "NextToken",
    "SequenceKL",
    "baseline_kls",
    "exact_nll",
    "exact_scores",
    "gap_curve",
    "gap_from_nlls",
    "implied_family_weight",
    "kl_from_log_probs",
    "kl_per_token",
    "mean_gap",
    "model_nll",
    "network_family_weight",
    "network_flatness",
    "network_switch_slope",
    "next_token_after",
    "nll_gap",
    "predictor_kl",
    "predictor_log_probs",
    "sample_eval_set",
    "sequence_kl",
    "sequence_kl_curve",
    "summarise_per_token",
]


@dataclass(frozen=True)
class EvalSet:
    """Fresh prior datasets for evaluation, each split into context and queries.

    Attributes
    ----------
    x : Tensor, shape (n_datasets, n_points), or (n_datasets, n_points, d) for a prior with
        d > 1 input features; float64
    y : Tensor, shape (n_datasets, n_points), float64
    n_context : Tensor, shape (n_datasets,), int64
        Dataset i's context is its first ``n_context[i]`` points; the rest are queries.
    """

    x: Tensor
    y: Tensor
    n_context: Tensor

    def __len__(self) -> int:
        return int(self.x.shape[0])


def sample_eval_set(
    prior: Any, n_datasets: int, n_points: int, generator: torch.Generator
) -> EvalSet:
    """``n_datasets`` fresh datasets with context sizes uniform over 1 .. n_points - 1.

    x has the prior's shape: (n_datasets, n_points), or (n_datasets, n_points, d).
    """
    if not isinstance(n_datasets, int) or n_datasets < 2:
        raise ValueError(
            f"n_datasets must be an int >= 2 (for a standard error), got {n_datasets!r}"
        )
    if not isinstance(n_points, int) or n_points < 2:
        raise ValueError(f"n_points must be an int >= 2, got {n_points!r}")
    batch = prior.sample(n_datasets, n_points, generator)
    n_context = torch.randint(1, n_points, (n_datasets,), generator=generator)
    return EvalSet(batch.x, batch.y, n_context)


def exact_nll(prior: Any, data: EvalSet) -> Tensor:
    """Mean exact-PPD NLL over each dataset's queries, shape (n_datasets,), float64.

    For a :class:`~bayeslens.linear.LinearPool` or :class:`~bayeslens.linear.LinearGaussian`
    the PPD is :func:`bayeslens.linear_posterior.predictive`, batched over the datasets of
    each context size; for every other prior :func:`bayeslens.posterior.posterior`.
    """
    if isinstance(prior, LinearPool | LinearGaussian):
        return _linear_nll(prior, data)
    return exact_scores(prior, data)[0]


def exact_scores(prior: Any, data: EvalSet) -> tuple[Tensor, Tensor]:
    """Each dataset's exact-PPD NLL (as :func:`exact_nll`) and its context's log evidence.

    Returns
    -------
    nll, log_evidence : Tensor, shape (n_datasets,), float64
        ``log_evidence[i]`` is log p(D_i) of dataset i's context under the prior.
    """
    if isinstance(prior, LinearPool | LinearGaussian):
        return _linear_nll(prior, data), _linear_log_evidence(prior, data)
    if data.x.ndim != 2:
        raise ValueError(
            f"data.x has shape {tuple(data.x.shape)}, but the exact posterior of "
            f"{type(prior).__name__} is for 1-d x of shape (n_datasets, n_points)"
        )
    nll = torch.empty(len(data), dtype=torch.float64)
    log_evidence = torch.empty(len(data), dtype=torch.float64)
    for i in range(len(data)):
        k = int(data.n_context[i])
        post = posterior(prior, data.x[i, :k], data.y[i, :k])
        nll[i] = -post.log_density(data.x[i, k:], data.y[i, k:]).mean()
        log_evidence[i] = post.log_evidence
    return nll, log_evidence


def _check_linear_data(prior: LinearPool | LinearGaussian, data: EvalSet) -> None:
    if data.x.ndim != 3 or data.x.shape[-1] != prior.d:
        raise ValueError(
            f"data.x has shape {tuple(data.x.shape)}, but {type(prior).__name__} has d = "
            f"{prior.d} features: x must be (n_datasets, n_points, {prior.d})"
        )


def _linear_nll(prior: LinearPool | LinearGaussian, data: EvalSet) -> Tensor:
    """:func:`exact_nll` of a linear prior: one batched PPD per context size, (n_datasets,)."""
    _check_linear_data(prior, data)
    nll = torch.empty(len(data), dtype=torch.float64)
    for k in data.n_context.unique().tolist():
        idx = (data.n_context == k).nonzero()[:, 0]
        x, y = data.x[idx], data.y[idx]  # (b, n_points, d), (b, n_points)
        log_p = predictive(prior, x[:, :k], y[:, :k], x[:, k:], y[:, k:]).log_density
        assert log_p is not None  # targets were given
        nll[idx] = -log_p.mean(dim=1)
    return nll


def _linear_log_evidence(prior: LinearPool | LinearGaussian, data: EvalSet) -> Tensor:
    """log p(D_i) of each context under a linear prior, shape (n_datasets,).

    Batched per context size; the pool's posterior in chunks of datasets whose (chunk, M) log
    weights hold at most ``linear_posterior.MAX_ELEMENTS`` entries.
    """
    _check_linear_data(prior, data)
    log_evidence = torch.empty(len(data), dtype=torch.float64)
    for k in data.n_context.unique().tolist():
        idx = (data.n_context == k).nonzero()[:, 0]
        if isinstance(prior, LinearGaussian):
            post = gaussian_posterior(prior, data.x[idx, :k], data.y[idx, :k])
            log_evidence[idx] = post.log_evidence
            continue
        for part in idx.split(max(1, MAX_ELEMENTS // prior.n_tasks)):
            log_evidence[part] = pool_posterior(prior, data.x[part, :k],
                                                data.y[part, :k]).log_evidence
    return log_evidence


@torch.no_grad()
def model_nll(model: PFN, data: EvalSet, batch_size: int = 2048) -> Tensor:
    """Mean PFN NLL over each dataset's queries, shape (n_datasets,), float64.

    Datasets with the same context size are run together in batches of ``batch_size``. The
    x of ``data`` must fit the model: (n_datasets, n_points) for ``n_features = 1``, else
    (n_datasets, n_points, n_features).
    """
    was_training = model.training
    model.eval()
    out = torch.empty(len(data), dtype=torch.float64)
    try:
        for k in data.n_context.unique().tolist():
            idx = (data.n_context == k).nonzero()[:, 0]
            for chunk in idx.split(batch_size):
                x, y = data.x[chunk], data.y[chunk]  # (b, n_points[, d]), (b, n_points)
                if model.bar is not None:
                    log_p = model.log_density(x[:, :k], y[:, :k], x[:, k:], y[:, k:])
                else:  # a classifier: log probability of the observed labels
                    logits = model(x[:, :k], y[:, :k], x[:, k:])  # (b, Nq, n_classes)
                    log_p = torch.log_softmax(logits.float(), dim=-1).gather(
                        -1, y[:, k:].long()[..., None])[..., 0]  # (b, Nq)
                out[chunk] = -log_p.to(torch.float64).mean(dim=1)
    finally:
        model.train(was_training)
    return out


@dataclass(frozen=True)
class GapResult:
    """NLL gap of a PFN to the exact PPD, in nats per query.

    Attributes
    ----------
    gap, se : float
        Mean over datasets of (PFN NLL - exact NLL), each averaged over the dataset's
        queries, and its standard error.
    model_nll, exact_nll : float
        The two mean NLLs.
    n_datasets, n_points : int
    """

    gap: float
    se: float
    model_nll: float
    exact_nll: float
    n_datasets: int
    n_points: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def gap_from_nlls(model: Tensor, exact: Tensor, n_points: int) -> GapResult:
    """:class:`GapResult` from per-dataset NLLs (n_datasets,) of the PFN and the exact PPD."""
    if model.shape != exact.shape or model.ndim != 1 or model.numel() < 2:
        raise ValueError("model and exact must be 1-d with the same length >= 2")
    diff = (model - exact).to(torch.float64)
    n = diff.numel()
    return GapResult(
        gap=float(diff.mean()),
        se=float(diff.std(unbiased=True) / math.sqrt(n)),
        model_nll=float(model.mean()),
        exact_nll=float(exact.mean()),
        n_datasets=n,
        n_points=n_points,
    )


def nll_gap(
    model: PFN,
    prior: Any,
    n_datasets: int,
    *,
    n_points: int | None = None,
    seed: int = 0,
    generator: torch.Generator | None = None,
) -> GapResult:
    """Mean NLL of the PFN minus that of the exact PPD on fresh prior datasets.

    Parameters
    ----------
    model : PFN
        A regression PFN (NLL of the bar distribution) or a classifier (cross-entropy).
    prior
        The prior it was trained on (exact PPD via :func:`bayeslens.posterior.posterior`, or
        :func:`bayeslens.linear_posterior.predictive` for the linear priors); its
        ``n_features`` (1 if it has none) must be the model's.
    n_datasets : int
        Fresh datasets; context sizes uniform over 1 .. n_points - 1, as in training.
    n_points : int, optional
        Points per dataset; defaults to ``model.config.max_context + 1``.
    seed, generator
        The datasets come from ``generator``, or from a new one seeded with ``seed``.

    Returns
    -------
    GapResult
        ``gap`` in nats per query, with its standard error ``se``.
    """
    if not isinstance(model, PFN):
        raise ValueError(f"model must be a PFN, got {type(model)}")
    n_features = getattr(prior, "n_features", 1)
    if n_features != model.config.n_features:
        raise ValueError(
            f"the prior {type(prior).__name__} has n_features={n_features} input features, "
            f"but the model was built for n_features={model.config.n_features}"
        )
    n_points = model.config.max_context + 1 if n_points is None else n_points
    if n_points - 1 > model.config.max_context:
        raise ValueError(
            f"n_points={n_points} gives contexts longer than the model's max_context="
            f"{model.config.max_context}"
        )
    gen = generator if generator is not None else torch.Generator().manual_seed(seed)
    data = sample_eval_set(prior, n_datasets, n_points, gen)
    return gap_from_nlls(model_nll(model, data), exact_nll(prior, data), n_points)


@dataclass(frozen=True)
class MeanGap:
    """PFN mean vs exact PPD mean at the queries of one context.

    Attributes
    ----------
    model_mean, exact_mean : Tensor, shape (n_query,)
    max_abs, rms : float
        Largest and root-mean-square absolute difference.
    """

    model_mean: Tensor
    exact_mean: Tensor
    max_abs: float
    rms: float


@torch.no_grad()
def mean_gap(
    model: PFN, prior: Any, x_context: Tensor, y_context: Tensor, x_query: Tensor
) -> MeanGap:
    """The PFN's predictive mean against the exact PPD mean on given inputs.

    Parameters
    ----------
    x_context : Tensor, shape (n_context,), or (n_context, d) for a linear prior
    y_context : Tensor, shape (n_context,)
    x_query : Tensor, shape (n_query,), or (n_query, d) for a linear prior
    """
    if isinstance(prior, LinearPool | LinearGaussian):
        exact = predictive(prior, x_context, y_context, x_query).mean.to(torch.float64)
    else:
        exact = posterior(prior, x_context, y_context).mean(x_query).to(torch.float64)
    pred = model.mean(x_context, y_context, x_query).to(torch.float64)
    diff = (pred - exact).abs()
    return MeanGap(pred, exact, float(diff.max()), float(diff.pow(2).mean().sqrt()))


@dataclass(frozen=True)
class FamilyWeight:
    """The family weight that best explains a predictive mean (two-family mixtures).

    Attributes
    ----------
    weight : float
        ``raw`` clipped to [0, 1]: the implied p(family 0 | D).
    raw : float
        The unconstrained least-squares weight (outside [0, 1] when the mean lies beyond
        either family's).
    residual_rms : float
        RMS over the queries of ``mean - (w * family 0 + (1 - w) * family 1)`` at ``weight``:
        how well two families explain the mean at all (0 for the exact PPD).
    """

    weight: float
    raw: float
    residual_rms: float


def implied_family_weight(mean: Tensor, family_means: Tensor) -> FamilyWeight:
    """Least-squares ``w`` with ``mean ~ w * family_means[0] + (1 - w) * family_means[1]``.

    Parameters
    ----------
    mean : Tensor, shape (n_query,)
    family_means : Tensor, shape (2, n_query)
        E.g. ``bayeslens.ablations.family_means``.
    """
    mean = torch.as_tensor(mean, dtype=torch.float64)
    fm = torch.as_tensor(family_means, dtype=torch.float64)
    if fm.ndim != 2 or fm.shape[0] != 2 or mean.shape != fm.shape[1:]:
        raise ValueError(
            f"need mean (n_query,) and family_means (2, n_query), got {tuple(mean.shape)} "
            f"and {tuple(fm.shape)}"
        )
    d = fm[0] - fm[1]  # (n_query,)
    dd = float(d @ d)
    if dd <= 1e-24 * max(1, mean.numel()):
        raise ValueError("the two family means coincide: no weight is identifiable")
    raw = float((mean - fm[1]) @ d) / dd
    w = min(1.0, max(0.0, raw))
    resid = mean - (w * fm[0] + (1 - w) * fm[1])
    return FamilyWeight(w, raw, float(resid.pow(2).mean().sqrt()))


def network_family_weight(
    model: PFN, prior: Any, x_context: Tensor, y_context: Tensor, x_query: Tensor
) -> FamilyWeight:
    """:func:`implied_family_weight` of the PFN's predictive mean (a two-family mixture prior).

    Parameters
    ----------
    x_context, y_context : Tensor, shape (n_context,)
    x_query : Tensor, shape (n_query,)
    """
    fm = ablations.family_means(prior, x_context, y_context, x_query)
    with torch.no_grad():
        pred = model.mean(x_context, y_context, x_query).to(torch.float64)
    return implied_family_weight(pred, fm)


def network_switch_slope(
    model: PFN, prior: Any, x_query: Tensor, lo: float = 0.21, hi: float = 0.28, *,
    n: int = 10, amplitude: float = 0.2, tol: float = 1e-5,
) -> float | None:
    """The slope at which the PFN's implied family weight on the sloped sine crosses 1/2.

    The network's counterpart of ``bayeslens.ablations.switch_slope``, from the
    unclipped weight (continuous in the slope). None if it does not cross 1/2 in [lo, hi].
    """

    def centred(slope: float) -> float:
        x, y = paper.sloped_sine(slope, amplitude, n)
        return network_family_weight(model, prior, x, y, x_query).raw - 0.5

    return ablations.find_crossing(centred, lo, hi, tol=tol)


@torch.no_grad()
def network_flatness(
    model: PFN, frequencies: Any, n: int, x_query: Tensor, amplitude: float = 0.2
) -> Tensor:
    """Largest ``|PFN mean|`` over ``x_query`` for each context ``amplitude sin(k x)``.

    The network's counterpart of ``bayeslens.ablations.flatness``: shape (n_freq,).
    """
    out = [
        model.mean(*ablations.frequency_context(k, n, amplitude), x_query).abs().max()
        for k in frequencies
    ]
    return torch.stack(out).to(torch.float64) if out else torch.empty(0, dtype=torch.float64)


def gap_curve(models: Mapping[int, PFN], data: EvalSet, exact: Tensor) -> dict[int, GapResult]:
    """The NLL gap of each model, keyed by training step, all on the same datasets.

    Parameters
    ----------
    models : mapping of int to PFN
        E.g. ``TrainResult.snapshots`` (and the untrained model at step 0).
    data : EvalSet
    exact : Tensor, shape (n_datasets,)
        :func:`exact_nll` of ``data``, computed once for every model.

    Returns
    -------
    dict of int to GapResult
        In order of step. Paired: every model sees the same datasets.
    """
    n_points = int(data.x.shape[1])
    return {step: gap_from_nlls(model_nll(m, data), exact, n_points)
            for step, m in sorted(models.items())}


# ------------------------------------------------------------------------------- sequences


@dataclass(frozen=True)
class SequenceKL:
    """KL(exact || network) of the next-token distributions, in nats per token (or of any
    per-token values, :func:`summarise_per_token`).

    Attributes
    ----------
    per_position, per_position_se : Tensor, shape (length,), float64
        Mean over the sequences of the KL at position t (the prediction of x_{t+1} after
        x_1..x_t; t = 0 is the first token), and its standard error.
    mean, se : float
        Mean over sequences and positions, and its standard error from the spread of the
        per-sequence means (the sequences are independent; a sequence's positions are not).
    n_sequences, length : int
    """

    per_position: Tensor
    per_position_se: Tensor
    mean: float
    se: float
    n_sequences: int
    length: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: the per-position tensors as lists."""
        return {"per_position": self.per_position.tolist(),
                "per_position_se": self.per_position_se.tolist(), "mean": self.mean,
                "se": self.se, "n_sequences": self.n_sequences, "length": self.length}


def kl_per_token(exact: Tensor, approx: Tensor) -> Tensor:
    """KL(exact || approx) of the next-token distributions, one per sequence and position.

    Parameters
    ----------
    exact, approx : Tensor, shape (n_sequences, length, V)
        Log next-token distributions in the layout of
        :func:`bayeslens.sequence_posterior.next_token_log_probs`. Tokens that ``exact``
        gives probability 0 (log -inf) add nothing.

    Returns
    -------
    Tensor, shape (n_sequences, length), float64
        Nats per token.
    """
    if not isinstance(exact, Tensor) or not isinstance(approx, Tensor):
        raise ValueError("exact and approx must be tensors of log probabilities")
    if exact.shape != approx.shape or exact.ndim != 3:
        raise ValueError(
            "exact and approx must have the same shape (n_sequences, length, V), got "
            f"{tuple(exact.shape)} and {tuple(approx.shape)}"
        )
    log_p, log_q = exact.to(torch.float64), approx.to(torch.float64)
    p = log_p.exp()
    return torch.where(p > 0, p * (log_p - log_q), torch.zeros_like(p)).sum(-1)


def summarise_per_token(values: Tensor) -> SequenceKL:
    """Per-position means and the overall mean of per-token values, with standard errors.

    Parameters
    ----------
    values : Tensor, shape (n_sequences, length)
        E.g. :func:`kl_per_token`, or the paired difference of two such KLs on the same
        sequences (whose standard error is then that of the difference).

    Returns
    -------
    SequenceKL
        The standard errors come from the spread over the independent sequences (a sequence's
        positions are not independent).
    """
    if not isinstance(values, Tensor) or values.ndim != 2 or values.shape[0] < 2:
        raise ValueError(
            "values must be a tensor of shape (n_sequences, length) with n_sequences >= 2 "
            f"(for a standard error), got {getattr(values, 'shape', type(values).__name__)}"
        )
    v = values.to(torch.float64)
    n, length = v.shape
    per_sequence = v.mean(1)  # (n,)
    return SequenceKL(
        per_position=v.mean(0), per_position_se=v.std(0, unbiased=True) / math.sqrt(n),
        mean=float(per_sequence.mean()),
        se=float(per_sequence.std(unbiased=True) / math.sqrt(n)),
        n_sequences=n, length=length,
    )


def kl_from_log_probs(exact: Tensor, approx: Tensor) -> SequenceKL:
    """KL(exact || approx) at every position of a batch of sequences.

    Parameters
    ----------
    exact, approx : Tensor, shape (n_sequences, length, V)
        Log next-token distributions in the layout of
        :func:`bayeslens.sequence_posterior.next_token_log_probs` (any predictor: the network,
        a uniform or unigram baseline, another prior's exact predictive). Tokens that
        ``exact`` gives probability 0 (log -inf) add nothing.

    Returns
    -------
    SequenceKL
    """
    if not isinstance(exact, Tensor) or not isinstance(approx, Tensor):
        raise ValueError("exact and approx must be tensors of log probabilities")
    if exact.shape != approx.shape or exact.ndim != 3 or exact.shape[0] < 2:
        raise ValueError(
            "exact and approx must have the same shape (n_sequences, length, V) with "
            f"n_sequences >= 2 (for a standard error), got {tuple(exact.shape)} and "
            f"{tuple(approx.shape)}"
        )
    return summarise_per_token(kl_per_token(exact, approx))


def _check_sequence_pair(model: object, prior: object) -> None:
    if not isinstance(model, SequenceModel):
        raise ValueError(f"model must be a SequenceModel, got {type(model).__name__}")
    if not isinstance(prior, MarkovPool | DirichletMarkov):
        raise ValueError(
            f"prior must be a MarkovPool or a DirichletMarkov, got {type(prior).__name__}"
        )
    if prior.vocab_size != model.config.vocab_size:
        raise ValueError(
            f"the prior has vocab_size={prior.vocab_size}, the model "
            f"{model.config.vocab_size}; they must be equal"
        )


@torch.no_grad()
def _model_log_probs(model: SequenceModel, tokens: Tensor, batch_size: int) -> Tensor:
    """The network's next-token log-probs, (n, length, V) float64, in eval mode, in chunks."""
    was_training = model.training
    model.eval()
    try:
        return torch.cat([model.next_token_log_probs(chunk).to(torch.float64)
                          for chunk in tokens.split(batch_size)])
    finally:
        model.train(was_training)


def sequence_kl(
    model: SequenceModel,
    prior: MarkovPool | DirichletMarkov,
    n_sequences: int,
    *,
    length: int | None = None,
    seed: int = 0,
    generator: torch.Generator | None = None,
    batch_size: int = 1024,
) -> SequenceKL:
    """KL(exact || network) per position on fresh sequences from the prior.

    Parameters
    ----------
    model : SequenceModel
    prior : MarkovPool or DirichletMarkov
        The prior it was trained on; its ``vocab_size`` must be the model's.
    n_sequences : int >= 2
    length : int, optional
        Tokens per sequence; defaults to ``model.config.max_length``.
    seed, generator
        The sequences come from ``generator``, or from a new one seeded with ``seed``.

    Returns
    -------
    SequenceKL
        Per-position and mean KL in nats per token, with standard errors.
    """
    _check_sequence_pair(model, prior)
    if not isinstance(n_sequences, int) or isinstance(n_sequences, bool) or n_sequences < 2:
        raise ValueError(
            f"n_sequences must be an int >= 2 (for a standard error), got {n_sequences!r}"
        )
    length = model.config.max_length if length is None else length
    if not isinstance(length, int) or isinstance(length, bool) or not (
        1 <= length <= model.config.max_length
    ):
        raise ValueError(
            f"length must be an int in 1 .. max_length={model.config.max_length}, got {length!r}"
        )
    gen = generator if generator is not None else torch.Generator().manual_seed(seed)
    tokens = prior.sample(n_sequences, length, gen).tokens  # (n, length)
    return sequence_kl_curve({0: model}, prior, tokens, batch_size=batch_size)[0]


def sequence_kl_curve(
    models: Mapping[int, SequenceModel],
    prior: MarkovPool | DirichletMarkov,
    tokens: Tensor,
    *,
    batch_size: int = 1024,
) -> dict[int, SequenceKL]:
    """KL(exact || network) of each model on the same sequences, keyed by training step.

    Parameters
    ----------
    models : mapping of int to SequenceModel
        E.g. ``TrainResult.snapshots`` (and the untrained model at step 0).
    prior : MarkovPool or DirichletMarkov
    tokens : Tensor, shape (n_sequences, length), int64
        The evaluation sequences; the exact predictive is computed once for all models.

    Returns
    -------
    dict of int to SequenceKL
        In order of step.
    """
    for m in models.values():
        _check_sequence_pair(m, prior)
    x = check_tokens(prior, tokens)
    exact = next_token_log_probs(prior, x)  # (n, length, V) float64
    return {step: kl_from_log_probs(exact, _model_log_probs(m, x, batch_size))
            for step, m in sorted(models.items())}


BASELINES = ("uniform", "unigram", "bigram")
"""The in-context predictors of :mod:`bayeslens.sequence_posterior` that know no prior."""
PREDICTORS = ("exact", *BASELINES)
"""Predictors :func:`predictor_log_probs` knows by name; it also takes a SequenceModel."""


def _baseline_alpha(prior: MarkovPool | DirichletMarkov, alpha: float | None) -> float:
    """The add-alpha of the unigram and bigram baselines: ``alpha``, else the prior's."""
    if alpha is not None:
        return alpha
    if prior.alpha is None:
        raise ValueError(
            "alpha must be given for a pool made from explicit transitions (it has no "
            "Dirichlet alpha to default to)"
        )
    return prior.alpha


def predictor_log_probs(
    predictor: str | SequenceModel,
    prior: MarkovPool | DirichletMarkov,
    tokens: Tensor,
    *,
    alpha: float | None = None,
    batch_size: int = 1024,
) -> Tensor:
    """A predictor's next-token log-probs on given sequences.

    Parameters
    ----------
    predictor : str or SequenceModel
        ``"exact"`` (``prior``'s exact predictive), ``"uniform"``, ``"unigram"``, ``"bigram"``
        (:func:`~bayeslens.sequence_posterior.uniform_log_probs` and the others, over the
        prior's vocabulary), or a network (in eval mode, ``batch_size`` sequences at a time).
    prior : MarkovPool or DirichletMarkov
    tokens : Tensor, shape (n_sequences, length), int64
    alpha : float, optional
        Add-alpha of the unigram and bigram predictors; default the prior's Dirichlet alpha
        (then "bigram" on a DirichletMarkov is its exact predictive).

    Returns
    -------
    Tensor, shape (n_sequences, length, V), float64
        The layout of :func:`~bayeslens.sequence_posterior.next_token_log_probs`.
    """
    if isinstance(predictor, SequenceModel):
        _check_sequence_pair(predictor, prior)
        return _model_log_probs(predictor, check_tokens(prior, tokens), batch_size)
    if not isinstance(prior, MarkovPool | DirichletMarkov):
        raise ValueError(
            f"prior must be a MarkovPool or a DirichletMarkov, got {type(prior).__name__}"
        )
    if predictor == "exact":
        return next_token_log_probs(prior, tokens)
    v = prior.vocab_size
    if predictor == "uniform":
        return uniform_log_probs(check_tokens(prior, tokens), v)
    if predictor == "unigram":
        return unigram_log_probs(check_tokens(prior, tokens), v, _baseline_alpha(prior, alpha))
    if predictor == "bigram":
        return bigram_log_probs(check_tokens(prior, tokens), v, _baseline_alpha(prior, alpha))
    raise ValueError(
        f"predictor must be one of {PREDICTORS} or a SequenceModel, got {predictor!r}"
    )


def predictor_kl(
    prior: MarkovPool | DirichletMarkov,
    tokens: Tensor,
    p: str | SequenceModel = "exact",
    q: str | SequenceModel = "uniform",
    *,
    alpha: float | None = None,
) -> SequenceKL:
    """KL(p || q) per position between two predictors (:func:`predictor_log_probs`) on the
    same sequences ``tokens`` (n_sequences >= 2, length), in nats per token."""
    return kl_from_log_probs(predictor_log_probs(p, prior, tokens, alpha=alpha),
                             predictor_log_probs(q, prior, tokens, alpha=alpha))


def baseline_kls(
    prior: MarkovPool | DirichletMarkov, tokens: Tensor, *, alpha: float | None = None
) -> dict[str, SequenceKL]:
    """KL(exact || baseline) for each of :data:`BASELINES` on the sequences ``tokens``.

    The exact predictive is computed once. On a DirichletMarkov with its own alpha the
    bigram baseline is the exact predictive, so its KL is 0.

    Returns
    -------
    dict of str to SequenceKL
        Keyed ``"uniform"``, ``"unigram"``, ``"bigram"``.
    """
    exact = predictor_log_probs("exact", prior, tokens)
    return {name: kl_from_log_probs(exact, predictor_log_probs(name, prior, tokens, alpha=alpha))
            for name in BASELINES}


@dataclass(frozen=True)
class NextToken:
    """The next token after one prefix: the exact predictive beside the network's.

    Attributes
    ----------
    prefix : tuple of int
        x_1 .. x_t, t >= 0 tokens.
    exact, network : Tensor, shape (V,), float64
        p(x_{t+1} = v | prefix) and the network's q(x_{t+1} = v | prefix); after no tokens,
        the exact side is the initial distribution.
    kl : float
        KL(exact || network), nats.
    posterior : Tensor, shape (K,), float64, or None
        For a :class:`~bayeslens.sequences.MarkovPool`, p(chain k | prefix) (the prior after
        no tokens); None for a DirichletMarkov, which has no finite set of chains.
    """

    prefix: tuple[int, ...]
    exact: Tensor
    network: Tensor
    kl: float
    posterior: Tensor | None


def _check_prefix(prefix: object, vocab_size: int, max_prefix: int) -> tuple[int, ...]:
    if isinstance(prefix, Tensor):
        if prefix.ndim != 1 or prefix.dtype.is_floating_point:
            raise ValueError(f"prefix must be a 1-d integer tensor, got shape "
                             f"{tuple(prefix.shape)} and dtype {prefix.dtype}")
        prefix = prefix.tolist()
    elif hasattr(prefix, "tolist") and hasattr(prefix, "ndim"):  # a numpy array
        prefix = prefix.tolist() if prefix.ndim == 1 else prefix
    if isinstance(prefix, str | bytes) or not isinstance(prefix, list | tuple):
        raise ValueError(f"prefix must be a sequence of ints, got {type(prefix).__name__} "
                         "(parse typed text with bayeslens.token_explorer.parse_tokens)")
    bad = [v for v in prefix if not isinstance(v, int) or isinstance(v, bool)
           or not 0 <= v < vocab_size]
    if bad:
        raise ValueError(f"prefix must hold tokens 0 .. {vocab_size - 1}, got {bad[0]!r}")
    if len(prefix) > max_prefix:
        raise ValueError(
            f"prefix has {len(prefix)} tokens; the network reads at most {max_prefix} before "
            f"it predicts the next (max_length={max_prefix + 1} positions, its start token "
            "included)"
        )
    return tuple(prefix)


def next_token_after(
    model: SequenceModel, prior: MarkovPool | DirichletMarkov, prefix: object
) -> NextToken:
    """The exact and the network's distribution of the token after ``prefix``.

    Parameters
    ----------
    model : SequenceModel
    prior : MarkovPool or DirichletMarkov
        Its ``vocab_size`` must be the model's.
    prefix : sequence of int, or Tensor or array of shape (t,)
        0 <= t <= ``model.config.max_length - 1`` tokens in 0 .. V-1: the prediction after
        them is the model's output at position t, which reads its start token and t tokens.

    Returns
    -------
    NextToken

    Raises
    ------
    ValueError
        Naming ``prefix`` for a token outside the vocabulary or a prefix longer than the
        network reads; from the exact side if a pool gives the prefix probability 0.
    """
    _check_sequence_pair(model, prior)
    x = _check_prefix(prefix, prior.vocab_size, model.config.max_length - 1)
    t = len(x)
    # a placeholder token after the prefix: position t predicts it, nothing reads it
    tokens = torch.tensor([[*x, 0]], dtype=torch.int64)  # (1, t + 1)
    log_p = next_token_log_probs(prior, tokens)[0, t]  # (V,) float64
    log_q = _model_log_probs(model, tokens, 1)[0, t]  # (V,) float64 of float32 outputs
    kl = float(kl_per_token(log_p[None, None], log_q[None, None]))
    post = None
    if isinstance(prior, MarkovPool):
        post = (log_posterior(prior, tokens[:, :t])[0, t] if t else prior.log_prior()).exp()
    return NextToken(x, log_p.exp(), log_q.exp(), kl, post)
