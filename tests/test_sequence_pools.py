"""Which prior does a sequence model follow (issue 17, part 3, the trainings): the in-context
baselines against slow loops, the pool-size sweep's command shrunk, resuming, a mismatched
file, the reading functions, bad arguments; the sequence presets' card round trip."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from bayeslens import sequence_pools
from bayeslens.budgets import budget_config
from bayeslens.evaluate import (
    BASELINES,
    baseline_kls,
    kl_per_token,
    predictor_kl,
    predictor_log_probs,
    summarise_per_token,
)
from bayeslens.model import PFNConfig
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


# ------------------------------------------------------------------------ the pool sweep

TINY_MODEL = '{"n_layers": 1, "d_model": 16, "n_heads": 2, "d_ff": 32, "max_length": 10}'
TINY_TRAIN = '{"n_points": 10, "batch_size": 8}'


def _args(out: Path, sizes: str = "1,4", steps: str = "20") -> list[str]:
    return ["--pool-sizes", sizes, "--steps", steps, "--eval-sequences", "16", "--out", str(out),
            "--model", TINY_MODEL, "--train", TINY_TRAIN]


def test_the_command_shrunk_writes_every_measure(tmp_path: Path) -> None:
    out = tmp_path / "pools.json"
    assert sequence_pools.main(_args(out)) == 0
    doc = sequence_pools.read_results(out)
    assert doc["prior"]["name"] == "markov_pool"
    assert {k: doc["prior"][k] for k in ("vocab_size", "alpha", "pool_seed", "length")} == {
        "vocab_size": 3, "alpha": 1.0, "pool_seed": 0, "length": 10}
    assert doc["train_config"]["steps"] == 20
    assert doc["model_config"]["d_model"] == 16
    assert doc["eval"]["sequences"] == 16
    assert [r["n_chains"] for r in doc["runs"]] == [1, 4]
    for r in doc["runs"]:
        assert (r["steps"], r["warmup_steps"]) == (20, 1)  # 2% of the run, at least 1
        assert r["cpu_seconds"] > 0
        assert math.isfinite(r["final_loss"])
        for split in sequence_pools.SPLITS:
            assert set(r[split]) == set(sequence_pools.KEYS)
            for key in ("kl_to_pool", "kl_to_bigram", "kl_pool_bigram", "kl_bigram_pool"):
                kl = r[split][key]
                assert (kl["n_sequences"], kl["length"]) == (16, 10)
                assert len(kl["per_position"]) == len(kl["per_position_se"]) == 10
                assert kl["mean"] > 0
                assert kl["se"] > 0, (split, key)
                assert kl["per_position"][0] == pytest.approx(0.0, abs=1e-12) or (
                    key.startswith("kl_to"))  # both exact predictives start uniform
            diff = r[split]["kl_to_bigram_minus_pool"]
            assert diff["mean"] == pytest.approx(
                r[split]["kl_to_bigram"]["mean"] - r[split]["kl_to_pool"]["mean"])
    one = doc["runs"][0]
    # one chain: on its own sequences the pool knows the chain, on fresh ones it is far off
    assert one["fresh"]["kl_bigram_pool"]["mean"] > one["in_pool"]["kl_pool_bigram"]["mean"]
    c = sequence_pools.curves(doc, "fresh")
    assert c.n_chains.tolist() == [1, 4]
    assert c.diff == pytest.approx(c.to_bigram - c.to_pool)
    assert c.reference.tolist() == [r["fresh"]["kl_bigram_pool"]["mean"] for r in doc["runs"]]
    k, mean, se = sequence_pools.position_curves(doc, "in_pool", "kl_to_pool")
    assert k.tolist() == [1, 4]
    assert mean.shape == se.shape == (2, 10)


def test_a_rerun_skips_the_sizes_present_and_a_new_size_is_merged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "pools.json"
    assert sequence_pools.main(_args(out, sizes="1")) == 0
    first = out.read_text()
    trained: list[int] = []
    real = sequence_pools.run_pool_size

    def counting(n_chains: int, *args: object, **kwargs: object) -> dict:
        trained.append(n_chains)
        return real(n_chains, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sequence_pools, "run_pool_size", counting)
    assert sequence_pools.main(_args(out, sizes="1")) == 0
    assert trained == []  # nothing to do: the file is left as it was
    assert out.read_text() == first
    assert sequence_pools.main(_args(out, sizes="2,1")) == 0
    assert trained == [2]
    runs = sequence_pools.read_results(out)["runs"]
    assert [r["n_chains"] for r in runs] == [1, 2]
    assert runs[0] == json.loads(first)["runs"][0]


@pytest.mark.parametrize("change", [
    ["--steps", "21"],
    ["--pool-seed", "1"],
    ["--eval-sequences", "17"],
    ["--model", TINY_MODEL.replace('"d_ff": 32', '"d_ff": 48')],
    ["--train", TINY_TRAIN.replace('"batch_size": 8', '"batch_size": 9')],
])
def test_a_file_made_with_other_settings_is_refused(tmp_path: Path, change: list[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A file holding K = 1 and 4 under _args' settings: a rerun has nothing to do, and any
    other setting is refused before any training."""
    out = tmp_path / "pools.json"
    model = replace(sequence_pools.MODEL, **json.loads(TINY_MODEL))
    train = budget_config(replace(sequence_pools.TRAIN, **json.loads(TINY_TRAIN)), 20)
    head = sequence_pools.header(model, train, eval_sequences=16)
    out.write_text(json.dumps({**head, "runs": [{"n_chains": 1}, {"n_chains": 4}]}))
    monkeypatch.setattr(sequence_pools, "run_pool_size", lambda *a, **k: pytest.fail("trained"))
    assert sequence_pools.main(_args(out)) == 0
    args = _args(out)
    if change[0] in args:
        args[args.index(change[0]) + 1] = change[1]
    else:
        args += change
    with pytest.raises(ValueError, match="other settings"):
        sequence_pools.main(args)


