"""The causal transformer for sequences (issue 17, part 2): its shapes and causality, next to a
stock-module reference; training it with the package's loop (it learns, resumes, runs under a
process group); its checkpoints; and the KL from the exact next-token predictive.

Two ranks under torchrun are not launched here: the loop, the data seeds and the gradient
averaging are the PFN's (tests/test_distributed.py), and the one-rank group below runs the
sequence objective through DistributedDataParallel."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file

from bayeslens import checkpoints, gaps, paper, sequences
from bayeslens.checkpoints import CheckpointError, load, load_sequence_model, save
from bayeslens.evaluate import (
    SequenceKL,
    kl_from_log_probs,
    kl_per_token,
    predictor_kl,
    predictor_log_probs,
    sequence_kl,
    sequence_kl_curve,
    summarise_per_token,
)
from bayeslens.model import PFN, PFNConfig
from bayeslens.sequence_model import (
    SequenceModel,
    SequenceModelConfig,
    dense_mask_reference,
    rotary_angles,
    rotate,
)
from bayeslens.sequence_posterior import next_token_log_probs
from bayeslens.sequences import DirichletMarkov, MarkovPool
from bayeslens.train import (
    PFN_PRESETS,
    PRESETS,
    PRIORS,
    SEQUENCE_PRESETS,
    StepInfo,
    TrainConfig,
    build_model,
    main,
    sequence_loss,
    train,
)

V = 3
LENGTH = 12
POOL = MarkovPool.draw(4, V, 0.5, 1)
DIRICHLET = DirichletMarkov(V, 1.0)
TINY = SequenceModelConfig(vocab_size=V, max_length=LENGTH, n_layers=2, d_model=32, n_heads=2,
                           d_ff=64)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _train_config(**kw: object) -> TrainConfig:
    base: dict[str, object] = dict(steps=40, batch_size=32, lr=3e-3, warmup_steps=5,
                                   n_points=LENGTH, seed=0, checkpoint_every=20)
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def _model(seed: int = 0, **kw: object) -> SequenceModel:
    cfg = SequenceModelConfig(**{**TINY.to_dict(), **kw})  # type: ignore[arg-type]
    torch.manual_seed(seed)
    return SequenceModel(cfg).eval()


def _tokens(batch: int = 5, length: int = LENGTH, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, V, (batch, length), generator=torch.Generator().manual_seed(seed))


def _crash_at(step: int) -> Callable[[StepInfo], None]:
    def callback(info: StepInfo) -> None:
        if info.step == step:
            raise KeyboardInterrupt

    return callback


# ------------------------------------------------------------------------------ the network


@pytest.mark.parametrize("positions", ["learned", "rotary"])
@pytest.mark.parametrize("norm_first", [True, False])
def test_shapes_and_the_exact_layout(positions: str, norm_first: bool) -> None:
    model = _model(positions=positions, norm_first=norm_first)
    x = _tokens(5, 7)
    logits = model(x)
    assert logits.shape == (5, 7, V)
    assert logits.dtype == torch.float32
    log_p = model.next_token_log_probs(x)
    exact = next_token_log_probs(POOL, x)
    assert log_p.shape == exact.shape  # entry by entry, no shift
    torch.testing.assert_close(log_p.logsumexp(-1), torch.zeros(5, 7), atol=1e-6, rtol=0)
    # position 0 reads the start token only: the same first-token prediction for every sequence
    assert torch.equal(log_p[:, 0], log_p[:1, 0].expand(5, V))
    assert not torch.allclose(log_p[:, 1], log_p[:1, 1].expand(5, V))


@pytest.mark.parametrize("norm_first", [True, False])
def test_matches_stock_modules_with_a_dense_causal_mask(norm_first: bool) -> None:
    model = _model(norm_first=norm_first)
    x = _tokens(4, LENGTH)
    with torch.no_grad():
        torch.testing.assert_close(model(x), dense_mask_reference(model)(x), atol=1e-5,
                                   rtol=1e-5)


@pytest.mark.parametrize("positions", ["learned", "rotary"])
def test_a_later_token_does_not_change_earlier_logits(positions: str) -> None:
    model = _model(positions=positions)
    x = _tokens(6, LENGTH)
    with torch.no_grad():
        base = model(x)
        for t in (0, 5, LENGTH - 1):
            y = x.clone()
            y[:, t] = (y[:, t] + 1) % V
            out = model(y)
            # output t predicts token t from tokens before it
            assert torch.equal(out[:, : t + 1], base[:, : t + 1])
            if t + 1 < LENGTH:
                assert (out[:, t + 1] - base[:, t + 1]).abs().max() > 1e-4


def test_positions_are_used() -> None:
    """The same tokens in another order give other predictions after them."""
    for positions in ("learned", "rotary"):
        model = _model(positions=positions)
        a = torch.tensor([[0, 0, 1, 1, 2]])
        b = torch.tensor([[1, 0, 1, 0, 2]])  # the same counts before the last prediction
        with torch.no_grad():
            assert (model(a)[0, -1] - model(b)[0, -1]).abs().max() > 1e-4


def test_rotary_scores_depend_on_the_offset_only() -> None:
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(16, generator=g), torch.randn(16, generator=g)
    angles = rotary_angles(40, 16)  # (40, 8)

    def score(i: int, j: int) -> float:
        qi = rotate(q.expand(40, 16), angles)[i]
        kj = rotate(k.expand(40, 16), angles)[j]
        return float(qi @ kj)

    assert score(3, 1) == pytest.approx(score(30, 28), abs=1e-4)
    assert score(3, 1) != pytest.approx(score(3, 2), abs=1e-3)
    rotated = rotate(q.expand(40, 16), angles)
    torch.testing.assert_close(rotated.norm(dim=-1), q.norm().expand(40), atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"vocab_size": 1}, "vocab_size"), ({"vocab_size": 2.0}, "vocab_size"),
     ({"max_length": 0}, "max_length"), ({"n_layers": 0}, "n_layers"),
     ({"d_model": 30, "n_heads": 4}, "divisible by n_heads"), ({"n_heads": True}, "n_heads"),
     ({"positions": "sinusoidal"}, "positions"), ({"norm_first": 1}, "norm_first"),
     ({"d_model": 6, "n_heads": 2, "positions": "rotary"}, "even head size")],
)
def test_bad_configs_raise(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SequenceModelConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("tokens", "match"),
    [([[0, 1]], "torch.Tensor"), (torch.tensor([[0.0, 1.0]]), "dtype int64"),
     (torch.tensor([[0, 1]], dtype=torch.int32), "dtype int64"),
     (torch.tensor([0, 1]), r"shape \(batch, length\)"),
     (torch.zeros(2, 3, 1, dtype=torch.long), r"shape \(batch, length\)"),
     (torch.zeros(2, 0, dtype=torch.long), r"shape \(batch, length\)"),
     (torch.tensor([[0, 3]]), r"0 \.\. 2"), (torch.tensor([[-1, 0]]), r"0 \.\. 2"),
     (torch.zeros(1, LENGTH + 1, dtype=torch.long), "max_length=12")],
)
def test_bad_tokens_raise(tokens: object, match: str) -> None:
    model = _model()
    with pytest.raises(ValueError, match=match) as err:
        model(tokens)  # type: ignore[arg-type]
    assert str(err.value).startswith("tokens")  # the message names the argument
    with pytest.raises(ValueError, match=match):
        model.next_token_log_probs(tokens)  # type: ignore[arg-type]


def test_sequence_loss_is_the_mean_cross_entropy() -> None:
    logits = torch.randn(2, 3, V, generator=torch.Generator().manual_seed(1))
    tokens = torch.tensor([[0, 2, 1], [1, 1, 0]])
    by_hand = -sum(float(torch.log_softmax(logits[b, t], -1)[tokens[b, t]])
                   for b in range(2) for t in range(3)) / 6
    assert float(sequence_loss(logits, tokens)) == pytest.approx(by_hand, rel=1e-6)


# ------------------------------------------------------------------------------ training


def test_a_short_run_learns_and_beats_the_uniform_predictor() -> None:
    cfg = _train_config()
    result = train(POOL, TINY, cfg, progress=False)
    assert isinstance(result.model, SequenceModel)
    assert len(result.losses) == 40
    assert sum(result.losses[-5:]) / 5 < sum(result.losses[:5]) / 5 - 0.1
    tokens = POOL.sample(300, LENGTH, torch.Generator().manual_seed(7)).tokens
    exact = next_token_log_probs(POOL, tokens)
    uniform = kl_from_log_probs(exact, torch.full_like(exact, -math.log(V)))
    untrained = build_model(POOL, TINY, cfg)
    kls = sequence_kl_curve({0: untrained, 40: result.model}, POOL, tokens)
    assert kls[40].mean < uniform.mean - 5 * (uniform.se + kls[40].se)
    assert kls[40].mean < kls[0].mean - 5 * (kls[0].se + kls[40].se)


def test_resume_continues_exactly(tmp_path: Path) -> None:
    cfg = _train_config(steps=16, checkpoint_every=8)
    full = train(POOL, TINY, cfg, progress=False, snapshot_steps=[4, 14])
    with pytest.raises(KeyboardInterrupt):
        train(POOL, TINY, cfg, workdir=tmp_path, progress=False, callback=_crash_at(11),
              snapshot_steps=[4, 14])
    assert json.loads((tmp_path / "state.json").read_text())["step"] == 8
    resumed = train(POOL, TINY, cfg, workdir=tmp_path, progress=False, snapshot_steps=[4, 14])
    assert resumed.losses == full.losses
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    snap = resumed.snapshots[4]  # read back from its files, as a sequence model
    assert isinstance(snap, SequenceModel)
    assert snap.metadata["step"] == 4
    for a, b in zip(snap.state_dict().values(), full.snapshots[4].state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    # another pool of the same name and size does not continue this run
    other = MarkovPool.draw(4, V, 0.5, 2)
    with pytest.raises(ValueError, match="cannot resume"):
        train(other, TINY, cfg, workdir=tmp_path, progress=False)


def test_a_one_process_group_trains_exactly_as_no_group(tmp_path: Path) -> None:
    """The DistributedDataParallel path with one rank: the same bits as a single process."""
    cfg = _train_config(steps=6, checkpoint_every=3)
    alone = train(DIRICHLET, TINY, cfg, progress=False)
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        grouped = train(DIRICHLET, TINY, cfg, workdir=tmp_path, progress=False)
    finally:
        dist.destroy_process_group()
    assert grouped.extra["world_size"] == 1
    assert grouped.losses == alone.losses
    for a, b in zip(alone.model.state_dict().values(), grouped.model.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("prior", "model_config", "n_points", "init", "match"),
    [(POOL, PFNConfig(max_context=11), LENGTH, False, "train a sequence model on it"),
     (paper.steps_e1(), TINY, LENGTH, False, "sequence prior"),
     (DirichletMarkov(4, 1.0), TINY, LENGTH, False, "vocab_size=4"),
     (POOL, TINY, LENGTH + 1, False, "max_length=12"),
     (POOL, TINY, LENGTH, True, "init must be a SequenceModel")],
)
def test_train_refuses_what_does_not_fit(
    prior: object, model_config: object, n_points: int, init: bool, match: str
) -> None:
    start = _model(max_length=LENGTH + 4) if init else None  # another architecture
    cfg = _train_config(steps=2, n_points=n_points)
    with pytest.raises(ValueError, match=match):
        train(prior, model_config, cfg, progress=False, init=start)  # type: ignore[call-overload]


def test_the_command_line_trains_evaluates_and_saves(tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["--prior", "dirichlet_markov_v3", "--steps", "4", "--batch-size", "8",
            "--n-points", "10", "--n-layers", "1", "--d-model", "16", "--n-heads", "2",
            "--d-ff", "32", "--positions", "rotary", "--warmup-steps", "1",
            "--eval-datasets", "20", "--snapshot-steps", "2", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    model = load_sequence_model(out / "model", prior=sequences.dirichlet_markov_v3())
    assert model.config == SequenceModelConfig(vocab_size=3, max_length=10, n_layers=1,
                                               d_model=16, n_heads=2, d_ff=32,
                                               positions="rotary")
    card = model.metadata
    assert card["prior"]["name"] == "dirichlet_markov_v3"
    assert len(card["kl"]["per_position"]) == 10
    assert [c["step"] for c in card["kl_vs_steps"]] == [0, 2, 4]
    again = sequence_kl_curve({4: model}, sequences.dirichlet_markov_v3(),
                              DIRICHLET.sample(20, 10, torch.Generator().manual_seed(1000)).tokens)
    assert again[4].mean == pytest.approx(card["kl"]["mean"], rel=1e-9)
    assert card["kl_uniform"]["mean"] > 0
    with pytest.raises(SystemExit, match="--n-buckets do not apply to a sequence model"):
        main([*argv, "--n-buckets", "10"])
    with pytest.raises(SystemExit, match="--positions do not apply to a PFN"):
        main(["--prior", "steps", "--positions", "rotary"])


def test_named_pools_are_nested_and_fit_the_chapter() -> None:
    small, large = sequences.markov_pool_v3(), sequences.markov_pool_v3(32)
    assert (small.n_chains, small.vocab_size, small.alpha, small.seed) == (8, 3, 1.0, 0)
    assert torch.equal(small.transitions, large.transitions[:8])
    assert sequences.dirichlet_markov_v3().settings() == DirichletMarkov(3, 1.0).settings()


# ------------------------------------------------------------------------------ presets


def test_the_sequence_presets_fit_their_priors() -> None:
    assert sorted(SEQUENCE_PRESETS) == ["markov_dirichlet", "markov_pool"]
    assert PRESETS == {**PFN_PRESETS, **SEQUENCE_PRESETS}
    assert all(isinstance(p.model, PFNConfig) for p in PFN_PRESETS.values())
    for name, preset in SEQUENCE_PRESETS.items():
        prior = PRIORS[preset.prior]()
        assert isinstance(prior, MarkovPool | DirichletMarkov), name
        assert isinstance(preset.model, SequenceModelConfig)
        assert preset.model.vocab_size == prior.vocab_size
        assert preset.train.n_points <= preset.model.max_length
        schedule = preset.snapshot_schedule(preset.train.steps)
        assert schedule == sorted(preset.snapshot_steps)
        assert schedule[-1] < preset.train.steps
    assert isinstance(PRIORS[SEQUENCE_PRESETS["markov_pool"].prior](), MarkovPool)
    # a shortened run keeps the snapshots inside it; a PFN preset keeps its even spacing
    assert SEQUENCE_PRESETS["markov_pool"].snapshot_schedule(120) == [25, 50, 100]
    assert PFN_PRESETS["coin"].snapshot_schedule(4_000) == list(range(400, 4_000, 400))


def test_a_sequence_preset_trains_writes_its_card_and_ships(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI path of ``--preset markov_pool``, shrunk: train, card, figure; the card's
    numbers come back from the saved weights; shipped, it loads by name and gets a gap-table
    row; the PFN loader refuses it."""
    shrunk = replace(
        SEQUENCE_PRESETS["markov_pool"],
        model=replace(SEQUENCE_PRESETS["markov_pool"].model, max_length=10, n_layers=1,
                      d_model=16, d_ff=32),
        train=TrainConfig(steps=6, batch_size=8, lr=3e-3, warmup_steps=1, n_points=10,
                          checkpoint_every=3),
        eval_datasets=24, snapshot_steps=(2, 4, 100),
    )
    monkeypatch.setitem(SEQUENCE_PRESETS, "markov_pool", shrunk)
    out = tmp_path / "run"
    assert main(["--preset", "markov_pool", "--out", str(out), "--no-progress"]) == 0
    pool = sequences.markov_pool_v3()
    model = load_sequence_model(out / "model", prior=pool)
    assert model.config == shrunk.model
    card = model.metadata
    assert (card["preset"], card["prior"]["name"]) == ("markov_pool", "markov_pool_v3")
    assert card["train_config"]["steps"] == 6
    assert (out / "model" / "kl_vs_steps.png").stat().st_size > 0
    assert [c["step"] for c in card["kl_vs_steps"]] == [0, 2, 4, 6]
    tokens = pool.sample(24, 10, torch.Generator().manual_seed(card["eval_seed"])).tokens
    assert card["eval_seed"] == 1000
    again = predictor_kl(pool, tokens, "exact", model)
    assert card["kl"]["mean"] == pytest.approx(again.mean, rel=1e-9)
    assert card["kl"]["se"] == pytest.approx(again.se, rel=1e-9)
    assert len(card["kl"]["per_position"]) == 10
    # the card's measured gap, as a PFN card's: the KL with its standard error, per token
    assert (card["gap"]["gap"], card["gap"]["se"]) == (card["kl"]["mean"], card["kl"]["se"])
    assert card["gap"]["unit"] == "nats per token"
    assert card["kl_vs_steps"][-1]["kl"] == card["kl"]["mean"]
    for b in ("uniform", "unigram", "bigram"):
        assert card[f"kl_{b}"]["mean"] == pytest.approx(
            predictor_kl(pool, tokens, "exact", b).mean, rel=1e-12)
        assert card["kl_vs_steps"][-1][f"kl_from_{b}"]["mean"] == pytest.approx(
            predictor_kl(pool, tokens, b, model).mean, rel=1e-9)
    assert card["baseline_alpha"] == 1.0
    # shipped: by name, checked, listed in the gap table
    root = tmp_path / "pretrained"
    shutil.copytree(out / "model", root / "markov_pool")
    monkeypatch.setattr(checkpoints, "PRETRAINED_ROOT", root)
    shipped = checkpoints.load_pretrained_sequence_model("markov_pool")
    assert torch.equal(shipped(tokens), model(tokens))
    with pytest.raises(CheckpointError, match="load_sequence_model"):
        checkpoints.load_pretrained("markov_pool")
    with pytest.raises(ValueError, match="no shipped model named 'nope'"):
        checkpoints.load_pretrained_sequence_model("nope")
    row = gaps.model_gaps("markov_pool")
    assert (row.kind, row.n_latents, row.max_context, row.steps) == ("sequence", 8, 10, 6)
    assert (row.nll_gap, row.n_datasets) == (card["kl"]["mean"], 24)
    assert [b for b, _, _ in row.baselines] == ["uniform", "unigram", "bigram"]
    assert [s for s, _, _ in row.gap_vs_steps] == [0, 2, 4, 6]
    page = gaps.render([row], "https://example.org/r")
    kl = gaps.format_gap(row.nll_gap, row.nll_se, "\u00a0±\u00a0")
    assert f"| {{ref}}`markov_pool <gaps-markov-pool>` | {row.n_params:,} | 6" in page
    assert f"| {kl} | no paper context |  |" in page
    assert "(gaps-markov-pool)=\n## `markov_pool`" in page
    assert "Sequence models" in page
    assert "8 chains" in page
    assert "in-context predictors' KLs: uniform " in page
    text = gaps.render_text(row)
    assert "KL from the exact predictive" in text
    assert "unigram predictor" in text


