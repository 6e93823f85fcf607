"""What training on prior data computes: cross-entropy, KL and the posterior (chapters 1-2).

Chapter 1 (T in EXPERIMENTS.md) uses one small discrete world, a coin: a heads probability q
is drawn from a :class:`~bayeslens.priors.CoinPrior`, the *context* is ``n_flips`` flips of
that coin, summarised by its number of heads x = k in {0, ..., n_flips}, and the *target* is
the next flip y in {0, 1}. The joint p(x, y) is a small table, so the decomposition

    E[-log q(y | x)] = E_x KL(p(y | x) || q(y | x)) + H(Y | X)

can be checked to rounding error, and so can what training converges to:

* on **fresh data** at every step the expected loss above is minimised by q = p(y | x), the
  posterior predictive (PPD);
* for **many epochs on one fixed data set** the loss is the empirical one, minimised by the
  maximum-likelihood (MLE) fit to that set: for a model with one logit per context value x
  (the most flexible model there is here), the fraction of heads among that set's targets
  with context x.

Chapter 2 (E6) uses the coin with a prior that excludes the truth, where the likelihood of n
flips is replaced by its expectation (the "expected likelihood") so that curves are smooth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from bayeslens.priors import CoinPrior

__all__ = [
    "CoinTask",
    "TrainConfig",
    "TrainHistory",
    "coin_joint",
    "conditional_entropy",
    "cross_entropy",
    "crossover_truth",
    "excess_empirical_loss",
    "expected_coin_log_weights",
    "expected_coin_ppd",
    "expected_kl",
    "kl_bernoulli",
    "kl_to_ppd",
    "mle_fit",
    "monte_carlo_cross_entropy",
    "posterior_predictive_table",
    "sample_tasks",
    "sampled_coin_ppd",
    "train_tabular",
]

DTYPE = torch.float64


# --------------------------------------------------------------------------------------------
# The discrete world of chapter 1
# --------------------------------------------------------------------------------------------


def _check_n_flips(n_flips: int) -> None:
    if not isinstance(n_flips, int) or n_flips < 0:
        raise ValueError(f"n_flips must be an int >= 0, got {n_flips!r}")


def coin_joint(prior: CoinPrior, n_flips: int) -> Tensor:
    """The joint p(x, y) of heads in the context (x = k) and the next flip (y).

    p(k, y) = sum_q p(q) C(n, k) q^k (1 - q)^(n - k) q^y (1 - q)^(1 - y).

    Returns
    -------
    Tensor, shape (n_flips + 1, 2)
        Sums to one; column 1 is y = 1 (heads).
    """
    _check_n_flips(n_flips)
    q = prior.q.values  # (n_latents,)
    w = prior.log_prior().exp()  # (n_latents,)
    k = torch.arange(n_flips + 1, dtype=DTYPE)[:, None]  # (n_x, 1)
    log_binom = (
        math.lgamma(n_flips + 1) - torch.lgamma(k + 1) - torch.lgamma(n_flips - k + 1)
    )
    # xlogy keeps 0 * log(0) = 0 for coins at q = 0 or 1
    log_pk = log_binom + torch.xlogy(k, q) + torch.xlogy(n_flips - k, 1 - q)  # (n_x, n_latents)
    pk = log_pk.exp() * w  # (n_x, n_latents)
    return torch.stack([(pk * (1 - q)).sum(-1), (pk * q).sum(-1)], dim=-1)


def posterior_predictive_table(joint: Tensor) -> Tensor:
    """p(y | x) from a joint table, shape (n_x, 2); rows with p(x) = 0 are NaN."""
    return joint / joint.sum(-1, keepdim=True)


def conditional_entropy(joint: Tensor) -> float:
    """H(Y | X) in nats of a joint table (n_x, n_y)."""
    cond = posterior_predictive_table(joint)
    return float(-(torch.xlogy(joint, cond.nan_to_num(1.0))).sum())


def _check_predictor(joint: Tensor, q_pred: Tensor) -> Tensor:
    q_pred = torch.as_tensor(q_pred, dtype=DTYPE)
    if q_pred.shape != joint.shape:
        raise ValueError(f"q_pred must have shape {tuple(joint.shape)}, got {tuple(q_pred.shape)}")
    if (q_pred < 0).any() or not torch.allclose(q_pred.sum(-1), torch.ones((), dtype=DTYPE)):
        raise ValueError("q_pred must hold one probability distribution per row")
    return q_pred


def cross_entropy(joint: Tensor, q_pred: Tensor) -> float:
    """E_{p(x, y)}[-log q(y | x)] in nats, for a predictor table q_pred (n_x, n_y)."""
    q_pred = _check_predictor(joint, q_pred)
    return float(-(torch.xlogy(joint, q_pred)).sum())


def expected_kl(joint: Tensor, q_pred: Tensor) -> float:
    """E_{p(x)} KL(p(y | x) || q(y | x)) in nats."""
    q_pred = _check_predictor(joint, q_pred)
    cond = posterior_predictive_table(joint).nan_to_num(1.0)
    return float((torch.xlogy(joint, cond) - torch.xlogy(joint, q_pred)).sum())


def monte_carlo_cross_entropy(
    joint: Tensor, q_pred: Tensor, n_samples: int, generator: torch.Generator
) -> tuple[float, float]:
    """Monte-Carlo estimate of :func:`cross_entropy` from ``n_samples`` draws of (x, y).

    Returns
    -------
    (estimate, standard_error)
    """
    q_pred = _check_predictor(joint, q_pred)
    flat = torch.multinomial(joint.reshape(-1), n_samples, replacement=True, generator=generator)
    losses = -torch.log(q_pred.reshape(-1)[flat])
    return float(losses.mean()), float(losses.std() / math.sqrt(n_samples))


@dataclass(frozen=True)
class CoinTask:
    """Tasks (context summary, target) drawn from the coin world.

    Attributes
    ----------
    x : Tensor, shape (n_tasks,), int64
        Heads among the ``n_flips`` context flips.
    y : Tensor, shape (n_tasks,), int64
        The next flip (1 = heads).
    """

    x: Tensor
    y: Tensor


def sample_tasks(
    prior: CoinPrior, n_flips: int, n_tasks: int, generator: torch.Generator
) -> CoinTask:
    """Draw ``n_tasks`` tasks: a coin from the prior, ``n_flips`` + 1 flips of it."""
    _check_n_flips(n_flips)
    batch = prior.sample(n_tasks, n_flips + 1, generator)
    flips = batch.y.long()  # (n_tasks, n_flips + 1)
    return CoinTask(flips[:, :n_flips].sum(-1), flips[:, n_flips])


def mle_fit(tasks: CoinTask, n_flips: int) -> Tensor:
    """Maximum-likelihood P(y = 1 | x) of the one-logit-per-x model on a fixed set of tasks.

    Returns
    -------
    Tensor, shape (n_flips + 1,)
        The fraction of heads among targets with context x; NaN where x never occurs (the
        likelihood does not depend on that logit).
    """
    n_x = n_flips + 1
    count = torch.bincount(tasks.x, minlength=n_x).to(DTYPE)
    heads = torch.bincount(tasks.x, weights=tasks.y.to(DTYPE), minlength=n_x)
    return torch.where(count > 0, heads / count.clamp(min=1), torch.nan)


@dataclass(frozen=True)
class TrainConfig:
    """Training the one-logit-per-x model with Adam on the cross-entropy.

    Attributes
    ----------
    n_flips : int
        Context length (x takes n_flips + 1 values).
    n_steps, batch_size : int
    lr : float
    fixed_tasks : int or None
        None: fresh tasks from the prior at every step. An int: that many tasks drawn once
        and trained on for many epochs (mini-batches drawn with replacement from the set).
    n_checkpoints : int
        Predictions are recorded at this many log-spaced steps (plus step 0).
    seed : int
    """

    n_flips: int = 4
    n_steps: int = 20_000
    batch_size: int = 32
    lr: float = 0.05
    fixed_tasks: int | None = None
    n_checkpoints: int = 20
    seed: int = 0


@dataclass(frozen=True)
class TrainHistory:
    """What a run of :func:`train_tabular` saw and predicted.

    Attributes
    ----------
    steps : Tensor, shape (n_checkpoints + 1,), int64
    prob_one : Tensor, shape (n_checkpoints + 1, n_flips + 1)
        P(y = 1 | x) of the model at each recorded step.
    train_tasks : CoinTask or None
        The fixed training set (None for fresh data).
    """

    steps: Tensor
    prob_one: Tensor
    train_tasks: CoinTask | None

    @property
    def final(self) -> Tensor:
        """P(y = 1 | x) after the last step, shape (n_flips + 1,)."""
        return self.prob_one[-1]


def _checkpoint_steps(n_steps: int, n_checkpoints: int) -> list[int]:
    steps = torch.logspace(0, math.log10(n_steps), n_checkpoints).round().long().tolist()
    return sorted({0, *steps, n_steps})


def _batch_counts(tasks: CoinTask, n_steps: int, batch_size: int, n_x: int) -> Tensor:
    """Per step and context value: (number of tasks, number of heads), shape (n_steps, n_x, 2)."""
    step = torch.arange(n_steps).repeat_interleave(batch_size)
    flat = step * n_x + tasks.x
    count = torch.bincount(flat, minlength=n_steps * n_x).to(DTYPE)
    heads = torch.bincount(flat, weights=tasks.y.to(DTYPE), minlength=n_steps * n_x)
    return torch.stack([count, heads], dim=-1).reshape(n_steps, n_x, 2)


def train_tabular(prior: CoinPrior, cfg: TrainConfig) -> TrainHistory:
    """Train logits theta_x (one per context value) to predict the next flip.

    Adam with a cosine learning-rate decay on the mean cross-entropy of each batch; the model
    starts at q = 1/2. The batches are drawn up front, and since the gradient of the mean
    cross-entropy with respect to theta_x is (n_x sigmoid(theta_x) - heads_x) / batch_size,
    only the per-step counts are kept: the same updates as autograd on the batch, but fast.
    """
    gen = torch.Generator().manual_seed(cfg.seed)
    n_x = cfg.n_flips + 1
    n_draws = cfg.n_steps * cfg.batch_size
    if cfg.fixed_tasks is None:
        fixed = None
        batches = sample_tasks(prior, cfg.n_flips, n_draws, gen)
    else:
        fixed = sample_tasks(prior, cfg.n_flips, cfg.fixed_tasks, gen)
        idx = torch.randint(0, cfg.fixed_tasks, (n_draws,), generator=gen)
        batches = CoinTask(fixed.x[idx], fixed.y[idx])
    counts = _batch_counts(batches, cfg.n_steps, cfg.batch_size, n_x)  # (n_steps, n_x, 2)

    theta = torch.zeros(n_x, dtype=DTYPE, requires_grad=True)
    opt = torch.optim.Adam([theta], lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(cfg.n_steps, 1))
    record = set(_checkpoint_steps(cfg.n_steps, cfg.n_checkpoints))
    steps, probs = [], []
    for step in range(cfg.n_steps + 1):
        if step in record:
            steps.append(step)
            probs.append(torch.sigmoid(theta.detach()).clone())
        if step == cfg.n_steps:
            break
        with torch.no_grad():
            theta.grad = (counts[step, :, 0] * torch.sigmoid(theta) - counts[step, :, 1]) / (
                cfg.batch_size
            )
        opt.step()
        sched.step()
    return TrainHistory(torch.tensor(steps), torch.stack(probs), fixed)


def _as_tables(prob_one: Tensor) -> Tensor:
    """(..., n_x) probabilities of y = 1 as (..., n_x, 2) tables, clamped away from 0 and 1."""
    p = torch.as_tensor(prob_one, dtype=DTYPE).clamp(1e-12, 1 - 1e-12)
    return torch.stack([1 - p, p], dim=-1)


def kl_to_ppd(joint: Tensor, prob_one: Tensor) -> Tensor:
    """E_x KL(p(y | x) || q(y | x)) for predictors given as P(y = 1 | x).

    Parameters
    ----------
    joint : Tensor, shape (n_x, 2)
    prob_one : Tensor, shape (..., n_x)

    Returns
    -------
    Tensor, shape (...)
        The excess expected loss over the best possible, H(Y | X); zero only at the PPD.
    """
    q = _as_tables(prob_one)  # (..., n_x, 2)
    cond = posterior_predictive_table(joint).nan_to_num(1.0)
    return (torch.xlogy(joint, cond) - torch.xlogy(joint, q)).sum((-1, -2))


def excess_empirical_loss(tasks: CoinTask, prob_one: Tensor) -> Tensor:
    """Mean -log q(y_i | x_i) on a fixed task set minus its minimum (reached by the MLE).

    Parameters
    ----------
    tasks : CoinTask
        The fixed set.
    prob_one : Tensor, shape (..., n_x)

    Returns
    -------
    Tensor, shape (...)
        Zero only where q agrees with :func:`mle_fit` on every x the set contains.
    """
    q = _as_tables(prob_one)  # (..., n_x, 2)
    n_x = q.shape[-2]
    mle = _as_tables(mle_fit(tasks, n_x - 1).nan_to_num(0.5))  # (n_x, 2)
    counts = torch.zeros(n_x, 2, dtype=DTYPE)
    counts.index_put_((tasks.x, tasks.y), torch.ones(tasks.x.numel(), dtype=DTYPE), accumulate=True)
    counts = counts / tasks.x.numel()
    return (torch.xlogy(counts, mle) - torch.xlogy(counts, q)).sum((-1, -2))


# --------------------------------------------------------------------------------------------
# E6: a posterior converging to the wrong coin
# --------------------------------------------------------------------------------------------


def kl_bernoulli(p: float | Tensor, q: float | Tensor) -> Tensor:
    """KL(Bernoulli(p) || Bernoulli(q)) in nats (broadcasting)."""
    p = torch.as_tensor(p, dtype=DTYPE)
    q = torch.as_tensor(q, dtype=DTYPE)
    return torch.xlogy(p, p / q) + torch.xlogy(1 - p, (1 - p) / (1 - q))


def crossover_truth(q_low: float, q_high: float) -> float:
    """The true heads probability at which two coins are equally close in KL.

    Solves KL(p || q_low) = KL(p || q_high): p = log((1-q_low)/(1-q_high)) /
    (log(q_high/q_low) + log((1-q_low)/(1-q_high))). Truths below it favour q_low.
    """
    if not 0 < q_low < q_high < 1:
        raise ValueError(f"need 0 < q_low < q_high < 1, got {q_low}, {q_high}")
    a = math.log(q_high / q_low)
    b = math.log((1 - q_low) / (1 - q_high))
    return b / (a + b)


def expected_coin_log_weights(prior: CoinPrior, p_true: float, n: Tensor | list[int]) -> Tensor:
    """Posterior log weights after n flips, with the log-likelihood replaced by its mean.

    log w_q(n) = log p(q) + n [p log q + (1 - p) log(1 - q)] - log Z(n): the posterior of a
    "typical" sequence of n flips of a coin with heads probability ``p_true``.

    Returns
    -------
    Tensor, shape (len(n), n_latents)
    """
    n_t = torch.as_tensor(n, dtype=DTYPE).reshape(-1, 1)  # (n_n, 1)
    q = prior.q.values
    expected_ll = torch.xlogy(torch.tensor(p_true, dtype=DTYPE), q) + torch.xlogy(
        torch.tensor(1 - p_true, dtype=DTYPE), 1 - q
    )  # (n_latents,)
    logits = prior.log_prior() + n_t * expected_ll
    return logits - torch.logsumexp(logits, dim=-1, keepdim=True)


def expected_coin_ppd(prior: CoinPrior, p_true: float, n: Tensor | list[int]) -> Tensor:
    """P(next flip = heads) under :func:`expected_coin_log_weights`, shape (len(n),)."""
    return (expected_coin_log_weights(prior, p_true, n).exp() * prior.q.values).sum(-1)


def sampled_coin_ppd(
    prior: CoinPrior, p_true: float, n_max: int, n_paths: int, generator: torch.Generator
) -> Tensor:
    """P(next flip = heads) after each of ``n_max`` real flips, along ``n_paths`` sequences.

    Returns
    -------
    Tensor, shape (n_paths, n_max + 1)
        Column n is the posterior predictive after the first n flips (column 0: the prior's).
    """
    flips = (torch.rand(n_paths, n_max, generator=generator, dtype=DTYPE) < p_true).to(DTYPE)
    heads = torch.cat([torch.zeros(n_paths, 1, dtype=DTYPE), flips.cumsum(-1)], dim=-1)
    n = torch.arange(n_max + 1, dtype=DTYPE)
    q = prior.q.values
    log_lik = (
        torch.xlogy(heads[..., None], q) + torch.xlogy((n - heads)[..., None], 1 - q)
    )  # (n_paths, n_max + 1, n_latents)
    logits = prior.log_prior() + log_lik
    weights = torch.softmax(logits, dim=-1)
    return (weights * q).sum(-1)