def test_the_distances_against_the_predictors_one_by_one() -> None:
    pool = MarkovPool.draw(4, V, 1.0, 0)
    tokens = pool.sample(7, 9, torch.Generator().manual_seed(2)).tokens
    model = _tiny_model()
    d = sequence_pools.pool_distances(model, pool, tokens)
    for key, p, q in [("kl_to_pool", "exact", model), ("kl_to_bigram", "bigram", model),
                      ("kl_pool_bigram", "exact", "bigram"), ("kl_bigram_pool", "bigram", "exact")]:
        assert d[key].shape == (7, 9)
        torch.testing.assert_close(d[key].mean(0), predictor_kl(pool, tokens, p, q).per_position)
    torch.testing.assert_close(d["kl_to_bigram_minus_pool"], d["kl_to_bigram"] - d["kl_to_pool"])


def test_the_held_out_sequences() -> None:
    small, large = MarkovPool.draw(1, V, 1.0, 0), MarkovPool.draw(4, V, 1.0, 0)
    a = sequence_pools.eval_tokens(small, 50, 12, 0)
    b = sequence_pools.eval_tokens(large, 50, 12, 0)
    assert torch.equal(a["fresh"], b["fresh"])  # the same fresh chains for every K
    assert a["in_pool"].shape == b["in_pool"].shape == (50, 12)
    assert not torch.equal(a["in_pool"], a["fresh"])
    assert torch.equal(a["fresh"], DirichletMarkov(V, 1.0).sample(
        50, 12, torch.Generator().manual_seed(1001)).tokens)
    assert torch.equal(b["in_pool"], large.sample(
        50, 12, torch.Generator().manual_seed(1000)).tokens)
    with pytest.raises(ValueError, match="drawn with a Dirichlet alpha"):
        sequence_pools.eval_tokens(MarkovPool.from_transitions(small.transitions), 2, 3, 0)