def test_the_prior_path_still_defaults_max_length_to_the_sequence_length(
    tmp_path: Path
) -> None:
    out = tmp_path / "run"
    assert main(["--prior", "markov_pool_v3", "--steps", "2", "--batch-size", "4",
                 "--n-points", "7", "--n-layers", "1", "--d-model", "16", "--d-ff", "32",
                 "--eval-datasets", "0", "--no-progress", "--out", str(out)]) == 0
    model = load_sequence_model(out / "model")
    assert model.config.max_length == 7
    assert model.metadata["preset"] is None
    assert "kl" not in model.metadata
    assert not (out / "model" / "kl_vs_steps.png").exists()
    with pytest.raises(SystemExit, match="--n-buckets do not apply to a sequence model"):
        main(["--preset", "markov_dirichlet", "--n-buckets", "10"])


# ------------------------------------------------------------------------------ checkpoints


def test_checkpoint_round_trip_is_bit_identical(tmp_path: Path) -> None:
    for positions in ("learned", "rotary"):
        model = _model(seed=3, positions=positions)
        path = save(model, tmp_path / positions, prior=POOL, train_config=_train_config(),
                    final_loss=0.9)
        loaded = load_sequence_model(path, prior=POOL)
        x = _tokens(4, LENGTH)
        assert torch.equal(loaded(x), model(x))
        assert loaded.config == model.config
        assert not loaded.training
        card = loaded.metadata
        assert card["model_class"] == "SequenceModel"
        assert card["prior"]["settings"]["class"] == "MarkovPool"
        assert card["prior"]["settings"]["seed"] == 1


