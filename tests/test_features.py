"""Inputs with d features (issue 16): the PFN, training, evaluation and checkpoints for d > 1,
and the 1-d path bit-identical to the code before the option existed."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

from bayeslens import checkpoints, evaluate, paper
from bayeslens.checkpoints import CheckpointError, check_prior, load, load_pretrained, save
from bayeslens.gaps import shipped_models
from bayeslens.linear import LinearGaussian, LinearPool
from bayeslens.linear_posterior import gaussian_posterior, pool_posterior, predictive
from bayeslens.model import PFN, PFNConfig, dense_mask_reference
from bayeslens.train import TrainConfig, build_model, loss_fn, sample_batch, train

D = 3
TINY3 = PFNConfig(n_layers=1, d_model=32, n_heads=2, d_ff=64, n_buckets=50, max_context=11,
                  head_hidden=0, n_features=D)
TINY1 = PFNConfig(n_layers=2, d_model=32, n_heads=2, d_ff=64, n_buckets=100, max_context=9,
                  head_hidden=0)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """One intra-op thread: with more, MKL may round the coin models' outputs differently
    (measured: the bit-identity values below were recorded with one thread)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _model3(seed: int = 0) -> PFN:
    torch.manual_seed(seed)
    return PFN(TINY3, torch.linspace(-3, 3, TINY3.n_buckets + 1)).eval()


def _data3(b: int, nc: int, nq: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, nc, D, generator=g), torch.randn(b, nc, generator=g),
            torch.randn(b, nq, D, generator=g))


# ------------------------------------------------------------- the 1-d path, bit for bit

# Recorded with the code before n_features existed (commit 80b9850), one torch thread, per
# torch build and CPU kernel set (bits only repeat on the same ones): the SHA-256 of the
# float32 logits on the inputs of _shipped_inputs, and a few predictions (mean of the first
# dataset's first four queries; a classifier's P(heads) per dataset). A retrained shipped
# model changes its values on purpose: record them again from the new weights, with that
# commit's code and one thread, in the same commit, on every kernel set you can; a model
# with no record for this machine's kernels is skipped here (the sines models, retrained on
# an AVX-512 machine, have none for AVX2 yet).
SHIPPED_BY_CPU: dict[str, dict[str, tuple[str, list[float]]]] = {
    "AVX2": {
        "coin": ("5f609f06a158b87d0d73cf0556e030d9ef72a2c9c8d98ffaa4bf510db8cf543d",
                 [0.5603852868080139, 0.5603852868080139, 0.5603852868080139]),
        "coin_counting": ("83e8c3a60fa4d2a480a477579ae4ad609bdde9666470f6ff92091bfd16b49f3b",
                          [0.5523406863212585, 0.5523406863212585, 0.5523406267166138]),
        "steps": ("d0e8e338c54a5fc82a85489a9505e3a0a5406cc46387b0e16c8ab9a68e3caad6",
                  [0.6753519773483276, 0.7057430744171143, 0.6516339778900146,
                   0.6408357620239258]),
        "updown": ("bea84846cf286275821fc32eb3ee417080be10849ddea2056b899ace4fe1ad92",
                   [0.7800983190536499, 0.7689558267593384, -0.003650573082268238,
                    -0.5081568956375122]),
    },
    "AVX512": {
        "coin": ("b7b4e55ae9ed9f8b7d64fb8054ca06edcea42bcf8c75ab6cfa8b2075d6b377ca",
                 [0.5603852272033691, 0.5603852868080139, 0.5603852868080139]),
        "coin_counting": ("db2919c7914cefd19110112aa2caaf3483fad213552b1354c364ab94ef56448d",
                          [0.5523406863212585, 0.5523406863212585, 0.5523406863212585]),
        "sines": ("cbb9f48805b617768e1cb1386804cf3b046be0e2f356ab996c28efaee8f35b6b",
                  [-0.014051428064703941, 0.09511865675449371, -0.1460600048303604,
                   0.061593569815158844]),
        "sines_and_lines": ("4aea07f05bcb2dbd04d9e7878e511ee9838c16ce0ef1fdf0b2a4ab7a4636ab53",
                            [0.8306398987770081, 0.6999695897102356, 0.6459193229675293,
                             0.48137468099594116]),
        "steps": ("034e98dce417e3986dc735b69e45efe681cdda2360fea2dff53aa1d6816751a7",
                  [0.6753517389297485, 0.7057430744171143, 0.651633620262146,
                   0.6408356428146362]),
        "updown": ("f67d7a626ce01684d4c08746089e34d8decfa9ca5a9b1e661a760853fe8e2f83",
                   [0.7800983190536499, 0.7689558267593384, -0.003650382626801729,
                    -0.5081567764282227]),
    },
}
SHIPPED_NAMES = sorted(set().union(*SHIPPED_BY_CPU.values()))
"""Every model with a record on some kernel set."""

