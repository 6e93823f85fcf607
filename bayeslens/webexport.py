"""What the book's live explorers compute from, written by Python for the reader's browser.

A *live explorer* is a block in a chapter of the HTML book where the reader puts down context
points (or moves sliders) and the page itself recomputes the exact posterior predictive (PPD)
of a prior and the forward pass of a shipped PFN, with no kernel. A *token explorer* (in
:data:`TOKEN_EXPLORERS`) does the same for a sequence prior and a shipped sequence model: the
reader clicks or types tokens, and the page computes the exact next-token predictive (and a
pool's posterior over its chains) and the causal transformer's forward pass. The JavaScript
that does it lives in ``book/vendor/bayeslens/live*.js``; it never holds its own copy of a
fact the package owns. This module writes those facts (the prior's grids and weights, the
model's config, weights and bar-distribution borders, the query points and the sliders) to
files the page loads, and ``tests/test_webexport.py`` regenerates them and checks that the
committed copy is current, so it cannot go stale.

    python -m bayeslens.webexport            # (re)write book/vendor/bayeslens/live/
    python -m bayeslens.webexport --check    # exit status 1 if the committed copy is stale

Run it when a shipped model or a paper prior changes. In a chapter, a cell ending in
``live_explorer("steps")`` shows the block (an HTML output: in the built book the page's
script brings it to life; in a notebook it says where it runs).

Each explorer ``NAME`` in :data:`EXPLORERS` or :data:`TOKEN_EXPLORERS` is written to
``OUT/NAME/``:

* ``explorer.json``: settings, the prior (axes as values and log weights, float64; for a
  sequence prior its transition matrices, initial distribution and chain weights, or its
  Dirichlet alpha), the model's config, a PFN's bar-distribution borders (float32 values) and
  the index of ``weights.bin`` (name, shape, byte offset of each tensor); a token explorer's
  also its preset sequences (:mod:`bayeslens.token_explorer`);
* ``weights.bin``: the model's tensors, little-endian, each at an 8-byte aligned offset, in
  :data:`WEIGHTS_DTYPE`;

and ``OUT/manifest.json`` lists every file with its SHA-256.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bayeslens import paper
from bayeslens.checkpoints import load_pretrained, load_pretrained_sequence_model
from bayeslens.posterior import _unique_sums
from bayeslens.priors import Axis, Mixture, Prior, SinePrior, StepPrior
from bayeslens.sequences import (
    DirichletMarkov,
    MarkovPool,
    SequencePrior,
    dirichlet_markov_v3,
    markov_pool_v3,
)
from bayeslens.token_explorer import DIRICHLET_PRESETS, POOL_PRESETS, TokenPreset

__all__ = [
    "DEFAULT_OUT",
    "EXPLORERS",
    "FORMAT_VERSION",
    "TOKEN_EXPLORERS",
    "WEIGHTS_DTYPE",
    "ContextFunction",
    "LiveExplorer",
    "LiveSpec",
    "Slider",
    "TokenSpec",
    "check",
    "export",
    "export_files",
    "live_explorer",
    "main",
    "sequence_prior_json",
]

FORMAT_VERSION = 1
DEFAULT_OUT = Path("book") / "vendor" / "bayeslens" / "live"
"""Where the book serves the export from (relative to the repository root)."""
WEIGHTS_DTYPE = "float32"
"""float32: float16 would halve the page weight (2.7 MB instead of 5.5 MB) but moves the
network's band by up to 3e-3 (measured by ``benchmarks/bench_live.py --dtype float16``), over
the 1e-3 the browser test allows."""
_ALIGN = 8


@dataclass(frozen=True)
class Slider:
    """A continuous slider: its parameter, label, range, step and starting value."""

    name: str
    label: str
    lo: float
    hi: float
    step: float
    value: float

    def __post_init__(self) -> None:
        if not self.lo <= self.value <= self.hi or self.step <= 0:
            raise ValueError(
                f"slider {self.name!r} needs lo <= value <= hi and step > 0, got "
                f"lo={self.lo}, value={self.value}, hi={self.hi}, step={self.step}"
            )


@dataclass(frozen=True)
class ContextFunction:
    """A function the sliders draw context points from, as in :mod:`bayeslens.paper`.

    ``family`` names a prior family's mean function: ``"sine_line"`` is
    y0 + A sin(f x + 2 pi phi) + s x (:class:`~bayeslens.priors.SinePrior`), ``"step"`` is
    b + a 1[x > c] (:class:`~bayeslens.priors.StepPrior`). Parameters not set by ``fixed``
    or a slider take the family's neutral value (0, and f = 1). The points sit at
    x = linspace(lo, hi, n) over the prior's x range, plus Gaussian noise of the noise
    slider's std.
    """

    label: str
    family: str
    fixed: tuple[tuple[str, float], ...]
    sliders: tuple[Slider, ...]

    def __post_init__(self) -> None:
        names = {"sine_line": {"y0", "s", "A", "f", "phi"}, "step": {"c", "b", "a"}}
        if self.family not in names:
            raise ValueError(f"family must be 'sine_line' or 'step', got {self.family!r}")
        used = [k for k, _ in self.fixed] + [s.name for s in self.sliders]
        unknown = set(used) - names[self.family]
        if unknown or len(used) != len(set(used)):
            raise ValueError(
                f"context function {self.label!r}: parameters {used} must be distinct names "
                f"of the {self.family} family {sorted(names[self.family])}"
            )


@dataclass(frozen=True)
class LiveSpec:
    """One live explorer: a paper prior, a shipped model, and what the reader can move.

    Attributes
    ----------
    name : str
        The explorer's id: its folder in the export and ``live_explorer(name)``.
    prior : callable
        Returns the prior (a function of :mod:`bayeslens.paper`).
    model : str
        The shipped model, as for :func:`~bayeslens.checkpoints.load_pretrained`.
    functions : tuple of ContextFunction
        Context functions the reader chooses from (the first is shown first).
    n_points, noise : Slider
        Number of context points and the std of the noise added to them.
    n_query : int
        Query points, linspace over the prior's x range.
    y_range : (float, float)
        The plot's y axis.
    latents : str
        What the latent panel shows: ``"step:c"`` (p(c | D), the change point), ``"axis:NAME"``
        (a sine/line prior's marginal over axis NAME), ``"families"`` (a mixture's family
        masses) or ``""`` (no panel).
    """

    name: str
    title: str
    prior: Callable[[], Prior]
    model: str
    functions: tuple[ContextFunction, ...]
    n_points: Slider
    noise: Slider
    n_query: int = 101
    y_range: tuple[float, float] = (-1.2, 1.2)
    latents: str = ""


def _noise(value: float = 0.0) -> Slider:
    return Slider("noise", "noise std", 0.0, 0.3, 0.01, value)


EXPLORERS: dict[str, LiveSpec] = {
    "steps": LiveSpec(
        name="steps",
        title="E1: steps, exact posterior and the shipped steps PFN",
        prior=paper.steps_e1,
        model="steps",
        functions=(
            ContextFunction(
                "line y = s x", "sine_line", (),
                (Slider("s", "slope s", -1.0, 1.0, 0.01, 0.2),),
            ),
            ContextFunction(
                "step y = b + a 1[x > c]", "step", (),
                (
                    Slider("c", "jump c", -1.0, 1.0, 0.01, -0.2),
                    Slider("b", "level b", -1.0, 1.0, 0.01, 0.0),
                    Slider("a", "height a", 0.0, 2.0, 0.01, 0.5),
                ),
            ),
        ),
        n_points=Slider("n", "context points", 0, 30, 1, 10),
        noise=_noise(),
        y_range=(-1.2, 1.2),
        latents="step:c",
    ),
    "sines": LiveSpec(
        name="sines",
        title="E2: sines of one frequency, exact posterior and the shipped sines PFN",
        prior=paper.sines_e2,
        model="sines",
        functions=(
            ContextFunction(
                "sine y = A sin(f x)", "sine_line", (),
                (
                    Slider("f", "frequency f (the prior's: 3π ≈ 9.42)", 1.0, 16.0, 0.01,
                           round(2 * math.pi, 2)),
                    Slider("A", "amplitude A", 0.0, 0.6, 0.01, 0.2),
                ),
            ),
            ContextFunction(
                "the prior's sine y = 0.2 sin(3π x + 2π φ)", "sine_line",
                (("A", 0.2), ("f", 3 * math.pi)),
                (Slider("phi", "phase φ", 0.0, 1.0, 0.01, 0.0),),
            ),
        ),
        n_points=Slider("n", "context points", 0, 30, 1, 20),
        noise=_noise(),
        y_range=(-0.8, 0.8),
        latents="axis:phi",
    ),
    "sines_and_lines": LiveSpec(
        name="sines_and_lines",
        title="E3: sines and lines, exact posterior and the shipped sines_and_lines PFN",
        prior=paper.sines_and_lines_e3,
        model="sines_and_lines",
        functions=(
            ContextFunction(
                "sloped sine y = A sin(3π x) + s x", "sine_line", (("f", 3 * math.pi),),
                (
                    Slider("s", "slope s", -1.0, 1.0, 0.01, 0.23),
                    Slider("A", "amplitude A (the prior's sines: 0.2)", 0.0, 0.6, 0.01, 0.2),
                ),
            ),
            ContextFunction(
                "the prior's sine y = y0 + 0.2 sin(3π x)", "sine_line",
                (("A", 0.2), ("f", 3 * math.pi)),
                (Slider("y0", "offset y0", 0.0, 1.0, 0.01, 0.5),),
            ),
            ContextFunction(
                "the prior's line y = y0 + s x", "sine_line", (),
                (
                    Slider("y0", "offset y0", -1.0, 1.0, 0.01, 0.0),
                    Slider("s", "slope s", -1.0, 1.0, 0.01, 0.5),
                ),
            ),
        ),
        n_points=Slider("n", "context points", 0, 100, 1, 10),
        noise=_noise(),
        y_range=(-1.2, 1.2),
        latents="families",
    ),
}
"""The live explorers the book shows, by name."""


@dataclass(frozen=True)
class TokenSpec:
    """One token explorer: a sequence prior, a shipped sequence model and preset sequences.

    Attributes
    ----------
    name : str
        Its folder in the export and ``live_explorer(name)``.
    title : str
        Shown above the explorer.
    prior : callable
        Returns the prior (:func:`~bayeslens.sequences.markov_pool_v3` or
        :func:`~bayeslens.sequences.dirichlet_markov_v3`).
    model : str
        The shipped model, as for
        :func:`~bayeslens.checkpoints.load_pretrained_sequence_model`.
    presets : tuple of TokenPreset
        Sequences the reader loads with one click.
    """

    name: str
    title: str
    prior: Callable[[], SequencePrior]
    model: str
    presets: tuple[TokenPreset, ...]


TOKEN_EXPLORERS: dict[str, TokenSpec] = {
    "markov_pool": TokenSpec(
        name="markov_pool",
        title="A pool of 8 Markov chains: the exact next token and the shipped markov_pool "
              "transformer",
        prior=markov_pool_v3,
        model="markov_pool",
        presets=POOL_PRESETS,
    ),
    "markov_dirichlet": TokenSpec(
        name="markov_dirichlet",
        title="Fresh Dirichlet rows: the exact next token (bigram counts) and the shipped "
              "markov_dirichlet transformer",
        prior=dirichlet_markov_v3,
        model="markov_dirichlet",
        presets=DIRICHLET_PRESETS,
    ),
}
"""The token explorers the book shows, by name (distinct from :data:`EXPLORERS`' names)."""


# --------------------------------------------------------------------------------------------
# Priors and models as JSON
# --------------------------------------------------------------------------------------------


def _floats(t: torch.Tensor) -> list[float]:
    """Exact float64 values (JSON numbers round-trip a float64 exactly)."""
    values = [float(v) for v in t.detach().to(torch.float64).reshape(-1).tolist()]
    if not all(math.isfinite(v) for v in values):
        raise ValueError("exported values must be finite")
    return values


def _axis(ax: Axis) -> dict[str, list[float]]:
    return {"values": _floats(ax.values), "log_weights": _floats(ax.log_weights)}


def prior_json(prior: Prior) -> dict[str, Any]:
    """A step, sine/line or mixture prior as the JSON the browser's exact posterior reads.

    Steps also carry the distinct sums u = b + a and each (b, a) pair's index into them, as
    :mod:`bayeslens.posterior` merges them (so both sides group the same latents).
    """
    if isinstance(prior, StepPrior):
        u, u_index = _unique_sums(prior.b.values, prior.a.values)
        return {
            "family": "step",
            "name": prior.name,
            "sigma": prior.sigma,
            "x_range": list(prior.x_range),
            "c": _axis(prior.c),
            "b": _axis(prior.b),
            "a": _axis(prior.a),
            "u": _floats(u),
            "u_index": [int(i) for i in u_index.reshape(-1).tolist()],  # (n_b, n_a), C order
        }
    if isinstance(prior, SinePrior):
        names = ("y0", "s", "A", "f", "phi")
        return {
            "family": "sine_line",
            "name": prior.name,
            "sigma": prior.sigma,
            "x_range": list(prior.x_range),
            **{n: _axis(ax) for n, ax in zip(names, prior.axes, strict=True)},
        }
    if isinstance(prior, Mixture):
        return {
            "family": "mixture",
            "name": prior.name,
            "sigma": prior.sigma,
            "x_range": list(prior.x_range),
            "families": [prior_json(f) for f in prior.families],
            "log_family_weights": _floats(prior.log_family_weights),
        }
    raise ValueError(
        f"prior must be a StepPrior, SinePrior or Mixture (the live explorers' regression "
        f"priors), got {type(prior).__name__}"
    )


def sequence_prior_json(prior: SequencePrior) -> dict[str, Any]:
    """A sequence prior as the JSON the browser's exact next-token predictive reads.

    A pool: its transition matrices (K, V, V) flattened in C order, initial distribution (V,)
    and chain weights (K,), as probabilities (float64); a DirichletMarkov: alpha and the
    initial distribution.
    """
    if isinstance(prior, MarkovPool):
        return {
            "family": "markov_pool",
            "name": prior.name,
            "vocab_size": prior.vocab_size,
            "n_chains": prior.n_chains,
            "transitions": _floats(prior.transitions),
            "initial": _floats(prior.log_initial.exp()),
            "weights": _floats(prior.log_weights.exp()),
        }
    if isinstance(prior, DirichletMarkov):
        return {
            "family": "dirichlet_markov",
            "name": prior.name,
            "vocab_size": prior.vocab_size,
            "alpha": prior.alpha,
            "initial": _floats(prior.log_initial.exp()),
        }
    raise ValueError(
        f"prior must be a MarkovPool or a DirichletMarkov, got {type(prior).__name__}"
    )


def weights_blob(
    model: torch.nn.Module, dtype: str = WEIGHTS_DTYPE
) -> tuple[bytes, list[dict[str, Any]]]:
    """The model's parameters (a PFN's or a sequence model's) as one little-endian blob and
    its index.

    Returns
    -------
    blob : bytes
    index : list of dict
        One entry per tensor in ``state_dict`` order (borders excluded: they go to the JSON
        as float32 values): ``name``, ``shape``, ``offset`` (bytes, 8-aligned).
    """
    if dtype not in ("float16", "float32"):
        raise ValueError(f"dtype must be 'float16' or 'float32', got {dtype!r}")
    np_dtype = np.dtype("<f2" if dtype == "float16" else "<f4")
    parts: list[bytes] = []
    index: list[dict[str, Any]] = []
    offset = 0
    for name, t in model.state_dict().items():
        if name.endswith("borders"):
            continue
        data = t.detach().cpu().to(torch.float32).numpy().astype(np_dtype).tobytes()
        index.append({"name": name, "shape": list(t.shape), "offset": offset})
        pad = -len(data) % _ALIGN
        parts.append(data + b"\0" * pad)
        offset += len(data) + pad
    return b"".join(parts), index


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _spec_json(spec: LiveSpec, prior: Prior) -> dict[str, Any]:
    lo, hi = prior.x_range
    x_query = torch.linspace(lo, hi, spec.n_query, dtype=torch.float64)
    return {
        "name": spec.name,
        "title": spec.title,
        "x_query": _floats(x_query),
        "levels": [0.025, 0.975],
        "y_range": list(spec.y_range),
        "latents": spec.latents,
        "n_points": vars(spec.n_points),
        "noise": vars(spec.noise),
        "functions": [
            {
                "label": f.label,
                "family": f.family,
                "fixed": dict(f.fixed),
                "sliders": [vars(s) for s in f.sliders],
            }
            for f in spec.functions
        ],
    }


def _weights_json(blob: bytes, index: list[dict[str, Any]], dtype: str) -> dict[str, Any]:
    return {"file": "weights.bin", "dtype": dtype, "bytes": len(blob), "sha256": _sha256(blob),
            "tensors": index}


def _token_files(spec: TokenSpec, dtype: str) -> dict[str, bytes]:
    prior = spec.prior()
    model = load_pretrained_sequence_model(spec.model)
    if model.config.positions != "learned" or not model.config.norm_first:
        raise ValueError(f"model {spec.model!r}: the browser runs learned positions and "
                         "pre-layer-norm only")
    if model.config.vocab_size != prior.vocab_size:
        raise ValueError(f"model {spec.model!r} has vocab_size {model.config.vocab_size}, "
                         f"the prior {prior.vocab_size}")
    blob, index = weights_blob(model, dtype)
    card = model.metadata
    doc = {
        "format": "bayeslens-live",
        "format_version": FORMAT_VERSION,
        "explorer": {
            "name": spec.name,
            "title": spec.title,
            "kind": "tokens",
            "max_prefix": model.config.max_length - 1,
            "presets": [{"label": p.label, "tokens": list(p.tokens())} for p in spec.presets],
        },
        "prior": sequence_prior_json(prior),
        "model": {
            "name": spec.model,
            "config": model.config.to_dict(),
            "source_sha256": card.get("weights_sha256"),
            "prior_name": (card.get("prior") or {}).get("name"),
            "weights": _weights_json(blob, index, dtype),
        },
    }
    text = json.dumps(doc, separators=(",", ":"), allow_nan=False) + "\n"
    return {"explorer.json": text.encode(), "weights.bin": blob}


def export_files(spec: LiveSpec | TokenSpec, dtype: str = WEIGHTS_DTYPE) -> dict[str, bytes]:
    """The files of one explorer, by name: ``explorer.json`` and ``weights.bin``."""
    if isinstance(spec, TokenSpec):
        return _token_files(spec, dtype)
    prior = spec.prior()
    model = load_pretrained(spec.model)
    if model.bar is None:
        raise ValueError(f"model {spec.model!r} is a classifier; live explorers need regression")
    if model.config.n_features != 1:
        raise ValueError(f"model {spec.model!r} takes {model.config.n_features} input features; "
                         "live explorers draw 1-d priors")
    blob, index = weights_blob(model, dtype)
    card = model.metadata
    doc = {
        "format": "bayeslens-live",
        "format_version": FORMAT_VERSION,
        "explorer": _spec_json(spec, prior),
        "prior": prior_json(prior),
        "model": {
            "name": spec.model,
            "config": model.config.to_dict(),
            "source_sha256": card.get("weights_sha256"),
            "prior_name": (card.get("prior") or {}).get("name"),
            "borders": _floats(model.bar.borders),
            "weights": _weights_json(blob, index, dtype),
        },
    }
    text = json.dumps(doc, separators=(",", ":"), allow_nan=False) + "\n"
    return {"explorer.json": text.encode(), "weights.bin": blob}


def _spec(name: str) -> LiveSpec | TokenSpec:
    """The explorer ``name``, of either kind, else ValueError listing the known names."""
    spec = EXPLORERS.get(name) or TOKEN_EXPLORERS.get(name)
    if spec is None:
        known = sorted([*EXPLORERS, *TOKEN_EXPLORERS])
        raise ValueError(f"no live explorer named {name!r}; known: {known}")
    return spec


def _all_names() -> list[str]:
    return [*EXPLORERS, *TOKEN_EXPLORERS]


def _all_files(names: Sequence[str], dtype: str) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for name in names:
        for fname, data in export_files(_spec(name), dtype).items():
            files[f"{name}/{fname}"] = data
    manifest = {
        "format": "bayeslens-live-manifest",
        "format_version": FORMAT_VERSION,
        "files": {k: _sha256(v) for k, v in sorted(files.items())},
        "command": "python -m bayeslens.webexport",
    }
    files["manifest.json"] = (json.dumps(manifest, indent=1) + "\n").encode()
    return files


def export(
    out: str | Path = DEFAULT_OUT,
    names: Sequence[str] | None = None,
    dtype: str = WEIGHTS_DTYPE,
) -> list[Path]:
    """Write the export of the explorers ``names`` (default: all) under ``out``.

    Files of explorers no longer listed are left alone; returns the paths written.
    """
    root = Path(out)
    written = []
    for rel, data in _all_files(list(names or _all_names()), dtype).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)
        written.append(path)
    return written


