"""The gap table: how far every shipped network is from the exact posterior.

One book page (``book/gaps.md``) generated from the models in ``bayeslens/pretrained/``, never
typed in. For each model it gives the prior, the parameters, the training steps and time, the
NLL gap to the exact PPD with its standard error (recorded in ``model.json`` at training time
on 10,000 fresh prior datasets: read, not re-measured), and the gap on every paper context of
its prior (:data:`~bayeslens.paper.CONTEXTS`), computed here:

- regression models: the PFN's predictive mean against the exact PPD mean at 201 queries on
  [-1, 1] (:func:`bayeslens.evaluate.mean_gap`), its largest and root-mean-square difference;
- classifiers (the coins): the network's P(heads) of the next flip against the exact one.

Contexts longer than a model's ``max_context`` are skipped, and the page says so.

Sequence models (a card with ``"model_class": "SequenceModel"``, :mod:`bayeslens.sequence_model`)
have a row too: their KL from the exact next-token predictive in nats per token (recorded in
``model.json`` on fresh prior sequences; on sequences of the prior its expectation is the NLL
gap per token) stands in the NLL-gap column, next to the in-context uniform, unigram and bigram
predictors' KLs; no paper context uses their priors. Command line::

    python -m bayeslens.gaps            # write book/gaps.md from the shipped models
    python -m bayeslens.gaps --check    # exit status 1 if the committed page is stale
    python -m bayeslens.gaps --print    # the numbers per model, as text (scripts/card_numbers.py)

A few seconds per model on one core; E4's exact posterior (8,120,601 latents) takes a few
seconds per context.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from bayeslens import paper
from bayeslens.checkpoints import (
    CARD_FILE,
    is_sequence_card,
    load_pretrained,
    load_pretrained_sequence_model,
    pretrained_dir,
    read_card,
)
from bayeslens.evaluate import mean_gap
from bayeslens.model import PFN
from bayeslens.posterior import posterior
from bayeslens.priors import Prior

__all__ = [
    "DEFAULT_PAGE",
    "PRETRAINED",
    "ContextGap",
    "ModelGaps",
    "check",
    "context_gap",
    "format_gap",
    "main",
    "mean_gap_queries",
    "model_gaps",
    "paper_contexts",
    "render",
    "render_text",
    "sequence_model_gaps",
    "shipped_models",
    "write",
]

PRETRAINED = Path(__file__).parent / "pretrained"
"""The folder of the shipped models, one subfolder (with ``model.json``) per model."""
DEFAULT_PAGE = Path("book") / "gaps.md"
"""The page, relative to the repository root."""
N_QUERY = 201
"""Queries on [-1, 1] at which the predictive means are compared."""


def mean_gap_queries() -> Tensor:
    """The queries of the mean gap: 201 points on [-1, 1], float64, shape (201,)."""
    return torch.linspace(-1, 1, N_QUERY, dtype=torch.float64)


@dataclass(frozen=True)
class ContextGap:
    """The gap of one model on one paper context.

    Attributes
    ----------
    experiment, label : str
        The paper context's experiment (``"E1"``) and label, as in
        :data:`~bayeslens.paper.CONTEXTS`.
    n_context : int
        Points (flips) in the context.
    in_distribution : bool
        Whether the context could come from the prior.
    max_abs, rms : float or None
        Regression: the largest and root-mean-square absolute difference of the PFN mean and
        the exact PPD mean over the 201 queries. Classifiers: both are the absolute difference
        of the network's and the exact P(heads) (one query). None when the context was skipped.
    exact_p_heads, network_p_heads : float or None
        Classifiers only: P(heads) of the next flip, exact and the network's.
    """

    experiment: str
    label: str
    n_context: int
    in_distribution: bool
    max_abs: float | None = None
    rms: float | None = None
    exact_p_heads: float | None = None
    network_p_heads: float | None = None

    @property
    def skipped(self) -> bool:
        """True when the context is longer than the model's ``max_context``."""
        return self.max_abs is None


