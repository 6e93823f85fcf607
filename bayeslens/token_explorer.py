"""A token explorer: click or type a sequence and see both next-token distributions.

:func:`token_explorer` shows, in a running kernel (Jupyter, Binder, Colab), buttons for the
tokens 0 .. V-1, a text box to type a prefix (``"0120"``, ``"0 1 2 0"``), undo, clear and a
few preset sequences; after every change it redraws the exact next-token predictive beside the
network's, with their KL, and for a pool the exact posterior over its chains
(:func:`bayeslens.evaluate.next_token_after`, drawn by :func:`bayeslens.plots.draw_next_token`
and :func:`bayeslens.plots.draw_chain_posterior`). Nothing is precomputed, so the built HTML
book cannot run it; there the same explorer runs in the reader's browser
(``bayeslens.webexport.live_explorer("markov_pool")``, with the presets of this module).

``mode="auto"`` gives the widgets, except where ``BAYESLENS_EXPLORER=static`` (set while the
book's chapters are executed, ``bash scripts/book.sh execute``): there it gives the figure of
the starting prefix, so a chapter stores a picture and no dead buttons. Without ipywidgets it
also returns that figure, and warns.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from bayeslens.evaluate import NextToken, _check_sequence_pair, next_token_after
from bayeslens.sequence_model import SequenceModel
from bayeslens.sequences import DirichletMarkov, MarkovPool, dirichlet_markov_v3, markov_pool_v3

__all__ = [
    "DIRICHLET_PRESETS",
    "POOL_PRESETS",
    "TokenFigure",
    "TokenPreset",
    "draw_next_token_view",
    "format_tokens",
    "has_ipywidgets",
    "parse_tokens",
    "presets_for",
    "resolve_mode",
    "token_explorer",
]

_SEPARATORS = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class TokenPreset:
    """A token sequence the reader loads with one click, and where it comes from.

    Attributes
    ----------
    label : str
    source : str
        ``"chain K"``: drawn from chain K of the book's pool
        (:func:`~bayeslens.sequences.markov_pool_v3`); ``"fresh"``: from a chain with fresh
        Dirichlet(1) rows (:func:`~bayeslens.sequences.dirichlet_markov_v3`), almost surely
        outside the pool; ``"pattern P"``: the digits P repeated.
    length : int >= 1
    seed : int >= 0
        Seeds the draw (chains only).
    """

    label: str
    source: str
    length: int = 40
    seed: int = 0

    def __post_init__(self) -> None:
        kind = self.source.split(" ", 1)[0]
        if kind not in ("chain", "fresh", "pattern"):
            raise ValueError(f"source must be 'chain K', 'fresh' or 'pattern P', got "
                             f"{self.source!r}")
        if not isinstance(self.length, int) or isinstance(self.length, bool) or self.length < 1:
            raise ValueError(f"length must be an int >= 1, got {self.length!r}")

    def tokens(self) -> tuple[int, ...]:
        """The preset's tokens, shape (length,): deterministic."""
        kind, _, arg = self.source.partition(" ")
        if kind == "pattern":
            digits = parse_tokens(arg, 10)
            return tuple(digits[i % len(digits)] for i in range(self.length))
        gen = torch.Generator().manual_seed(self.seed)
        if kind == "fresh":
            batch = dirichlet_markov_v3().sample(1, self.length, gen)
        else:
            pool = markov_pool_v3()
            k = int(arg)
            chain = MarkovPool.from_transitions(pool.transitions[k : k + 1])
            batch = chain.sample(1, self.length, gen)
        return tuple(int(v) for v in batch.tokens[0])

    @property
    def chain(self) -> int | None:
        """The pool chain that drew the preset, or None."""
        kind, _, arg = self.source.partition(" ")
        return int(arg) if kind == "chain" else None


POOL_PRESETS = (
    TokenPreset("from chain 7 of the pool", "chain 7", seed=1),
    TokenPreset("from a fresh chain, outside the pool", "fresh", seed=2),
    TokenPreset("the pattern 012 repeated", "pattern 012"),
    TokenPreset("only 1s", "pattern 1", length=20),
)
"""The pool explorers' presets (Python's and the HTML book's)."""
DIRICHLET_PRESETS = (
    TokenPreset("from a fresh Dirichlet chain", "fresh", seed=2),
    TokenPreset("from chain 7 of the pool", "chain 7", seed=1),
    TokenPreset("the pattern 012 repeated", "pattern 012"),
    TokenPreset("only 1s", "pattern 1", length=20),
)
"""The Dirichlet-Markov explorers' presets."""


def presets_for(prior: MarkovPool | DirichletMarkov) -> tuple[TokenPreset, ...]:
    """:data:`POOL_PRESETS` for a pool, :data:`DIRICHLET_PRESETS` for a DirichletMarkov."""
    if isinstance(prior, MarkovPool):
        return POOL_PRESETS
    if isinstance(prior, DirichletMarkov):
        return DIRICHLET_PRESETS
    raise ValueError(f"prior must be a MarkovPool or a DirichletMarkov, got {type(prior).__name__}")


