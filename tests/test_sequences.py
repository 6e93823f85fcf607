"""Sequence priors: exact next-token inference against slow references, sampling, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bayeslens.sequence_posterior import (
    UNDERFLOW,
    check_tokens,
    kl_rate,
    log_evidence,
    log_posterior,
    next_token_log_probs,
    stationary_distribution,
)
from bayeslens.sequences import DirichletMarkov, MarkovPool

F64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def tok(rows: list[list[int]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.long)


# --------------------------------------------------------------------------------------------
# Slow, obviously right references
# --------------------------------------------------------------------------------------------


def _log(p: float) -> float:
    return math.log(p) if p > 0 else -math.inf


def _logsumexp(values: list[float]) -> float:
    m = max(values)
    if m == -math.inf:
        return -math.inf
    return m + math.log(sum(math.exp(v - m) for v in values))


def reference_pool(pool: MarkovPool, seq: list[int]) -> tuple[list, list, float]:
    """Enumerate the chains: likelihood by a loop over positions, then Bayes' rule.

    Returns the log posterior after 0 .. T tokens ((T + 1) lists of K), the log predictive at
    positions 0 .. T-1 (T lists of V) and the log evidence, all in log space so that tiny
    probabilities stay exact.
    """
    P = pool.transitions.tolist()
    q = pool.log_initial.exp().tolist()
    w = pool.log_weights.exp().tolist()
    K, V, T = pool.n_chains, pool.vocab_size, len(seq)
    log_lik = [[0.0] * K]  # log p(x_1..x_t | k) for t = 0 .. T
    for t in range(T):
        row = []
        for k in range(K):
            p = q[seq[0]] if t == 0 else P[k][seq[t - 1]][seq[t]]
            row.append(log_lik[-1][k] + _log(p))
        log_lik.append(row)
    log_post, log_pred = [], []
    for t in range(T + 1):
        joint = [_log(w[k]) + log_lik[t][k] for k in range(K)]
        z = _logsumexp(joint)
        log_post.append([j - z for j in joint])
    for t in range(T):
        if t == 0:
            log_pred.append([_log(q[v]) for v in range(V)])
            continue
        prev = seq[t - 1]
        log_pred.append(
            [_logsumexp([log_post[t][k] + _log(P[k][prev][v]) for k in range(K)]) for v in range(V)]
        )
    evidence = _logsumexp([_log(w[k]) + log_lik[T][k] for k in range(K)])
    return log_post, log_pred, evidence


def grid_dirichlet_v2(seq: list[int], alpha: float, q: list[float], n: int = 800) -> np.ndarray:
    """Predictive p(x_{t+1} = v | x_1..x_t), shape (T, 2), for V = 2 by a 2-d midpoint grid.

    The latent is (p0, p1), p_i = P(next = 1 | prev = i), each Beta(alpha, alpha) a priori.
    The posterior density on the grid is prior x likelihood, the likelihood a product over
    positions; the predictive is the posterior mean of p_prev.
    """
    g = (np.arange(n) + 0.5) / n
    p0, p1 = np.meshgrid(g, g, indexing="ij")
    density = (p0 * (1 - p0) * p1 * (1 - p1)) ** (alpha - 1)
    out = np.empty((len(seq), 2))
    out[0] = q
    for t in range(1, len(seq)):
        prev, this = seq[t - 1], seq[t]
        p_prev = p0 if prev == 0 else p1
        out[t, 1] = (density * p_prev).sum() / density.sum()
        out[t, 0] = 1 - out[t, 1]
        density = density * (p_prev if this == 1 else 1 - p_prev)
        density = density / density.max()
    return out


def dirichlet_multinomial_log_evidence(seq: list[int], alpha: float, q: list[float]) -> float:
    """log p(x) = log q(x_1) + sum_i log B(alpha + n_i.) - log B(alpha), B the Dirichlet norm."""
    V = len(q)
    n = [[0] * V for _ in range(V)]
    for t in range(1, len(seq)):
        n[seq[t - 1]][seq[t]] += 1
    total = math.log(q[seq[0]])
    for i in range(V):
        total += math.lgamma(V * alpha) - math.lgamma(V * alpha + sum(n[i]))
        total += sum(math.lgamma(alpha + n[i][j]) - math.lgamma(alpha) for j in range(V))
    return total


def assert_close(
    actual: torch.Tensor, expected: object, atol: float = 1e-10, rtol: float = 1e-10
) -> None:
    """|actual - expected| <= atol + rtol |expected| everywhere (finite values, same shape)."""
    exp_t = torch.as_tensor(expected, dtype=actual.dtype)
    assert actual.shape == exp_t.shape, f"shape {tuple(actual.shape)} != {tuple(exp_t.shape)}"
    diff = (actual - exp_t).abs()
    assert bool((diff <= atol + rtol * exp_t.abs()).all()), f"max difference {float(diff.max())}"


def assert_close_log(actual: torch.Tensor, expected: object, tol: float = 1e-10) -> None:
    """Equal in log space: same -inf pattern, finite entries within `tol`."""
    exp_t = torch.as_tensor(expected, dtype=F64)
    assert actual.shape == exp_t.shape
    assert torch.equal(torch.isneginf(actual), torch.isneginf(exp_t))
    finite = torch.isfinite(exp_t)
    assert_close(actual[finite], exp_t[finite], atol=tol, rtol=tol)


# --------------------------------------------------------------------------------------------
# Markov pool
# --------------------------------------------------------------------------------------------


def test_pool_by_hand() -> None:
    """Chain 0 alternates 0 1 0 1, chain 1 repeats its token; prior 1/4, 3/4.

    After x_1 = 0 chain 0 says 1 and chain 1 says 0, so p(x_2 = 0) = 3/4. After x = (0, 1)
    only chain 0 is possible, so the next token is 0 for sure; the first token is uniform, so
    p(0, 1) = 1/2 * 1/4 and p(0, 1, 1) = 0.
    """
    pool = MarkovPool.from_transitions(
        [[[0.0, 1.0], [1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]],
        log_weights=[math.log(0.25), math.log(0.75)],
    )
    x = tok([[0, 1, 1]])
    lp = next_token_log_probs(pool, x)[0].exp()
    assert_close(lp, torch.tensor([[0.5, 0.5], [0.75, 0.25], [1.0, 0.0]], dtype=F64))
    post = log_posterior(pool, x[:, :2])[0].exp()
    assert_close(post, torch.tensor([[0.25, 0.75]] * 2 + [[1.0, 0.0]], dtype=F64))
    assert math.isclose(float(log_evidence(pool, x[:, :2])), math.log(0.125), rel_tol=1e-12)
    assert float(log_evidence(pool, x)) == -math.inf


def test_pool_matches_enumeration() -> None:
    pool = MarkovPool.draw(6, 4, 0.7, seed=11, initial=[0.1, 0.2, 0.3, 0.4])
    x = pool.sample(5, 9, gen(1)).tokens
    got_post, got_pred = log_posterior(pool, x), next_token_log_probs(pool, x)
    got_ev = log_evidence(pool, x)
    for b in range(x.shape[0]):
        post, pred, ev = reference_pool(pool, x[b].tolist())
        assert_close_log(got_post[b], post)
        assert_close_log(got_pred[b], pred)
        assert math.isclose(float(got_ev[b]), ev, rel_tol=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    n_chains=st.integers(1, 6),
    vocab_size=st.integers(2, 5),
    alpha=st.floats(0.05, 5.0),
    seed=st.integers(0, 2**31),
    length=st.integers(1, 10),
    weighted=st.booleans(),
)
def test_pool_matches_enumeration_property(
    n_chains: int, vocab_size: int, alpha: float, seed: int, length: int, weighted: bool
) -> None:
    log_weights = torch.linspace(0.0, -3.0, n_chains, dtype=F64) if weighted else None
    pool = MarkovPool.draw(n_chains, vocab_size, alpha, seed, log_weights=log_weights)
    x = pool.sample(2, length, gen(seed)).tokens
    pred = next_token_log_probs(pool, x)
    assert pred.shape == (2, length, vocab_size)
    assert_close(pred.logsumexp(-1), torch.zeros(2, length, dtype=F64))
    # chain rule: the evidence is the product of the predictives of the tokens that came
    assert_close(pred.gather(-1, x[..., None])[..., 0].sum(-1), log_evidence(pool, x))
    for b in range(2):
        post, ref_pred, ev = reference_pool(pool, x[b].tolist())
        assert_close_log(pred[b], ref_pred, tol=1e-9)
        assert_close_log(log_posterior(pool, x)[b], post, tol=1e-9)
        assert math.isclose(float(log_evidence(pool, x)[b]), ev, rel_tol=1e-10)


def test_pool_predictive_exact_below_underflow() -> None:
    """A token that the likely chain deems near-impossible keeps its exact log probability.

    Chain 0 stays at 0 (leaves with probability 1e-300), chain 1 is a fair coin. After m zeros
    p(chain 1) = 2^-(m-1) / (1 + 2^-(m-1)), so p(next = 1) ~ 1e-300 + 2^-m: below 1e-250 for
    m = 865, where the scaled sum falls back to logsumexp.
    """
    pool = MarkovPool.from_transitions([[[1.0, 1e-300], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]]])
    m = 865
    x = torch.zeros(1, m + 1, dtype=torch.long)  # the last position predicts after m zeros
    pred = next_token_log_probs(pool, x)[0]
    _, ref_pred, _ = reference_pool(pool, x[0].tolist())
    assert_close_log(pred, ref_pred)
    assert math.exp(float(pred[-1, 1])) < UNDERFLOW  # the exact fallback was exercised
    assert math.isclose(float(pred[-1, 1]), _logsumexp([_log(1e-300), -m * math.log(2)]))


def test_pool_posterior_concentrates_on_the_true_chain() -> None:
    pool = MarkovPool.draw(64, 8, 0.5, seed=3)
    batch = pool.sample(32, 256, gen(4))
    post = log_posterior(pool, batch.tokens)
    assert post.shape == (32, 257, 64)
    assert_close(post[:, 0], pool.log_prior().expand(32, -1))
    assert_close(post[:, 1], pool.log_prior().expand(32, -1))  # shared initial
    assert_close(post.logsumexp(-1), torch.zeros(32, 257, dtype=F64))
    assert torch.equal(post[:, -1].argmax(-1), batch.latent)
    assert float(post[:, -1].max(-1).values.exp().min()) > 0.99


def test_pool_at_the_stated_sizes() -> None:
    """K = 1024 chains, V = 16 tokens, 256 positions: runs, and the predictive is normalised."""
    pool = MarkovPool.draw(1024, 16, 0.3, seed=0)
    x = pool.sample(2, 256, gen(0)).tokens
    pred = next_token_log_probs(pool, x)
    assert pred.shape == (2, 256, 16)
    assert_close(pred.logsumexp(-1), torch.zeros(2, 256, dtype=F64))
    assert_close(pred.gather(-1, x[..., None])[..., 0].sum(-1), log_evidence(pool, x))


def test_pool_is_a_function_of_its_settings() -> None:
    a = MarkovPool.draw(5, 3, 0.5, seed=7)
    b = MarkovPool.draw(5, 3, 0.5, seed=7)
    assert torch.equal(a.transitions, b.transitions)
    assert not torch.equal(a.transitions, MarkovPool.draw(5, 3, 0.5, seed=8).transitions)
    assert_close(a.transitions.sum(-1), torch.ones(5, 3, dtype=F64))


def test_settings_round_trip_and_mismatch() -> None:
    pool = MarkovPool.draw(5, 3, 0.5, seed=7, initial=[0.2, 0.3, 0.5])
    recorded = json.loads(json.dumps(pool.settings()))
    pool.check_settings(recorded)
    rebuilt = MarkovPool.from_settings(recorded)
    assert torch.equal(rebuilt.transitions, pool.transitions)
    assert_close(rebuilt.log_initial, pool.log_initial)
    for key, value in [("seed", 8), ("n_chains", 4), ("alpha", 0.25), ("weights", [0.2] * 5)]:
        with pytest.raises(ValueError, match=f"field '{key}'"):
            pool.check_settings({**recorded, key: value})
    with pytest.raises(ValueError, match="field 'transitions_checksum'"):
        pool.check_settings({**recorded, "transitions_checksum": 0.0})
    with pytest.raises(ValueError, match="lacks the field 'seed'"):
        pool.check_settings({k: v for k, v in recorded.items() if k != "seed"})
    with pytest.raises(ValueError, match="unknown fields"):
        pool.check_settings({**recorded, "extra": 1})
    given_rows = MarkovPool.from_transitions(pool.transitions)
    with pytest.raises(ValueError, match="field 'alpha'"):
        given_rows.check_settings(recorded)
    with pytest.raises(ValueError, match="settings must be the settings"):
        MarkovPool.from_settings(given_rows.settings())
    prior = DirichletMarkov(4, 0.5)
    prior.check_settings(json.loads(json.dumps(prior.settings())))
    with pytest.raises(ValueError, match="field 'alpha'"):
        prior.check_settings({**prior.settings(), "alpha": 1.0})


# --------------------------------------------------------------------------------------------
# Dirichlet-Markov
# --------------------------------------------------------------------------------------------


def test_dirichlet_by_hand() -> None:
    """alpha = 1, V = 2, x = (0, 0, 1): after (0, 0) the row of 0 has seen one 0 -> 0."""
    pred = next_token_log_probs(DirichletMarkov(2, 1.0), tok([[0, 0, 1]]))[0].exp()
    expect = torch.tensor([[0.5, 0.5], [0.5, 0.5], [2 / 3, 1 / 3]], dtype=F64)
    assert_close(pred, expect)


@pytest.mark.parametrize("alpha", [1.0, 2.5])
def test_dirichlet_matches_grid_integral(alpha: float) -> None:
    q = [0.3, 0.7]
    prior = DirichletMarkov(2, alpha, initial=q)
    seqs = [[0, 0, 1, 1, 1, 0, 1, 0, 0, 0], [1, 1, 1, 1, 0, 1, 1, 1, 1, 0]]
    pred = next_token_log_probs(prior, tok(seqs)).exp()
    for b, seq in enumerate(seqs):
        ref = torch.as_tensor(grid_dirichlet_v2(seq, alpha, q), dtype=F64)
        assert_close(pred[b], ref, atol=2e-6, rtol=0)


@pytest.mark.parametrize(("vocab_size", "alpha"), [(2, 0.3), (4, 1.0), (5, 3.0)])
def test_dirichlet_evidence_is_dirichlet_multinomial(vocab_size: int, alpha: float) -> None:
    q = (torch.arange(1, vocab_size + 1, dtype=F64) / (vocab_size * (vocab_size + 1) / 2)).tolist()
    prior = DirichletMarkov(vocab_size, alpha, initial=q)
    x = prior.sample(4, 30, gen(2)).tokens
    ev = log_evidence(prior, x)
    for b in range(4):
        ref = dirichlet_multinomial_log_evidence(x[b].tolist(), alpha, q)
        assert math.isclose(float(ev[b]), ref, rel_tol=1e-11)


@settings(max_examples=30, deadline=None)
@given(
    vocab_size=st.integers(2, 6),
    alpha=st.floats(0.01, 10.0),
    tokens=st.lists(st.integers(0, 5), min_size=1, max_size=20),
)
def test_dirichlet_predictive_normalised(vocab_size: int, alpha: float, tokens: list[int]) -> None:
    x = tok([[t % vocab_size for t in tokens]])
    prior = DirichletMarkov(vocab_size, alpha)
    pred = next_token_log_probs(prior, x)
    assert_close(pred.logsumexp(-1), torch.zeros(1, x.shape[1], dtype=F64))
    ref = dirichlet_multinomial_log_evidence(x[0].tolist(), alpha, [1 / vocab_size] * vocab_size)
    assert math.isclose(float(log_evidence(prior, x)), ref, rel_tol=1e-10, abs_tol=1e-10)


def test_log_posterior_needs_a_pool() -> None:
    with pytest.raises(ValueError, match="prior must be a MarkovPool"):
        log_posterior(DirichletMarkov(2, 1.0), tok([[0, 1]]))  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prior", [MarkovPool.draw(4, 3, 0.5, seed=1), DirichletMarkov(3, 0.5)])
def test_sampling_is_deterministic_under_a_seed(prior: MarkovPool | DirichletMarkov) -> None:
    a, b = prior.sample(8, 20, gen(5)), prior.sample(8, 20, gen(5))
    assert a.tokens.dtype == torch.long
    assert a.tokens.shape == (8, 20)
    assert a.latent.shape == (8,)
    assert a.transitions.shape == (8, 3, 3)
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    assert not torch.equal(a.tokens, prior.sample(8, 20, gen(6)).tokens)


def test_pool_bigram_frequencies_match_the_chains() -> None:
    pool = MarkovPool.draw(3, 3, 1.0, seed=2, initial=[0.5, 0.3, 0.2])
    batch = pool.sample(300, 400, gen(3))
    x = batch.tokens
    for k in range(3):
        seqs = x[batch.latent == k]
        counts = torch.zeros(3, 3, dtype=F64)
        counts.index_put_(
            (seqs[:, :-1].reshape(-1), seqs[:, 1:].reshape(-1)),
            torch.ones(seqs[:, 1:].numel(), dtype=F64),
            accumulate=True,
        )
        freq = counts / counts.sum(-1, keepdim=True)
        assert_close(freq, pool.transitions[k], atol=0.03, rtol=0)
    assert torch.equal(batch.transitions, pool.transitions[batch.latent])
    first = pool.sample(20_000, 1, gen(4)).tokens[:, 0]
    freq = torch.bincount(first, minlength=3).to(F64) / 20_000
    assert_close(freq, pool.log_initial.exp(), atol=0.02, rtol=0)


def test_dirichlet_samples_follow_their_rows() -> None:
    prior = DirichletMarkov(3, 0.8)
    batch = prior.sample(200, 300, gen(7))
    p = batch.transitions  # (200, 3, 3)
    # rows are Dirichlet(0.8): mean 1/3, variance (1/3)(2/3) / (3 * 0.8 + 1)
    assert abs(float(p.mean()) - 1 / 3) < 1e-12  # rows sum to 1
    assert abs(float(p.var()) - (2 / 9) / 3.4) < 0.1 * (2 / 9) / 3.4
    # tokens follow each sequence's own rows: residual counts - expected are within noise
    x = batch.tokens
    prev, nxt = x[:, :-1], x[:, 1:]
    onehot = torch.nn.functional.one_hot(nxt, 3).to(F64)  # (200, 299, 3)
    expected = p[torch.arange(200)[:, None], prev]  # (200, 299, 3)
    resid = (onehot - expected).sum((0, 1))
    sd = (expected * (1 - expected)).sum((0, 1)).sqrt()
    assert (resid.abs() < 5 * sd).all()


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


POOL = MarkovPool.draw(3, 4, 1.0, seed=0)
BAD_INPUT = [
    (lambda: MarkovPool.draw(3, 1, 1.0, 0), "vocab_size must be an int >= 2"),
    (lambda: MarkovPool.draw(0, 4, 1.0, 0), "n_chains must be an int >= 1"),
    (lambda: MarkovPool.draw(3, 4, 0.0, 0), "alpha must be a finite number > 0"),
    (lambda: MarkovPool.draw(3, 4, -1.0, 0), "alpha must be a finite number > 0"),
    (lambda: MarkovPool.draw(3, 4, math.nan, 0), "alpha must be a finite number > 0"),
    (lambda: MarkovPool.draw(3, 4, math.inf, 0), "alpha must be a finite number > 0"),
    (lambda: MarkovPool.draw(3, 4, 1.0, -1), "seed must be an int"),
    (lambda: MarkovPool.draw(3, 4, 1.0, 0.5), "seed must be an int"),  # type: ignore[arg-type]
    (lambda: MarkovPool.draw(3, 4, 1.0, 0, initial=[0.5, 0.5]), "initial must be a distr"),
    (lambda: MarkovPool.draw(3, 4, 1.0, 0, initial=[0.5, 0.5, 0.5, -0.5]), "initial must hold"),
    (lambda: MarkovPool.draw(3, 4, 1.0, 0, initial=[0.3] * 4), "initial: every distribution"),
    (lambda: MarkovPool.draw(3, 4, 1.0, 0, log_weights=[0.0, 0.0]), "log_weights must have"),
    (lambda: MarkovPool.draw(3, 2, 1.0, 0, log_weights=[-math.inf] * 3), "log_weights must not"),
    (lambda: MarkovPool.from_transitions([[0.5, 0.5], [0.5, 0.5]]), "transitions must have"),
    (lambda: MarkovPool.from_transitions([[[0.5, 0.6], [0.5, 0.5]]]), "every row must sum to 1"),
    (lambda: MarkovPool.from_transitions([[[1.0]]]), "vocab_size must be an int >= 2"),
    (lambda: DirichletMarkov(1, 1.0), "vocab_size must be an int >= 2"),
    (lambda: DirichletMarkov(3, 0.0), "alpha must be a finite number > 0"),
    (lambda: DirichletMarkov(3, math.inf), "alpha must be a finite number > 0"),
    (lambda: DirichletMarkov(3, 1.0, initial=(1.0, 0.0)), "initial must be a distribution"),
    (lambda: POOL.sample(0, 5, gen()), "batch must be an int >= 1"),
    (lambda: POOL.sample(2, 0, gen()), "length must be an int >= 1"),
    (lambda: POOL.sample(2, 5, 0), "generator must be a torch.Generator"),  # type: ignore[arg-type]
    (lambda: DirichletMarkov(3, 1.0).sample(0, 5, gen()), "batch must be an int >= 1"),
    (lambda: DirichletMarkov(3, 1.0).sample(2, 0, gen()), "length must be an int >= 1"),
    (lambda: next_token_log_probs(POOL, tok([[0, 4]])), r"tokens must lie in 0 \.\. 3"),
    (lambda: next_token_log_probs(POOL, tok([[-1, 0]])), r"tokens must lie in 0 \.\. 3"),
    (lambda: next_token_log_probs(POOL, torch.zeros(1, 3)), "tokens must have dtype int64"),
    (lambda: log_evidence(POOL, torch.zeros(1, 3, dtype=torch.int32)), "tokens must have dtype"),
    (lambda: log_posterior(POOL, torch.zeros(3, dtype=torch.long)), "tokens must have shape"),
    (lambda: next_token_log_probs(POOL, torch.zeros(2, 0, dtype=torch.long)), "tokens must have"),
    (lambda: check_tokens(POOL, "abc"), "tokens must"),
    (lambda: next_token_log_probs("pool", tok([[0]])), "prior must be a MarkovPool or"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("call", "match"), BAD_INPUT)
def test_bad_input_raises(call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]


def test_impossible_prefix_raises() -> None:
    pool = MarkovPool.from_transitions([[[0.0, 1.0], [1.0, 0.0]]], initial=[1.0, 0.0])
    with pytest.raises(ValueError, match=r"tokens\[0\] has probability 0"):
        log_posterior(pool, tok([[0, 0]]))
    with pytest.raises(ValueError, match=r"tokens\[1\] has probability 0"):
        next_token_log_probs(pool, tok([[0, 1, 0], [1, 0, 1]]))
    # an impossible last token is only predicted: its log probability is -inf
    assert float(next_token_log_probs(pool, tok([[0, 0]]))[0, 1, 0]) == -math.inf


# ------------------------------------------------------------------ chains outside the pool


def _stationary_by_power(p: torch.Tensor, steps: int = 5_000) -> torch.Tensor:
    """Slow reference: run the chain's distribution forward from uniform until it settles."""
    pi = torch.full((p.shape[-1],), 1.0 / p.shape[-1], dtype=torch.float64)
    for _ in range(steps):
        pi = pi @ p
    return pi


