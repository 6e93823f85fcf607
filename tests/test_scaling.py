"""The scaling study (E1): grid sizes and budgets, the frontier fit, its command shrunk."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from bayeslens import evaluate, paper, scaling
from bayeslens.bar_distribution import BarDistribution
from bayeslens.model import PFNConfig
from bayeslens.posterior import posterior
from bayeslens.train import PRESETS, TrainConfig, run_flops

TINY_MODEL = ('{"n_layers": 1, "d_model": 16, "n_heads": 2, "d_ff": 32, "n_buckets": 20,'
              ' "head_hidden": 0}')
TINY_TRAIN = '{"border_datasets": 200, "n_points": 12}'


def test_sizes_keep_the_recipes_ratios_and_budgets_cost_their_flops() -> None:
    base = PRESETS["steps"]
    cfg = scaling.size_config(base.model, 64)
    assert (cfg.d_model, cfg.d_ff, cfg.head_hidden, cfg.n_layers) == (64, 256, 256, 4)
    assert scaling.size_config(base.model, 128) == base.model  # the anchor is a grid size
    anchor = run_flops(base.model, base.train)
    assert scaling.grid_steps(base.model, base.train, anchor / 2) == base.train.steps // 2
    for d in scaling.SIZES:  # every size gets the same compute at a budget, to rounding
        c = scaling.size_config(base.model, d)
        steps = scaling.grid_steps(c, base.train, anchor / 8)
        per_step = run_flops(c, TrainConfig(**{**base.train.__dict__, "steps": 1}))
        assert abs(steps * per_step / (anchor / 8) - 1) < per_step / (anchor / 8)
    with pytest.raises(ValueError, match="d_model must be a positive multiple of n_heads=4"):
        scaling.size_config(base.model, 66)
    with pytest.raises(ValueError, match="flops must be > 0"):
        scaling.grid_steps(base.model, base.train, 0.0)


def test_the_frontier_takes_the_best_size_at_each_budget() -> None:
    runs = [{"fraction": 0.5, "d_model": 64, "gap": 0.03},
            {"fraction": 0.5, "d_model": 128, "gap": 0.02},
            {"fraction": 0.25, "d_model": 64, "gap": 0.04},
            {"fraction": 0.25, "d_model": 128, "gap": 0.05}]
    assert [(r["fraction"], r["d_model"]) for r in scaling.frontier(runs)] == [
        (0.25, 64), (0.5, 128)]


def test_the_fit_recovers_a_known_power_law_and_floor() -> None:
    c = np.array([1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0])
    gap = 0.004 * c ** -0.8 + 0.006
    runs = [{"fraction": f, "d_model": 128, "gap": g, "se": 1e-4}
            for f, g in zip(c, gap, strict=True)]
    fit = scaling.fit_frontier(runs, n_boot=200)
    assert fit.b == pytest.approx(0.8, abs=0.02)
    assert fit.floor == pytest.approx(0.006, abs=3e-4)
    assert fit.a == pytest.approx(0.004, rel=0.05)
    assert fit.b_interval[0] <= fit.b <= fit.b_interval[1]
    assert fit.floor_interval[0] <= fit.floor <= fit.floor_interval[1]
    assert fit.predict(2.0) == pytest.approx(0.004 * 2 ** -0.8 + 0.006, rel=0.02)
    assert fit.budget_for(0.008) == pytest.approx((0.002 / 0.004) ** (-1 / 0.8), rel=0.05)
    assert math.isinf(fit.budget_for(0.005))  # below the floor: never
    pure = [{**r, "gap": 0.01 * r["fraction"] ** -0.5} for r in runs]
    assert scaling.fit_frontier(pure, n_boot=50).floor == pytest.approx(0, abs=2e-4)
    with pytest.raises(ValueError, match="at least 3 budgets"):
        scaling.fit_frontier(runs[:2])


@pytest.mark.slow  # ~15 s: four tiny runs, then the shipped model scored on 40 datasets
def test_the_command_shrunk_writes_then_resumes(tmp_path: Path) -> None:
    out = tmp_path / "scaling.json"
    args = ["--sizes", "8,16", "--fractions", "0.0005,0.001", "--eval-datasets", "40",
            "--out", str(out), "--model", TINY_MODEL, "--train", TINY_TRAIN]
    assert scaling.main(args) == 0
    doc = json.loads(out.read_text())
    assert [(r["fraction"], r["d_model"]) for r in doc["runs"]] == [
        (0.0005, 8), (0.0005, 16), (0.001, 8), (0.001, 16)]
    assert len(doc["evidence_edges"]) == scaling.N_EVIDENCE_BINS - 1
    for r in doc["runs"]:
        assert r["source"] == "trained"
        assert r["gap"] > 0  # a few steps are far from Bayes
        assert r["se"] > 0
        assert len(r["by_context"]) == 11  # contexts of 1 .. 11 points
        assert len(r["by_evidence"]) == scaling.N_EVIDENCE_BINS
        assert r["flops"] == pytest.approx(r["fraction"] * doc["anchor_flops"], rel=0.2)
    assert doc["bucket_floor"]["se"] > 0  # the best network on the recipe's borders
    small = [r for r in doc["runs"] if r["d_model"] == 8]
    assert small[1]["steps"] == pytest.approx(2 * small[0]["steps"], abs=1)
    first = out.read_text()
    assert scaling.main(args) == 0  # nothing new to run: the file is left as it was
    assert out.read_text() == first
    with pytest.raises(ValueError, match="other settings"):
        scaling.main([*args[:-1], '{"border_datasets": 300, "n_points": 12}'])


def test_sweeps_sharing_a_file_keep_each_others_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A result another sweep wrote while this one trained survives this one's save."""
    out = tmp_path / "shared.json"
    base = PRESETS["steps"]
    model = PFNConfig(n_layers=1, d_model=16, n_heads=2, d_ff=32, n_buckets=20,
                      head_hidden=0)

    def fake_run(prior, cfg, base_train, fraction, anchor_flops, scored):
        doc = json.loads(out.read_text())  # written before any run: the bucket floor
        if doc["runs"]:  # the other sweep finishes a run of width 8 first
            other = {**doc["runs"][0], "d_model": 8, "fraction": fraction}
            out.write_text(json.dumps({**doc, "runs": [*doc["runs"], other]}))
        return scaling.GridRun(cfg.d_model, 1, fraction, 1, 1, 1.0, 1.0, 1, 0.0, 0.1, 0.01,
                               [], [], "trained")

    monkeypatch.setattr(scaling, "_run", fake_run)
    kwargs = {"eval_datasets": 20, "anchor": None}
    scaling.sweep(out, base.prior, model, base.train, sizes=[16], fractions=[0.5], **kwargs)
    scaling.sweep(out, base.prior, model, base.train, sizes=[16], fractions=[0.25], **kwargs)
    runs = json.loads(out.read_text())["runs"]
    assert [(r["fraction"], r["d_model"]) for r in runs] == [(0.25, 8), (0.25, 16), (0.5, 16)]