def check(out: str | Path = DEFAULT_OUT, dtype: str = WEIGHTS_DTYPE) -> list[str]:
    """Files under ``out`` that differ from a fresh export (missing, changed or extra)."""
    root = Path(out)
    fresh = _all_files(_all_names(), dtype)
    stale = [rel for rel, data in fresh.items()
             if not (root / rel).is_file() or (root / rel).read_bytes() != data]
    if root.is_dir():
        on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
        stale += sorted(on_disk - set(fresh))
    return stale


# --------------------------------------------------------------------------------------------
# The block a chapter shows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveExplorer:
    """The HTML block of a live explorer; a notebook shows it as its output.

    The block holds only a placeholder that says where the explorer runs; in the built book,
    ``book/vendor/bayeslens/live.js`` (added to the page by ``book/_ext/live_explorers.py``)
    replaces it with the explorer.
    """

    name: str

    def _repr_html_(self) -> str:
        spec = _spec(self.name)
        if isinstance(spec, TokenSpec):
            return (
                f'<div class="bayeslens-live" data-explorer="{html.escape(spec.name)}" '
                'data-kind="tokens"><p class="bayeslens-live-message">'
                f"<strong>Live explorer</strong> ({html.escape(spec.title)}). It runs in the "
                "pages of the HTML book, where your browser computes the exact next-token "
                "predictive and the network for the tokens you click or type (JavaScript, no "
                "kernel). In a notebook, token_explorer (bayeslens.token_explorer) is the same "
                "explorer in Python.</p></div>"
            )
        return (
            f'<div class="bayeslens-live" data-explorer="{html.escape(spec.name)}">'
            '<p class="bayeslens-live-message">'
            f"<strong>Live explorer</strong> ({html.escape(spec.title)}). It runs in the "
            "pages of the HTML book, where your browser computes the exact posterior and "
            "the network for the points you put down (JavaScript, no kernel). In a "
            "notebook, use the explorer below.</p></div>"
        )

    def __repr__(self) -> str:
        return f"LiveExplorer({self.name!r}): runs in the HTML book"


def live_explorer(name: str) -> LiveExplorer:
    """The live explorer ``name`` (a key of :data:`EXPLORERS` or :data:`TOKEN_EXPLORERS`),
    for a chapter cell to show."""
    _spec(name)
    return LiveExplorer(name)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write (default) or ``--check`` the export."""
    parser = argparse.ArgumentParser(
        prog="python -m bayeslens.webexport", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="export folder")
    parser.add_argument("--check", action="store_true", help="only report stale files")
    parser.add_argument("--dtype", default=WEIGHTS_DTYPE, choices=["float16", "float32"])
    args = parser.parse_args(argv)
    if args.check:
        stale = check(args.out, args.dtype)
        for rel in stale:
            sys.stderr.write(f"stale: {Path(args.out) / rel}\n")
        if stale:
            sys.stderr.write("run: python -m bayeslens.webexport\n")
        return 1 if stale else 0
    for path in export(args.out, dtype=args.dtype):
        sys.stdout.write(f"{path} ({path.stat().st_size:,} bytes)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
