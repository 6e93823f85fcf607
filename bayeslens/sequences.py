"""Priors over token sequences whose latents are Markov chains.

A sequence x_1 .. x_T of tokens in {0, .., V-1} is drawn by choosing a latent chain (a V x V
matrix P of transition probabilities, row i the distribution of the token after token i),
drawing x_1 from an initial distribution shared by every chain, and then each x_{t+1} from row
x_t of P. Two priors over the chain:

* :class:`MarkovPool`: K fixed chains, drawn once from Dirichlet(alpha) rows under an explicit
  seed, with prior weights over the K (uniform by default). A finite latent set, so the exact
  posterior is a softmax over K log-likelihoods.
* :class:`DirichletMarkov`: every row drawn afresh from Dirichlet(alpha) for each sequence. A
  continuous latent, but conjugate: the posterior predictive is a ratio of bigram counts.

Next-token prediction on these sequences is exact posterior inference; the exact answer lives in
:mod:`bayeslens.sequence_posterior`. This module only describes the world and samples from it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeAlias

import torch
from torch import Tensor

from bayeslens._checks import check_generator, check_int, check_positive
from bayeslens.priors import DTYPE

__all__ = [
    "DirichletMarkov",
    "MarkovPool",
    "SequenceBatch",
    "SequencePrior",
    "dirichlet_markov_v3",
    "markov_pool_v3",
]

SUM_TOL = 1e-9
"""A distribution (a row of a transition matrix, an initial distribution) must sum to one
within SUM_TOL; it is then renormalised exactly."""
CHECKSUM_TOL = 1e-8
""":meth:`MarkovPool.check_settings` accepts a transitions checksum within CHECKSUM_TOL (absolute
and relative): last-bit differences between platforms stay far below it, a different pool does
not."""


class SequenceBatch(NamedTuple):
    """A batch of token sequences drawn from a sequence prior.

    Attributes
    ----------
    tokens : Tensor, shape (batch, length), int64
        Tokens in {0, .., V-1}.
    latent : Tensor, shape (batch,), int64
        Index of the pool chain each sequence was drawn from; -1 for :class:`DirichletMarkov`,
        whose latent is the continuous matrix in ``transitions``.
    transitions : Tensor, shape (batch, V, V), float64
        The transition matrix each sequence was drawn with (row = previous token).
    """

    tokens: Tensor
    latent: Tensor
    transitions: Tensor


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _check_seed(seed: object) -> int:
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be an int in [0, 2**63), got {seed!r}")
    return seed


def _as_float64(name: str, values: object) -> Tensor:
    try:
        t = torch.as_tensor(values, dtype=DTYPE)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{name} must be numeric, got {type(values).__name__}") from err
    return t


def _check_distributions(name: str, p: Tensor, what: str) -> Tensor:
    """`p` (..., V) with rows that are distributions, renormalised exactly, else ValueError."""
    if not torch.isfinite(p).all() or (p < 0).any():
        raise ValueError(f"{name} must hold finite, non-negative probabilities")
    total = p.sum(-1, keepdim=True)
    if ((total - 1).abs() > SUM_TOL).any():
        worst = float((total - 1).abs().max())
        raise ValueError(f"{name}: every {what} must sum to 1 (off by up to {worst:.3g})")
    return p / total


def _log_initial(initial: object | None, vocab_size: int) -> Tensor:
    """Log initial distribution, shape (V,): uniform when None, else a validated distribution."""
    if initial is None:
        return torch.full((vocab_size,), -math.log(vocab_size), dtype=DTYPE)
    p = _as_float64("initial", initial)
    if p.shape != (vocab_size,):
        raise ValueError(
            f"initial must be a distribution over the {vocab_size} tokens, shape ({vocab_size},)"
            f", got shape {tuple(p.shape)}"
        )
    return torch.log(_check_distributions("initial", p, "distribution"))


def _normalised_log_weights(log_weights: object | None, n_chains: int) -> Tensor:
    """Log prior over the chains, shape (K,), normalised; uniform when None."""
    if log_weights is None:
        return torch.full((n_chains,), -math.log(n_chains), dtype=DTYPE)
    lw = _as_float64("log_weights", log_weights)
    if lw.shape != (n_chains,):
        raise ValueError(
            f"log_weights must have one entry per chain, shape ({n_chains},), got shape "
            f"{tuple(lw.shape)}"
        )
    if torch.isnan(lw).any() or (lw == math.inf).any():
        raise ValueError("log_weights must not hold NaN or +inf (-inf excludes a chain)")
    total = torch.logsumexp(lw, 0)
    if not torch.isfinite(total):
        raise ValueError("log_weights must not all be -inf")
    return lw - total


def _check_sizes(batch: object, length: object) -> None:
    check_int("batch", batch, 1)
    check_int("length", length, 1)


def _run_chains(
    transitions: Tensor, log_initial: Tensor, length: int, generator: torch.Generator
) -> Tensor:
    """Tokens of one chain per sequence, shape (batch, length).

    Parameters
    ----------
    transitions : Tensor, shape (batch, V, V)
    log_initial : Tensor, shape (V,)

    Each token is the inverse CDF of one uniform u: the number of CDF entries <= u. CDFs are
    divided by their last entry so that it is exactly 1 > u, and a zero-probability token
    (an entry equal to the one before it) is never drawn.
    """
    batch, vocab_size = transitions.shape[0], transitions.shape[-1]
    u = torch.rand(length, batch, 1, generator=generator, dtype=DTYPE)  # position first
    cdf_initial = log_initial.exp().cumsum(0)
    cdf_initial = cdf_initial / cdf_initial[-1]  # (V,)
    cdf = transitions.cumsum(-1)
    cdf = (cdf / cdf[..., -1:]).reshape(batch * vocab_size, vocab_size)  # row b * V + prev
    first_row = torch.arange(batch) * vocab_size
    tokens = torch.empty(length, batch, dtype=torch.long)
    tokens[0] = (cdf_initial <= u[0]).sum(-1)
    for t in range(1, length):
        row_cdf = cdf.index_select(0, first_row + tokens[t - 1])  # (batch, V)
        tokens[t] = (row_cdf <= u[t]).sum(-1)
    return tokens.T.contiguous()


def _sample_dirichlet(concentration: Tensor, generator: torch.Generator) -> Tensor:
    """Rows drawn from Dirichlet(concentration) along the last axis, same shape.

    torch has no public Dirichlet sampler that takes a generator; ``_sample_dirichlet`` is the
    kernel behind ``torch.distributions.Dirichlet``. It clamps each gamma draw to the smallest
    normal float, so no probability is exactly 0 even for tiny alpha.
    """
    return torch._sample_dirichlet(concentration, generator=generator)


def _compare_settings(name: str, expected: dict[str, Any], recorded: object) -> None:
    """Raise ValueError naming the first field of `recorded` that differs from `expected`."""
    if not isinstance(recorded, dict):
        raise ValueError(f"settings must be a dict, got {type(recorded).__name__}")
    for key, want in expected.items():
        if key not in recorded:
            raise ValueError(f"settings lacks the field {key!r} (this {name} has {want!r})")
        got = recorded[key]
        if not _same(want, got):
            raise ValueError(
                f"settings field {key!r} does not match this {name}: recorded {got!r}, "
                f"this {name} has {want!r}"
            )
    extra = sorted(set(recorded) - set(expected))
    if extra:
        raise ValueError(f"settings has unknown fields {extra} for a {name}")


def _same(want: object, got: object) -> bool:
    if isinstance(want, float) and isinstance(got, int | float) and not isinstance(got, bool):
        return math.isclose(want, got, rel_tol=CHECKSUM_TOL, abs_tol=CHECKSUM_TOL)
    if isinstance(want, list) and isinstance(got, list | tuple):
        return len(want) == len(got) and all(_same(w, g) for w, g in zip(want, got, strict=True))
    return type(want) is type(got) and want == got


def _checksum(transitions: Tensor) -> float:
    """A number that any real change of the (K, V, V) matrices moves: sum of p * cos(index)."""
    coefficients = torch.cos(torch.arange(transitions.numel(), dtype=DTYPE))
    return float((transitions.reshape(-1) * coefficients).sum())


def _is_uniform(log_p: Tensor) -> bool:
    """Whether a normalised log distribution (n,) is uniform up to rounding."""
    uniform = torch.full_like(log_p, -math.log(log_p.numel()))
    return bool(torch.allclose(log_p, uniform, rtol=0.0, atol=1e-12))


def _maybe_list(log_p: Tensor, uniform: bool) -> list[float] | None:
    return None if uniform else [float(v) for v in log_p.exp()]


# --------------------------------------------------------------------------------------------
# A pool of K Markov chains
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MarkovPool:
    """K Markov chains over V tokens with prior weights: a finite latent set of sequences.

    Latent k is chain k. Build with :meth:`draw` (rows from Dirichlet(alpha) under a seed) or
    :meth:`from_transitions`; the constructor checks its arguments. Compare pools through
    :meth:`settings` (``eq=False``: tensors have no single truth value).

    Attributes
    ----------
    transitions : Tensor, shape (K, V, V), float64
        ``transitions[k, i, j]`` = p(next token j | previous token i, chain k); rows sum to 1.
    log_initial : Tensor, shape (V,), float64
        Log distribution of the first token, the same for every chain.
    log_weights : Tensor, shape (K,), float64
        Normalised log prior over the chains.
    alpha, seed : float and int, or None
        How :meth:`draw` made the transitions; None for :meth:`from_transitions`.
    """

    transitions: Tensor
    log_initial: Tensor
    log_weights: Tensor
    alpha: float | None = None
    seed: int | None = None
    name: str = "markov_pool"

    def __post_init__(self) -> None:
        p = self.transitions
        if not isinstance(p, Tensor) or p.dtype != DTYPE or p.ndim != 3 or p.shape[1] != p.shape[2]:
            raise ValueError("transitions must be a float64 tensor of shape (K, V, V)")
        check_int("n_chains", p.shape[0], 1)
        check_int("vocab_size", p.shape[-1], 2)
        _check_distributions("transitions", p, "row")
        li, lw = self.log_initial, self.log_weights
        if not isinstance(li, Tensor) or li.shape != (p.shape[-1],) or li.dtype != DTYPE:
            raise ValueError(f"log_initial must be float64 of shape ({p.shape[-1]},)")
        if not math.isclose(float(torch.logsumexp(li, 0)), 0.0, abs_tol=SUM_TOL):
            raise ValueError("log_initial must be a normalised log distribution")
        if not isinstance(lw, Tensor) or lw.shape != (p.shape[0],) or lw.dtype != DTYPE:
            raise ValueError(f"log_weights must be float64 of shape ({p.shape[0]},)")
        if not math.isclose(float(torch.logsumexp(lw, 0)), 0.0, abs_tol=SUM_TOL):
            raise ValueError("log_weights must be normalised (logsumexp 0)")

    @classmethod
    def draw(
        cls,
        n_chains: int,
        vocab_size: int,
        alpha: float,
        seed: int,
        *,
        initial: object | None = None,
        log_weights: object | None = None,
    ) -> MarkovPool:
        """K chains whose V rows are drawn once from Dirichlet(alpha, .., alpha).

        The pool is a deterministic function of (n_chains, vocab_size, alpha, seed) on a given
        torch build: the rows come from a ``torch.Generator`` seeded with `seed`.

        Parameters
        ----------
        n_chains : int >= 1
        vocab_size : int >= 2
        alpha : float > 0
            Symmetric Dirichlet concentration: small alpha gives near-deterministic rows.
        seed : int >= 0
        initial : array of shape (V,), optional
            Distribution of the first token (uniform when omitted); must sum to 1.
        log_weights : array of shape (K,), optional
            Log prior weights of the chains, normalised here (uniform when omitted).
        """
        k = check_int("n_chains", n_chains, 1)
        v = check_int("vocab_size", vocab_size, 2)
        a = check_positive("alpha", alpha)
        s = _check_seed(seed)
        log_initial = _log_initial(initial, v)
        lw = _normalised_log_weights(log_weights, k)
        generator = torch.Generator().manual_seed(s)
        transitions = _sample_dirichlet(torch.full((k, v, v), a, dtype=DTYPE), generator)
        return cls(transitions, log_initial, lw, a, s)

    @classmethod
    def from_transitions(
        cls,
        transitions: object,
        *,
        initial: object | None = None,
        log_weights: object | None = None,
    ) -> MarkovPool:
        """A pool of given chains, `transitions` of shape (K, V, V) with rows summing to 1.

        `initial` and `log_weights` as in :meth:`draw`. Zero entries are allowed: a sequence
        that uses such a transition has probability 0 under that chain.
        """
        p = _as_float64("transitions", transitions)
        if p.ndim != 3 or p.shape[1] != p.shape[2]:
            raise ValueError(
                f"transitions must have shape (K, V, V) (n_chains, vocab, vocab), got shape "
                f"{tuple(p.shape)}"
            )
        check_int("n_chains", p.shape[0], 1)
        v = check_int("vocab_size", p.shape[-1], 2)
        p = _check_distributions("transitions", p, "row")
        return cls(p, _log_initial(initial, v), _normalised_log_weights(log_weights, p.shape[0]))

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> MarkovPool:
        """Rebuild a drawn pool from its :meth:`settings` and check that it matches them."""
        if not isinstance(settings, dict) or settings.get("alpha") is None:
            raise ValueError(
                "settings must be the settings() of a pool made by MarkovPool.draw (with alpha "
                "and seed); a pool from explicit transitions cannot be rebuilt from them"
            )
        try:
            pool = cls.draw(
                settings["n_chains"],
                settings["vocab_size"],
                settings["alpha"],
                settings["seed"],
                initial=settings["initial"],
                log_weights=(
                    None
                    if settings["weights"] is None
                    else torch.log(torch.as_tensor(settings["weights"], dtype=DTYPE))
                ),
            )
        except KeyError as err:
            raise ValueError(f"settings lacks the field {err.args[0]!r}") from err
        pool.check_settings(settings)
        return pool

    @property
    def n_chains(self) -> int:
        return int(self.transitions.shape[0])

    @property
    def n_latents(self) -> int:
        return self.n_chains

    @property
    def vocab_size(self) -> int:
        return int(self.transitions.shape[-1])

    def log_prior(self) -> Tensor:
        """Log prior of every chain, shape (K,)."""
        return self.log_weights.clone()

    def log_transitions(self) -> Tensor:
        """log transitions, shape (K, V, V); -inf where a transition is impossible."""
        return torch.log(self.transitions)

    def settings(self) -> dict[str, Any]:
        """A JSON-ready description of the pool, for a model trained on it to record.

        Keys: kind, n_chains, vocab_size, alpha, seed (None unless drawn), initial and weights
        (probability lists, None when uniform) and transitions_checksum (a float that any real
        change of the matrices moves). Check a recorded copy with :meth:`check_settings`.
        """
        k, v = self.n_chains, self.vocab_size
        uniform_initial = _is_uniform(self.log_initial)
        uniform_weights = _is_uniform(self.log_weights)
        return {
            "kind": self.name,
            "n_chains": k,
            "vocab_size": v,
            "alpha": self.alpha,
            "seed": self.seed,
            "initial": _maybe_list(self.log_initial, uniform_initial),
            "weights": _maybe_list(self.log_weights, uniform_weights),
            "transitions_checksum": _checksum(self.transitions),
        }

    def check_settings(self, settings: dict[str, Any]) -> None:
        """Raise ValueError naming the first field of a recorded `settings` that differs."""
        _compare_settings("pool", self.settings(), settings)

    def sample(self, batch: int, length: int, generator: torch.Generator) -> SequenceBatch:
        """Draw `batch` sequences of `length` tokens, vectorised over the batch.

        Returns
        -------
        SequenceBatch
            tokens (batch, length) int64, latent (batch,) chain indices, transitions
            (batch, V, V).
        """
        _check_sizes(batch, length)
        gen = check_generator(generator)
        latent = torch.multinomial(self.log_weights.exp(), batch, replacement=True, generator=gen)
        transitions = self.transitions[latent]  # (batch, V, V)
        tokens = _run_chains(transitions, self.log_initial, length, gen)
        return SequenceBatch(tokens, latent, transitions)


# --------------------------------------------------------------------------------------------
# Fresh Dirichlet rows for every sequence
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DirichletMarkov:
    """Markov chains whose V rows are drawn from Dirichlet(alpha) afresh for every sequence.

    Attributes
    ----------
    vocab_size : int >= 2
    alpha : float > 0
        Symmetric Dirichlet concentration of every row.
    initial : sequence of V floats, optional
        Distribution of the first token (uniform when None); must sum to 1. Stored as a
        tuple, so the prior is hashable.
    """

    vocab_size: int
    alpha: float
    initial: Sequence[float] | None = None
    name: str = "dirichlet_markov"

    def __post_init__(self) -> None:
        check_int("vocab_size", self.vocab_size, 2)
        object.__setattr__(self, "alpha", check_positive("alpha", self.alpha))
        if self.initial is not None:
            p = _log_initial(self.initial, self.vocab_size).exp()
            object.__setattr__(self, "initial", tuple(float(x) for x in p))

    @property
    def log_initial(self) -> Tensor:
        """Log distribution of the first token, shape (V,)."""
        return _log_initial(self.initial, self.vocab_size)

    def settings(self) -> dict[str, Any]:
        """A JSON-ready description: kind, vocab_size, alpha, initial (None when uniform)."""
        initial = None if self.initial is None else list(self.initial)
        return {
            "kind": self.name,
            "vocab_size": self.vocab_size,
            "alpha": self.alpha,
            "initial": initial,
        }

    def check_settings(self, settings: dict[str, Any]) -> None:
        """Raise ValueError naming the first field of a recorded `settings` that differs."""
        _compare_settings("Dirichlet-Markov prior", self.settings(), settings)

    def sample(self, batch: int, length: int, generator: torch.Generator) -> SequenceBatch:
        """Draw `batch` sequences of `length` tokens, each with its own transition matrix.

        Returns
        -------
        SequenceBatch
            tokens (batch, length) int64, latent all -1, transitions (batch, V, V).
        """
        _check_sizes(batch, length)
        gen = check_generator(generator)
        v = self.vocab_size
        transitions = _sample_dirichlet(torch.full((batch, v, v), self.alpha, dtype=DTYPE), gen)
        tokens = _run_chains(transitions, self.log_initial, length, gen)
        latent = torch.full((batch,), -1, dtype=torch.long)
        return SequenceBatch(tokens, latent, transitions)


SequencePrior: TypeAlias = MarkovPool | DirichletMarkov
"""Any sequence prior bayeslens can do exact next-token inference for."""


# --------------------------------------------------------------------------------------------
# Settings by name (the command line's --prior, and the sequence chapter)
# --------------------------------------------------------------------------------------------

BOOK_VOCAB_SIZE = 3
"""Tokens of the named sequence priors: three, as in Edelman et al. (2024)'s smallest setting."""
BOOK_ALPHA = 1.0
"""Dirichlet concentration of the named priors' rows: uniform over each row's simplex."""
BOOK_POOL_SEED = 0
"""Seed of the named pool's chains."""


def markov_pool_v3(n_chains: int = 8) -> MarkovPool:
    """A pool of `n_chains` (default 8) chains over 3 tokens, rows from Dirichlet(1), seed 0.

    Uniform initial distribution and chain weights. With torch's CPU sampler the pool's chains
    are the first `n_chains` of any larger one (the draws fill the (K, V, V) tensor in order;
    ``tests/test_sequence_model.py`` checks it), so pools of growing K are nested. A model
    trained on a pool records its settings (K, seed, a checksum of the chains).
    """
    return MarkovPool.draw(n_chains, BOOK_VOCAB_SIZE, BOOK_ALPHA, BOOK_POOL_SEED)


def dirichlet_markov_v3() -> DirichletMarkov:
    """Fresh Dirichlet(1) rows over 3 tokens for every sequence; uniform first token."""
    return DirichletMarkov(BOOK_VOCAB_SIZE, BOOK_ALPHA)