def test_the_bucket_floor_is_the_exact_mass_per_bucket_spread_flat() -> None:
    """Against a loop over queries and buckets: each target's density is its bucket's exact
    PPD mass over the bucket's width (interior buckets)."""
    prior = paper.steps_e1()
    bar = BarDistribution(torch.linspace(-3.0, 4.0, 141))
    data = evaluate.sample_eval_set(prior, 4, 8, torch.Generator().manual_seed(7))
    gap, se = scaling.bucket_floor(prior, bar, data)
    per_dataset = []
    for i in range(len(data)):
        k = int(data.n_context[i])
        post = posterior(prior, data.x[i, :k], data.y[i, :k])
        terms = []
        for xq, yq in zip(data.x[i, k:].tolist(), data.y[i, k:].tolist(), strict=True):
            edges = bar.borders.double().tolist()
            j = next(j for j in range(len(edges) - 1) if edges[j] < yq <= edges[j + 1])
            assert 0 < j < len(edges) - 2  # an interior bucket
            x = torch.tensor([xq], dtype=torch.float64)
            lo, hi = post.cdf(x, torch.tensor(edges[j : j + 2], dtype=torch.float64))[0]
            log_q = math.log((hi - lo) / (edges[j + 1] - edges[j]))
            log_p = float(post.log_density(x, torch.tensor([yq], dtype=torch.float64)))
            terms.append(log_p - log_q)
        per_dataset.append(sum(terms) / len(terms))
    assert gap == pytest.approx(sum(per_dataset) / len(per_dataset), abs=1e-9)
    assert se > 0
    coarse = scaling.bucket_floor(prior, BarDistribution(torch.linspace(-3.0, 4.0, 15)), data)
    assert coarse[0] > gap  # wider buckets: a higher floor


@pytest.mark.slow  # ~5 s: the exact side of 40 datasets and one forward pass
def test_the_anchor_is_the_shipped_model_scored_not_retrained(tmp_path: Path) -> None:
    base = PRESETS["steps"]
    doc = scaling.sweep(tmp_path / "s.json", base.prior, base.model, base.train, sizes=[],
                        fractions=[], eval_datasets=40)
    (r,) = doc["runs"]
    assert (r["source"], r["fraction"], r["d_model"], r["steps"]) == (
        "pretrained:steps", 1.0, 128, base.train.steps)
    assert -0.05 < r["gap"] < 0.1  # 0.012 on 10,000 datasets; 40 are noisy
    with pytest.raises(ValueError, match="no longer its preset's recipe"):
        scaling.sweep(tmp_path / "t.json", base.prior, PFNConfig(d_model=64), base.train,
                      sizes=[], fractions=[], eval_datasets=40)


def test_the_shipped_results_match_the_recipe() -> None:
    if not scaling.DEFAULT_OUT.exists():
        pytest.skip("no shipped scaling results yet")
    doc = json.loads(scaling.DEFAULT_OUT.read_text())
    base = PRESETS["steps"]
    assert doc["prior"] == base.prior
    assert doc["base_model_config"] == base.model.to_dict()
    assert doc["anchor_flops"] == run_flops(base.model, base.train)
    assert doc["eval_datasets"] == 10_000
    for r in doc["runs"]:
        assert r["d_model"] in scaling.SIZES
        assert r["threads"] >= 1
        assert r["fraction"] in (*scaling.FRACTIONS, 1.0)
