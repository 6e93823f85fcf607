"""The PFN against the stock dense-mask transformer, its invariances, and bad input."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bayeslens.model import PFN, PFNConfig, dense_mask_reference

TINY = PFNConfig(n_layers=2, d_model=32, n_heads=2, d_ff=64, n_buckets=50, max_context=9,
                 head_hidden=0)


def _model(cfg: PFNConfig = TINY, seed: int = 0) -> PFN:
    torch.manual_seed(seed)
    return PFN(cfg).eval()


def _data(b: int, nc: int, nq: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(b, nc, generator=g) * 2 - 1, torch.randn(b, nc, generator=g),
            torch.rand(b, nq, generator=g) * 2 - 1)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("head_hidden", [0, 16])
def test_matches_stock_transformer_with_dense_mask(norm_first: bool, head_hidden: int) -> None:
    cfg = PFNConfig(n_layers=3, d_model=32, n_heads=4, d_ff=48, n_buckets=20, max_context=9,
                    head_hidden=head_hidden, norm_first=norm_first)
    model = _model(cfg)
    ref = dense_mask_reference(model)
    xc, yc, xq = _data(4, 6, 5)
    ours = model(xc, yc, xq)
    theirs = ref(xc, yc, xq)
    assert ours.shape == (4, 5, 20)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    # and the gradients agree too
    g1 = torch.autograd.grad(ours.square().sum(), list(model.parameters()))
    g2 = torch.autograd.grad(ref(xc, yc, xq).square().sum(), list(model.parameters()))
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


@settings(max_examples=15, deadline=None)
@given(nc=st.integers(1, 9), nq=st.integers(1, 8), seed=st.integers(0, 1000))
def test_queries_do_not_see_each_other(nc: int, nq: int, seed: int) -> None:
    model = _model()
    xc, yc, xq = _data(2, nc, nq, seed)
    together = model(xc, yc, xq)
    for j in range(nq):
        alone = model(xc, yc, xq[:, j : j + 1])
        torch.testing.assert_close(alone[:, 0], together[:, j], atol=1e-5, rtol=1e-5)


def test_context_order_does_not_matter() -> None:
    model = _model()
    xc, yc, xq = _data(3, 7, 4)
    perm = torch.randperm(7, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(model(xc, yc, xq), model(xc[:, perm], yc[:, perm], xq),
                               atol=1e-5, rtol=1e-5)


def test_unbatched_inputs_and_predictions() -> None:
    model = _model()
    xc, yc, xq = (t[0] for t in _data(1, 5, 3))
    assert model(xc, yc, xq).shape == (3, 50)
    assert model.mean(xc, yc, xq).shape == (3,)
    assert model.quantiles(xc, yc, xq, torch.tensor([0.1, 0.9])).shape == (3, 2)
    assert model.density(xc, yc, xq, torch.linspace(-2, 2, 7)).shape == (3, 7)
    assert model.log_density(xc, yc, xq, torch.zeros(3)).shape == (3,)
    # float64 input is cast, and gives the same answer
    torch.testing.assert_close(model.mean(xc.double(), yc.double(), xq.double()),
                               model.mean(xc, yc, xq))


def test_classifier_head() -> None:
    model = _model(PFNConfig(n_layers=1, d_model=16, n_heads=2, d_ff=32, n_classes=2,
                             max_context=9, head_hidden=0))
    assert model.bar is None
    probs = model.class_probs(torch.zeros(2, 4), torch.ones(2, 4), torch.zeros(2, 1))
    assert probs.shape == (2, 1, 2)
    torch.testing.assert_close(probs.sum(-1), torch.ones(2, 1))
    with pytest.raises(ValueError, match="class labels"):
        model(torch.zeros(1, 2), torch.tensor([[0.0, 0.5]]), torch.zeros(1, 1))
    with pytest.raises(ValueError, match="classifier"):
        model.mean(torch.zeros(1, 2), torch.ones(1, 2), torch.zeros(1, 1))


def test_bad_input_is_a_clear_value_error() -> None:
    model = _model()
    xc, yc, xq = _data(2, 4, 3)
    cases = [
        ((xc, yc[:, :3], xq), "same shape"),
        ((xc, yc, xq[:1]), "batch size"),
        ((xc[..., None], yc[..., None], xq[..., None]), "1-d .* or all 2-d"),
        ((xc.long(), yc, xq), "floating dtype"),
        ((xc, yc.bool(), xq), "floating dtype"),
        ((xc, yc.numpy(), xq), "torch.Tensor"),
        ((xc, torch.where(yc > 0, float("nan"), yc), xq), "finite"),
        ((xc, yc, torch.full_like(xq, float("inf"))), "finite"),
        ((torch.zeros(2, 10), torch.zeros(2, 10), xq), "longer than this model was trained"),
        ((xc[:, :0], yc[:, :0], xq), "at least one point"),
        ((xc, yc, xq[:, :0]), "x_query must hold"),
    ]
    for args, msg in cases:
        with pytest.raises(ValueError, match=msg):
            model(*args)
    with pytest.raises(ValueError, match="y_query must have the shape"):
        model.log_density(xc, yc, xq, torch.zeros(2, 2))


@pytest.mark.parametrize(
    ("kwargs", "msg"),
    [
        ({"d_model": 30, "n_heads": 4}, "divisible"),
        ({"n_layers": 0}, "n_layers"),
        ({"n_classes": 1}, "n_classes"),
        ({"max_context": -1}, "max_context"),
        ({"norm_first": 1}, "norm_first"),
        ({"d_ff": 2.5}, "d_ff"),
    ],
)
def test_config_validation(kwargs: dict[str, object], msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        PFNConfig(**kwargs)  # type: ignore[arg-type]


def test_config_round_trip_and_borders_shape() -> None:
    cfg = PFNConfig(n_buckets=10)
    assert PFNConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown fields"):
        PFNConfig.from_dict({**cfg.to_dict(), "extra": 1})
    with pytest.raises(ValueError, match="borders must have shape"):
        PFN(cfg, torch.linspace(0, 1, 5))


# ------------------------------------------------------------------ attention sinks (E5)

SINK = PFNConfig(n_layers=2, d_model=32, n_heads=2, d_ff=64, n_classes=2, max_context=70,
                 head_hidden=16, n_sink_tokens=2)


@pytest.mark.parametrize("norm_first", [False, True])
def test_sinks_match_stock_transformer_with_dense_mask(norm_first: bool) -> None:
    from dataclasses import replace

    model = _model(replace(SINK, norm_first=norm_first))
    ref = dense_mask_reference(model)
    xc, yc, xq = _data(3, 6, 4)
    yc = (yc > 0).float()
    ours, theirs = model(xc, yc, xq), ref(xc, yc, xq)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    names = [n for n, _ in model.named_parameters()]
    g1 = torch.autograd.grad(ours.square().sum(), list(model.parameters()))
    g2 = torch.autograd.grad(ref(xc, yc, xq).square().sum(), list(model.parameters()))
    assert g1[names.index("sink")].abs().sum() > 0  # the sinks learn
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_sinks_keep_the_model_invariant_to_context_order() -> None:
    model = _model(SINK)
    xc, yc, xq = _data(2, 9, 3)
    yc = (yc > 0).float()
    perm = torch.randperm(9, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(model(xc, yc, xq), model(xc[:, perm], yc[:, perm], xq),
                               atol=1e-5, rtol=1e-5)


def test_only_sinks_let_the_output_depend_on_how_many_identical_tokens() -> None:
    """k identical heads: the paper's PFN gives the same output for every k; sinks do not."""
    from dataclasses import replace

    def outputs(cfg: PFNConfig) -> torch.Tensor:
        model = _model(cfg)
        return torch.stack([model.class_probs(torch.zeros(k), torch.ones(k), torch.zeros(1))[0]
                            for k in (1, 4, 64)])

    plain = outputs(replace(SINK, n_sink_tokens=0))
    torch.testing.assert_close(plain[1:], plain[:1].expand(2, -1), atol=1e-6, rtol=0)
    sunk = outputs(SINK)
    assert (sunk[0] - sunk[2]).abs().max() > 1e-3