def test_the_threshold_reads_a_results_file(tmp_path: Path) -> None:
    def split(to_pool: float, to_bigram: float) -> dict:
        entry = {k: {"mean": v, "se": 0.1, "per_position": [v, v], "per_position_se": [0, 0]}
                 for k, v in (("kl_to_pool", to_pool), ("kl_to_bigram", to_bigram),
                              ("kl_to_bigram_minus_pool", to_bigram - to_pool),
                              ("kl_pool_bigram", 1.0), ("kl_bigram_pool", 2.0))}
        return entry

    runs = [{"n_chains": k, "in_pool": split(a, b), "fresh": split(a, b)}
            for k, a, b in [(64, 5.0, 1.0), (4, 1.0, 5.0), (16, 3.0, 3.0)]]
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"prior": {"name": "markov_pool"}, "runs": runs}))
    doc = sequence_pools.read_results(path)
    assert [r["n_chains"] for r in doc["runs"]] == [4, 16, 64]
    assert sequence_pools.threshold(doc) == pytest.approx(16)
    assert sequence_pools.threshold(doc, "in_pool") == pytest.approx(16)
    assert sequence_pools.curves(doc, "in_pool").reference.tolist() == [1.0] * 3
    assert sequence_pools.curves(doc, "fresh").reference.tolist() == [2.0] * 3
    # as close to both at K = 4 and 16, then closer to the bigram predictor: the pool's was
    # never the closer one, so there is no crossing (the threshold lies below the sweep)
    for r in runs:
        r["fresh"] = split(9.0, 1.0) if r["n_chains"] == 64 else split(3.0, 3.0)
    path.write_text(json.dumps({"prior": {"name": "markov_pool"}, "runs": runs}))
    assert sequence_pools.threshold(sequence_pools.read_results(path)) is None
    assert sequence_pools.threshold(sequence_pools.read_results(path), "in_pool") == (
        pytest.approx(16))
    with pytest.raises(ValueError, match="split must be one of"):
        sequence_pools.curves(doc, "ood")
    with pytest.raises(ValueError, match="key must be one of"):
        sequence_pools.position_curves(doc, "fresh", "mse")
    path.write_text(json.dumps({"prior": {"name": "linear_pool"}, "runs": []}))
    with pytest.raises(ValueError, match="not a sequence-pool results file"):
        sequence_pools.read_results(path)


@pytest.mark.parametrize(("flag", "value", "match"), [
    ("--pool-sizes", "1,0", "--pool-sizes must be comma-separated ints >= 1"),
    ("--pool-sizes", "one", "--pool-sizes must be"),
    ("--steps", "0", "--steps must be an int >= 1"),
    ("--steps", "many", "--steps must be an int >= 1"),
    ("--eval-sequences", "1", "--eval-sequences must be an int >= 2"),
    ("--pool-seed", "-1", "--pool-seed must be an int >= 0"),
    ("--model", '{"width": 3}', "--model has unknown fields \\['width'\\]"),
    ("--model", "[1]", "--model must be a JSON object"),
    ("--model", "{bad", "--model must be a JSON object"),
    ("--model", '{"d_model": 0}', "--model: d_model must be an int >= 1"),
    ("--model", '{"vocab_size": 4}', "--model: vocab_size=4 must be the pools' 3 tokens"),
    ("--model", '{"max_length": 8}', "--train: n_points=10 is longer than the model's "
                                     "max_length=8"),
    ("--train", '{"steps": 5}', "--steps or in --train, not both"),
    ("--train", '{"lr": -1}', "--train: lr must be"),
])
def test_bad_arguments_name_the_argument(tmp_path: Path, flag: str, value: str,
                                         match: str) -> None:
    args = _args(tmp_path / "x.json")
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    with pytest.raises(ValueError, match=match):
        sequence_pools.main(args)
    assert not (tmp_path / "x.json").exists()


def test_bad_sweep_arguments_name_the_argument(tmp_path: Path) -> None:
    out = tmp_path / "x.json"
    tiny = replace(sequence_pools.MODEL, **json.loads(TINY_MODEL))
    train = replace(sequence_pools.TRAIN, n_points=10)
    for kwargs, match in [
        ({"pool_sizes": [0]}, "pool_sizes must be one or more ints >= 1"),
        ({"pool_sizes": 4}, "pool_sizes must be a sequence"),
        ({"eval_sequences": 1}, "eval_sequences must be an int >= 2"),
        ({"alpha": 0.0}, "alpha must be"),
        ({"pool_seed": -1}, "pool_seed must be an int >= 0"),
        ({"vocab_size": 4}, r"model_config\.vocab_size=3 must be the pool's vocab_size = 4"),
        ({"train_config": sequence_pools.TRAIN}, r"n_points=64 gives sequences longer"),
        ({"model_config": PFNConfig()}, "model_config must be a SequenceModelConfig"),
    ]:
        call: dict[str, object] = {"pool_sizes": [2], "model_config": tiny,
                                   "train_config": train, **kwargs}
        with pytest.raises(ValueError, match=match):
            sequence_pools.sweep(out, **call)  # type: ignore[arg-type]
    assert not out.exists()
