"""Task diversity (issue 16, part 3): the sweep's command shrunk, resuming, the crossing
threshold, the least-squares and ridge baselines, draws from the exact PPD, bad arguments."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from bayeslens import diversity
from bayeslens.budgets import budget_config
from bayeslens.evaluate import sample_eval_set
from bayeslens.linear import LinearGaussian, LinearPool
from bayeslens.linear_posterior import (
    gaussian_posterior,
    least_squares,
    predictive,
    sample_predictive,
)
from bayeslens.model import PFNConfig
from bayeslens.train import TrainConfig

TINY_MODEL = ('{"n_layers": 1, "d_model": 16, "n_heads": 2, "d_ff": 32, "n_buckets": 50,'
              ' "head_hidden": 0}')
TINY_TRAIN = '{"border_datasets": 500}'
TINY = PFNConfig(n_layers=1, d_model=16, n_heads=2, d_ff=32, n_buckets=50, head_hidden=0,
                 max_context=15, n_features=8)


def _args(out: Path, sizes: str = "2,4", steps: str = "30") -> list[str]:
    return ["--pool-sizes", sizes, "--steps", steps, "--eval-datasets", "24", "--out", str(out),
            "--model", TINY_MODEL, "--train", TINY_TRAIN]


def test_the_command_shrunk_writes_every_measure(tmp_path: Path) -> None:
    out = tmp_path / "diversity.json"
    assert diversity.main(_args(out)) == 0
    doc = diversity.read_results(out)
    assert doc["prior"] == {"name": "linear_pool", "d": 8, "sigma": 0.5, "pool_seed": 0,
                            "n_points": 16, "borders": "linear_gaussian"}
    assert doc["train_config"]["steps"] == 30
    assert doc["model_config"]["d_model"] == 16
    assert doc["eval"]["datasets"] == 24
    assert [r["n_tasks"] for r in doc["runs"]] == [2, 4]
    for r in doc["runs"]:
        assert (r["steps"], r["warmup_steps"]) == (30, 2)
        assert r["cpu_seconds"] > 0
        for split in diversity.SPLITS:
            m = r[split]
            for key in ("mse_to_pool", "mse_to_ridge", "mse_pool_ridge", "kl_to_pool",
                        "kl_to_ridge", "kl_pool_ridge", "kl_ridge_pool"):
                assert m[key]["se"] > 0, (split, key)
            # the paired differences and the identity of the two NLL gaps
            assert m["mse_to_ridge_minus_pool"]["mean"] == pytest.approx(
                m["mse_to_ridge"]["mean"] - m["mse_to_pool"]["mean"])
            assert m["nll_gap_to_ridge"]["mean"] - m["nll_gap_to_pool"]["mean"] == (
                pytest.approx(m["nll_pool_minus_ridge"]["mean"]))
        # on its own tasks the pool posterior predicts better than ridge, and on fresh ones
        # worse: a 2-task pool is far from N(0, I)
        assert r["in_pool"]["se_pool"]["mean"] < r["in_pool"]["se_ridge"]["mean"]
        assert r["fresh"]["se_pool"]["mean"] > r["fresh"]["se_ridge"]["mean"]
        curve = r["context_curve"]
        assert curve["n_context"] == list(range(1, 16))
        for name in ("network", "least_squares", "ridge", "pool"):
            assert len(curve[name]["mean"]) == len(curve[name]["se"]) == 15
    first, second = (r["context_curve"] for r in doc["runs"])
    assert first["ridge"] == second["ridge"]  # the same fresh datasets for every M
    assert first["least_squares"] == second["least_squares"]
    c = diversity.curves(doc, "fresh", "mse")
    assert c.n_tasks.tolist() == [2, 4]
    assert c.diff == pytest.approx(c.to_ridge - c.to_pool)


def test_a_rerun_skips_the_sizes_present_and_a_new_size_is_merged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "diversity.json"
    assert diversity.main(_args(out, sizes="2")) == 0
    first = out.read_text()
    trained: list[int] = []
    real = diversity.run_pool_size

    def counting(n_tasks: int, *args: object, **kwargs: object) -> dict:
        trained.append(n_tasks)
        return real(n_tasks, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(diversity, "run_pool_size", counting)
    assert diversity.main(_args(out, sizes="2")) == 0
    assert trained == []  # nothing to do: the file is left as it was
    assert out.read_text() == first
    assert diversity.main(_args(out, sizes="3,2")) == 0
    assert trained == [3]
    runs = diversity.read_results(out)["runs"]
    assert [r["n_tasks"] for r in runs] == [2, 3]
    assert runs[0] == json.loads(first)["runs"][0]


@pytest.mark.parametrize("change", [
    ["--steps", "31"],
    ["--pool-seed", "1"],
    ["--eval-datasets", "26"],
    ["--model", TINY_MODEL.replace('"n_buckets": 50', '"n_buckets": 60')],
])
def test_a_file_made_with_other_settings_is_refused(tmp_path: Path, change: list[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A file holding sizes 2 and 4 under _args' settings: a rerun has nothing to do, and
    any other setting is refused before any training."""
    out = tmp_path / "diversity.json"
    model = replace(diversity.MODEL, **json.loads(TINY_MODEL))
    train = budget_config(replace(diversity.TRAIN, **json.loads(TINY_TRAIN)), 30)
    header = diversity.header(model, train, eval_datasets=24)
    out.write_text(json.dumps({**header, "runs": [{"n_tasks": 2}, {"n_tasks": 4}]}))
    monkeypatch.setattr(diversity, "run_pool_size", lambda *a, **k: pytest.fail("trained"))
    assert diversity.main(_args(out)) == 0
    args = _args(out)
    if change[0] in args:
        args[args.index(change[0]) + 1] = change[1]
    else:
        args += change
    with pytest.raises(ValueError, match="other settings"):
        diversity.main(args)


