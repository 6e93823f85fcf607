"""The live explorers' export: current, faithful to the package, and refused where it cannot be.

The browser side (book/vendor/bayeslens/live*.js) is checked against Python's numbers in
headless Chromium by tests/test_browser.py; here, the files it reads.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from bayeslens import paper, webexport
from bayeslens.checkpoints import load_pretrained
from bayeslens.posterior import posterior
from bayeslens.priors import CoinPrior, StepPrior
from bayeslens.train import PRESETS, PRIORS

ROOT = Path(__file__).resolve().parents[1]
EXPORT = ROOT / webexport.DEFAULT_OUT
VENDOR = ROOT / "book" / "vendor" / "bayeslens"


def test_committed_export_is_current():
    stale = webexport.check(EXPORT)
    assert stale == [], (
        f"the live explorers' export is stale ({stale}): run `python -m bayeslens.webexport` "
        "and commit book/vendor/bayeslens/live/"
    )


def test_check_reports_missing_changed_and_extra_files(tmp_path):
    webexport.export(tmp_path)
    assert webexport.check(tmp_path) == []
    (tmp_path / "steps" / "explorer.json").write_text("{}")
    (tmp_path / "old.json").write_text("{}")
    (tmp_path / "manifest.json").unlink()
    assert set(webexport.check(tmp_path)) == {"steps/explorer.json", "old.json", "manifest.json"}
    assert webexport.main(["--check", "--out", str(tmp_path)]) == 1


def test_manifest_lists_every_file_with_its_hash():
    manifest = json.loads((EXPORT / "manifest.json").read_text())
    for rel, digest in manifest["files"].items():
        assert webexport._sha256((EXPORT / rel).read_bytes()) == digest


def _doc(name: str = "steps") -> dict:
    return json.loads((EXPORT / name / "explorer.json").read_text())


def test_weights_decode_to_the_shipped_model():
    doc = _doc()
    model = load_pretrained(doc["model"]["name"])
    blob = (EXPORT / "steps" / doc["model"]["weights"]["file"]).read_bytes()
    assert doc["model"]["weights"]["dtype"] == "float32"
    assert doc["model"]["source_sha256"] == model.metadata["weights_sha256"]
    state = model.state_dict()
    names = [t["name"] for t in doc["model"]["weights"]["tensors"]]
    assert names == [k for k in state if not k.endswith("borders")]
    for t in doc["model"]["weights"]["tensors"]:
        assert t["offset"] % 8 == 0
        n = int(np.prod(t["shape"]))
        got = np.frombuffer(blob, dtype="<f4", count=n, offset=t["offset"]).reshape(t["shape"])
        assert np.array_equal(got, state[t["name"]].numpy()), t["name"]
    assert doc["model"]["config"] == model.config.to_dict()
    assert model.bar is not None
    borders = torch.tensor(doc["model"]["borders"], dtype=torch.float32)
    assert torch.equal(borders, model.bar.borders)


def test_float16_blob_is_half_the_size():
    model = load_pretrained("steps")
    b32, _ = webexport.weights_blob(model, "float32")
    b16, index = webexport.weights_blob(model, "float16")
    assert len(b16) < 0.51 * len(b32)
    first = index[0]
    n = int(np.prod(first["shape"]))
    got = np.frombuffer(b16, dtype="<f2", count=n, offset=first["offset"])
    want = model.state_dict()[first["name"]].numpy().reshape(-1)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match="dtype"):
        webexport.weights_blob(model, "bfloat16")


def test_step_prior_json_round_trips_and_groups_as_the_posterior():
    prior = paper.steps_e1()
    doc = _doc()["prior"]
    assert doc["family"] == "step"
    for name in ("c", "b", "a"):
        ax = getattr(prior, name)
        assert torch.equal(torch.tensor(doc[name]["values"], dtype=torch.float64), ax.values)
        assert torch.equal(
            torch.tensor(doc[name]["log_weights"], dtype=torch.float64), ax.log_weights
        )
    u = torch.tensor(doc["u"], dtype=torch.float64)
    index = torch.tensor(doc["u_index"]).reshape(len(prior.b), len(prior.a))
    sums = prior.b.values[:, None] + prior.a.values[None, :]
    assert float((u[index] - sums).abs().max()) < 1e-9
    # the exported grid is the one the posterior uses: same PPD from a hand-built prior
    again = StepPrior.grid(doc["c"]["values"], doc["b"]["values"], doc["a"]["values"],
                           doc["sigma"])
    x, y = paper.line()
    xq = torch.linspace(-1, 1, 5, dtype=torch.float64)
    assert torch.equal(posterior(again, x, y).mean(xq), posterior(prior, x, y).mean(xq))


def test_sine_and_mixture_priors_export():
    e2 = webexport.prior_json(paper.sines_e2())
    assert e2["family"] == "sine_line"
    assert len(e2["phi"]["values"]) == 101
    assert e2["A"]["values"] == [0.2]
    e3 = webexport.prior_json(paper.sines_and_lines_e3())
    assert e3["family"] == "mixture"
    assert [f["name"] for f in e3["families"]] == ["sines", "lines"]
    assert np.allclose(np.exp(e3["log_family_weights"]), [0.5, 0.5])


def test_explorer_settings():
    ex = _doc()["explorer"]
    assert ex["x_query"] == torch.linspace(-1, 1, 101, dtype=torch.float64).tolist()
    assert ex["levels"] == [0.025, 0.975]
    assert ex["latents"] == "step:c"
    assert ex["n_points"]["hi"] > load_pretrained("steps").config.max_context  # a bad state
    assert {f["family"] for f in ex["functions"]} == {"sine_line", "step"}


@pytest.mark.parametrize("name", sorted(webexport.EXPLORERS))
def test_every_explorer_pairs_its_prior_with_its_model(name):
    spec = webexport.EXPLORERS[name]
    model = load_pretrained(spec.model)
    assert PRIORS[PRESETS[spec.model].prior] is spec.prior  # the model's training prior
    assert spec.n_points.hi > model.config.max_context  # the too-long state is reachable
    assert spec.n_points.lo == 0  # and the empty one
    what = spec.latents
    assert what in ("", "families", "step:c") or what.startswith("axis:")


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="StepPrior, SinePrior or Mixture"):
        webexport.prior_json(CoinPrior.grid([0.3, 0.6]))
    with pytest.raises(ValueError, match="no live explorer named"):
        webexport.live_explorer("nope")
    with pytest.raises(ValueError, match="lo <= value <= hi"):
        webexport.Slider("s", "slope", 0.0, 1.0, 0.1, 2.0)
    with pytest.raises(ValueError, match="family"):
        webexport.ContextFunction("f", "spline", (), ())
    with pytest.raises(ValueError, match="distinct names"):
        webexport.ContextFunction("f", "step", (("c", 0.0),), (webexport.Slider(
            "c", "c", 0.0, 1.0, 0.1, 0.5),))


def test_models_with_several_input_features_are_refused(monkeypatch):
    # the browser's forward pass embeds one x per point; a d > 1 model must not be exported
    wide = SimpleNamespace(bar=object(), config=SimpleNamespace(n_features=3))
    monkeypatch.setattr(webexport, "load_pretrained", lambda name: wide)
    with pytest.raises(ValueError, match="takes 3 input features"):
        webexport.export_files(webexport.EXPLORERS["steps"])


def test_live_explorer_block_is_fixed_html():
    block = webexport.live_explorer("steps")
    html = block._repr_html_()
    assert html.startswith('<div class="bayeslens-live" data-explorer="steps">')
    assert "HTML book" in html
    assert html == webexport.live_explorer("steps")._repr_html_()  # nbval compares it
    assert "0x" not in repr(block)


def test_simd_kernel_is_built_from_its_source(tmp_path):
    wat2wasm = shutil.which("wat2wasm")
    if wat2wasm is None:
        pytest.skip("wat2wasm (Debian package wabt) is not installed")
    out = tmp_path / "k.wasm"
    subprocess.run([wat2wasm, str(VENDOR / "live-kernels.wat"), "-o", str(out)], check=True)
    assert out.read_bytes() == (VENDOR / "live-kernels.wasm").read_bytes(), (
        "rebuild live-kernels.wasm: wat2wasm book/vendor/bayeslens/live-kernels.wat "
        "-o book/vendor/bayeslens/live-kernels.wasm"
    )


# --------------------------------------------------------------------------------------------
# Token explorers (sequence priors and models)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(webexport.TOKEN_EXPLORERS))
def test_token_explorer_export_is_the_package_s(name):
    from bayeslens.checkpoints import load_pretrained_sequence_model

    spec = webexport.TOKEN_EXPLORERS[name]
    doc = _doc(name)
    prior, model = spec.prior(), load_pretrained_sequence_model(spec.model)
    assert doc["explorer"]["kind"] == "tokens"
    assert doc["explorer"]["max_prefix"] == model.config.max_length - 1
    assert [p["tokens"] for p in doc["explorer"]["presets"]] == [
        list(p.tokens()) for p in spec.presets]
    assert doc["model"]["config"] == model.config.to_dict()
    assert doc["model"]["source_sha256"] == model.metadata["weights_sha256"]
    assert "borders" not in doc["model"]
    blob = (EXPORT / name / "weights.bin").read_bytes()
    state = model.state_dict()
    assert [t["name"] for t in doc["model"]["weights"]["tensors"]] == list(state)
    for t in doc["model"]["weights"]["tensors"]:
        n = int(np.prod(t["shape"]))
        got = np.frombuffer(blob, dtype="<f4", count=n, offset=t["offset"]).reshape(t["shape"])
        assert np.array_equal(got, state[t["name"]].numpy()), t["name"]
    p = doc["prior"]
    assert p["vocab_size"] == prior.vocab_size == model.config.vocab_size
    assert torch.equal(torch.tensor(p["initial"], dtype=torch.float64), prior.log_initial.exp())
    if p["family"] == "markov_pool":
        transitions = torch.tensor(p["transitions"], dtype=torch.float64).reshape(
            p["n_chains"], p["vocab_size"], p["vocab_size"])
        assert torch.equal(transitions, prior.transitions)
        assert torch.equal(torch.tensor(p["weights"], dtype=torch.float64),
                           prior.log_weights.exp())
    else:
        assert p["family"] == "dirichlet_markov"
        assert p["alpha"] == prior.alpha


def test_token_explorers_pair_their_prior_with_their_model():
    from bayeslens.checkpoints import load_pretrained_sequence_model

    assert not set(webexport.TOKEN_EXPLORERS) & set(webexport.EXPLORERS)  # one folder each
    for spec in webexport.TOKEN_EXPLORERS.values():
        model = load_pretrained_sequence_model(spec.model)
        prior = spec.prior()
        prior.check_settings({k: v for k, v in model.metadata["prior"]["settings"].items()
                              if k != "class"})


def test_token_explorer_block_says_it_is_one():
    html = webexport.live_explorer("markov_pool")._repr_html_()
    assert html.startswith('<div class="bayeslens-live" data-explorer="markov_pool" '
                           'data-kind="tokens">')
    assert "tokens you click or type" in html
    assert 'data-kind' not in webexport.live_explorer("steps")._repr_html_()


def test_sequence_prior_json_refuses_other_priors():
    with pytest.raises(ValueError, match="MarkovPool or a DirichletMarkov"):
        webexport.sequence_prior_json(paper.steps_e1())  # type: ignore[arg-type]