def _kl_rate_by_loops(q: torch.Tensor, p: torch.Tensor) -> float:
    pi = _stationary_by_power(q)
    v = q.shape[0]
    return sum(float(pi[i]) * sum(float(q[i, j]) * math.log(float(q[i, j]) / float(p[i, j]))
                                  for j in range(v) if q[i, j] > 0) for i in range(v))


def test_stationary_distribution_matches_power_iteration() -> None:
    pool = MarkovPool.draw(16, 4, 0.7, seed=3)
    pi = stationary_distribution(pool.transitions)
    assert pi.shape == (16, 4)
    for k in range(16):
        torch.testing.assert_close(pi[k], _stationary_by_power(pool.transitions[k]),
                                   atol=1e-12, rtol=0)
        torch.testing.assert_close(pi[k] @ pool.transitions[k], pi[k], atol=1e-14, rtol=0)


def test_kl_rate_matches_loops_and_is_zero_on_itself() -> None:
    pool = MarkovPool.draw(8, 3, 1.0, seed=0)
    truth = MarkovPool.draw(1, 3, 1.0, seed=11).transitions[0]
    rates = kl_rate(truth, pool.transitions)
    assert rates.shape == (8,)
    for k in range(8):
        assert float(rates[k]) == pytest.approx(_kl_rate_by_loops(truth, pool.transitions[k]),
                                                abs=1e-12)
    assert float(kl_rate(pool.transitions[2], pool.transitions)[2]) == 0.0
    assert kl_rate(truth, pool.transitions[0]).shape == ()


