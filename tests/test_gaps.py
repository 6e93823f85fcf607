"""The gap table page (book/gaps.md): current, complete, and in agreement with the model cards."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import torch

from bayeslens import gaps, paper
from bayeslens.model import PFN, PFNConfig

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / gaps.DEFAULT_PAGE
MODELS = gaps.shipped_models()
# A main-table row: | {ref}`NAME <gaps-NAME>` (E1) | params | training | NLL gap | ...
ROW = re.compile(r"^\| \{ref\}`(\w+) <gaps-[\w-]+>`(?: \(E\d\))? \|(.*)\|$", re.MULTILINE)
# The model cards' gap line: | **gap** | **0.0122 +- 0.0007** ... |
CARD_GAP = re.compile(r"^\| \*\*gap\*\* \| \*\*(\d+\.\d+) \+- (\d+\.\d+)\*\*", re.MULTILINE)


def _rows() -> dict[str, list[str]]:
    return {m.group(1): _cells(m.group(2)) for m in ROW.finditer(PAGE.read_text())}


def _cells(row: str) -> list[str]:
    """The cells after the model's: parameters, training, NLL gap, worst context, max / RMS."""
    return [c.replace("\u00a0", " ").strip() for c in row.split("|")]


def test_committed_page_is_current():
    assert gaps.main(["--root", str(ROOT), "--check"]) == 0, (
        "book/gaps.md is stale: run `python -m bayeslens.gaps` and commit it"
    )


def test_every_shipped_model_has_a_row_and_a_section():
    assert len(MODELS) >= 6
    rows = _rows()
    assert sorted(rows) == MODELS, "run `python -m bayeslens.gaps` after adding a model"
    text = PAGE.read_text()
    for name in MODELS:
        target = f"gaps-{name.replace('_', '-')}"
        assert f"({target})=\n## `{name}`" in text, f"no section {target} for {name}"


def test_page_gaps_agree_with_the_model_cards():
    rows = _rows()
    for name in MODELS:
        card = (gaps.PRETRAINED / name / "README.md").read_text()
        found = CARD_GAP.findall(card)
        assert len(found) == 1, f"{name}'s card has no single `| **gap** | **G +- SE**` line"
        gap, se = found[0]
        assert rows[name][2] == f"{gap} ± {se}", f"{name}: page and card disagree"


def test_format_gap_follows_the_cards():
    assert gaps.format_gap(0.01219126967312638, 0.0006742844511344286) == "0.0122 ± 0.0007"
    assert gaps.format_gap(0.024553184820826534, 0.0010082128915620216) == "0.0246 ± 0.0010"
    assert gaps.format_gap(5.8687076580438736e-05, 3.994178208929991e-05) == "0.00006 ± 0.00004"
    assert gaps.format_gap(float("nan"), 0.001) == "not recorded"


def test_paper_contexts_by_prior():
    assert [c.label for c in gaps.paper_contexts("steps_e1")] == [
        "step c=-0.2 b=0 a=0.5", "step c=0.8 b=-0.5 a=1", "line 0.2x"]
    assert len(gaps.paper_contexts("coin_e5")) == len(paper.E5_HEADS)
    assert gaps.paper_contexts("no_such_prior") == ()


def _coin_net(max_context: int) -> PFN:
    torch.manual_seed(0)
    config = PFNConfig(n_layers=1, d_model=16, n_heads=2, d_ff=32, n_classes=2,
                       max_context=max_context, head_hidden=0)
    return PFN(config).eval()


def test_coin_context_gap_against_hand_computed_posterior():
    contexts = {c.label: c for c in gaps.paper_contexts("coin_e5")}
    model = _coin_net(max_context=5)
    one = gaps.context_gap(model, paper.coin_e5(), contexts["1 heads"])
    q = torch.linspace(0, 1, 103, dtype=torch.float64)[1:-1]
    # uniform prior over q, one head: P(next head) = E[q^2] / E[q]
    assert one.exact_p_heads == pytest.approx(float((q**2).sum() / q.sum()), abs=1e-12)
    assert one.max_abs == pytest.approx(abs(one.network_p_heads - one.exact_p_heads))
    assert one.rms == one.max_abs
    assert not one.skipped
    long = gaps.context_gap(model, paper.coin_e5(), contexts["64 heads"])
    assert long.skipped
    assert long.n_context == 64


def _fake(name: str, contexts: tuple[gaps.ContextGap, ...], regression: bool) -> gaps.ModelGaps:
    return gaps.ModelGaps(
        name=name, prior="steps_e1", experiment="E1", is_regression=regression, n_params=10,
        n_latents=3, steps=100, max_context=9, train_seconds=120.0, torch_threads=1,
        init_from=None, nll_gap=0.01219, nll_se=0.00067, model_nll=-0.5, exact_nll=-0.51,
        n_datasets=10_000, gap_vs_steps=((100, 0.01219, 0.00067),), weights_sha256="ab" * 32,
        contexts=contexts,
    )


def test_render_shows_the_worst_context_and_says_what_was_skipped():
    contexts = (
        gaps.ContextGap("E1", "small", 10, True, 0.05, 0.01),
        gaps.ContextGap("E1", "large", 10, False, 0.20, 0.02),
        gaps.ContextGap("E1", "too long", 40, False),
    )
    page = gaps.render([_fake("my_model", contexts, True)], "https://example.org/r", "dev")
    row = ROW.search(page)
    assert row is not None
    cells = _cells(row.group(2))
    assert cells[1] == "100 steps, 2 min"
    assert cells[2] == "0.0122 ± 0.0007"
    assert cells[3:] == ["large", "0.200 / 0.020"]
    assert "(gaps-my-model)=\n## `my_model`" in page
    assert "Skipped, longer than the model's 9-point contexts: too long (40 points)." in page
    assert "| too long | 40 | no | skipped |  |" in page
    assert "https://example.org/r/blob/dev/bayeslens/pretrained/my_model/README.md" in page


def test_check_reports_a_stale_page(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gaps, "shipped_models", lambda root=gaps.PRETRAINED: ["coin"])
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    (tmp_path / "book").mkdir()
    assert gaps.main(["--root", str(tmp_path), "--check"]) == 1  # missing
    assert gaps.main(["--root", str(tmp_path)]) == 0
    assert gaps.main(["--root", str(tmp_path), "--check"]) == 0
    page = tmp_path / gaps.DEFAULT_PAGE
    page.write_text(page.read_text().replace("0.0077 ± 0.0007", "0.0070 ± 0.0007"))
    assert gaps.main(["--root", str(tmp_path), "--check"]) == 1
    assert f"stale: {page}" in capsys.readouterr().err
