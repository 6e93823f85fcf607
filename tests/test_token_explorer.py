"""The token explorer: one prefix's next token (exact and network), its figure and its widgets.

The HTML book's JavaScript twin (book/vendor/bayeslens/live-sequence.js, live-tokens.js) is
compared with :func:`bayeslens.evaluate.next_token_after` in tests/test_browser.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from bayeslens import plots, token_explorer
from bayeslens.checkpoints import load_pretrained_sequence_model
from bayeslens.evaluate import NextToken, next_token_after
from bayeslens.sequence_posterior import log_posterior, next_token_log_probs
from bayeslens.sequences import MarkovPool, dirichlet_markov_v3, markov_pool_v3
from bayeslens.token_explorer import (
    DIRICHLET_PRESETS,
    POOL_PRESETS,
    TokenPreset,
    format_tokens,
    parse_tokens,
)


@pytest.fixture(scope="module")
def pool_model():
    return load_pretrained_sequence_model("markov_pool")


@pytest.fixture(scope="module")
def dirichlet_model():
    return load_pretrained_sequence_model("markov_dirichlet")


# ------------------------------------------------------------------------------ the numbers


def test_dirichlet_next_token_is_bigram_counting_by_hand(dirichlet_model):
    # prefix 0 1 0 2 0: bigrams from 0 are 0->1, 0->2, and the last token is 0
    r = next_token_after(dirichlet_model, dirichlet_markov_v3(), [0, 1, 0, 2, 0])
    want = torch.tensor([0 + 1, 1 + 1, 1 + 1], dtype=torch.float64) / (2 + 3)
    assert torch.allclose(r.exact, want, rtol=0, atol=1e-15)
    assert r.posterior is None
    assert r.prefix == (0, 1, 0, 2, 0)


def test_no_tokens_is_the_initial_distribution_and_the_prior(pool_model):
    pool = markov_pool_v3()
    r = next_token_after(pool_model, pool, [])
    assert torch.allclose(r.exact, torch.full((3,), 1 / 3, dtype=torch.float64))
    assert torch.allclose(r.posterior, torch.full((8,), 1 / 8, dtype=torch.float64))
    assert r.network.shape == (3,)
    assert math.isclose(float(r.network.sum()), 1.0, abs_tol=1e-6)


def test_pool_next_token_matches_the_package_at_every_position(pool_model):
    pool = markov_pool_v3()
    tokens = pool.sample(1, 12, torch.Generator().manual_seed(3)).tokens  # (1, 12)
    exact = next_token_log_probs(pool, tokens)[0].exp()  # (12, 3)
    network = pool_model.next_token_log_probs(tokens)[0].double().exp()
    post = log_posterior(pool, tokens)[0].exp()  # (13, 8)
    for t in (0, 1, 5, 11):
        r = next_token_after(pool_model, pool, tokens[0, :t])
        assert torch.allclose(r.exact, exact[t], rtol=0, atol=1e-14)
        assert torch.allclose(r.network, network[t], rtol=0, atol=1e-6)
        assert torch.allclose(r.posterior, post[t], rtol=0, atol=1e-14)
        p, q = r.exact, r.network
        assert math.isclose(r.kl, float((p * (p.log() - q.log())).sum()), abs_tol=1e-12)
        assert r.kl >= 0


def test_prefix_as_list_tensor_or_array_is_the_same(pool_model):
    pool = markov_pool_v3()
    want = next_token_after(pool_model, pool, [0, 2, 1])
    for prefix in ((0, 2, 1), torch.tensor([0, 2, 1]), np.array([0, 2, 1])):
        got = next_token_after(pool_model, pool, prefix)
        assert got.prefix == (0, 2, 1)
        assert torch.equal(got.exact, want.exact)
        assert torch.equal(got.network, want.network)


def test_longest_prefix_and_one_more(pool_model):
    pool = markov_pool_v3()
    most = pool_model.config.max_length - 1
    r = next_token_after(pool_model, pool, [1] * most)
    assert torch.isfinite(r.network).all()
    with pytest.raises(ValueError, match=r"prefix has 64 tokens; the network reads at most 63"):
        next_token_after(pool_model, pool, [1] * (most + 1))


@pytest.mark.parametrize(("prefix", "match"), [
    ([0, 3], "prefix must hold tokens 0 .. 2, got 3"),
    ([0, -1], "prefix must hold tokens 0 .. 2"),
    ([0, 1.0], "prefix must hold tokens"),
    ([True], "prefix must hold tokens"),
    ("012", "prefix must be a sequence of ints.*parse_tokens"),
    (torch.zeros(2, 2, dtype=torch.long), "prefix must be a 1-d integer tensor"),
])
def test_bad_prefixes_are_refused(pool_model, prefix, match):
    with pytest.raises(ValueError, match=match):
        next_token_after(pool_model, markov_pool_v3(), prefix)


def test_model_and_prior_are_checked(pool_model):
    with pytest.raises(ValueError, match="model must be a SequenceModel"):
        next_token_after(object(), markov_pool_v3(), [0])  # type: ignore[arg-type]
    four = MarkovPool.draw(2, 4, 1.0, 0)
    with pytest.raises(ValueError, match="vocab_size=4"):
        next_token_after(pool_model, four, [0])


# ------------------------------------------------------------------------------ typing, presets


@pytest.mark.parametrize(("text", "want"), [
    ("", ()), ("0120", (0, 1, 2, 0)), (" 0 1, 2;0 ", (0, 1, 2, 0)), ("2", (2,)),
])
def test_parse_tokens(text, want):
    assert parse_tokens(text, 3) == want


@pytest.mark.parametrize(("text", "match"), [
    ("013", "character 3 is '3'"), ("0a", "character 2 is 'a'"), ("0-1", "character 2 is '-'"),
])
def test_parse_tokens_names_the_bad_character(text, match):
    with pytest.raises(ValueError, match=f"text must hold the tokens 0 .. 2.*{match}"):
        parse_tokens(text, 3)


def test_parse_tokens_refuses_bad_arguments():
    with pytest.raises(ValueError, match="text must be a str"):
        parse_tokens([0, 1], 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"vocab_size must be an int in 2 \.\. 10"):
        parse_tokens("0", 11)


def test_format_tokens_groups_of_eight():
    assert format_tokens([0, 1, 2] * 4) == "01201201 2012"
    assert format_tokens([]) == ""


def test_presets_are_deterministic_and_fit_the_network(pool_model):
    most = pool_model.config.max_length - 1
    for preset in (*POOL_PRESETS, *DIRICHLET_PRESETS):
        tokens = preset.tokens()
        assert tokens == preset.tokens()
        assert len(tokens) == preset.length <= most
        assert set(tokens) <= {0, 1, 2}
    assert POOL_PRESETS[0].chain == 7
    assert TokenPreset("p", "pattern 012", length=5).tokens() == (0, 1, 2, 0, 1)
    # a preset from a pool chain is that chain's: the posterior finds it
    r = next_token_after(pool_model, markov_pool_v3(), POOL_PRESETS[0].tokens())
    assert int(r.posterior.argmax()) == 7


def test_bad_presets_are_refused():
    with pytest.raises(ValueError, match="source must be"):
        TokenPreset("x", "random")
    with pytest.raises(ValueError, match="length must be an int >= 1"):
        TokenPreset("x", "fresh", length=0)
    with pytest.raises(ValueError, match="prior must be a MarkovPool or a DirichletMarkov"):
        token_explorer.presets_for(object())  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ drawing


def _axes(n: int = 1):
    fig = Figure(figsize=(7.5, 3.3), layout="constrained")
    return fig, fig.subplots(1, n)


def test_draw_next_token_labels_both_sides():
    _, ax = _axes()
    plots.draw_next_token(ax, [0.2, 0.5, 0.3], [0.25, 0.45, 0.3], kl=0.0123)
    assert "KL(exact || network) = 0.0123 nats" in ax.get_title()
    _, ax = _axes()
    plots.draw_next_token(ax, [0.2, 0.5, 0.3], [0.2, 0.5, 0.3], kl=2.5e-5)
    assert ax.get_title() == "next token\nKL(exact || network) = 2.5e-05 nats"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["token 0", "token 1", "token 2"]
    assert len(ax.patches) == 6
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["exact predictive", "network"]
    assert "0.500" in [t.get_text() for t in ax.texts]


def test_draw_next_token_exact_only():
    _, ax = _axes()
    plots.draw_next_token(ax, torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64))
    assert len(ax.patches) == 3


@pytest.mark.parametrize(("exact", "network", "match"), [
    ([0.3, 0.7], [0.2, 0.5, 0.3], "network must have shape \\(2,\\)"),
    ([[0.2, 0.8]], None, "exact must have shape"),
    ([0.2, 0.5, 0.4], None, "exact must hold finite probabilities"),
    ([0.5, 0.5], [float("nan"), 1.0], "network must hold finite probabilities"),
])
def test_draw_next_token_refuses_bad_input(exact, network, match):
    _, ax = _axes()
    with pytest.raises(ValueError, match=match):
        plots.draw_next_token(ax, exact, network)


def test_draw_chain_posterior():
    _, ax = _axes()
    w = np.full(8, 1 / 8)
    plots.draw_chain_posterior(ax, w, true_chain=3)
    assert len(ax.patches) == 8
    assert ax.patches[3].get_edgecolor()[:3] == (0.0, 0.0, 0.0)
    assert "12%" in [t.get_text() for t in ax.texts]
    with pytest.raises(ValueError, match=r"true_chain must be an int in 0 \.\. 7"):
        plots.draw_chain_posterior(ax, w, true_chain=8)
    with pytest.raises(ValueError, match="posterior must hold finite probabilities"):
        plots.draw_chain_posterior(ax, [0.5, 0.6])


def test_draw_next_token_view(pool_model, dirichlet_model):
    r = next_token_after(pool_model, markov_pool_v3(), [0, 1, 2])
    _, axes = _axes(2)
    token_explorer.draw_next_token_view(axes, r, true_chain=1)
    assert "after 3" in axes[0].get_title()
    d = next_token_after(dirichlet_model, dirichlet_markov_v3(), [0, 1, 2])
    _, ax = _axes(1)
    token_explorer.draw_next_token_view(ax, d)
    with pytest.raises(ValueError, match="no posterior over chains"):
        token_explorer.draw_next_token_view(_axes(2)[1], d)
    with pytest.raises(ValueError, match="result must be a NextToken"):
        token_explorer.draw_next_token_view(ax, {"exact": [1.0]})  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ widgets


def _find(box, cls):
    out, todo = [], [box]
    while todo:
        w = todo.pop(0)
        if isinstance(w, cls):
            out.append(w)
        todo.extend(getattr(w, "children", ()))
    return out


def test_widget_buttons_text_undo_and_presets(pool_model):
    w = pytest.importorskip("ipywidgets")
    box = token_explorer.token_explorer(pool_model, markov_pool_v3(), tokens="01",
                                        mode="widgets")
    assert "bayeslens-token-explorer" in box._dom_classes
    buttons = {b.description: b for b in _find(box, w.Button)}
    (text,) = _find(box, w.Text)
    prefix, message = _find(box, w.HTML)
    (image,) = _find(box, w.Image)
    assert "(2 of at most 63 tokens)" in prefix.value
    first = image.value
    buttons["2"].click()
    assert text.value == "012"
    assert "(3 of at most 63" in prefix.value
    assert image.value != first
    buttons["undo"].click()
    assert text.value == "01"
    text.value = "0 1 2 2"
    assert "(4 of at most 63" in prefix.value
    text.value = "01x"
    assert "character 3 is" in message.value
    assert "(4 of at most 63" in prefix.value  # refused: the prefix stays
    text.value = "0" * 64
    assert "64 tokens: the network reads at most 63" in message.value
    buttons["clear"].click()
    assert text.value == ""
    assert "(0 of at most 63" in prefix.value
    (menu,) = _find(box, w.Dropdown)
    menu.value = 0
    assert text.value == format_tokens(POOL_PRESETS[0].tokens())
    assert menu.value == -1


def test_widget_at_the_longest_prefix_refuses_a_click(dirichlet_model):
    w = pytest.importorskip("ipywidgets")
    box = token_explorer.token_explorer(dirichlet_model, dirichlet_markov_v3(),
                                        tokens=[1] * 63, mode="widgets")
    buttons = {b.description: b for b in _find(box, w.Button)}
    buttons["0"].click()
    _, message = _find(box, w.HTML)
    assert "the network reads at most 63" in message.value


def test_without_ipywidgets_a_figure_and_a_warning(pool_model, monkeypatch):
    monkeypatch.setattr(token_explorer, "has_ipywidgets", lambda: False)
    with pytest.warns(UserWarning, match="ipywidgets is not installed"):
        fig = token_explorer.token_explorer(pool_model, markov_pool_v3(), tokens="012",
                                            mode="widgets")
    assert isinstance(fig, token_explorer.TokenFigure)
    assert fig._repr_png_().startswith(b"\x89PNG")
    assert fig.result.prefix == (0, 1, 2)


def test_static_mode_is_a_figure_where_the_book_is_executed(pool_model, monkeypatch):
    # the book's chapters are executed with BAYESLENS_EXPLORER=static: no dead buttons stored
    monkeypatch.setenv("BAYESLENS_EXPLORER", "static")
    assert token_explorer.resolve_mode() == "static"
    fig = token_explorer.token_explorer(pool_model, markov_pool_v3(), tokens="0")
    assert isinstance(fig, token_explorer.TokenFigure)
    monkeypatch.delenv("BAYESLENS_EXPLORER")
    assert token_explorer.resolve_mode() == "widgets"
    assert token_explorer.resolve_mode("static") == "static"
    with pytest.raises(ValueError, match="mode must be 'auto', 'widgets' or 'static'"):
        token_explorer.resolve_mode("live")


def test_token_explorer_refuses_bad_arguments(pool_model):
    with pytest.raises(ValueError, match="model must be a SequenceModel"):
        token_explorer.token_explorer(None, markov_pool_v3())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="prior must be a MarkovPool"):
        token_explorer.token_explorer(pool_model, "pool")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="text must hold the tokens"):
        token_explorer.token_explorer(pool_model, markov_pool_v3(), tokens="015")
    with pytest.raises(ValueError, match="prefix has 70 tokens"):
        token_explorer.token_explorer(pool_model, markov_pool_v3(), tokens=[0] * 70)


def test_next_token_is_frozen(pool_model):
    r = next_token_after(pool_model, markov_pool_v3(), [0])
    assert isinstance(r, NextToken)
    with pytest.raises(AttributeError):
        r.kl = 0.0  # type: ignore[misc]
