"""The training-step benchmark: its ablations compute the same network, its FLOP count is
right, and the command runs (shrunk; the timings themselves are not tested)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from bayeslens.model import PFN, PFNConfig, dense_mask_reference

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_train", ROOT / "benchmarks" /
                                                  "bench_train.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_train"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


CFG = PFNConfig(n_layers=3, d_model=32, n_heads=4, d_ff=48, n_buckets=20, max_context=9,
                head_hidden=16)


@pytest.mark.parametrize("ablation", ["_FusedAttentionPFN", "_FullLastLayerPFN"])
def test_ablations_compute_the_same_network(bench: ModuleType, ablation: str) -> None:
    torch.manual_seed(0)
    ours = PFN(CFG)
    other = getattr(bench, ablation)(CFG)
    other.load_state_dict(ours.state_dict())
    g = torch.Generator().manual_seed(1)
    xc, yc = torch.rand(3, 6, generator=g), torch.randn(3, 6, generator=g)
    xq = torch.rand(3, 4, generator=g)
    torch.testing.assert_close(other(xc, yc, xq), ours(xc, yc, xq), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(dense_mask_reference(ours)(xc, yc, xq), ours(xc, yc, xq),
                               atol=1e-5, rtol=1e-5)


def test_step_flops_by_hand(bench: ModuleType) -> None:
    cfg = PFNConfig(n_layers=2, d_model=4, n_heads=1, d_ff=8, n_buckets=10, head_hidden=0)
    nc, nq = 3, 2
    n = nc + nq

    def layer(m: int, kv: int, keys: int) -> int:
        # q: m x 4 x 4, k and v: kv x 4 x 8, scores + weighted values: 2 x m x keys x 4,
        # out projection: m x 4 x 4, feed-forward: 2 x m x 4 x 8; 2 FLOPs per multiply-add
        return 2 * (m * 16 + kv * 32 + 2 * m * keys * 4 + m * 16 + 2 * m * 32)

    head = 2 * nq * 4 * 10
    assert bench.step_flops(cfg, 1, nc, nq, naive=True) == 3 * (2 * layer(n, n, n) + head)
    assert bench.step_flops(cfg, 1, nc, nq, naive=False, full_last_layer=True) == 3 * (
        2 * layer(n, nc, nc) + head)
    assert bench.step_flops(cfg, 7, nc, nq, naive=False) == 7 * 3 * (
        layer(n, nc, nc) + layer(nq, nc, nc) + head)


def test_benchmark_command_runs_shrunk(bench: ModuleType, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "matmul_ceiling", lambda repeats=3: 100.0)  # skip the big matmul
    assert bench.main(["--no-compile", "--steps", "2", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    for expected in ("naive: stock TransformerEncoder", "ablation: ours with fused SDPA",
                     "ablation: ours with a full last layer", "ratio ours / naive",
                     "share of ceiling", "prior sampling share"):
        assert expected in out


def test_width_benchmark_runs_and_counts_the_grid_flops(monkeypatch, capsys) -> None:
    # shrunk: two widths, a handful of steps; the FLOPs are those of the batches trained on
    spec = importlib.util.spec_from_file_location("bench_widths", ROOT / "benchmarks" /
                                                  "bench_widths.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, "argv", ["bench_widths.py", "--widths", "16", "--batches", "4",
                                      "--steps", "4", "--warmup", "1", "--threads", "1"])
    module.main()
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines[2:]] == [["128", "64"], ["16", "4"]]
    assert float(lines[2].split()[-1].rstrip("x")) == 1.0
    assert all(float(line.split()[3]) > 0 for line in lines[2:])
