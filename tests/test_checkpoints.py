"""Saved models round-trip, refuse tampering, and never unpickle."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from bayeslens import checkpoints, paper
from bayeslens.checkpoints import CheckpointError, load, load_pretrained, prior_settings, save
from bayeslens.model import PFN, PFNConfig
from bayeslens.train import TrainConfig

CFG = PFNConfig(n_layers=1, d_model=16, n_heads=2, d_ff=32, n_buckets=30, max_context=9,
                head_hidden=8)


def _model() -> PFN:
    torch.manual_seed(0)
    return PFN(CFG, torch.linspace(-2, 2, 31) ** 3).eval()


def _inputs() -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(2, 5, generator=g), torch.randn(2, 5, generator=g), torch.rand(2, 3,
                                                                                    generator=g)


def test_round_trip(tmp_path: Path) -> None:
    model = _model()
    prior = paper.steps_e1()
    save(model, tmp_path / "m", prior=prior, train_config=TrainConfig(steps=7), final_loss=-0.5,
         gap={"gap": 0.1, "se": 0.01})
    loaded = load(tmp_path / "m")
    torch.testing.assert_close(loaded(*_inputs()), model(*_inputs()), rtol=0, atol=0)
    card = loaded.metadata
    assert card["model_config"] == CFG.to_dict()
    assert card["train_config"]["steps"] == 7
    assert card["prior"]["name"] == "steps"
    assert card["prior"]["settings"]["class"] == "StepPrior"
    assert len(card["prior"]["settings"]["c"]["values"]) == 101
    assert card["final_loss"] == -0.5
    assert card["gap"]["se"] == 0.01
    assert not loaded.training


def test_fp16_round_trip_keeps_float32_borders(tmp_path: Path) -> None:
    model = _model()
    save(model, tmp_path / "m", dtype=torch.float16)
    loaded = load(tmp_path / "m")
    assert loaded.bar is not None
    assert model.bar is not None
    torch.testing.assert_close(loaded.bar.borders, model.bar.borders, rtol=0, atol=0)
    torch.testing.assert_close(loaded(*_inputs()), model(*_inputs()), rtol=0, atol=2e-2)
    assert (tmp_path / "m" / "weights.safetensors").stat().st_size < 20_000


def test_a_changed_weights_file_is_refused(tmp_path: Path) -> None:
    save(_model(), tmp_path / "m")
    weights = tmp_path / "m" / checkpoints.WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="hash mismatch"):
        load(tmp_path / "m")


def test_a_changed_config_is_refused(tmp_path: Path) -> None:
    save(_model(), tmp_path / "m")
    card_path = tmp_path / "m" / checkpoints.CARD_FILE
    card = json.loads(card_path.read_text())
    card["model_config"]["d_ff"] = 64
    card_path.write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match=r"config mismatch.*linear1"):
        load(tmp_path / "m")
    card["model_config"]["d_ff"] = 32
    card["model_config"]["depth"] = 3
    card_path.write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match=r"config mismatch.*depth"):
        load(tmp_path / "m")
    card_path.write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load(tmp_path / "m")


def test_loading_never_unpickles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save(_model(), tmp_path / "m")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("unpickling attempted")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    load(tmp_path / "m")


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"no model\.json"):
        load(tmp_path)
    save(_model(), tmp_path / "m")
    (tmp_path / "m" / checkpoints.WEIGHTS_FILE).unlink()
    with pytest.raises(CheckpointError, match="no weights"):
        load(tmp_path / "m")


@pytest.mark.parametrize("make", [paper.steps_e1, paper.sines_e2, paper.sines_and_lines_e3,
                                  paper.coin_e5])
def test_prior_settings_are_json(make: object) -> None:
    settings = prior_settings(make())  # type: ignore[operator]
    assert json.loads(json.dumps(settings, allow_nan=False)) == settings


def test_load_pretrained_steps() -> None:
    model = load_pretrained("steps")
    assert model.config.n_layers >= 4
    assert model.config.d_model >= 128
    assert model.metadata["prior"]["name"] == "steps_e1"
    assert model.metadata["gap"]["n_datasets"] >= 10_000
    size = sum(p.stat().st_size for p in checkpoints.pretrained_dir("steps").iterdir())
    assert size < 10 * 2**20
    with pytest.raises(ValueError, match="no shipped model named"):
        load_pretrained("nonexistent")