def test_sinks_off_keep_the_parameters_and_old_cards_load() -> None:
    from dataclasses import replace

    plain = _model(TINY)
    assert plain.sink is None
    assert not any("sink" in k for k in plain.state_dict())
    with_sinks = _model(replace(TINY, n_sink_tokens=1))
    # same seed: every older parameter starts from the same values
    for k, v in plain.state_dict().items():
        torch.testing.assert_close(with_sinks.state_dict()[k], v, atol=0, rtol=0)
    old_card = {k: v for k, v in TINY.to_dict().items() if k != "n_sink_tokens"}
    assert PFNConfig.from_dict(old_card) == TINY
    with pytest.raises(ValueError, match="missing fields"):
        PFNConfig.from_dict({k: v for k, v in old_card.items() if k != "d_model"})


def test_shipped_steps_model_predicts_as_before_the_sink_option() -> None:
    """Recorded with the code before ``n_sink_tokens`` existed (commit 7336bac)."""
    from bayeslens import paper
    from bayeslens.checkpoints import load_pretrained

    model = load_pretrained("steps")
    x, y = paper.line()
    recorded = torch.tensor([-0.13192659616470337, -0.1093721091747284, -0.07308100163936615,
                             0.006549730431288481, 0.07504510879516602, 0.10833800584077835,
                             0.12886500358581543])
    got = model.mean(x.float(), y.float(), torch.linspace(-1, 1, 7))
    torch.testing.assert_close(got, recorded, atol=1e-6, rtol=0)


