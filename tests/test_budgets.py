"""The training-budget ablation (E3): its command, shrunk, and the shipped results file."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from bayeslens import budgets, paper
from bayeslens.train import PRESETS, TrainConfig

TINY_MODEL = ('{"n_layers": 1, "d_model": 16, "n_heads": 2, "d_ff": 32, "n_buckets": 20,'
              ' "head_hidden": 0}')
TINY_TRAIN = '{"border_datasets": 200, "n_points": 12}'


def test_each_budget_warms_up_for_the_recipes_fraction_of_its_run() -> None:
    base = budgets.budget_base("sines_and_lines")  # 500 of 6,000 steps
    assert (base.steps, base.warmup_steps) == (6_000, 500)
    assert budgets.budget_config(base, 12_000).warmup_steps == 1000
    assert budgets.budget_config(base, 100).warmup_steps == 8
    assert budgets.budget_config(base, 3).warmup_steps == 1
    assert budgets.budget_config(TrainConfig(warmup_steps=0), 50).warmup_steps == 0
    assert budgets.budget_config(base, 100).checkpoint_every == 100
    with pytest.raises(ValueError, match="steps must be"):
        budgets.budget_config(base, 0)


@pytest.mark.slow  # ~10 s: two tiny runs, twice
def test_the_command_shrunk_writes_then_resumes(tmp_path: Path) -> None:
    out = tmp_path / "budgets.json"
    args = ["--budgets", "4,8", "--eval-datasets", "30", "--out", str(out),
            "--model", TINY_MODEL, "--train", TINY_TRAIN]
    assert budgets.main(args) == 0
    doc = json.loads(out.read_text())
    assert [r["steps"] for r in doc["runs"]] == [4, 8]
    for r in doc["runs"]:
        assert r["gap"] > 0  # a 4-step network is far from Bayes
        assert len(r["means"]["sloped sine"]) == len(budgets.X_QUERY)
        assert r["mean_rms"]["sloped sine"] > 0
    first = out.read_text()
    assert budgets.main([*args[:1], "4,8,2", *args[2:]]) == 0  # only budget 2 is new
    doc = json.loads(out.read_text())
    assert [r["steps"] for r in doc["runs"]] == [2, 4, 8]
    assert doc["runs"][1:] == json.loads(first)["runs"]
    with pytest.raises(ValueError, match="other settings"):
        budgets.main([*args[:-1], '{"border_datasets": 300, "n_points": 12}'])


def test_the_shipped_results_match_the_recipe() -> None:
    if not budgets.DEFAULT_OUT.exists():
        pytest.skip("no shipped budget results yet")
    doc = json.loads(budgets.DEFAULT_OUT.read_text())
    preset = PRESETS["sines_and_lines"]
    assert doc["prior"] == preset.prior
    assert doc["model_config"] == preset.model.to_dict()
    # the command resumes from this file: the recipe it records is the budgets' base
    assert doc["base_train_config"] == asdict(budgets.budget_base("sines_and_lines"))
    assert doc["eval_datasets"] == 10_000
    steps = [r["steps"] for r in doc["runs"]]
    assert steps == sorted(steps)
    assert set(steps) <= set(paper.E3_TRAINING_STEPS)
    assert all(r["threads"] >= 1 for r in doc["runs"])  # the seconds depend on it