def test_the_crossing_is_interpolated_in_log_m() -> None:
    m = [2, 8, 32, 128]
    to_pool = [math.log2(v) for v in m]  # 1, 3, 5, 7
    to_ridge = [8 - math.log2(v) for v in m]  # 7, 5, 3, 1: equal at log2 M = 4
    assert diversity.crossing_threshold(m, to_pool, to_ridge) == pytest.approx(16.0)
    # not at the midpoint: diff 2 at M = 8, -6 at M = 32 -> a quarter of the way, 2^3.5
    assert diversity.crossing_threshold([8, 32], [0, 7], [2, 1]) == pytest.approx(2 ** 3.5)
    # a tie at a grid point is the crossing; the first crossing counts
    assert diversity.crossing_threshold([2, 4, 8], [0, 1, 1], [1, 1, 2]) == pytest.approx(4)
    assert diversity.crossing_threshold([2, 4, 8, 16], [0, 2, 0, 2], [1, 1, 1, 1]) == (
        pytest.approx(2 ** 1.5))
    assert diversity.crossing_threshold(m, to_ridge, to_pool) is None  # closer to ridge at once
    assert diversity.crossing_threshold(m, [0] * 4, [1] * 4) is None  # never
    for bad, match in [(([2, 2], [0, 1], [1, 0]), "strictly increasing"),
                       (([0, 2], [0, 1], [1, 0]), "> 0"),
                       (([2, 4], [0], [1, 0]), "one length"),
                       (([2], [0], [1]), "one length >= 2"),
                       (([2, 4], [0, math.nan], [1, 0]), "finite")]:
        with pytest.raises(ValueError, match=match):
            diversity.crossing_threshold(*bad)


def test_the_threshold_reads_a_results_file(tmp_path: Path) -> None:
    def split(to_pool: float, to_ridge: float) -> dict:
        entry = {f"{k}_to_{p}": {"mean": v, "se": 0.1}
                 for k in ("mse", "kl") for p, v in (("pool", to_pool), ("ridge", to_ridge))}
        return {**entry, "mse_to_ridge_minus_pool": {"mean": to_ridge - to_pool, "se": 0.1},
                "kl_to_ridge_minus_pool": {"mean": to_ridge - to_pool, "se": 0.1},
                "mse_pool_ridge": {"mean": 1.0, "se": 0.0},
                "kl_pool_ridge": {"mean": 2.0, "se": 0.0}}

    runs = [{"n_tasks": m, "in_pool": split(a, b), "fresh": split(a, b)}
            for m, a, b in [(64, 5.0, 1.0), (4, 1.0, 5.0), (16, 3.0, 3.0)]]
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"prior": {}, "runs": runs}))
    doc = diversity.read_results(path)
    assert [r["n_tasks"] for r in doc["runs"]] == [4, 16, 64]
    assert diversity.threshold(doc) == pytest.approx(16)
    assert diversity.threshold(doc, "in_pool", "kl") == pytest.approx(16)
    assert diversity.curves(doc, metric="kl").reference.tolist() == [2.0] * 3
    with pytest.raises(ValueError, match="split must be one of"):
        diversity.curves(doc, "ood")
    with pytest.raises(ValueError, match="metric must be one of"):
        diversity.curves(doc, metric="mae")
    path.write_text("{}")
    with pytest.raises(ValueError, match="not a diversity results file"):
        diversity.read_results(path)