# Recorded as above: the losses of _train_1d's runs, step by step (the same bits on both
# kernel sets but the first steps run's first loss).
STEPS_LOSSES = {
    "AVX2": [1.7439939975738525, 1.2183754444122314, 1.1704169511795044,
             2.0261967182159424, 1.7456443309783936],
    "AVX512": [1.7439937591552734, 1.2183754444122314, 1.1704169511795044,
               2.0261967182159424, 1.7456443309783936],
}
COIN_LOSSES = [0.6939009428024292, 0.7263604402542114, 0.6676443219184875]


def _digest(t: torch.Tensor) -> str:
    return hashlib.sha256(t.detach().contiguous().numpy().tobytes()).hexdigest()


def _shipped_inputs() -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(16)
    xc = torch.rand(3, 7, generator=g) * 2 - 1
    yc = torch.randn(3, 7, generator=g) * 0.5
    xq = torch.linspace(-1, 1, 9).expand(3, 9).contiguous()
    labels = (torch.rand(3, 7, generator=g) < 0.6).float()
    return xc, yc, xq, labels


RECORDED_BUILD = "2.13.0+cpu"
"""The torch build the values above were recorded with."""
CPU = torch.backends.cpu.get_cpu_capability()
SAME_BUILD = torch.__version__ == RECORDED_BUILD and CPU in SHIPPED_BY_CPU
bit_identical = pytest.mark.skipif(
    not SAME_BUILD,
    reason=f"values recorded with torch {RECORDED_BUILD} on {', '.join(SHIPPED_BY_CPU)}")


@bit_identical
@pytest.mark.parametrize("name", SHIPPED_NAMES)
def test_shipped_models_predict_bit_identically(name: str) -> None:
    """The shipped models' outputs, bit for bit, as the code before n_features gave them."""
    if name not in SHIPPED_BY_CPU[CPU]:
        pytest.skip(f"{name}: no values recorded on {CPU} kernels (see SHIPPED_BY_CPU)")
    model = load_pretrained(name)
    assert model.config.n_features == 1
    assert "n_features" not in model.metadata["model_config"]  # an old card: 1 by default
    assert tuple(model.encoder_x.weight.shape) == (model.config.d_model, 1)
    xc, yc, xq, labels = _shipped_inputs()
    if model.bar is None:
        zeros = torch.zeros(3, 7)
        logits = model(zeros, labels, torch.zeros(3, 2))
        values = model.class_probs(zeros, labels, torch.zeros(3, 2))[:, 0, 1]
    else:
        logits = model(xc, yc, xq)
        values = model.mean(xc, yc, xq)[0, :4]
    digest, recorded = SHIPPED_BY_CPU[CPU][name]
    assert values.tolist() == recorded
    assert _digest(logits) == digest


def test_every_shipped_pfn_has_a_record() -> None:
    cards = {name: checkpoints.read_card(checkpoints.pretrained_dir(name))
             for name in shipped_models()}
    pfns = [name for name, card in cards.items() if not checkpoints.is_sequence_card(card)]
    assert pfns == SHIPPED_NAMES


@bit_identical
def test_1d_training_is_bit_identical() -> None:
    cfg = TrainConfig(steps=5, batch_size=8, lr=2e-3, warmup_steps=2, n_points=10,
                      border_datasets=200, seed=3)
    assert train(paper.steps_e1(), TINY1, cfg, progress=False).losses == STEPS_LOSSES[CPU]
    coin = PFNConfig(n_layers=1, d_model=16, n_heads=2, d_ff=32, n_classes=2, max_context=9,
                     head_hidden=0)
    coin_cfg = TrainConfig(steps=3, batch_size=8, lr=2e-3, warmup_steps=1, n_points=10,
                           border_datasets=200, seed=5)
    assert train(paper.coin_e5(), coin, coin_cfg, progress=False).losses == COIN_LOSSES