@dataclass(frozen=True)
class ModelGaps:
    """What the gap table says about one shipped model.

    Attributes
    ----------
    name : str
        The folder in ``bayeslens/pretrained/``.
    prior : str
        The prior's name in ``model.json`` (a function of :mod:`bayeslens.paper`, e.g.
        ``"steps_e1"``).
    experiment : str
        The paper's experiment of that prior (``"E1"``), or ``""`` when no paper context has it.
    is_regression : bool
    n_params, n_latents, steps, max_context : int
    train_seconds : float
        Wall-clock training seconds recorded in ``model.json``.
    torch_threads : int or None
        Torch's thread count during training (the seconds depend on it).
    init_from : str or None
        The shipped model it was fine-tuned from, if any (its time is not included).
    nll_gap, nll_se : float
        NLL gap to the exact PPD (nats per query) and its standard error, from ``model.json``.
    model_nll, exact_nll : float
        The two NLLs behind ``nll_gap`` (nats per query).
    n_datasets : int
        Fresh prior datasets behind ``nll_gap``.
    gap_vs_steps : tuple of (int, float, float)
        The recorded curve: (step, gap, standard error) per training snapshot.
    weights_sha256 : str
    contexts : tuple of ContextGap
        One per paper context of the prior, in :data:`~bayeslens.paper.CONTEXTS` order.
    """

    name: str
    prior: str
    experiment: str
    is_regression: bool
    n_params: int
    n_latents: int
    steps: int
    max_context: int
    train_seconds: float
    torch_threads: int | None
    init_from: str | None
    nll_gap: float
    nll_se: float
    model_nll: float
    exact_nll: float
    n_datasets: int
    gap_vs_steps: tuple[tuple[int, float, float], ...]
    weights_sha256: str
    contexts: tuple[ContextGap, ...]
    kind: str = "pfn"
    """``"pfn"``, or ``"sequence"`` for a sequence model: then ``nll_gap`` and ``nll_se`` are
    its KL from the exact next-token predictive (nats per token) and its standard error,
    ``n_datasets`` the sequences behind it, ``max_context`` its ``max_length``,
    ``gap_vs_steps`` the KL of its snapshots, ``n_latents`` the pool's chains (0 for fresh
    Dirichlet rows) and ``model_nll``, ``exact_nll`` NaN."""
    baselines: tuple[tuple[str, float, float], ...] = ()
    """Sequence models: (predictor, KL(exact || predictor), standard error) of the in-context
    uniform, unigram and bigram predictors, on the same sequences."""

    @property
    def measured(self) -> tuple[ContextGap, ...]:
        """The contexts not skipped."""
        return tuple(c for c in self.contexts if not c.skipped)

    @property
    def worst(self) -> ContextGap | None:
        """The measured context with the largest ``max_abs`` (None if none was measured)."""
        return max(self.measured, key=lambda c: c.max_abs or 0.0, default=None)


def shipped_models(root: str | Path = PRETRAINED) -> list[str]:
    """Names of the shipped models: the folders of ``root`` holding a ``model.json``, sorted."""
    root = Path(root)
    return sorted(p.name for p in root.iterdir() if (p / CARD_FILE).is_file())


def paper_contexts(prior: str) -> tuple[paper.Context, ...]:
    """The paper contexts evaluated under the paper prior named ``prior`` (e.g. ``"steps_e1"``)."""
    return tuple(c for c in paper.CONTEXTS if c.prior.__name__ == prior)


@torch.no_grad()
def context_gap(model: PFN, prior: Prior, context: paper.Context) -> ContextGap:
    """The gap of ``model`` to the exact posterior of ``prior`` on one paper context.

    Regression models: :func:`bayeslens.evaluate.mean_gap` at :func:`mean_gap_queries`.
    Classifiers: P(heads) of the next flip (x = 0), network against exact. Skipped (max_abs
    None) when the context is longer than ``model.config.max_context``.
    """
    x_context, y_context = context.make()  # (n_context,) each
    n = int(x_context.numel())
    base = ContextGap(context.experiment, context.label, n, context.in_distribution)
    if n > model.config.max_context:
        return base
    if model.config.is_regression:
        g = mean_gap(model, prior, x_context, y_context, mean_gap_queries())
        return ContextGap(base.experiment, base.label, n, base.in_distribution, g.max_abs, g.rms)
    q = torch.zeros(1, dtype=torch.float64)  # the next flip
    exact = float(posterior(prior, x_context, y_context).class_probs(q)[0, 1])
    net = float(model.class_probs(x_context, y_context, q)[0, 1])
    err = abs(net - exact)
    return ContextGap(base.experiment, base.label, n, base.in_distribution, err, err, exact, net)