def test_checkpoints_refuse_another_prior_tampering_and_the_other_loader(
    tmp_path: Path
) -> None:
    path = save(_model(), tmp_path / "m", prior=POOL)
    with pytest.raises(CheckpointError, match="'seed'"):
        load_sequence_model(path, prior=MarkovPool.draw(4, V, 0.5, 2))
    with pytest.raises(CheckpointError, match="not of a DirichletMarkov"):
        load_sequence_model(path, prior=DIRICHLET)
    with pytest.raises(CheckpointError, match="vocab_size=4"):
        load_sequence_model(path, prior=MarkovPool.draw(4, 4, 0.5, 1))
    with pytest.raises(CheckpointError, match="holds a SequenceModel; load it with "
                                              "load_sequence_model"):
        load(path)
    path_d = save(_model(), tmp_path / "d", prior=DIRICHLET)
    with pytest.raises(CheckpointError, match="'alpha'"):
        load_sequence_model(path_d, prior=DirichletMarkov(V, 0.5))
    torch.manual_seed(0)
    pfn = save(PFN(PFNConfig(n_layers=1, d_model=16, n_heads=2, d_ff=32, n_buckets=10,
                             head_hidden=0)), tmp_path / "pfn")
    with pytest.raises(CheckpointError, match="holds a PFN; load it with load"):
        load_sequence_model(pfn)
    assert "model_class" not in json.loads((pfn / checkpoints.CARD_FILE).read_text())
    tensors = load_file(str(path / checkpoints.WEIGHTS_FILE))
    tensors["head.bias"] = tensors["head.bias"] + 1
    save_file(tensors, str(path / checkpoints.WEIGHTS_FILE))
    with pytest.raises(CheckpointError, match="hash mismatch"):
        load_sequence_model(path)