@pytest.mark.parametrize("n", [3, 8, 13])  # under-, exactly and over-determined in d = 8
def test_least_squares_and_ridge_against_numpy(n: int) -> None:
    gen = torch.Generator().manual_seed(n)
    x = torch.randn(4, n, 8, generator=gen, dtype=torch.float64)
    y = torch.randn(4, n, generator=gen, dtype=torch.float64)
    w_ls = least_squares(x, y)
    w_ridge = gaussian_posterior(LinearGaussian(8, 0.5), x, y).mu
    for i in range(4):
        xi, yi = x[i].numpy(), y[i].numpy()
        ls = np.linalg.lstsq(xi, yi, rcond=None)[0]  # the minimum-norm solution
        ridge = np.linalg.solve(xi.T @ xi + 0.25 * np.eye(8), xi.T @ yi)
        np.testing.assert_allclose(w_ls[i].numpy(), ls, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(w_ridge[i].numpy(), ridge, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(least_squares(x[i], y[i]).numpy(), ls, rtol=1e-7,
                                   atol=1e-9)
    if n < 8:  # interpolates the context
        torch.testing.assert_close((x @ w_ls[..., None])[..., 0], y)
    with pytest.raises(ValueError, match="y_context must have shape"):
        least_squares(x, y[:, :-1])


def test_the_context_curve_against_a_direct_computation() -> None:
    pool = LinearPool(16, 8, 0.5, seed=3)
    batch = LinearGaussian(8, 0.5).sample(5, 16, torch.Generator().manual_seed(1))
    model = diversity.shared_init(pool, TINY, TrainConfig(border_datasets=500))
    curve = diversity.context_curve(model, pool, batch.x, batch.y)
    assert set(curve) == {"network", "least_squares", "ridge", "pool"}
    for i in range(5):
        xi, yi = batch.x[i].numpy(), batch.y[i].numpy()
        for k in (1, 5, 8, 15):
            xc, yc, xq, yq = xi[:k], yi[:k], xi[k:], yi[k:]
            ls = np.linalg.lstsq(xc, yc, rcond=None)[0]
            ridge = np.linalg.solve(xc.T @ xc + 0.25 * np.eye(8), xc.T @ yc)
            np.testing.assert_allclose(curve["least_squares"][i, k - 1],
                                       np.mean((xq @ ls - yq) ** 2), rtol=1e-6)
            np.testing.assert_allclose(curve["ridge"][i, k - 1],
                                       np.mean((xq @ ridge - yq) ** 2), rtol=1e-9)
            t = torch.from_numpy
            pool_mean = predictive(pool, t(xc), t(yc), t(xq)).mean.numpy()
            np.testing.assert_allclose(curve["pool"][i, k - 1],
                                       np.mean((pool_mean - yq) ** 2), rtol=1e-9)
            net = model.mean(t(xc), t(yc), t(xq)).double().numpy()
            np.testing.assert_allclose(curve["network"][i, k - 1],
                                       np.mean((net - yq) ** 2), rtol=1e-5)


def test_posterior_distances_against_one_dataset_at_a_time() -> None:
    pool = LinearPool(8, 8, 0.5, seed=2)
    model = diversity.shared_init(pool, TINY, TrainConfig(border_datasets=500))
    data = sample_eval_set(pool, 6, 16, torch.Generator().manual_seed(5))
    d = diversity.posterior_distances(model, pool, data, torch.Generator().manual_seed(0))
    gauss = LinearGaussian(8, 0.5)
    for i in range(6):
        k = int(data.n_context[i])
        xc, yc, xq, yq = data.x[i, :k], data.y[i, :k], data.x[i, k:], data.y[i, k:]
        net = model.mean(xc, yc, xq).double()
        p, r = predictive(pool, xc, yc, xq, yq), predictive(gauss, xc, yc, xq, yq)
        assert d["mse_to_pool"][i] == pytest.approx(float(((net - p.mean) ** 2).mean()),
                                                    rel=1e-4)
        assert d["mse_to_ridge"][i] == pytest.approx(float(((net - r.mean) ** 2).mean()),
                                                     rel=1e-4)
        assert d["mse_pool_ridge"][i] == pytest.approx(float(((p.mean - r.mean) ** 2).mean()))
        nll = -model.log_density(xc, yc, xq, yq).double().mean()
        assert d["nll_gap_to_pool"][i] == pytest.approx(float(nll + p.log_density.mean()),
                                                        rel=1e-5)
        assert d["nll_ridge"][i] == pytest.approx(float(-r.log_density.mean()))
    # the KL estimates, with the draws remade in posterior_distances' order (context sizes
    # ascending; per size the pool's draws, then ridge's)
    gen = torch.Generator().manual_seed(0)
    for k in data.n_context.unique().tolist():
        idx = (data.n_context == k).nonzero()[:, 0]
        xc, yc, xq = data.x[idx, :k], data.y[idx, :k], data.x[idx, k:]
        y_pool = sample_predictive(pool, xc, yc, xq, gen)
        y_ridge = sample_predictive(gauss, xc, yc, xq, gen)
        q_pool = model.log_density(xc, yc, xq, y_pool).double()
        q_ridge = model.log_density(xc, yc, xq, y_ridge).double()
        p_pool = predictive(pool, xc, yc, xq, y_pool).log_density
        r_ridge = predictive(gauss, xc, yc, xq, y_ridge).log_density
        r_pool = predictive(gauss, xc, yc, xq, y_pool).log_density
        torch.testing.assert_close(d["kl_to_pool"][idx], (p_pool - q_pool).mean(1))
        torch.testing.assert_close(d["kl_to_ridge"][idx], (r_ridge - q_ridge).mean(1))
        torch.testing.assert_close(d["kl_pool_ridge"][idx], (p_pool - r_pool).mean(1))


def test_draws_from_the_exact_ppd_have_its_mean_and_variance() -> None:
    """Each query's draws follow its marginal PPD and are independent of the other query's
    (each query draws its own task), though both depend on the same posterior."""
    pool = LinearPool(4, 3, 0.5, seed=1)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 1, 3, generator=gen, dtype=torch.float64)  # one point: a wide posterior
    y = (x @ pool.w[1]) + 0.5 * torch.randn(2, 1, generator=gen, dtype=torch.float64)
    xq = torch.randn(2, 2, 3, generator=gen, dtype=torch.float64)
    n = 40_000
    for prior in (pool, LinearGaussian(3, 0.5)):
        want = predictive(prior, x, y, xq)
        draws = sample_predictive(prior, x.repeat(n, 1, 1), y.repeat(n, 1), xq.repeat(n, 1, 1),
                                  torch.Generator().manual_seed(1)).reshape(n, 2, 2)
        se = (want.variance / n).sqrt()
        assert bool(((draws.mean(0) - want.mean).abs() < 5 * se).all()), prior
        torch.testing.assert_close(draws.var(0), want.variance, rtol=0.05, atol=0)
        for i in range(2):
            corr = np.corrcoef(draws[:, i, 0].numpy(), draws[:, i, 1].numpy())[0, 1]
            assert abs(corr) < 5 / math.sqrt(n), (prior, i)
        one = sample_predictive(prior, x[0], y[0], xq[0], torch.Generator().manual_seed(1))
        assert one.shape == (2,)
    again = sample_predictive(pool, x, y, xq, torch.Generator().manual_seed(7))
    torch.testing.assert_close(again, sample_predictive(pool, x, y, xq,
                                                        torch.Generator().manual_seed(7)))
    with pytest.raises(ValueError, match=r"generator must be a torch\.Generator"):
        sample_predictive(pool, x, y, xq, 7)  # type: ignore[arg-type]


@pytest.mark.parametrize(("flag", "value", "match"), [
    ("--pool-sizes", "2,0", "--pool-sizes must be comma-separated ints >= 1"),
    ("--pool-sizes", "two", "--pool-sizes must be"),
    ("--steps", "0", "--steps must be an int >= 1"),
    ("--steps", "many", "--steps must be an int >= 1"),
    ("--eval-datasets", "1", "--eval-datasets must be an int >= 2"),
    ("--pool-seed", "-1", "--pool-seed must be an int >= 0"),
    ("--model", "{\"width\": 3}", "--model has unknown fields \\['width'\\]"),
    ("--model", "[1]", "--model must be a JSON object"),
    ("--model", "{bad", "--model must be a JSON object"),
    ("--model", "{\"d_model\": 0}", "--model: d_model must be >= 1"),
    ("--model", "{\"n_features\": 3}", "--model: n_features=3 must be the pool's d = 8"),
    ("--train", "{\"steps\": 5}", "--steps or in --train, not both"),
    ("--train", "{\"lr\": -1}", "--train: lr must be"),
])
def test_bad_arguments_name_the_argument(tmp_path: Path, flag: str, value: str,
                                         match: str) -> None:
    args = _args(tmp_path / "x.json")
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    with pytest.raises(ValueError, match=match):
        diversity.main(args)
    assert not (tmp_path / "x.json").exists()


def test_bad_sweep_arguments_name_the_argument(tmp_path: Path) -> None:
    out = tmp_path / "x.json"
    with pytest.raises(ValueError, match="pool_sizes must be one or more ints >= 1"):
        diversity.sweep(out, [0], TINY)
    with pytest.raises(ValueError, match="pool_sizes must be a sequence"):
        diversity.sweep(out, 4, TINY)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="eval_datasets must be an int >= 2"):
        diversity.sweep(out, [2], TINY, eval_datasets=1)
    with pytest.raises(ValueError, match="sigma must be a finite number > 0"):
        diversity.sweep(out, [2], TINY, sigma=0.0)
    with pytest.raises(ValueError, match=r"model_config\.n_features=8 must be the pool's d = 4"):
        diversity.sweep(out, [2], TINY, d=4)
    assert not out.exists()