def model_gaps(name: str) -> ModelGaps:
    """Load the shipped model ``name`` and measure it on its prior's paper contexts.

    The NLL gap is read from its ``model.json`` (``"gap"``); only the context gaps are
    computed. A sequence model's numbers are all read from its card
    (:func:`sequence_model_gaps`).
    """
    if is_sequence_card(read_card(pretrained_dir(name))):
        return sequence_model_gaps(name)
    model = load_pretrained(name)
    card = model.metadata
    prior_name = card["prior"]["name"]
    contexts = paper_contexts(prior_name)
    prior = contexts[0].prior() if contexts else None
    per_context = () if prior is None else tuple(context_gap(model, prior, c) for c in contexts)
    gap = card.get("gap") or {}
    return ModelGaps(
        name=name,
        prior=prior_name,
        experiment=contexts[0].experiment if contexts else "",
        is_regression=model.config.is_regression,
        n_params=sum(p.numel() for p in model.parameters()),
        n_latents=int(getattr(prior, "n_latents", 0)),
        steps=int(card["train_config"]["steps"]),
        max_context=model.config.max_context,
        train_seconds=float(card.get("train_seconds", math.nan)),
        torch_threads=card.get("torch_threads"),
        init_from=card.get("init_from"),
        nll_gap=float(gap.get("gap", math.nan)),
        nll_se=float(gap.get("se", math.nan)),
        model_nll=float(gap.get("model_nll", math.nan)),
        exact_nll=float(gap.get("exact_nll", math.nan)),
        n_datasets=int(gap.get("n_datasets", 0)),
        gap_vs_steps=tuple((int(p["step"]), float(p["gap"]), float(p["se"]))
                           for p in card.get("gap_vs_steps") or []),
        weights_sha256=str(card.get("weights_sha256", "")),
        contexts=per_context,
    )


def sequence_model_gaps(name: str) -> ModelGaps:
    """The shipped sequence model ``name`` (loaded and checked), as the table lists it: its
    card's KL from the exact next-token predictive, the baselines' and the KL curve."""
    model = load_pretrained_sequence_model(name)
    card = model.metadata
    kl = card.get("kl") or {}
    settings = card["prior"].get("settings") or {}
    baselines = tuple((b, float(card[f"kl_{b}"]["mean"]), float(card[f"kl_{b}"]["se"]))
                      for b in ("uniform", "unigram", "bigram") if card.get(f"kl_{b}"))
    return ModelGaps(
        name=name,
        prior=card["prior"]["name"],
        experiment="",
        is_regression=False,
        n_params=sum(p.numel() for p in model.parameters()),
        n_latents=int(settings.get("n_chains", 0)),
        steps=int(card["train_config"]["steps"]),
        max_context=model.config.max_length,
        train_seconds=float(card.get("train_seconds", math.nan)),
        torch_threads=card.get("torch_threads"),
        init_from=card.get("init_from"),
        nll_gap=float(kl.get("mean", math.nan)),
        nll_se=float(kl.get("se", math.nan)),
        model_nll=math.nan,
        exact_nll=math.nan,
        n_datasets=int(kl.get("n_sequences", 0)),
        gap_vs_steps=tuple((int(p["step"]), float(p["kl"]), float(p["se"]))
                           for p in card.get("kl_vs_steps") or []),
        weights_sha256=str(card.get("weights_sha256", "")),
        contexts=(),
        kind="sequence",
        baselines=baselines,
    )


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------


def format_gap(gap: float, se: float, sep: str = " ± ") -> str:
    """``gap ± se`` as the model cards write it.

    Four decimals, or more where the standard error needs them to show one significant
    digit: ``format_gap(0.01219, 0.00067) == "0.0122 ± 0.0007"``,
    ``format_gap(5.87e-5, 3.99e-5) == "0.00006 ± 0.00004"``.
    """
    if not (math.isfinite(gap) and math.isfinite(se)):
        return "not recorded"
    decimals = max(4, -math.floor(math.log10(se))) if se > 0 else 4
    return f"{gap:.{decimals}f}{sep}{se:.{decimals}f}"


def _minutes(seconds: float) -> str:
    return "not recorded" if not math.isfinite(seconds) else f"{seconds / 60:.0f} min"


def _threads(m: ModelGaps) -> str:
    if m.torch_threads is None:
        return ""
    return f", {m.torch_threads} thread" + ("s" if m.torch_threads != 1 else "")


def _target(name: str) -> str:
    return f"gaps-{name.replace('_', '-')}"


def _card_url(repo_url: str, branch: str, name: str) -> str:
    return f"{repo_url.rstrip('/')}/blob/{branch}/bayeslens/pretrained/{name}/README.md"