def test_kl_rate_is_the_log_likelihood_ratio_per_token() -> None:
    # On a long sequence from the truth, log p(x | truth) - log p(x | chain k) grows by the
    # rate per token: the mean over 400 sequences of 2,000 tokens, within 4 standard errors.
    truth = MarkovPool.draw(1, 3, 1.0, seed=11)
    pool = MarkovPool.draw(3, 3, 1.0, seed=0)
    x = truth.sample(400, 2_000, torch.Generator().manual_seed(0)).tokens
    lt = log_evidence(truth, x)
    for k in range(3):
        chain = MarkovPool.from_transitions(pool.transitions[k:k + 1])
        per_token = (lt - log_evidence(chain, x)) / (x.shape[1] - 1)
        mean, se = float(per_token.mean()), float(per_token.std() / 400**0.5)
        rate = float(kl_rate(truth.transitions[0], pool.transitions[k]))
        assert abs(mean - rate) < 4 * se + 2e-3, (k, mean, rate, se)


def test_kl_rate_bad_input() -> None:
    p = MarkovPool.draw(2, 3, 1.0, seed=0).transitions
    with pytest.raises(ValueError, match="truth must be one"):
        kl_rate(p, p)
    with pytest.raises(ValueError, match="chains must be"):
        kl_rate(p[0], torch.full((2, 4, 4), 0.25, dtype=torch.float64))
    with pytest.raises(ValueError, match="every row must be a distribution"):
        kl_rate(p[0], p * 2)
    with pytest.raises(ValueError, match="transitions must be a tensor"):
        stationary_distribution([[1.0]])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no unique stationary"):
        stationary_distribution(torch.eye(3, dtype=torch.float64))