def parse_tokens(text: str, vocab_size: int) -> tuple[int, ...]:
    """Tokens from typed text: one digit per token, spaces, commas or semicolons between
    them optional (``"0120"``, ``"0 1 2 0"``, ``"0,1,2,0"``); empty text is no tokens.

    Raises
    ------
    ValueError
        Naming ``text`` and the first character that is not a token in 0 .. vocab_size - 1.
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}")
    if not isinstance(vocab_size, int) or not 2 <= vocab_size <= 10:
        raise ValueError(f"vocab_size must be an int in 2 .. 10 (one digit a token), got "
                         f"{vocab_size!r}")
    out = []
    for i, ch in enumerate(_SEPARATORS.sub("", text)):
        if not ch.isdigit() or int(ch) >= vocab_size:
            raise ValueError(f"text must hold the tokens 0 .. {vocab_size - 1} (one digit "
                             f"each, spaces or commas between them optional); character {i + 1} "
                             f"is {ch!r}")
        out.append(int(ch))
    return tuple(out)


def format_tokens(tokens: Sequence[int], most: int = 64) -> str:
    """Tokens as one digit each, in groups of 8 (``"01201201 20"``), the first ``most``."""
    digits = "".join(str(t) for t in tokens[:most])
    return " ".join(digits[i : i + 8] for i in range(0, len(digits), 8))


def draw_next_token_view(
    axes: Any, result: NextToken, *, network_label: str = "network",
    true_chain: int | None = None,
) -> Any:
    """The explorer's figure: the next token's two distributions and, for a pool (``axes``
    an array of two), the posterior over the chains.

    Parameters
    ----------
    axes : Axes, or array of two Axes
    result : NextToken
        :func:`bayeslens.evaluate.next_token_after`.
    """
    from bayeslens import plots

    if not isinstance(result, NextToken):
        raise ValueError(f"result must be a NextToken, got {type(result).__name__}")
    pair = hasattr(axes, "__len__")
    ax0 = axes[0] if pair else axes
    n = len(result.prefix)
    plots.draw_next_token(ax0, result.exact, result.network, kl=result.kl,
                          network_label=network_label,
                          title=f"token {n + 1}, after {n}")
    if pair:
        if result.posterior is None:
            raise ValueError("result has no posterior over chains (a DirichletMarkov): pass "
                             "one Axes")
        plots.draw_chain_posterior(axes[1], result.posterior, true_chain=true_chain,
                                   title=f"p(chain | {n} tokens)")
    return axes


def has_ipywidgets() -> bool:
    """Whether ipywidgets can be imported (the explorer's buttons need it)."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_mode(mode: str = "auto") -> str:
    """The mode :func:`token_explorer` uses: ``"widgets"`` or ``"static"`` (a figure).

    ``auto``: static where the environment variable ``BAYESLENS_EXPLORER`` is ``static`` (the
    book's execution), else widgets. Widgets fall back to static without ipywidgets.
    """
    if mode not in ("auto", "widgets", "static"):
        raise ValueError(f"mode must be 'auto', 'widgets' or 'static', got {mode!r}")
    if mode == "auto":
        env = os.environ.get("BAYESLENS_EXPLORER", "").strip().lower()
        mode = "static" if env == "static" else "widgets"
    return mode


def _figure_png(result: NextToken, pool: bool, true_chain: int | None) -> bytes:
    from bayeslens.explore import frame_png

    def draw(axes: Any) -> None:
        draw_next_token_view(axes, result, true_chain=true_chain)

    return frame_png(draw, {}, ncols=2 if pool else 1, figsize=(7.5, 3.3))


def token_explorer(
    model: SequenceModel,
    prior: MarkovPool | DirichletMarkov,
    *,
    tokens: str | Sequence[int] = "",
    presets: Sequence[TokenPreset] | None = None,
    mode: str = "auto",
) -> Any:
    """Click or type tokens; see the exact and the network's next-token distributions.

    Parameters
    ----------
    model : SequenceModel
        E.g. ``load_pretrained_sequence_model("markov_pool")``.
    prior : MarkovPool or DirichletMarkov
        The prior it was trained on.
    tokens : str or sequence of int
        The starting prefix (text as :func:`parse_tokens` reads it).
    presets : sequence of TokenPreset, optional
        Default :func:`presets_for` the prior.
    mode : {"auto", "widgets", "static"}
        See :func:`resolve_mode`.

    Returns
    -------
    ipywidgets.VBox or TokenFigure
        The widgets, with the CSS class ``bayeslens-token-explorer``; in static mode, or where
        ipywidgets is missing (with a warning that says so), the figure of the starting prefix
        (:class:`TokenFigure`).
    """
    _check_sequence_pair(model, prior)
    v = prior.vocab_size
    start = parse_tokens(tokens, v) if isinstance(tokens, str) else tuple(tokens)
    first = next_token_after(model, prior, start)  # checks the prefix
    chosen = tuple(presets_for(prior) if presets is None else presets)
    pool = isinstance(prior, MarkovPool)
    if resolve_mode(mode) == "static":
        return _static_figure(first, pool)
    if not has_ipywidgets():
        warnings.warn("ipywidgets is not installed, so the token explorer cannot take clicks: "
                      "here is the figure of its starting prefix (pip install ipywidgets)",
                      stacklevel=2)
        return _static_figure(first, pool)
    return _widgets(model, prior, start, chosen, pool)


@dataclass(frozen=True)
class TokenFigure:
    """The explorer's figure for one prefix: PNG bytes, which a notebook shows, and the
    numbers drawn.

    Attributes
    ----------
    png : bytes
    result : NextToken
    """

    png: bytes
    result: NextToken

    def _repr_png_(self) -> bytes:
        return self.png


def _static_figure(result: NextToken, pool: bool) -> TokenFigure:
    return TokenFigure(_figure_png(result, pool, None), result)


def _widgets(
    model: SequenceModel,
    prior: MarkovPool | DirichletMarkov,
    start: tuple[int, ...],
    presets: tuple[TokenPreset, ...],
    pool: bool,
) -> Any:
    import ipywidgets as w

    from bayeslens.plots import TOKEN_COLORS

    v = prior.vocab_size
    most = model.config.max_length - 1
    state: dict[str, Any] = {"tokens": list(start), "syncing": False, "chain": None}
    buttons = []
    for t in range(v):
        b = w.Button(description=str(t), tooltip=f"add token {t}",
                     layout=w.Layout(width="44px"))
        b.style.button_color = TOKEN_COLORS[t % len(TOKEN_COLORS)]
        b.style.text_color = "white"
        b.style.font_weight = "bold"
        buttons.append(b)
    undo, clear = w.Button(description="undo"), w.Button(description="clear")
    text = w.Text(value=format_tokens(start), placeholder="type tokens, e.g. 0120",
                  description="tokens", continuous_update=True,
                  layout=w.Layout(width="420px"))
    menu = w.Dropdown(options=[("load a preset...", -1)]
                      + [(p.label, i) for i, p in enumerate(presets)], value=-1,
                      layout=w.Layout(width="300px"))
    prefix = w.HTML()
    message = w.HTML()
    image = w.Image(format="png")

    def show_prefix() -> None:
        toks = state["tokens"]
        spans = "".join(
            f'<span style="color:{TOKEN_COLORS[t % len(TOKEN_COLORS)]};font-weight:bold">'
            f"{t}</span>" + (" " if i % 8 == 7 else "") for i, t in enumerate(toks))
        prefix.value = (f"<b>prefix</b> ({len(toks)} of at most {most} tokens): "
                        f"<code>{spans or '(empty: the first token)'}</code>")

    def redraw(note: str = "") -> None:
        result = next_token_after(model, prior, state["tokens"])
        image.value = _figure_png(result, pool, state["chain"])
        show_prefix()
        message.value = note

    def set_tokens(new: Sequence[int], *, from_text: bool = False) -> None:
        if len(new) > most:
            message.value = (f"<span style='color:#b00'>{len(new)} tokens: the network reads "
                             f"at most {most} (max_length {most + 1}), so the prefix stays "
                             f"at {len(state['tokens'])}.</span>")
            return
        state["tokens"] = list(new)
        if not from_text:
            state["syncing"] = True
            text.value = format_tokens(new)
            state["syncing"] = False
        redraw()

    def add(t: int) -> Any:
        def click(_: Any) -> None:
            state["chain"] = None
            set_tokens([*state["tokens"], t])
        return click

    for t, b in enumerate(buttons):
        b.on_click(add(t))
    undo.on_click(lambda _: set_tokens(state["tokens"][:-1]))

    def clear_all(_: Any) -> None:
        state["chain"] = None
        set_tokens([])

    clear.on_click(clear_all)

    def typed(change: dict[str, Any]) -> None:
        if state["syncing"]:
            return
        try:
            new = parse_tokens(change["new"], v)
        except ValueError as err:
            message.value = f"<span style='color:#b00'>{err}</span>"
            return
        state["chain"] = None
        set_tokens(new, from_text=True)

    text.observe(typed, names="value")

    def chose(change: dict[str, Any]) -> None:
        i = change["new"]
        if i < 0:
            return
        preset = presets[i]
        state["chain"] = preset.chain if pool else None
        set_tokens(preset.tokens())
        menu.value = -1

    menu.observe(chose, names="value")
    redraw()
    box = w.VBox([w.HBox([*buttons, undo, clear, menu]), text, prefix, message, image])
    box.add_class("bayeslens-token-explorer")
    return box
