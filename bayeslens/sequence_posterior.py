"""Exact posteriors and next-token predictives for the sequence priors of
:mod:`bayeslens.sequences`.

Tokens x_1 .. x_T (``tokens[:, 0]`` is x_1). Every function returns, at position t = 0 .. T-1,
the answer after the first t tokens, so position 0 is the prior predictive of x_1: the initial
distribution.

* **Markov pool** (K chains P_k, prior w_k, initial q):

      log p(x_1..x_t | k) = log q(x_1) + sum_{s<t} log P_k[x_s, x_{s+1}],
      p(k | x_1..x_t) ∝ w_k p(x_1..x_t | k),
      p(x_{t+1} = v | x_1..x_t) = sum_k p(k | x_1..x_t) P_k[x_t, v].

  The log-likelihoods are a running sum over positions of gathered log transitions,
  (batch, length, K).
  The predictive is a matrix product per previous token, scaled so that each factor lies in
  [0, 1]; where the scaled sum falls below ``UNDERFLOW`` it is redone as an exact logsumexp.

* **Dirichlet-Markov** (rows i.i.d. Dirichlet(alpha)): the posterior of row i is
  Dirichlet(alpha + n_i.), with n_ij the count of the bigram (i, j) in the prefix, so

      p(x_{t+1} = v | x_1..x_t) = (n_{x_t v} + alpha) / (n_{x_t .} + V alpha).

* **In-context baselines** that know no prior, only the vocabulary (Edelman et al., 2024: a
  transformer trained on Dirichlet-Markov sequences passes through them): the **uniform**
  predictor, 1 / V everywhere; the **unigram** predictor, add-alpha counts of the tokens so
  far, (n_v + alpha) / (t + V alpha) after t tokens; the **bigram** predictor, add-alpha counts
  of the bigrams from the last token, which is the Dirichlet-Markov predictive above
  (uniform first token). They share the layout of :func:`next_token_log_probs`, so
  :func:`bayeslens.evaluate.kl_from_log_probs` compares any two of them.

* **Where a pool's posterior goes** on a chain Q outside it (Berk, 1966): to the chains P_k
  nearest Q in the per-token KL, the **KL rate**
  ``kl_rate(Q, P_k) = sum_i pi_Q(i) KL(Q[i] || P_k[i])``, with pi_Q the stationary
  distribution of Q: the log-likelihood ratio of Q to P_k grows by that much per token.

Everything is float64 and log space, vectorised over the batch; the slow, obviously right
references live in ``tests/test_sequences.py`` (the baselines': ``tests/test_sequence_pools.py``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from bayeslens.priors import DTYPE
from bayeslens.sequences import DirichletMarkov, MarkovPool, SequencePrior

__all__ = [
    "bigram_log_probs",
    "check_tokens",
    "kl_rate",
    "log_evidence",
    "log_posterior",
    "next_token_log_probs",
    "stationary_distribution",
    "uniform_log_probs",
    "unigram_log_probs",
]

UNDERFLOW = 1e-250
"""A scaled predictive sum below this is recomputed with logsumexp. Above it, the terms lost to
underflow and the weights raised to ``exp(LOG_FLOOR)`` (each < 1e-304, at most 2K of them)
change the log by less than 1e-50."""
LOG_FLOOR = -700.0
"""Chain weights below exp(-700) = 1e-304 of the best chain's are raised to it before ``exp``:
exp is several times slower where its result is subnormal, and the change is far below float64
resolution of any sum of at least 1e-250."""
CHUNK_ELEMENTS = 2**23
"""The pool's predictive handles sequences in chunks of about this many (position, chain)
entries (64 MB of float64), so memory stays flat in the batch size."""


# --------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------


def _check_prior(prior: object) -> SequencePrior:
    if not isinstance(prior, MarkovPool | DirichletMarkov):
        raise ValueError(
            f"prior must be a MarkovPool or a DirichletMarkov, got {type(prior).__name__}"
        )
    return prior


def check_tokens(prior: SequencePrior, tokens: object) -> Tensor:
    """Validate a batch of sequences and return it as an int64 tensor (batch, length).

    Raises
    ------
    ValueError
        If `tokens` is not an int64 tensor (or a nested list of ints) of shape (batch, length)
        with batch, length >= 1, or holds a token outside 0 .. V-1.
    """
    prior = _check_prior(prior)
    if not isinstance(tokens, Tensor):
        try:
            tokens = torch.as_tensor(tokens)
        except (TypeError, ValueError, RuntimeError) as err:
            raise ValueError(f"tokens must be an int64 tensor, got {type(tokens)}") from err
    if tokens.dtype != torch.int64:
        raise ValueError(f"tokens must have dtype int64, got {tokens.dtype}")
    if tokens.ndim != 2 or tokens.shape[0] < 1 or tokens.shape[1] < 1:
        raise ValueError(
            f"tokens must have shape (batch, length) with batch, length >= 1, got shape "
            f"{tuple(tokens.shape)}"
        )
    v = prior.vocab_size
    lo, hi = torch.aminmax(tokens)
    if lo < 0 or hi >= v:
        raise ValueError(f"tokens must lie in 0 .. {v - 1} (vocab_size {v}), got {lo}..{hi}")
    return tokens


# --------------------------------------------------------------------------------------------
# Markov pool
# --------------------------------------------------------------------------------------------


def _bigram_log_probs(pool: MarkovPool) -> Tensor:
    """log P_k[i, j] with one row per bigram, shape (V * V, K): row i * V + j."""
    v = pool.vocab_size
    return pool.log_transitions().permute(1, 2, 0).reshape(v * v, pool.n_chains).contiguous()


def _pool_log_joint(pool: MarkovPool, tokens: Tensor) -> Tensor:
    """log w_k + log p(x_1..x_t | k) for t = 0 .. T, shape (batch, T + 1, K).

    A loop over positions that adds one gathered (batch, K) slice at a time: faster than a
    cumulative sum along the middle axis, and no (batch, T, K) temporary.
    """
    batch, length = tokens.shape
    log_bigram = _bigram_log_probs(pool)  # (V * V, K)
    bigram = tokens[:, :-1] * pool.vocab_size + tokens[:, 1:]  # (batch, T - 1)
    log_joint = torch.empty(batch, length + 1, pool.n_chains, dtype=DTYPE)
    log_joint[:, 0] = pool.log_weights
    torch.add(pool.log_weights, pool.log_initial[tokens[:, 0], None], out=log_joint[:, 1])
    for t in range(1, length):
        step = log_bigram.index_select(0, bigram[:, t - 1])  # (batch, K)
        torch.add(log_joint[:, t], step, out=log_joint[:, t + 1])
    return log_joint


def _pool_log_evidence(pool: MarkovPool, tokens: Tensor) -> Tensor:
    """log p(x_1..x_T) = logsumexp_k log w_k + log p(x | k), shape (batch,)."""
    log_bigram = _bigram_log_probs(pool)  # (V * V, K)
    bigram = tokens[:, :-1] * pool.vocab_size + tokens[:, 1:]  # (batch, T - 1)
    total = pool.log_weights + pool.log_initial[tokens[:, 0], None]  # (batch, K)
    for t in range(tokens.shape[1] - 1):
        total += log_bigram.index_select(0, bigram[:, t])
    return torch.logsumexp(total, -1)


def _scaled_weights(log_joint: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Weights scaled to a maximum of 1, the shift and the log normaliser over the last axis.

    Parameters
    ----------
    log_joint : Tensor, shape (..., K), with a finite entry in every row

    Returns
    -------
    w : Tensor, shape (..., K)
        exp(log_joint - shift), each at least exp(LOG_FLOOR).
    shift, log_z : Tensor, shape (..., 1)
        The row maximum and the logsumexp of `log_joint` (the floor adds < K 1e-304 to the
        sum, which is at least 1).
    """
    shift = log_joint.amax(-1, keepdim=True)
    w = torch.sub(log_joint, shift).clamp_(min=LOG_FLOOR).exp_()
    return w, shift, shift + torch.log(w.sum(-1, keepdim=True))