# ------------------------------------------------------------------------------ evaluation


def test_kl_against_a_loop_and_its_zero() -> None:
    tokens = DIRICHLET.sample(6, 5, torch.Generator().manual_seed(2)).tokens
    exact = next_token_log_probs(DIRICHLET, tokens)
    assert kl_from_log_probs(exact, exact).mean == 0.0
    approx = torch.log_softmax(torch.randn(6, 5, V, generator=torch.Generator()
                                           .manual_seed(3)), -1)
    res = kl_from_log_probs(exact, approx)
    p, q = exact.tolist(), approx.tolist()
    by_hand = [[sum(math.exp(p[b][t][v]) * (p[b][t][v] - q[b][t][v]) for v in range(V))
                for t in range(5)] for b in range(6)]
    per_position = [sum(by_hand[b][t] for b in range(6)) / 6 for t in range(5)]
    assert res.per_position.tolist() == pytest.approx(per_position, rel=1e-9)
    means = [sum(row) / 5 for row in by_hand]
    mean = sum(means) / 6
    se = math.sqrt(sum((m - mean) ** 2 for m in means) / 5 / 6)
    assert (res.mean, res.se) == pytest.approx((mean, se), rel=1e-9)
    assert res.per_position_se.shape == (5,)
    assert (res.n_sequences, res.length) == (6, 5)
    # a token the exact side rules out adds nothing (0 log 0 = 0)
    zero = MarkovPool.from_transitions([[[0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]]])
    x = zero.sample(4, 6, torch.Generator().manual_seed(0)).tokens
    ex = next_token_log_probs(zero, x)
    assert math.isfinite(kl_from_log_probs(ex, torch.full_like(ex, -math.log(V))).mean)


