"""Which prior does a sequence model follow (issue 17, part 3, the trainings): the in-context
baselines against slow loops, the pool-size sweep's command shrunk, resuming, a mismatched
file, the reading functions, bad arguments; the sequence presets' card round trip."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import pytest
import torch

from bayeslens.evaluate import (
    BASELINES,
    baseline_kls,
    kl_per_token,
    predictor_kl,
    predictor_log_probs,
    summarise_per_token,
)
from bayeslens.sequence_model import SequenceModel, SequenceModelConfig
from bayeslens.sequence_posterior import (
    bigram_log_probs,
    next_token_log_probs,
    uniform_log_probs,
    unigram_log_probs,
)
from bayeslens.sequences import DirichletMarkov, MarkovPool

V = 3
POOL = MarkovPool.draw(4, V, 1.0, 0)
DIRICHLET = DirichletMarkov(V, 1.0)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _tokens(batch: int = 6, length: int = 9, vocab_size: int = V, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab_size, (batch, length), generator=gen)


# ------------------------------------------------------------------------ the baselines


def _slow_unigram(seq: list[int], vocab_size: int, alpha: float) -> list[list[float]]:
    out = []
    for t in range(len(seq)):
        counts = [sum(1 for s in seq[:t] if s == v) for v in range(vocab_size)]
        out.append([math.log((c + alpha) / (t + vocab_size * alpha)) for c in counts])
    return out


def _slow_bigram(seq: list[int], vocab_size: int, alpha: float) -> list[list[float]]:
    out = [[-math.log(vocab_size)] * vocab_size]
    for t in range(1, len(seq)):
        prev = seq[t - 1]
        pairs = list(itertools.pairwise(seq[:t]))  # bigrams among x_1..x_t
        counts = [sum(1 for a, b in pairs if a == prev and b == v) for v in range(vocab_size)]
        total = sum(counts)
        out.append([math.log((c + alpha) / (total + vocab_size * alpha)) for c in counts])
    return out


@pytest.mark.parametrize(("vocab_size", "alpha"), [(2, 0.5), (3, 1.0), (5, 2.5)])
def test_the_baselines_against_loops(vocab_size: int, alpha: float) -> None:
    tokens = _tokens(5, 11, vocab_size, seed=vocab_size)
    uni = unigram_log_probs(tokens, vocab_size, alpha)
    bi = bigram_log_probs(tokens, vocab_size, alpha)
    flat = uniform_log_probs(tokens, vocab_size)
    assert uni.shape == bi.shape == flat.shape == (5, 11, vocab_size)
    assert uni.dtype == bi.dtype == flat.dtype == torch.float64
    for b in range(5):
        seq = tokens[b].tolist()
        torch.testing.assert_close(uni[b], torch.tensor(_slow_unigram(seq, vocab_size, alpha),
                                                        dtype=torch.float64))
        torch.testing.assert_close(bi[b], torch.tensor(_slow_bigram(seq, vocab_size, alpha),
                                                       dtype=torch.float64))
    torch.testing.assert_close(flat, torch.full_like(flat, -math.log(vocab_size)))
    for log_p in (uni, bi, flat):  # distributions at every position
        torch.testing.assert_close(log_p.exp().sum(-1), torch.ones(5, 11, dtype=torch.float64))
    # the bigram predictor is the Dirichlet-Markov predictive
    torch.testing.assert_close(bi, next_token_log_probs(DirichletMarkov(vocab_size, alpha),
                                                        tokens))


def test_the_unigram_and_bigram_predictors_by_hand() -> None:
    tokens = torch.tensor([[0, 0, 1, 0]])
    uni = unigram_log_probs(tokens, 2, 1.0).exp()[0]
    torch.testing.assert_close(uni, torch.tensor(
        [[1 / 2, 1 / 2], [2 / 3, 1 / 3], [3 / 4, 1 / 4], [3 / 5, 2 / 5]], dtype=torch.float64))
    bi = bigram_log_probs(tokens, 2, 1.0).exp()[0]
    # nothing | after 0 (no bigram) | after 0 0 (00 seen once) | after 0 0 1 (none from 1)
    torch.testing.assert_close(bi, torch.tensor(
        [[1 / 2, 1 / 2], [1 / 2, 1 / 2], [2 / 3, 1 / 3], [1 / 2, 1 / 2]], dtype=torch.float64))
    bi2 = bigram_log_probs(torch.tensor([[0, 0, 0, 1, 0, 1]]), 2, 1.0).exp()[0]
    # after 0 0 0 1 0: from 0 the bigrams 00, 00, 01
    torch.testing.assert_close(bi2[5], torch.tensor([3 / 5, 2 / 5], dtype=torch.float64))


def _slow_kl(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    n, length, v = log_p.shape
    out = torch.zeros(n, length, dtype=torch.float64)
    for i in range(n):
        for t in range(length):
            out[i, t] = sum(math.exp(log_p[i, t, k]) * (log_p[i, t, k] - log_q[i, t, k])
                            for k in range(v))
    return out


def _tiny_model(max_length: int = 9) -> SequenceModel:
    torch.manual_seed(0)
    return SequenceModel(SequenceModelConfig(vocab_size=V, max_length=max_length, n_layers=1,
                                             d_model=16, n_heads=2, d_ff=32)).eval()


@pytest.mark.parametrize("prior", [POOL, DIRICHLET], ids=["pool", "dirichlet"])
def test_the_kl_between_any_two_predictors_against_a_loop(
    prior: MarkovPool | DirichletMarkov,
) -> None:
    tokens = prior.sample(5, 9, torch.Generator().manual_seed(3)).tokens
    model = _tiny_model()
    names: list[str | SequenceModel] = ["exact", *BASELINES, model]
    logs = {id(p): predictor_log_probs(p, prior, tokens) for p in names}
    torch.testing.assert_close(logs[id(model)], model.next_token_log_probs(tokens).double())
    torch.testing.assert_close(logs[id("exact")], next_token_log_probs(prior, tokens))
    for p in names:
        for q in names:
            slow = _slow_kl(logs[id(p)], logs[id(q)])
            torch.testing.assert_close(kl_per_token(logs[id(p)], logs[id(q)]), slow)
            kl = predictor_kl(prior, tokens, p, q)
            torch.testing.assert_close(kl.per_position, slow.mean(0))
            assert kl.mean == pytest.approx(float(slow.mean()), abs=1e-12)
            assert kl.se == pytest.approx(float(slow.mean(1).std() / math.sqrt(5)), abs=1e-12)
            assert kl.mean >= -1e-12
    b = baseline_kls(prior, tokens)
    assert list(b) == list(BASELINES)
    for name, kl in b.items():
        assert kl.mean == pytest.approx(predictor_kl(prior, tokens, "exact", name).mean)
    if isinstance(prior, DirichletMarkov):  # the bigram predictor is the exact one
        assert b["bigram"].mean == 0.0
    else:
        assert b["bigram"].mean > 0
    # another alpha is another predictor
    other = predictor_log_probs("unigram", prior, tokens, alpha=0.1)
    torch.testing.assert_close(other, unigram_log_probs(tokens, V, 0.1))


def test_summaries_of_paired_differences() -> None:
    values = torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0], [2.0, 2.0, 5.0]])
    s = summarise_per_token(values)
    torch.testing.assert_close(s.per_position, torch.tensor([2.0, 2.0, 3.0], dtype=torch.float64))
    torch.testing.assert_close(s.per_position_se, torch.tensor(
        [1 / math.sqrt(3), 0.0, 2 / math.sqrt(3)], dtype=torch.float64))
    assert s.mean == pytest.approx(7 / 3)
    assert s.se == pytest.approx(float(torch.tensor([2.0, 2.0, 3.0]).std()) / math.sqrt(3))
    assert (s.n_sequences, s.length) == (3, 3)
    with pytest.raises(ValueError, match="n_sequences >= 2"):
        summarise_per_token(values[:1])


@pytest.mark.parametrize(("call", "match"), [
    (lambda: unigram_log_probs(_tokens(), V, 0.0), "alpha must be"),
    (lambda: bigram_log_probs(_tokens(), V, -1.0), "alpha must be"),
    (lambda: uniform_log_probs(_tokens(), 1), "vocab_size must be"),
    (lambda: unigram_log_probs(_tokens(vocab_size=4), V), r"tokens must lie in 0 \.\. 2"),
    (lambda: bigram_log_probs(_tokens().float(), V), "dtype int64"),
    (lambda: uniform_log_probs(torch.zeros(3, dtype=torch.long), V), r"shape \(batch, length\)"),
    (lambda: predictor_log_probs("trigram", POOL, _tokens()), "predictor must be one of"),
    (lambda: predictor_log_probs("exact", "pool", _tokens()),  # type: ignore[arg-type]
     "prior must be a MarkovPool"),
    (lambda: predictor_log_probs(_tiny_model(), DirichletMarkov(4, 1.0), _tokens()),
     "vocab_size"),
    (lambda: predictor_log_probs("bigram", MarkovPool.from_transitions(POOL.transitions),
                                 _tokens()), "alpha must be given"),
    (lambda: predictor_kl(POOL, _tokens(batch=1), "exact", "uniform"), "n_sequences >= 2"),
])
def test_bad_baseline_input_names_the_argument(call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]