def _worst_cells(m: ModelGaps) -> tuple[str, str, str]:
    """The main table's context cells: worst context, its max, its RMS (coins: the mean)."""
    worst = m.worst
    if m.kind == "sequence":
        return "no paper context", "", ""
    if worst is None:
        return "none measured", "", ""
    if m.is_regression:
        return worst.label, f"{worst.max_abs:.3f}", f"{worst.rms:.3f}"
    errors = [c.max_abs or 0.0 for c in m.measured]
    return worst.label, f"{worst.max_abs:.3f}", f"{sum(errors) / len(errors):.3f}"


def _millions(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 100_000 else f"{n:,}"


def _main_table(models: Sequence[ModelGaps]) -> list[str]:
    nbsp = "\u00a0"  # numbers and their units stay on one line in a narrow column
    lines = [
        "| Model | Params | Training | NLL gap | Worst context | max / RMS |",
        "|---|--:|--:|--:|---|--:|",
    ]
    for m in models:
        worst, top, typical = _worst_cells(m)
        model = f"{{ref}}`{m.name} <{_target(m.name)}>`" + (
            f" ({m.experiment})" if m.experiment else "")
        training = f"{m.steps:,}{nbsp}steps, {_minutes(m.train_seconds).replace(' ', nbsp)}"
        lines.append(
            f"| {model} | {_millions(m.n_params).replace(' ', nbsp)} | {training} "
            f"| {format_gap(m.nll_gap, m.nll_se, f'{nbsp}±{nbsp}')} | {worst} "
            f"| {f'{top} / {typical}' if top else ''} |"
        )
    return lines


def _context_table(m: ModelGaps) -> list[str]:
    if m.is_regression:
        lines = ["| Context | Points | In the prior | max | RMS |", "|---|--:|---|--:|--:|"]
        for c in m.contexts:
            cells = ("skipped", "") if c.skipped else (f"{c.max_abs:.3f}", f"{c.rms:.3f}")
            lines.append(f"| {c.label} | {c.n_context} | {'yes' if c.in_distribution else 'no'} "
                         f"| {cells[0]} | {cells[1]} |")
        return lines
    lines = ["| Context | Flips | Exact P(heads) | Network P(heads) | Error |",
             "|---|--:|--:|--:|--:|"]
    for c in m.contexts:
        if c.skipped:
            lines.append(f"| {c.label} | {c.n_context} | skipped | | |")
            continue
        err = (c.network_p_heads or 0.0) - (c.exact_p_heads or 0.0)
        lines.append(f"| {c.label} | {c.n_context} | {c.exact_p_heads:.4f} "
                     f"| {c.network_p_heads:.4f} | {err:+.4f} |")
    return lines


def _sequence_section(m: ModelGaps, repo_url: str, branch: str) -> list[str]:
    latents = (f"{m.n_latents:,} chains" if m.n_latents
               else "fresh transition rows for every sequence")
    against = ", ".join(f"{b} {kl:.4f}" for b, kl, _ in m.baselines)
    tuned = f", fine-tuned from `{m.init_from}`" if m.init_from else ""
    facts = (
        f"Prior `{m.prior}` ({latents}); sequences of up to {m.max_context} tokens; "
        f"{m.n_params:,} parameters; {m.steps:,} training steps in {m.train_seconds:,.0f} s"
        f"{_threads(m)}{tuned}. KL from the exact next-token predictive "
        f"**{format_gap(m.nll_gap, m.nll_se)}** nats per token ({m.n_datasets:,} sequences"
        + (f"; the in-context predictors' KLs: {against}" if against else "") + "). "
        f"Weights SHA-256 `{m.weights_sha256[:12]}`. "
        f"[Model card]({_card_url(repo_url, branch, m.name)}) "
        f"(`bayeslens/pretrained/{m.name}/README.md`)."
    )
    return [f"({_target(m.name)})=", f"## `{m.name}`", "", facts, "",
            "No paper context uses this prior; the KL at every position is in the model's "
            "`model.json`.", ""]


def _model_section(m: ModelGaps, repo_url: str, branch: str) -> list[str]:
    if m.kind == "sequence":
        return _sequence_section(m, repo_url, branch)
    tuned = f", fine-tuned from `{m.init_from}` (whose training time is not included)" if (
        m.init_from) else ""
    prior = f"{{py:func}}`~bayeslens.paper.{m.prior}`" if m.experiment else f"`{m.prior}`"
    facts = (
        f"Prior {prior} ({m.n_latents:,} latents); contexts of 1 to {m.max_context} "
        f"{'points' if m.is_regression else 'flips'}; "
        f"{m.n_params:,} parameters; {m.steps:,} training steps in {m.train_seconds:,.0f} s"
        f"{_threads(m)}{tuned}. NLL gap to the exact PPD "
        f"**{format_gap(m.nll_gap, m.nll_se)}** nats per query ({m.n_datasets:,} datasets). "
        f"Weights SHA-256 `{m.weights_sha256[:12]}`. "
        f"[Model card]({_card_url(repo_url, branch, m.name)}) "
        f"(`bayeslens/pretrained/{m.name}/README.md`)."
    )
    heading = f"## `{m.name}`" + (f" ({m.experiment})" if m.experiment else "")
    lines = [f"({_target(m.name)})=", heading, "", facts, ""]
    if not m.contexts:
        return [*lines, "No paper context uses this prior.", ""]
    if m.is_regression:
        lines.append(f"The PFN's predictive mean against the exact PPD mean at {N_QUERY} queries "
                     "on [-1, 1], largest and root-mean-square absolute difference:")
    else:
        lines.append("P(heads) of the next flip, exact and the network's:")
    lines += ["", *_context_table(m), ""]
    skipped = [c for c in m.contexts if c.skipped]
    if skipped:
        names = ", ".join(f"{c.label} ({c.n_context} points)" for c in skipped)
        lines += [f"Skipped, longer than the model's {m.max_context}-point contexts: {names}.",
                  ""]
    return lines


def render(models: Sequence[ModelGaps], repo_url: str, branch: str = "main") -> str:
    """The gap table page (MyST markdown) for the given models.

    Parameters
    ----------
    models : sequence of ModelGaps
        One row and one section each, in the given order.
    repo_url, branch : str
        The repository the model cards are linked on (``repository`` in ``_config.yml``).
    """
    skipped = sum(c.skipped for m in models for c in m.contexts)
    lines = [
        "<!-- Generated by `python -m bayeslens.gaps` from bayeslens/pretrained/: do not edit.",
        "     tests/test_gaps.py fails while this page is stale. -->",
        "",
        "(gaps)=",
        "# How close is each network? The gap table",
        "",
        "Every network shipped in `bayeslens/pretrained/`, measured against the exact posterior "
        "of the prior it was trained on. Two numbers say how far it is from Bayes:",
        "",
        "- **NLL gap to the exact PPD**, in nats per query: the network's negative log "
        "predictive density minus the exact PPD's, averaged over fresh prior datasets "
        "(10,000 of them, measured when the model was trained and recorded in its "
        "`model.json`; the model cards' protocol), with its standard error. Zero is Bayes.",
        "- **The gap on the paper's contexts**, the ones the book draws: for regression, "
        "|PFN mean - exact PPD mean| at 201 queries on [-1, 1], its largest value (max) and "
        "root mean square (RMS); for the coin classifiers, |network P(heads) - exact P(heads)| "
        "of the next flip, largest and mean over the paper's coin contexts. The main table "
        "shows the worst context (largest max); each model's section lists them all.",
        *([
            "- **Sequence models** (next-token prediction): the KL from the exact next-token "
            "predictive to the network's, in nats per token, averaged over the positions of "
            "fresh prior sequences (recorded in `model.json`); on sequences of the prior its "
            "expectation is the NLL gap per token, so it stands in the NLL-gap column. No paper "
            "context uses their priors.",
        ] if any(m.kind == "sequence" for m in models) else []),
        "",
        *_main_table(models),
        "",
        "NLL gap: nats per query (per token for the sequence models: their KL), with its "
        "standard error. Training: steps and wall clock on "
        "a CPU (the thread count is in each model's section). Worst context: the paper "
        "context with the largest max. For the coins, max is that context's |network P(heads) "
        "- exact P(heads)| and the second number is the mean of it over the coin contexts, "
        "not an RMS. "
        "Contexts longer "
        "than a model's `max_context` are skipped"
        + (" (listed in the model's section)." if skipped else "; none is, here."),
        "Regenerate this page with `python -m bayeslens.gaps` after a model changes "
        "(`python -m bayeslens.gaps --check` says whether it is current).",
        "",
    ]
    for m in models:
        lines += _model_section(m, repo_url, branch)
    return "\n".join(lines).rstrip() + "\n"


def render_text(m: ModelGaps) -> str:
    """The numbers of one model as plain text (what ``scripts/card_numbers.py`` prints)."""
    if m.kind == "sequence":
        return "\n".join([
            f"{m.name}: prior {m.prior}, {m.n_params:,} parameters, {m.steps:,} steps, "
            f"{m.train_seconds:.0f} s",
            f"KL from the exact predictive {format_gap(m.nll_gap, m.nll_se, ' +- ')} nats per "
            f"token ({m.n_datasets:,} sequences)",
            *(f"  {b} predictor: KL {format_gap(kl, se, ' +- ')}" for b, kl, se in m.baselines),
            *(f"  step {step:>6,}: KL {kl:.4f} +- {se:.4f}" for step, kl, se in m.gap_vs_steps),
        ]) + "\n"
    lines = [
        f"{m.name}: prior {m.prior}, {m.n_params:,} parameters, {m.steps:,} steps, "
        f"{m.train_seconds:.0f} s",
        f"NLL gap {format_gap(m.nll_gap, m.nll_se, ' +- ')} (model {m.model_nll:.4f}, "
        f"exact {m.exact_nll:.4f}; {m.n_datasets:,} datasets)",
        *(f"  step {step:>6,}: gap {gap:.4f} +- {se:.4f}" for step, gap, se in m.gap_vs_steps),
    ]
    for c in m.contexts:
        if c.skipped:
            lines.append(f"  {c.label}: {c.n_context} points > max_context, skipped")
        elif m.is_regression:
            lines.append(f"  {c.label:32s} mean gap: rms {c.rms:.3f}, max {c.max_abs:.3f}")
        else:
            err = (c.network_p_heads or 0.0) - (c.exact_p_heads or 0.0)
            lines.append(f"  {c.label:32s} P(heads): exact {c.exact_p_heads:.4f}, "
                         f"PFN {c.network_p_heads:.4f}, error {err:+.4f}")
    return "\n".join(lines) + "\n"


def _repository(root: Path) -> tuple[str, str]:
    """``repository.url`` and ``repository.branch`` from the book's ``_config.yml``.

    Read with a pattern, not a YAML parser: the package does not depend on PyYAML.
    """
    text = (root / "_config.yml").read_text()
    block = re.search(r"^repository:[ \t]*\n((?:[ \t]+.*(?:\n|$))+)", text, re.MULTILINE)
    fields = dict(re.findall(r"^[ \t]+(\w+):[ \t]*[\"']?([^\s\"'#]+)", block.group(1), re.MULTILINE)
                  ) if block else {}
    if "url" not in fields:
        raise ValueError(f"no repository.url in {root / '_config.yml'}")
    return fields["url"], fields.get("branch", "main")


def _generate(root: Path, names: Sequence[str] | None = None) -> str:
    url, branch = _repository(root)
    models = [model_gaps(n) for n in (names or shipped_models())]
    # the book's reading order: by experiment (E1 ... E5), then by name
    return render(sorted(models, key=lambda m: (m.experiment or "~", m.name)), url, branch)


def write(root: str | Path = ".", page: str | Path = DEFAULT_PAGE) -> Path:
    """Generate the page from every shipped model and write it to ``root / page``."""
    path = Path(root) / page
    path.write_text(_generate(Path(root)))
    return path


def check(root: str | Path = ".", page: str | Path = DEFAULT_PAGE) -> bool:
    """True when ``root / page`` equals a fresh generation from the shipped models."""
    path = Path(root) / page
    return path.is_file() and path.read_text() == _generate(Path(root))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write (default), ``--check`` or ``--print`` the gap table."""
    parser = argparse.ArgumentParser(
        prog="python -m bayeslens.gaps", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--root", default=".", help="repository root (holds _config.yml)")
    parser.add_argument("--page", default=str(DEFAULT_PAGE), help="the page, under --root")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    mode.add_argument("--print", nargs="*", metavar="NAME", dest="names",
                      help="print the numbers of these models (default: all) as text")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    if args.names is not None:
        for name in args.names or shipped_models():
            sys.stdout.write(render_text(model_gaps(name)))
        return 0
    path = Path(args.root) / args.page
    if args.check:
        if check(args.root, args.page):
            return 0
        sys.stderr.write(f"stale: {path}\nrun: python -m bayeslens.gaps\n")
        return 1
    write(args.root, args.page)
    sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
