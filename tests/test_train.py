"""Training on a shrunken config: it learns, it resumes exactly, its CLI works."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from bayeslens import checkpoints, evaluate, paper, plots
from bayeslens.evaluate import nll_gap
from bayeslens.model import PFNConfig
from bayeslens.train import (
    PRESETS,
    StepInfo,
    TrainConfig,
    build_model,
    main,
    resolve_device,
    run_flops,
    sample_batch,
    step_flops,
    train,
)

TINY = PFNConfig(n_layers=2, d_model=32, n_heads=2, d_ff=64, n_buckets=100, max_context=9,
                 head_hidden=0)


def _tiny_train(**kw: object) -> TrainConfig:
    base = dict(steps=300, batch_size=32, lr=2e-3, warmup_steps=30, n_points=10,
                border_datasets=1000, seed=0, checkpoint_every=100)
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


@pytest.mark.slow  # 30-50 s on a busy 2-core CPU: E1's exact PPD on 300 datasets, twice
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


# The losses of `_tiny_train(steps=8, warmup_steps=2)` on E1, recorded with the training
# loop as it was before it learned DistributedDataParallel (commit 01a85c8, one torch
# thread). They matched bit for bit here with one and two threads; the tolerance only
# allows another CPU's BLAS to round differently (a change of seeds or data moves them ~1e-2).
RECORDED_LOSSES = [1.3308876752853394, 1.4332042932510376, 1.149221420288086,
                   1.254199743270874, 1.1894606351852417, 1.2529314756393433,
                   1.2437024116516113, 1.2311182022094727]


def test_a_single_process_trains_as_before() -> None:
    result = train(paper.steps_e1(), TINY, _tiny_train(steps=8, warmup_steps=2),
                   progress=False)
    assert result.losses == pytest.approx(RECORDED_LOSSES, rel=1e-5)
    assert result.extra == {"device": "cpu", "world_size": 1}


def test_the_history_and_in_memory_snapshots() -> None:
    cfg = _tiny_train(steps=12, warmup_steps=4)
    rng = torch.get_rng_state()
    result = train(paper.steps_e1(), TINY, cfg, progress=False, snapshot_steps=[4, 12])
    assert torch.equal(torch.get_rng_state(), rng), "training left the global RNG alone"
    assert len(result.losses) == len(result.lrs) == len(result.elapsed) == 12
    assert result.lrs == [cfg.lr_at(i) for i in range(12)]
    assert all(b >= a for a, b in zip(result.elapsed, result.elapsed[1:], strict=False))
    assert 0 < result.elapsed[-1] <= result.seconds
    assert sorted(result.snapshots) == [4, 12]
    early, last = result.snapshots[4], result.snapshots[12]
    assert not early.training
    assert next(early.parameters()).device.type == "cpu"
    for a, b in zip(last.state_dict().values(), result.model.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(early.head.weight, last.head.weight)


def test_snapshots_before_a_resume_come_back_from_the_workdir(tmp_path: Path) -> None:
    cfg = _tiny_train(steps=8, checkpoint_every=4)

    def crash(info: StepInfo) -> None:
        if info.step == 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(paper.steps_e1(), TINY, cfg, workdir=tmp_path, progress=False, callback=crash,
              snapshot_steps=[2, 7])
    resumed = train(paper.steps_e1(), TINY, cfg, workdir=tmp_path, progress=False,
                    snapshot_steps=[2, 7])
    assert sorted(resumed.snapshots) == [2, 7]
    assert resumed.snapshots[2].metadata["step"] == 2  # read back from its files
    assert len(resumed.lrs) == len(resumed.elapsed) == 8


@pytest.mark.parametrize(
    ("kwargs", "msg"),
    [({"device": "gpu"}, "device must be"), ({"device": "tpu:0"}, "device must be"),
     ({"snapshot_steps": [0]}, "snapshot_steps"), ({"snapshot_steps": [7]}, "snapshot_steps"),
     ({"snapshot_steps": [2.5]}, "snapshot_steps")],
)
def test_bad_settings_fail_before_any_work(
    tmp_path: Path, kwargs: dict[str, object], msg: str
) -> None:
    workdir = tmp_path / "run"
    with pytest.raises(ValueError, match=msg):
        train(paper.steps_e1(), TINY, _tiny_train(steps=6), workdir=workdir,
              progress=False, **kwargs)  # type: ignore[arg-type]
    assert not workdir.exists()


def test_an_absent_gpu_and_a_mismatched_head_are_refused() -> None:
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="n_classes"):
        train(paper.coin_e5(), TINY, _tiny_train(steps=2), progress=False)
    with pytest.raises(ValueError, match="prior must have a sample"):
        train(object(), TINY, _tiny_train(steps=2), progress=False)


def test_step_flops_counts_the_matmuls() -> None:
    """One layer, embedding 2, a linear head: every matmul by hand."""
    cfg = PFNConfig(n_layers=1, d_model=2, n_heads=1, d_ff=4, n_buckets=3, head_hidden=0)
    # the last (only) layer computes the query's output from 1 context key
    layer = 2 * 1 * 4 + 2 * 1 * 2 * 4 + 2 * 2 * 1 * 1 * 2 + 2 * 1 * 4 + 2 * 2 * 1 * 2 * 4
    head = 2 * 1 * 2 * 3
    assert step_flops(cfg, 1, 1, 1) == 3 * (layer + head)
    assert step_flops(cfg, 5, 1, 1) == 5 * step_flops(cfg, 1, 1, 1)
    tc = TrainConfig(steps=10, batch_size=1, n_points=3)  # contexts of 1 or 2 points
    mean = (step_flops(cfg, 1, 1, 2) + step_flops(cfg, 1, 2, 1)) / 2
    assert run_flops(cfg, tc) == pytest.approx(10 * mean)


def test_step_flops_is_the_benchmarks_count() -> None:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_train.py"
    spec = importlib.util.spec_from_file_location("bench_train_flops", path)
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # dataclasses look their module up by name
    spec.loader.exec_module(bench)
    for nc in (1, 7, 19):
        assert step_flops(bench.CONFIG, 32, nc, 20 - nc) == bench.step_flops(
            bench.CONFIG, 32, nc, 20 - nc, naive=False)


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


# ------------------------------------------------------- the training chapter's pieces


def test_gap_curve_pairs_every_snapshot_on_the_same_datasets() -> None:
    prior = paper.sines_e2()  # 101 latents: exact NLLs in no time
    cfg = _tiny_train(steps=4, warmup_steps=1)
    result = train(prior, TINY, cfg, progress=False, snapshot_steps=[2, 4])
    data = evaluate.sample_eval_set(prior, 20, 10, torch.Generator().manual_seed(3))
    exact = evaluate.exact_nll(prior, data)
    curve = evaluate.gap_curve({4: result.snapshots[4], 2: result.snapshots[2]}, data, exact)
    assert list(curve) == [2, 4]
    direct = nll_gap(result.snapshots[4], prior, 20, n_points=10,
                     generator=torch.Generator().manual_seed(3))
    assert curve[4].gap == pytest.approx(direct.gap)
    assert curve[2].exact_nll == curve[4].exact_nll


def test_the_training_figures_draw(monkeypatch: pytest.MonkeyPatch) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    x = torch.linspace(-1, 1, 5)
    plots.draw_dataset(ax, x[:2], x[:2], x[2:], x[2:], x_truth=x, truth=x, title="d")
    assert len(ax.collections) == 2  # context and queries
    plots.draw_loss_curve(ax, [3.0, 2.0, 1.0, 0.5], floor=0.1, window=2, xmax=10)
    assert ax.get_xlim() == (0.0, 10.0)
    ax = Figure().subplots()
    plots.draw_gap_curve(ax, [0, 10, 100], [2.0, 1.0, 0.5], [0.1, 0.1, 0.1], label="run")
    assert ax.get_xscale() == ax.get_yscale() == "log"

    shown: list[object] = []
    monkeypatch.setattr("IPython.get_ipython", lambda: object())
    monkeypatch.setattr("IPython.display.display",
                        lambda obj, display_id=False: shown.append(obj) or _Handle(shown))
    curve = plots.LiveLossCurve(10, every=4, floor=0.0)
    for step in range(1, 11):
        curve(StepInfo(step, 1.0 / step, 1e-3, None, 0.0))  # type: ignore[arg-type]
    assert curve.losses == [1.0 / s for s in range(1, 11)]
    assert len(shown) == 3  # shown at step 4, updated at 8 and at the last step
    assert all(s is curve.figure for s in shown)


class _Handle:
    def __init__(self, log: list[object]) -> None:
        self.log = log

    def update(self, obj: object) -> None:
        self.log.append(obj)


def test_a_curriculum_feeds_each_stage_then_the_target(monkeypatch: pytest.MonkeyPatch) -> None:
    from bayeslens import train as train_module
    from bayeslens.priors import Curriculum

    cur = paper.sines_e2_curriculum((2, 3, 1))
    assert [cur.prior_at(i).n_latents for i in range(8)] == [1, 1, 2, 2, 2, 4, 101, 101]
    assert cur.n_stage_steps == 6
    assert cur.n_classes == 0
    seen: list[int] = []
    real = train_module.sample_batch

    def spy(prior, *args):  # type: ignore[no-untyped-def]
        seen.append(prior.n_latents)
        return real(prior, *args)

    monkeypatch.setattr(train_module, "sample_batch", spy)
    result = train(cur, TINY, _tiny_train(steps=8, warmup_steps=1), progress=False)
    assert seen == [1, 1, 2, 2, 2, 4, 101, 101]
    # the borders are the target's, as without the curriculum
    plain = build_model(paper.sines_e2(), TINY, _tiny_train(steps=8))
    torch.testing.assert_close(result.model.bar.borders, plain.bar.borders)
    with pytest.raises(ValueError, match="stage lengths"):
        Curriculum(paper.sines_e2(), ((0, paper.sines_e2()),))
    with pytest.raises(ValueError, match="target's kind"):
        Curriculum(paper.sines_e2(), ((5, paper.steps_e1()),))
    with pytest.raises(ValueError, match="target must be a prior"):
        Curriculum(cur, ())  # type: ignore[arg-type]


def test_init_starts_from_given_weights_and_refuses_another_architecture() -> None:
    from dataclasses import replace

    first = train(paper.steps_e1(), TINY, _tiny_train(steps=3, warmup_steps=1),
                  progress=False).model
    # lr ~ 0: the "fine-tuned" network is the one it started from, borders included
    tiny_lr = _tiny_train(steps=1, warmup_steps=0, lr=1e-12)
    longer = replace(TINY, max_context=12)
    again = train(paper.sines_e2(), longer, replace(tiny_lr, n_points=13),
                  progress=False, init=first).model
    for (k, a), b in zip(first.state_dict().items(), again.state_dict().values(),
                         strict=True):
        torch.testing.assert_close(a, b, atol=1e-9, rtol=0, msg=k)
    assert again.config.max_context == 12
    with pytest.raises(ValueError, match="init must be a PFN with model_config"):
        train(paper.steps_e1(), replace(TINY, d_model=16), tiny_lr, progress=False,
              init=first)
