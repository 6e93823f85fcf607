"""Training on a shrunken config: it learns, it resumes exactly, its CLI works."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from bayeslens import checkpoints, paper
from bayeslens.evaluate import nll_gap
from bayeslens.model import PFNConfig
from bayeslens.train import PRESETS, StepInfo, TrainConfig, build_model, main, sample_batch, train

TINY = PFNConfig(n_layers=2, d_model=32, n_heads=2, d_ff=64, n_buckets=100, max_context=9,
                 head_hidden=0)


def _tiny_train(**kw: object) -> TrainConfig:
    base = dict(steps=300, batch_size=32, lr=2e-3, warmup_steps=30, n_points=10,
                border_datasets=1000, seed=0, checkpoint_every=100)
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def test_a_short_run_lowers_the_gap_to_the_exact_ppd() -> None:
    prior = paper.steps_e1()
    cfg = _tiny_train()
    untrained = build_model(prior, TINY, cfg).eval()
    before = nll_gap(untrained, prior, 300, n_points=10, seed=7)
    result = train(prior, TINY, cfg, progress=False)
    after = nll_gap(result.model, prior, 300, n_points=10, seed=7)  # the same datasets
    assert len(result.losses) == 300
    assert after.exact_nll == before.exact_nll
    assert after.gap < before.gap - 5 * (before.se + after.se)
    assert after.gap < 0.5 * before.gap
    assert result.final_loss < sum(result.losses[:10]) / 10


def test_resume_continues_exactly(tmp_path: Path) -> None:
    prior = paper.steps_e1()
    cfg = _tiny_train(steps=40, checkpoint_every=20)
    full = train(prior, TINY, cfg, progress=False)

    def crash(info: StepInfo) -> None:
        if info.step == 25:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(prior, TINY, cfg, workdir=tmp_path, progress=False, callback=crash)
    assert json.loads((tmp_path / "state.json").read_text())["step"] == 20
    resumed = train(prior, TINY, cfg, workdir=tmp_path, progress=False)
    assert resumed.losses == pytest.approx(full.losses, abs=1e-5)
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values(),
                    strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="cannot resume"):
        train(prior, TINY, _tiny_train(steps=40, lr=1e-3), workdir=tmp_path, progress=False)


def test_callback_and_snapshots(tmp_path: Path) -> None:
    seen: list[int] = []
    train(paper.steps_e1(), TINY, _tiny_train(steps=6), workdir=tmp_path, progress=False,
          callback=lambda info: seen.append(info.step), snapshot_steps=[3])
    assert seen == [1, 2, 3, 4, 5, 6]
    snap = checkpoints.load(tmp_path / "snapshots" / "step_0000003")
    assert snap.metadata["step"] == 3


def test_the_coin_trains_a_classifier() -> None:
    cfg = PFNConfig(n_layers=1, d_model=16, n_heads=2, d_ff=32, n_classes=2, max_context=9,
                    head_hidden=0)
    result = train(paper.coin_e5(), cfg, _tiny_train(steps=30), progress=False)
    assert result.model.bar is None
    assert len(result.losses) == 30


def test_schedule_warms_up_then_decays() -> None:
    cfg = TrainConfig(steps=100, lr=1.0, warmup_steps=10, min_lr_ratio=0.1)
    assert cfg.lr_at(0) == pytest.approx(0.1)
    assert cfg.lr_at(9) == pytest.approx(1.0)
    assert cfg.lr_at(10) == pytest.approx(1.0)
    assert cfg.lr_at(55) == pytest.approx(0.55)
    assert cfg.lr_at(99) == pytest.approx(0.1, abs=1e-3)


def test_sample_batch_splits_at_one_context_size() -> None:
    b = sample_batch(paper.steps_e1(), 8, 20, torch.Generator().manual_seed(0))
    assert b.x_context.dtype == torch.float32
    nc = b.x_context.shape[1]
    assert 1 <= nc <= 19
    assert b.x_query.shape == (8, 20 - nc) == b.y_query.shape


@pytest.mark.parametrize(
    ("kwargs", "msg"),
    [({"steps": 0}, "steps"), ({"lr": 0.0}, "lr"), ({"n_points": 1}, "n_points"),
     ({"warmup_steps": -1}, "warmup"), ({"grad_clip": float("nan")}, "grad_clip")],
)
def test_train_config_validation(kwargs: dict[str, object], msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        TrainConfig(**kwargs)  # type: ignore[arg-type]


def test_context_longer_than_the_model_is_refused() -> None:
    with pytest.raises(ValueError, match="max_context"):
        train(paper.steps_e1(), TINY, _tiny_train(n_points=20), progress=False)


def test_command_line(tmp_path: Path) -> None:
    out = tmp_path / "run"
    code = main(["--prior", "steps", "--steps", "5", "--n-layers", "1", "--d-model", "16",
                 "--n-heads", "2", "--d-ff", "32", "--n-buckets", "20", "--head-hidden", "0",
                 "--border-datasets", "200", "--eval-datasets", "20", "--out", str(out),
                 "--no-progress", "--fp16"])
    assert code == 0
    model = checkpoints.load(out / "model")
    assert model.config.n_buckets == 20
    assert model.metadata["gap"]["n_datasets"] == 20
    assert model.metadata["weights_dtype"] == "float16"
    assert model.metadata["prior"]["name"] == "steps"
    assert "steps" in PRESETS


@pytest.mark.slow
# torch's own Inductor import uses a deprecated torch.jit API (torch 2.13)
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_compiled_training_matches_eager() -> None:
    """``compile=True`` (the benchmark's fastest step) trains the same network as eager."""
    prior = paper.steps_e1()
    cfg = _tiny_train(steps=12, warmup_steps=2)
    eager = train(prior, TINY, cfg, progress=False)
    compiled = train(prior, TINY, cfg, progress=False, compile=True)
    assert compiled.losses == pytest.approx(eager.losses, rel=1e-3, abs=1e-4)
    # Adam turns rounding differences in near-zero gradients into steps of up to lr; a wrong
    # gradient would move weights by ~lr x steps = 0.024
    for a, b in zip(eager.model.state_dict().values(), compiled.model.state_dict().values(),
                    strict=True):
        torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-3)
