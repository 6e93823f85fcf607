"""E8's batched tiny MLPs: same maths as separate models, seeds independent, data shipped."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch

from bayeslens import mlp

ROOT = Path(__file__).resolve().parents[1]


def _lone_mlp(model: mlp.SeedMLPs, seed: int) -> torch.nn.Sequential:
    """Seed `seed` of the stack as an ordinary torch MLP (the slow, obviously right one)."""
    layers: list[torch.nn.Module] = []
    for k, (w, b) in enumerate(zip(model.weights, model.biases, strict=True)):
        lin = torch.nn.Linear(w.shape[1], w.shape[2])
        with torch.no_grad():
            lin.weight.copy_(w[seed].T)
            lin.bias.copy_(b[seed, 0])
        layers.append(lin)
        if k < len(model.weights) - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def test_stack_equals_separate_models():
    model = mlp.SeedMLPs(3, 8, torch.Generator().manual_seed(0))
    x = torch.linspace(-1, 2, 7)
    out = model(x)  # (3, 7, 2)
    assert out.shape == (3, 7, 2)
    for s in range(3):
        torch.testing.assert_close(out[s], _lone_mlp(model, s)(x[:, None]))


def test_seeds_do_not_interact():
    """The gradient of seed 0 does not depend on seed 1's parameters."""
    cfg = mlp.E8Config(noise_std=0.1, n_seeds=2, n_steps=1, batch_size=16, hidden=8)

    def seed0_grads(perturb: bool) -> list[torch.Tensor]:
        model = mlp.SeedMLPs(2, 8, torch.Generator().manual_seed(0))
        if perturb:
            with torch.no_grad():
                for w in model.weights:
                    w[1] += 1.0
        mlp._batch_backward(model, cfg, torch.Generator().manual_seed(1))
        return [w.grad[0].clone() for w in model.weights]

    for a, b in zip(seed0_grads(False), seed0_grads(True), strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("noise_std", [0.0, 0.1])
def test_seed_chunks_give_the_same_gradient(noise_std: float):
    """Backpropagating a few seeds at a time is the same step as all seeds at once."""
    cfg = mlp.E8Config(noise_std=noise_std, n_seeds=5, n_steps=1, batch_size=32, hidden=8)

    def grads(seed_chunk: int) -> tuple[float, list[torch.Tensor]]:
        model = mlp.SeedMLPs(5, 8, torch.Generator().manual_seed(0))
        loss = mlp._batch_backward(model, cfg, torch.Generator().manual_seed(1), seed_chunk)
        return loss, [p.grad.clone() for p in model.parameters()]

    loss_all, grads_all = grads(5)
    for chunk in (1, 2):
        loss, g = grads(chunk)
        assert loss == pytest.approx(loss_all, rel=1e-6)
        for a, b in zip(g, grads_all, strict=True):
            torch.testing.assert_close(a, b)


def test_inputs_must_match_the_selected_seeds():
    model = mlp.SeedMLPs(4, 8, torch.Generator().manual_seed(0))
    assert model(torch.zeros(2, 5), slice(1, 3)).shape == (2, 5, 2)
    with pytest.raises(ValueError, match=r"\(2, points\) for 2 seeds"):
        model(torch.zeros(1, 5), slice(1, 3))
    with pytest.raises(ValueError, match="for 4 seeds"):
        model(torch.zeros(3, 5))


def test_seed_chunk_must_be_positive():
    with pytest.raises(ValueError, match="seed_chunk"):
        mlp.train(mlp.E8Config(n_seeds=2, n_steps=1), seed_chunk=0)


def test_binomial_loss_equals_the_batch_it_stands_for():
    model = mlp.SeedMLPs(2, 8, torch.Generator().manual_seed(0))
    k = torch.tensor([3.0, 7.0])
    fast = mlp.binomial_loss(model, k, 10)
    for s, ks in enumerate([3, 7]):
        y = torch.tensor([1] * ks + [0] * (10 - ks))
        logits = _lone_mlp(model, s)(y.float()[:, None])
        slow = torch.nn.functional.cross_entropy(logits, y)
        torch.testing.assert_close(fast[s], slow)


def test_exact_posterior():
    x = torch.tensor([0.0, 0.5, 1.0, 0.3])
    torch.testing.assert_close(
        mlp.exact_posterior(x, 0.1)[:3], torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64),
        atol=1e-10, rtol=0,
    )
    e = mlp.exact_posterior(x, 0.0)
    assert e[0] == 0
    assert e[2] == 1
    assert math.isnan(float(e[1]))
    assert math.isnan(float(e[3]))


def test_shrunken_run_learns_the_training_points():
    for noise in (0.0, 0.1):
        res = mlp.run_e8(mlp.E8Config(noise_std=noise, n_seeds=4, n_steps=150, batch_size=64))
        assert res.prob_one.shape == (4, 101)
        assert torch.all((res.prob_one >= 0) & (res.prob_one <= 1))
        assert torch.all(res.at(0.0) < 0.2)
        assert torch.all(res.at(1.0) > 0.8)
        again = mlp.E8Result.from_dict(json.loads(json.dumps(res.to_dict())))
        torch.testing.assert_close(again.prob_one, res.prob_one, atol=1e-5, rtol=0)
        assert again.config == res.config


def test_config_validation():
    with pytest.raises(ValueError, match="noise_std"):
        mlp.E8Config(noise_std=-1)
    with pytest.raises(ValueError, match="n_seeds"):
        mlp.E8Config(n_seeds=0)
    with pytest.raises(ValueError, match="lr"):
        mlp.E8Config(lr=0)


def test_spread():
    s = mlp.spread(torch.tensor([0.5, 0.5, 0.9, 0.1]))
    assert s["mean"] == pytest.approx(0.5)
    assert s["far_from_half"] == pytest.approx(0.5)


def test_regenerating_script_shrunk(tmp_path):
    spec = importlib.util.spec_from_file_location("make_e8_data", ROOT / "scripts/make_e8_data.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "e8.json"
    module.main(["--n-seeds", "3", "--n-steps", "5", "--batch-size", "16", "--out", str(out)])
    results = mlp.load_e8_results(str(out))
    assert sorted(results) == [0.0, 0.1]
    assert results[0.1].prob_one.shape == (3, 101)
    assert results[0.0].config.n_steps == 5


def test_shipped_results():
    results = mlp.load_e8_results()
    assert sorted(results) == [0.0, 0.1]
    for res in results.values():
        assert res.config.n_seeds == 100
        assert res.prob_one.shape == (100, 101)
    # Both settings at the paper's scale.
    for noise_std, res in results.items():
        cfg = res.config
        assert (cfg.n_steps, cfg.batch_size, cfg.lr, cfg.hidden) == (10_000, 1024, 1e-3, 64)
        assert cfg.noise_std == noise_std
    # The finding (E8): the noise-free seeds disagree at x = 0.5, the noisy ones much less.
    assert mlp.spread(results[0.0].at(0.5))["std"] > 3 * mlp.spread(results[0.1].at(0.5))["std"]