def test_1d_configs_serialise_as_before_and_d_features_round_trip() -> None:
    assert "n_features" not in PFNConfig().to_dict()  # cards and web exports unchanged
    old_card = PFNConfig().to_dict()
    assert PFNConfig.from_dict(old_card) == PFNConfig()
    assert PFNConfig.from_dict(old_card).n_features == 1
    assert TINY3.to_dict()["n_features"] == D
    assert PFNConfig.from_dict(TINY3.to_dict()) == TINY3
    one = PFN(TINY1)
    three = PFN(TINY3)
    assert tuple(one.encoder_x.weight.shape) == (TINY1.d_model, 1)
    assert tuple(three.encoder_x.weight.shape) == (TINY3.d_model, D)
    wide = PFN(replace(TINY1, n_features=D)).state_dict()
    assert {k: v.shape for k, v in one.state_dict().items() if k != "encoder_x.weight"} == {
        k: v.shape for k, v in wide.items() if k != "encoder_x.weight"}  # only enc_x grows


def test_priors_declare_their_features() -> None:
    one_d: list[Any] = [paper.steps_e1(), paper.sines_e2(), paper.sines_and_lines_e3(),
                        paper.coin_e5(), paper.sines_e2_curriculum()]
    assert [p.n_features for p in one_d] == [1] * len(one_d)
    assert [type(p).__name__ for p in one_d] == [
        "StepPrior", "SinePrior", "Mixture", "CoinPrior", "Curriculum"]
    # a property, not a field: the priors' recorded settings are unchanged
    assert "n_features" not in checkpoints.prior_settings(paper.steps_e1())
    pool, gauss = LinearPool(16, D, 0.5, seed=4), LinearGaussian(5, 0.5)
    assert (pool.n_features, gauss.n_features) == (D, 5)
    g = torch.Generator().manual_seed(0)
    assert pool.sample(4, 6, g).x.shape == (4, 6, D)
    assert gauss.sample(4, 6, g).x.shape == (4, 6, 5)
    assert paper.steps_e1().sample(4, 6, g).x.shape == (4, 6)


# ------------------------------------------------------------------- the d-feature model