@pytest.mark.parametrize("prior", [POOL, DIRICHLET])
def test_sequence_kl_for_both_priors(prior: MarkovPool | DirichletMarkov) -> None:
    model = _model()
    res = sequence_kl(model, prior, 50, length=8, seed=4)
    assert res.per_position.shape == res.per_position_se.shape == (8,)
    assert res.mean > 0
    assert res.mean == pytest.approx(float(res.per_position.mean()), rel=1e-9)
    tokens = prior.sample(50, 8, torch.Generator().manual_seed(4)).tokens
    direct = kl_from_log_probs(next_token_log_probs(prior, tokens),
                               model.next_token_log_probs(tokens))
    assert res.mean == direct.mean
    assert json.loads(json.dumps(res.to_dict()))["per_position"] == res.per_position.tolist()


@pytest.mark.parametrize(
    ("call", "match"),
    [(lambda: sequence_kl("model", POOL, 10), "SequenceModel"),  # type: ignore[arg-type]
     (lambda: sequence_kl(_model(), paper.steps_e1(), 10), "MarkovPool"),  # type: ignore[arg-type]
     (lambda: sequence_kl(_model(), DirichletMarkov(4, 1.0), 10), "vocab_size"),
     (lambda: sequence_kl(_model(), POOL, 1), "n_sequences"),
     (lambda: sequence_kl(_model(), POOL, 10, length=LENGTH + 1), "length"),
     (lambda: kl_from_log_probs(torch.zeros(2, 3, V), torch.zeros(2, 4, V)), "same shape")],
)
def test_evaluation_refuses_bad_input(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------------- the shipped models


def _fresh_kls(name: str, prior: MarkovPool | DirichletMarkov, n_sequences: int
               ) -> tuple[dict[str, object], torch.Tensor, dict[str, torch.Tensor]]:
    """The shipped model's card, and per-token KL(exact || predictor), shape (n, length), of
    the network and of the card's baselines on ``n_sequences`` fresh sequences (seed 2024,
    not the card's 1000) of the card's length."""
    checkpoints.load_pretrained_sequence_model(name)  # by name, as a user loads it
    model = load_sequence_model(checkpoints.pretrained_dir(name), prior=prior)  # its prior
    card = model.metadata
    tokens = prior.sample(n_sequences, card["kl"]["length"],
                          torch.Generator().manual_seed(2024)).tokens
    exact = predictor_log_probs("exact", prior, tokens)
    per_token = {b: kl_per_token(exact, predictor_log_probs(b, prior, tokens))
                 for b in ("uniform", "unigram", "bigram")}
    return card, kl_per_token(exact, predictor_log_probs(model, prior, tokens)), per_token


def _agrees_with_the_card(fresh: SequenceKL, recorded: dict[str, float]) -> None:
    combined_se = math.sqrt(fresh.se**2 + recorded["se"] ** 2)
    assert abs(fresh.mean - recorded["mean"]) <= 3 * combined_se, (fresh.mean, fresh.se,
                                                                  recorded)


def test_shipped_markov_pool_kl_agrees_with_its_card() -> None:
    """500 fresh sequences (about a second) reproduce the card's 2,000-sequence KL, and the
    network stays below the in-context bigram predictor: it identifies the chain, which
    bigram counts alone cannot."""
    card, net, baselines = _fresh_kls("markov_pool", sequences.markov_pool_v3(), 500)
    fresh = summarise_per_token(net)
    _agrees_with_the_card(fresh, card["kl"])
    for b, kl in baselines.items():
        _agrees_with_the_card(summarise_per_token(kl), card[f"kl_{b}"])
    assert card["kl"]["mean"] < card["kl_bigram"]["mean"] < card["kl_unigram"]["mean"]
    below = summarise_per_token(baselines["bigram"] - net)  # paired, on the same sequences
    assert below.mean > 3 * below.se, (below.mean, below.se)


def test_shipped_markov_dirichlet_kl_agrees_with_its_card() -> None:
    """500 fresh sequences (about a second) reproduce the card's 2,000-sequence KL. The exact
    predictive is add-one bigram counting, so the card's bigram KL is 0; the network's is
    close to it: below a hundredth of the unigram predictor's (the card: 0.00075 against
    0.108)."""
    card, net, baselines = _fresh_kls("markov_dirichlet", sequences.dirichlet_markov_v3(), 500)
    fresh = summarise_per_token(net)
    _agrees_with_the_card(fresh, card["kl"])
    for b in ("uniform", "unigram"):
        _agrees_with_the_card(summarise_per_token(baselines[b]), card[f"kl_{b}"])
    assert card["kl_bigram"]["mean"] == 0.0
    assert float(baselines["bigram"].abs().max()) < 1e-12  # bigram counting is the exact side
    assert 0 < card["kl"]["mean"] < card["kl_unigram"]["mean"] / 100
    assert fresh.mean + 3 * fresh.se < summarise_per_token(baselines["unigram"]).mean / 100