def _check_possible(log_joint: Tensor) -> None:
    """Raise ValueError if a sequence has probability 0: its posterior is undefined.

    Parameters
    ----------
    log_joint : Tensor, shape (batch, K)
        log w_k + log p(x | k) of the whole sequences.
    """
    impossible = torch.isneginf(log_joint).all(-1)  # (batch,)
    if impossible.any():
        b = int(impossible.nonzero()[0, 0])
        raise ValueError(
            f"tokens[{b}] has probability 0 under every chain of the pool (or its first token "
            "under the initial distribution), so the posterior after it is undefined"
        )


def _pool_next_token(pool: MarkovPool, tokens: Tensor) -> Tensor:
    """Pool predictive log p(x_{t+1} = v | x_1..x_t), shape (batch, T, V)."""
    batch, length = tokens.shape
    v, k = pool.vocab_size, pool.n_chains
    out = torch.empty(batch, length, v, dtype=DTYPE)
    out[:, 0] = pool.log_initial
    if length == 1:
        return out
    log_t = pool.log_transitions()  # (K, V, V)
    top = log_t.amax(0)  # (V, V): best chain per transition
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    scaled = torch.exp(log_t - top)  # (K, V, V), entries in [0, 1]
    chunk = max(1, CHUNK_ELEMENTS // (length * k))
    for start in range(0, batch, chunk):
        x = tokens[start : start + chunk]
        # after 1 .. T-1 tokens; the last token is only predicted, so it may be impossible
        log_joint = _pool_log_joint(pool, x[:, :-1])[:, 1:]  # (b, T - 1, K)
        _check_possible(log_joint[:, -1])
        w, shift, log_z = _scaled_weights(log_joint)  # (b, T - 1, K), (b, T - 1, 1) twice
        prev = x[:, :-1]  # (b, T - 1): the last token seen at positions 1 .. T-1
        pred = torch.empty(*prev.shape, v, dtype=DTYPE)  # (b, T - 1, V)
        for i in range(v):
            sel = prev == i
            if not sel.any():
                continue
            s = w[sel] @ scaled[:, i, :]  # (n, V)
            res = torch.log(s) + top[i] + shift[sel]
            low = s < UNDERFLOW
            if low.any():
                rows, cols = low.nonzero(as_tuple=True)
                exact = log_joint[sel][rows] + log_t[:, i, cols].T  # (n_low, K)
                res[rows, cols] = torch.logsumexp(exact, -1)
            pred[sel] = res
        out[start : start + chunk, 1:] = pred - log_z
    return out


# --------------------------------------------------------------------------------------------
# Dirichlet-Markov
# --------------------------------------------------------------------------------------------


def _dirichlet_next_token(prior: DirichletMarkov, tokens: Tensor) -> Tensor:
    """Dirichlet-Markov predictive log p(x_{t+1} = v | x_1..x_t), shape (batch, T, V)."""
    batch, length = tokens.shape
    v, alpha = prior.vocab_size, prior.alpha
    out = torch.empty(batch, length, v, dtype=DTYPE)
    out[:, 0] = prior.log_initial
    if length == 1:
        return out
    seen = torch.zeros(batch, v, v, dtype=DTYPE)  # bigram counts n_ij of the prefix so far
    counts = torch.empty(batch, length - 1, v, dtype=DTYPE)  # row n_{x_t .} at positions 1..
    rows = torch.arange(batch)
    for t in range(1, length):
        prev = tokens[:, t - 1]
        counts[:, t - 1] = seen[rows, prev]  # bigrams among x_1..x_t, from the last token
        seen[rows, prev, tokens[:, t]] += 1
    log_num = torch.log(counts + alpha)
    log_den = torch.log(counts.sum(-1, keepdim=True) + v * alpha)
    out[:, 1:] = log_num - log_den
    return out


# --------------------------------------------------------------------------------------------
# In-context baselines
# --------------------------------------------------------------------------------------------


def _baseline_tokens(tokens: object, vocab_size: object, alpha: object) -> tuple[Tensor, int,
                                                                                 float]:
    """Checked tokens (batch, length), vocab_size and alpha of a baseline."""
    prior = DirichletMarkov(vocab_size, alpha)  # type: ignore[arg-type]  # checks both
    return check_tokens(prior, tokens), prior.vocab_size, prior.alpha


def uniform_log_probs(tokens: object, vocab_size: int) -> Tensor:
    """The uniform predictor: log(1 / V) for every token at every position.

    Parameters
    ----------
    tokens : Tensor, shape (batch, length), int64
    vocab_size : int >= 2

    Returns
    -------
    Tensor, shape (batch, length, V), float64
        The layout of :func:`next_token_log_probs`.
    """
    x, v, _ = _baseline_tokens(tokens, vocab_size, 1.0)
    return torch.full((*x.shape, v), -math.log(v), dtype=DTYPE)


def unigram_log_probs(tokens: object, vocab_size: int, alpha: float = 1.0) -> Tensor:
    """The in-context unigram predictor: add-alpha counts of the tokens seen so far.

    After x_1..x_t, p(x_{t+1} = v) = (n_v + alpha) / (t + V alpha) with n_v the count of v
    among x_1..x_t (the posterior predictive of i.i.d. tokens under a Dirichlet(alpha) prior);
    position 0 is uniform.

    Parameters
    ----------
    tokens : Tensor, shape (batch, length), int64
    vocab_size : int >= 2
    alpha : float > 0

    Returns
    -------
    Tensor, shape (batch, length, V), float64
        ``[b, t, v]`` = log p(x_{t+1} = v | x_1..x_t).
    """
    x, v, a = _baseline_tokens(tokens, vocab_size, alpha)
    batch, length = x.shape
    counts = torch.zeros(batch, length, v, dtype=DTYPE)  # counts among the first t tokens
    if length > 1:
        seen = torch.nn.functional.one_hot(x[:, :-1], v).to(DTYPE)  # (batch, T - 1, V)
        counts[:, 1:] = seen.cumsum(1)
    t = torch.arange(length, dtype=DTYPE)[None, :, None]
    return torch.log(counts + a) - torch.log(t + v * a)


def bigram_log_probs(tokens: object, vocab_size: int, alpha: float = 1.0) -> Tensor:
    """The in-context bigram predictor: add-alpha counts of the bigrams from the last token.

    After x_1..x_t, p(x_{t+1} = v) = (n_{x_t v} + alpha) / (n_{x_t .} + V alpha): the exact
    predictive of ``DirichletMarkov(vocab_size, alpha)`` (uniform first token), the
    Bayes-optimal predictor for fresh Dirichlet(alpha) rows.

    Returns
    -------
    Tensor, shape (batch, length, V), float64
    """
    x, v, a = _baseline_tokens(tokens, vocab_size, alpha)
    return _dirichlet_next_token(DirichletMarkov(v, a), x)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def next_token_log_probs(prior: SequencePrior, tokens: object) -> Tensor:
    """Exact next-token predictive at every position.

    Parameters
    ----------
    prior : MarkovPool or DirichletMarkov
    tokens : Tensor, shape (batch, length), int64

    Returns
    -------
    Tensor, shape (batch, length, V), float64
        ``[b, t, v]`` = log p(x_{t+1} = v | x_1..x_t) for sequence b, t = 0 .. length-1;
        ``[b, 0]`` is the log initial distribution.

    Raises
    ------
    ValueError
        On bad `tokens` (see :func:`check_tokens`), or, for a pool, if some x_1..x_{T-1} has
        probability 0 under the prior (the predictive after it is undefined).
    """
    prior = _check_prior(prior)
    x = check_tokens(prior, tokens)
    if isinstance(prior, MarkovPool):
        return _pool_next_token(prior, x)
    return _dirichlet_next_token(prior, x)


def log_posterior(prior: MarkovPool, tokens: object) -> Tensor:
    """Exact log posterior over the pool's chains after 0 .. length tokens.

    Parameters
    ----------
    prior : MarkovPool
    tokens : Tensor, shape (batch, length), int64

    Returns
    -------
    Tensor, shape (batch, length + 1, K), float64
        ``[b, t, k]`` = log p(chain k | x_1..x_t); ``[b, 0]`` is the log prior. Memory is
        batch x length x K float64.

    Raises
    ------
    ValueError
        If `prior` is not a pool, on bad `tokens`, or if a sequence has probability 0.
    """
    if isinstance(prior, DirichletMarkov):
        raise ValueError(
            "prior must be a MarkovPool for log_posterior: a DirichletMarkov has no finite set "
            "of latents (its posterior row i is Dirichlet(alpha + bigram counts from i))"
        )
    if not isinstance(prior, MarkovPool):
        raise ValueError(f"prior must be a MarkovPool, got {type(prior).__name__}")
    x = check_tokens(prior, tokens)
    log_joint = _pool_log_joint(prior, x)
    _check_possible(log_joint[:, -1])
    return log_joint.sub_(_scaled_weights(log_joint)[2])


def log_evidence(prior: SequencePrior, tokens: object) -> Tensor:
    """Log marginal probability of each sequence, log p(x_1..x_T), shape (batch,).

    For the pool, logsumexp over chains of log w_k + log p(x | k); for the Dirichlet-Markov
    prior, the sum of the log predictives of the tokens that came (the chain rule). A
    sequence impossible under the prior gets -inf.
    """
    prior = _check_prior(prior)
    x = check_tokens(prior, tokens)
    if isinstance(prior, MarkovPool):
        return _pool_log_evidence(prior, x)
    log_p = _dirichlet_next_token(prior, x)  # (batch, T, V)
    return log_p.gather(-1, x[..., None])[..., 0].sum(-1)


# --------------------------------------------------------------------------------------------
# Chains outside the pool
# --------------------------------------------------------------------------------------------


def _check_chains(name: str, transitions: object) -> Tensor:
    if not isinstance(transitions, Tensor) or transitions.ndim < 2 or (
            transitions.shape[-1] != transitions.shape[-2]):
        shape = tuple(transitions.shape) if isinstance(transitions, Tensor) else None
        raise ValueError(f"{name} must be a tensor of transition matrices (..., V, V), got "
                         f"{type(transitions).__name__} of shape {shape}")
    p = transitions.to(DTYPE)
    if not bool(torch.isfinite(p).all()) or bool((p < 0).any()) or not bool(
            torch.allclose(p.sum(-1), torch.ones((), dtype=DTYPE), atol=1e-9)):
        raise ValueError(f"{name}: every row must be a distribution (finite, >= 0, sum 1)")
    return p


def stationary_distribution(transitions: Tensor) -> Tensor:
    """The stationary distribution pi (pi P = pi) of each chain, shape (..., V).

    Parameters
    ----------
    transitions : Tensor, shape (..., V, V)
        Rows sum to one (row = previous token). The chain must have one stationary
        distribution (e.g. every entry > 0, as Dirichlet draws are).

    Raises
    ------
    ValueError
        On bad rows, or when the stationary distribution is not unique.
    """
    p = _check_chains("transitions", transitions)
    v = p.shape[-1]
    # pi (P - I) = 0 with sum(pi) = 1: replace the last equation by the sum.
    a = (p - torch.eye(v, dtype=DTYPE)).transpose(-1, -2).clone()
    a[..., -1, :] = 1.0
    b = torch.zeros(p.shape[:-1], dtype=DTYPE)
    b[..., -1] = 1.0
    pi, info = torch.linalg.solve_ex(a, b)
    if bool((info != 0).any()) or not bool(torch.isfinite(pi).all()) or bool(
            (pi < -1e-12).any()):
        raise ValueError("transitions: a chain has no unique stationary distribution "
                         "(it is reducible or periodic in a way that leaves it undetermined)")
    return pi.clamp_min(0.0) / pi.clamp_min(0.0).sum(-1, keepdim=True)


def kl_rate(truth: Tensor, chains: Tensor) -> Tensor:
    """Per-token KL from the chain ``truth`` to each of ``chains``, in nats.

    ``sum_i pi(i) sum_j truth[i, j] log(truth[i, j] / chains[k, i, j])`` with pi the
    stationary distribution of ``truth``: how fast, per token, the log-likelihood of
    ``truth``'s sequences under chain k falls behind their log-likelihood under ``truth``.
    The posterior of a pool that lacks ``truth`` concentrates on the chains with the
    smallest rate.

    Parameters
    ----------
    truth : Tensor, shape (V, V)
    chains : Tensor, shape (K, V, V) or (V, V)

    Returns
    -------
    Tensor, shape (K,) (or () for one chain), float64; inf where a chain gives probability 0
    to a transition ``truth`` makes.
    """
    q = _check_chains("truth", truth)
    if q.ndim != 2:
        raise ValueError(f"truth must be one (V, V) matrix, got shape {tuple(q.shape)}")
    p = _check_chains("chains", chains)
    if p.shape[-1] != q.shape[-1] or p.ndim > 3:
        raise ValueError(f"chains must be (K, V, V) or (V, V) with V = {q.shape[-1]}, got "
                         f"shape {tuple(p.shape)}")
    pi = stationary_distribution(q)
    terms = torch.where(q > 0, q * (q.log() - p.log()), torch.zeros((), dtype=DTYPE))
    return (pi[:, None] * terms).sum((-1, -2))