def test_a_d_feature_model_predicts_with_the_expected_shapes() -> None:
    model = _model3()
    xc, yc, xq = _data3(4, 6, 5)
    logits = model(xc, yc, xq)
    assert logits.shape == (4, 5, TINY3.n_buckets)
    torch.testing.assert_close(logits, dense_mask_reference(model)(xc, yc, xq),
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(model(xc[1], yc[1], xq[1]), logits[1], atol=1e-6, rtol=1e-6)
    yq = torch.randn(4, 5)
    assert model.mean(xc, yc, xq).shape == (4, 5)
    assert model.log_density(xc, yc, xq, yq).shape == (4, 5)
    assert model.log_density(xc[0], yc[0], xq[0], yq[0]).shape == (5,)
    assert model.density(xc, yc, xq, torch.linspace(-2, 2, 7)).shape == (4, 5, 7)
    assert model.quantiles(xc[0], yc[0], xq[0], torch.tensor([0.1, 0.9])).shape == (5, 2)
    assert model.query_states(xc, yc, xq).shape == (TINY3.n_layers + 1, 4, 5, TINY3.d_model)
    # the features matter: permuting them changes the prediction
    assert not torch.allclose(model(xc.flip(-1), yc, xq.flip(-1)), logits)


def test_bad_feature_inputs_are_clear_value_errors() -> None:
    model = _model3()
    xc, yc, xq = _data3(2, 4, 3)
    cases = [
        ((xc[..., :2], yc, xq), "x_context has 2 features, the model was built for 3"),
        ((xc, yc, torch.zeros(2, 3, 8)), "x_query has 8 features, the model was built for 3"),
        ((xc[..., 0], yc, xq), r"x_context must have shape \(batch, points, d\) with d = 3"),
        ((xc[0], yc[0], xq), r"x_query must have shape \(points, d\)"),
        ((xc, yc[..., None], xq), "y_context must have shape"),
        ((xc, yc[:, :3], xq), r"same shape \(batch, points\)"),
        ((xc, yc, xq[:1]), "batch size"),
    ]
    for args, msg in cases:
        with pytest.raises(ValueError, match=msg):
            model(*args)
    with pytest.raises(ValueError, match="y_query must have the shape"):
        model.log_density(xc, yc, xq, torch.zeros(2, 3, D))
    one_d = PFN(TINY1).eval()
    with pytest.raises(ValueError, match="x_context has 3 features, the model was built for 1"):
        one_d(xc, yc, xq)
    with pytest.raises(ValueError, match="n_features must be >= 1"):
        PFNConfig(n_features=0)
    with pytest.raises(ValueError, match="n_features must be a non-negative int"):
        PFNConfig(n_features=2.0)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------- training


def test_a_d3_pfn_learns_linear_regression() -> None:
    prior = LinearGaussian(D, 0.5)
    cfg = TrainConfig(steps=40, batch_size=32, lr=3e-3, warmup_steps=5, n_points=12,
                      border_datasets=500, seed=0)
    untrained = build_model(prior, TINY3, cfg).eval()
    result = train(prior, TINY3, cfg, progress=False)
    assert len(result.losses) == 40
    b = sample_batch(prior, 512, 12, torch.Generator().manual_seed(99))  # held out
    assert b.x_context.shape[::2] == (512, D)
    with torch.no_grad():
        before = loss_fn(untrained, untrained(*b[:3]), b.y_query).item()
        after = loss_fn(result.model, result.model(*b[:3]), b.y_query).item()
    assert after < before - 0.05  # measured over seeds 0-2: falls by 0.14-0.19 nats


def test_training_refuses_a_prior_of_another_d_before_any_work(tmp_path: Path) -> None:
    cfg = TrainConfig(steps=2, batch_size=4, n_points=10, border_datasets=50)
    cases = [
        (LinearGaussian(D, 0.5), TINY1, r"n_features=3 .*model_config\.n_features=1"),
        (paper.steps_e1(), TINY3, r"n_features=1 .*model_config\.n_features=3"),
        (LinearPool(8, 4, 0.5), TINY3, r"n_features=4 .*model_config\.n_features=3"),
    ]
    for prior, model_config, msg in cases:
        with pytest.raises(ValueError, match=msg):
            train(prior, model_config, cfg, workdir=tmp_path / "run", progress=False)
        assert not (tmp_path / "run").exists()


def test_resuming_refuses_another_pool(tmp_path: Path) -> None:
    cfg = TrainConfig(steps=2, batch_size=4, warmup_steps=1, n_points=8, border_datasets=50,
                      checkpoint_every=1)
    train(LinearPool(8, D, 0.5, seed=1), TINY3, cfg, workdir=tmp_path, progress=False)
    assert json.loads((tmp_path / "state.json").read_text())["prior_settings"]["seed"] == 1
    with pytest.raises(ValueError, match=r"cannot resume.*prior_settings"):
        train(LinearPool(8, D, 0.5, seed=2), TINY3, cfg, workdir=tmp_path, progress=False)


# ------------------------------------------------------------------------------ evaluation


@pytest.mark.parametrize("prior", [LinearGaussian(D, 0.5), LinearPool(16, D, 0.5, seed=4)],
                         ids=["gaussian", "pool"])
def test_model_and_exact_nll_on_a_d3_eval_set(prior: LinearGaussian | LinearPool) -> None:
    data = evaluate.sample_eval_set(prior, 40, 12, torch.Generator().manual_seed(1))
    assert data.x.shape == (40, 12, D)
    model = _model3()
    ours = evaluate.model_nll(model, data, batch_size=3)  # several chunks per context size
    nll, log_evidence = evaluate.exact_scores(prior, data)
    assert ours.shape == nll.shape == log_evidence.shape == (40,)
    torch.testing.assert_close(evaluate.exact_nll(prior, data), nll, atol=0, rtol=0)
    for i in range(0, 40, 7):  # the grouped, batched scores against one dataset at a time
        k = int(data.n_context[i])
        xc, yc, xq, yq = data.x[i, :k], data.y[i, :k], data.x[i, k:], data.y[i, k:]
        ld = predictive(prior, xc, yc, xq, yq).log_density
        assert ld is not None
        torch.testing.assert_close(nll[i], -ld.mean(), atol=1e-12, rtol=1e-12)
        post = (gaussian_posterior(prior, xc, yc) if isinstance(prior, LinearGaussian)
                else pool_posterior(prior, xc, yc))
        torch.testing.assert_close(log_evidence[i], post.log_evidence, atol=1e-12, rtol=1e-12)
        log_p = model.log_density(xc, yc, xq, yq).double()
        torch.testing.assert_close(ours[i], -log_p.mean(), atol=1e-5, rtol=1e-5)
    gap = evaluate.nll_gap(model, prior, 20, n_points=12, seed=3)
    assert math.isfinite(gap.gap)
    assert math.isfinite(gap.se)
    assert gap.gap > 0  # an untrained network
    xc, yc, xq = data.x[0, :5], data.y[0, :5], data.x[0, 5:]
    mg = evaluate.mean_gap(model, prior, xc, yc, xq)
    torch.testing.assert_close(mg.exact_mean, predictive(prior, xc, yc, xq).mean)


def test_evaluation_refuses_mismatched_features() -> None:
    gauss = LinearGaussian(D, 0.5)
    one_d_data = evaluate.sample_eval_set(paper.steps_e1(), 4, 6, torch.Generator())
    d3_data = evaluate.sample_eval_set(gauss, 4, 6, torch.Generator())
    with pytest.raises(ValueError, match=r"data.x has shape \(4, 6\).*d = 3"):
        evaluate.exact_nll(gauss, one_d_data)
    with pytest.raises(ValueError, match=r"data.x has shape \(4, 6, 3\).*d = 2"):
        evaluate.exact_scores(LinearGaussian(2, 0.5), d3_data)
    with pytest.raises(ValueError, match=r"data.x has shape \(4, 6, 3\).*1-d x"):
        evaluate.exact_scores(paper.steps_e1(), d3_data)
    with pytest.raises(ValueError, match="x_context has 3 features, the model was built for 1"):
        evaluate.model_nll(PFN(TINY1), d3_data)
    with pytest.raises(ValueError, match=r"n_features=3 .*built for n_features=1"):
        evaluate.nll_gap(PFN(TINY1), gauss, 4, n_points=6)


# ------------------------------------------------------------------------------ checkpoints


def test_a_d3_model_round_trips_and_checks_its_pool(tmp_path: Path) -> None:
    model = _model3()
    pool = LinearPool(16, D, 0.5, seed=4)
    save(model, tmp_path / "m", prior=pool, train_config=TrainConfig(steps=7))
    card = json.loads((tmp_path / "m" / "model.json").read_text())
    assert card["model_config"]["n_features"] == D
    assert card["prior"] == {"name": "linear_pool",
                             "settings": {"class": "LinearPool", **pool.settings()}}
    loaded = load(tmp_path / "m", prior=LinearPool(16, D, 0.5, seed=4))
    assert loaded.config == TINY3
    xc, yc, xq = _data3(2, 5, 3)
    torch.testing.assert_close(loaded(xc, yc, xq), model(xc, yc, xq), atol=0, rtol=0)
    with pytest.raises(CheckpointError, match=r"settings\['seed'\] is 4 but .* seed = 5"):
        load(tmp_path / "m", prior=LinearPool(16, D, 0.5, seed=5))
    with pytest.raises(CheckpointError, match=r"settings\['n_tasks'\] is 16"):
        check_prior(loaded, LinearPool(32, D, 0.5, seed=4))
    with pytest.raises(CheckpointError, match="n_features=4, the model was built for "
                                              "n_features=3"):
        check_prior(loaded, LinearPool(16, 4, 0.5, seed=4))
    with pytest.raises(CheckpointError, match="class 'LinearPool', not of a LinearGaussian"):
        check_prior(loaded, LinearGaussian(D, 0.5))
    with pytest.raises(ValueError, match="prior must have a check_settings method"):
        check_prior(loaded, paper.steps_e1())