def test_standardize_y_is_the_raw_model_with_a_rescaled_y_encoder() -> None:
    """standardize_y feeds (y - centre) / scale: the same as folding them into encoder_y."""
    from dataclasses import replace

    borders = torch.linspace(-0.4, 0.6, TINY.n_buckets + 1) ** 3
    torch.manual_seed(0)
    std = PFN(replace(TINY, standardize_y=True), borders).eval()
    raw = PFN(TINY, borders).eval()
    raw.load_state_dict(std.state_dict())
    n = TINY.n_buckets
    centre, scale = borders[n // 2], (borders[round(0.84 * n)] - borders[round(0.16 * n)]) / 2
    with torch.no_grad():
        raw.encoder_y.bias -= raw.encoder_y.weight[:, 0] * centre / scale
        raw.encoder_y.weight /= scale
    xc, yc, xq = _data(3, 5, 4)
    torch.testing.assert_close(std(xc, yc, xq), raw(xc, yc, xq), atol=1e-4, rtol=1e-4)
    old_card = {k: v for k, v in TINY.to_dict().items() if k != "standardize_y"}
    assert PFNConfig.from_dict(old_card) == TINY  # older cards: raw y, as they were trained
    with pytest.raises(ValueError, match="standardize_y is for regression"):
        PFNConfig(n_classes=2, standardize_y=True)
    with pytest.raises(ValueError, match="standardize_y must be a bool"):
        PFNConfig(standardize_y=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("n_sink_tokens", [0, 2])
def test_query_states_end_in_the_prediction(n_sink_tokens: int) -> None:
    from dataclasses import replace

    model = _model(replace(TINY, n_sink_tokens=n_sink_tokens))
    xc, yc, xq = _data(2, 5, 3)
    states = model.query_states(xc, yc, xq)
    assert states.shape == (TINY.n_layers + 1, 2, 3, TINY.d_model)
    logits = model.head(model.final_norm(states[-1]))
    torch.testing.assert_close(logits, model(xc, yc, xq), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(model.query_states(xc[0], yc[0], xq[0]), states[:, 0])


def test_a_classifier_refuses_bad_contexts_by_name() -> None:
    model = _model(PFNConfig(n_layers=1, d_model=16, n_heads=2, d_ff=32, n_classes=2,
                             max_context=8, head_hidden=0))
    x = torch.zeros(1, 9)
    cases = [
        ((x, torch.ones(1, 9), x[:, :1]), r"context of 9 points is longer .*\(max_context=8\)"),
        ((x[:, :3], torch.tensor([[0.0, 1.0, 2.0]]), x[:, :1]), "y_context must hold class"),
        ((x[:, :0], x[:, :0], x[:, :1]), "context must hold at least one point"),
    ]
    for args, msg in cases:
        with pytest.raises(ValueError, match=msg):
            model.class_probs(*args)
