"""The prior-data fitted network (PFN): a transformer over a context set and query points.

As in the paper: a transformer encoder without positional embeddings. Each context point
(x, y) becomes one token enc_x(x) + enc_y(y); each query point becomes enc_x(x), where x is a
number or, for priors with d input features (``PFNConfig.n_features``), a vector. Context
tokens attend to the context; query tokens attend to the context only, never to each other,
so a prediction does not depend on which other queries are asked with it. The output is a
:class:`~bayeslens.bar_distribution.BarDistribution` over y for regression priors, or class
logits for the coin.

Because nothing attends to a query token, queries need no keys or values: every layer
projects keys and values from the context tokens only, and all tokens (context and queries)
attend to those keys with one unmasked attention (two batched matmuls on the CPU,
``scaled_dot_product_attention`` elsewhere). In the last layer only the queries are computed:
the context tokens' outputs there would never be used. The
parameters are those of stock ``nn.TransformerEncoderLayer`` modules, and
:func:`dense_mask_reference` runs the very same weights through stock
``nn.TransformerEncoder`` with a dense attention mask: the slow, obviously right reference
that the tests compare against and the benchmark races.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bayeslens.bar_distribution import BarDistribution

__all__ = ["PFN", "PFNConfig", "dense_mask_reference"]


@dataclass(frozen=True)
class PFNConfig:
    """Architecture of a PFN. Defaults: the paper's smallest grid point.

    Attributes
    ----------
    n_layers, d_model, n_heads, d_ff
        Transformer encoder size (the paper: heads = d_model / 32, d_ff = 4 d_model).
    n_buckets : int
        Buckets of the bar distribution (regression).
    n_classes : int
        0 for regression (bar-distribution head); >= 2 for classification (class head).
    max_context : int
        Largest context the model was trained for; longer contexts are refused.
    head_hidden : int
        Hidden width of the output head's MLP (0: a single linear layer).
    norm_first : bool
        Pre-layer-norm (True) or post-layer-norm (False, PyTorch's and the paper's default).
    n_sink_tokens : int
        Learned tokens, the same for every dataset, that every token attends to besides the
        context (an attention "sink"). 0 (default): the paper's architecture. Attention over
        k identical context tokens is the same average for every k; with a sink of score t
        beside them (score s each) the weight on the context is k e^s / (k e^s + e^t), which
        depends on k, so the network can count. The sinks carry no x or y and no position,
        so the model stays invariant to the order of the context.
    standardize_y : bool
        Regression only. Feed the y encoder ``(y - median) / scale`` instead of y, with the
        median and the half 16-84% quantile range of the prior's y read off the bar
        distribution's borders (quantiles of prior targets). False (default): raw y, the
        paper's choice. For priors whose y are small (E2's sines have ``abs(y) < 0.5`` while
        x spans [-1, 1]), raw y gives the context's y a small share of each token.
    n_features : int
        Input features d of each x (the prior's ``n_features``). 1 (default): x is a number,
        given as (batch, points), and the x encoder is the original ``Linear(1, d_model)``;
        d > 1: x is given as (batch, points, d) and encoded by ``Linear(d, d_model)``.
    """

    n_layers: int = 4
    d_model: int = 128
    n_heads: int = 4
    d_ff: int = 512
    n_buckets: int = 1000
    n_classes: int = 0
    max_context: int = 19
    head_hidden: int = 512
    norm_first: bool = False
    n_sink_tokens: int = 0
    standardize_y: bool = False
    n_features: int = 1

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in ("norm_first", "standardize_y"):
                if not isinstance(v, bool):
                    raise ValueError(f"{f.name} must be a bool, got {v!r}")
            elif not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"{f.name} must be a non-negative int, got {v!r}")
        for name in ("n_layers", "d_model", "n_heads", "d_ff", "max_context", "n_features"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_heads")
        if self.n_classes == 1:
            raise ValueError("n_classes must be 0 (regression) or >= 2")
        if self.n_classes == 0 and self.n_buckets < 2:
            raise ValueError("a regression PFN needs n_buckets >= 2")
        if self.standardize_y and self.n_classes:
            raise ValueError("standardize_y is for regression PFNs (n_classes=0)")

    @property
    def is_regression(self) -> bool:
        return self.n_classes == 0

    @property
    def n_outputs(self) -> int:
        return self.n_buckets if self.is_regression else self.n_classes

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict; ``n_features`` only when it is not 1.

        A 1-feature config thus serialises exactly as before the option existed, so cards,
        resumable training states and web exports of 1-d models stay byte-identical.
        """
        d = asdict(self)
        if self.n_features == 1:
            del d["n_features"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PFNConfig:
        """Inverse of ``to_dict``; unknown or missing fields raise ValueError.

        Fields added after the first shipped models (``ADDED_FIELDS``) may be missing: they
        take their defaults, which reproduce the older architecture exactly.
        """
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        missing = names - set(d) - ADDED_FIELDS
        if unknown or missing:
            raise ValueError(
                f"model config does not match PFNConfig: unknown fields {sorted(unknown)}, "
                f"missing fields {sorted(missing)}"
            )
        return cls(**d)


ADDED_FIELDS = frozenset({"n_sink_tokens", "standardize_y", "n_features"})
"""PFNConfig fields newer than format version 1; a card without them means their default."""


class PFN(nn.Module):
    """The prior-data fitted network.

    Parameters
    ----------
    config : PFNConfig
    borders : Tensor, shape (n_buckets + 1,), optional
        Bar-distribution borders (regression only). When omitted, placeholder borders on
        [-1, 1] are used: for a model whose weights (and borders) are loaded afterwards.

    Notes
    -----
    All prediction methods take ``x_context, y_context`` of shape (batch, n_context) and
    ``x_query`` of shape (batch, n_query), or the same without the batch dimension, which is
    then dropped from the result too. With ``config.n_features = d > 1`` the x have a last
    axis of d features: ``x_context`` (batch, n_context, d), ``x_query`` (batch, n_query, d),
    or (points, d) unbatched; ``y_context`` stays (batch, n_context). Results are shaped by
    the queries' points, (batch, n_query, ...), whatever d. Inputs may be any floating dtype;
    they are cast to the model's. Bad input raises ValueError.
    """

    def __init__(self, config: PFNConfig, borders: Tensor | None = None) -> None:
        super().__init__()
        if not isinstance(config, PFNConfig):
            raise ValueError(f"config must be a PFNConfig, got {type(config)}")
        self.config = config
        d = config.d_model
        # Linear(1, d) for 1-d priors: the parameters (and initial values) they always had
        self.encoder_x = nn.Linear(config.n_features, d)
        self.encoder_y = nn.Linear(1, d)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                d, config.n_heads, config.d_ff, dropout=0.0, activation="gelu",
                batch_first=True, norm_first=config.norm_first,
            )
            for _ in range(config.n_layers)
        )
        self.final_norm = nn.LayerNorm(d) if config.norm_first else nn.Identity()
        if config.head_hidden:
            self.head: nn.Module = nn.Sequential(
                nn.Linear(d, config.head_hidden), nn.GELU(),
                nn.Linear(config.head_hidden, config.n_outputs),
            )
        else:
            self.head = nn.Linear(d, config.n_outputs)
        self.bar: BarDistribution | None = None
        if config.is_regression:
            if borders is None:
                borders = torch.linspace(-1, 1, config.n_buckets + 1)
            if borders.shape != (config.n_buckets + 1,):
                raise ValueError(
                    f"borders must have shape ({config.n_buckets + 1},) for "
                    f"n_buckets={config.n_buckets}, got {tuple(borders.shape)}"
                )
            self.bar = BarDistribution(borders)
        # created last, and only when asked for: models without sinks keep the parameters
        # (and, for a given seed, the initial values) they always had
        self.sink: nn.Parameter | None = None
        if config.n_sink_tokens:
            self.sink = nn.Parameter(torch.randn(config.n_sink_tokens, d) * 0.02)
        self.metadata: dict[str, Any] = {}
        """What a checkpoint recorded about this model (prior, training, measured gap)."""

    # ---------------------------------------------------------------- core

    def _tokens(self, x_context: Tensor, y_context: Tensor, x_query: Tensor) -> Tensor:
        """Embed sinks, context, then queries: (batch, n_sink + n_context + n_query, d_model).

        The sink tokens (if any) come first and count as context from here on: everything
        attends to them.
        """
        x = torch.cat([x_context, x_query], dim=1)  # (B, N) or (B, N, n_features)
        if x.ndim == 2:  # one feature, without its axis
            x = x[..., None]  # (B, N, 1)
        h = self.encoder_x(x)  # (B, N, D)
        n_context = x_context.shape[1]
        if self.config.standardize_y:
            y_context = (y_context - self._y_centre) / self._y_scale
        h_y = self.encoder_y(y_context[..., None])  # (B, Nc, D)
        parts = [h[:, :n_context] + h_y, h[:, n_context:]]
        if self.sink is not None:
            parts.insert(0, self.sink.expand(h.shape[0], -1, -1))  # (B, n_sink, D)
        return torch.cat(parts, dim=1)  # (B, N, D)

    @property
    def _y_centre(self) -> Tensor:
        """Median of the prior's y: the middle bar border, a scalar tensor."""
        borders = self._bar().borders
        return borders[(len(borders) - 1) // 2]

    @property
    def _y_scale(self) -> Tensor:
        """Half the prior's 16-84% quantile range, from the bar borders (equal-mass buckets)."""
        borders = self._bar().borders
        n = len(borders) - 1
        return (borders[round(0.84 * n)] - borders[round(0.16 * n)]) / 2

    def _attention(self, layer: nn.TransformerEncoderLayer, h: Tensor, ctx: Tensor) -> Tensor:
        """Tokens `h` attend to the context tokens `ctx`; keys/values only from the context.

        `h` is (B, M, D): every token (M = N) or, in the last layer, the queries only.
        `ctx` is (B, Nc, D). Returns the attention block's output for `h`, (B, M, D).
        """
        attn = layer.self_attn
        B, M, D = h.shape
        Nc = ctx.shape[1]
        H = self.config.n_heads
        # split, not two slices: its backward is one concatenation of the two gradients
        w_q, w_kv = attn.in_proj_weight.split([D, 2 * D])  # (D, D), (2D, D)
        b_q, b_kv = attn.in_proj_bias.split([D, 2 * D])  # (D,), (2D,)
        q = F.linear(h, w_q, b_q)  # (B, M, D)
        kv = F.linear(ctx, w_kv, b_kv)  # (B, Nc, 2D)
        q = q.view(B, M, H, D // H).transpose(1, 2)  # (B, H, M, hd)
        kv = kv.view(B, Nc, 2, H, D // H).permute(2, 0, 3, 1, 4)  # (2, B, H, Nc, hd)
        o = self._attend(q, kv[0], kv[1])  # (B, H, M, hd)
        o = o.transpose(1, 2).reshape(B, M, D)  # (B, M, D)
        return attn.out_proj(o)

    @staticmethod
    def _attend(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """Unmasked attention: (B, H, M, hd), (B, H, Nc, hd) x 2 -> (B, H, M, hd)."""
        if q.device.type != "cpu":
            return F.scaled_dot_product_attention(q, k, v)
        # with ~20 tokens and head size 32, two batched matmuls and a softmax are faster on the
        # CPU than the fused kernel (fwd + bwd: 0.8-1.4 ms vs 2.3 ms per layer)
        scores = torch.matmul(q, k.transpose(-1, -2)) * q.shape[-1] ** -0.5  # (B, H, M, Nc)
        return torch.matmul(torch.softmax(scores, dim=-1), v)

    def _feed_forward(self, layer: nn.TransformerEncoderLayer, h: Tensor) -> Tensor:
        return layer.linear2(F.gelu(layer.linear1(h)))

    def _block(
        self, layer: nn.TransformerEncoderLayer, h: Tensor, n_context: int, queries_only: bool
    ) -> Tensor:
        """One encoder layer. (B, N, D) -> (B, N, D), or -> (B, Nq, D) if `queries_only`.

        In the last layer only the queries' outputs are used, so the context tokens there
        contribute keys and values and nothing else (no query projection, attention output,
        feed-forward or norms): same result, about an eighth less encoder work.
        """
        if self.config.norm_first:
            hn = layer.norm1(h)  # (B, N, D)
            out = h[:, n_context:] if queries_only else h  # (B, M, D)
            out = out + self._attention(
                layer, hn[:, n_context:] if queries_only else hn, hn[:, :n_context]
            )
            return out + self._feed_forward(layer, layer.norm2(out))
        out = h[:, n_context:] if queries_only else h  # (B, M, D)
        out = layer.norm1(out + self._attention(layer, out, h[:, :n_context]))
        return layer.norm2(out + self._feed_forward(layer, out))

    def _encode(self, x_context: Tensor, y_context: Tensor, x_query: Tensor) -> Tensor:
        """Query representations after the encoder: (batch, n_query, d_model)."""
        h = self._tokens(x_context, y_context, x_query)  # (B, N, D)
        n_context = x_context.shape[1] + self.config.n_sink_tokens  # keys: sinks and context
        layers = cast(list[nn.TransformerEncoderLayer], list(self.layers))
        for i, layer in enumerate(layers):
            h = self._block(layer, h, n_context, queries_only=i == len(layers) - 1)
        return self.final_norm(h)  # (B, Nq, D)

    @torch.no_grad()
    def query_states(self, x_context: Tensor, y_context: Tensor, x_query: Tensor) -> Tensor:
        """The queries' representations after the embedding and after every layer.

        For looking inside the network (e.g. that attention over identical tokens does not
        depend on how many there are). Returns shape (n_layers + 1, [batch,] n_query, d_model):
        index 0 is the query embedding, index i the output of layer i (before the final norm).
        """
        xc, yc, xq, batched = self._check_inputs(x_context, y_context, x_query)
        h = self._tokens(xc, yc, xq)  # (B, N, D)
        n_context = xc.shape[1] + self.config.n_sink_tokens
        states = [h[:, n_context:]]
        for layer in cast(list[nn.TransformerEncoderLayer], list(self.layers)):
            h = self._block(layer, h, n_context, queries_only=False)
            states.append(h[:, n_context:])
        out = torch.stack(states)  # (n_layers + 1, B, Nq, D)
        return out if batched else out[:, 0]

    def logits_unchecked(self, x_context: Tensor, y_context: Tensor, x_query: Tensor) -> Tensor:
        """:meth:`forward` without input validation (the training loop's fast path)."""
        return self.head(self._encode(x_context, y_context, x_query))

    def forward(self, x_context: Tensor, y_context: Tensor, x_query: Tensor) -> Tensor:
        """Output logits for each query.

        Parameters
        ----------
        x_context : Tensor, shape (batch, n_context), or (batch, n_context, d) if d > 1
        y_context : Tensor, shape (batch, n_context)
        x_query : Tensor, shape (batch, n_query), or (batch, n_query, d) if d > 1

        Returns
        -------
        Tensor, shape (batch, n_query, n_buckets) or (batch, n_query, n_classes)
        """
        xc, yc, xq, batched = self._check_inputs(x_context, y_context, x_query)
        out = self.logits_unchecked(xc, yc, xq)
        return out if batched else out[0]

    # ---------------------------------------------------------------- predictions

    def _bar(self) -> BarDistribution:
        if self.bar is None:
            raise ValueError("this PFN is a classifier (n_classes > 0); use class_probs")
        return self.bar

    @torch.no_grad()
    def log_density(
        self, x_context: Tensor, y_context: Tensor, x_query: Tensor, y_query: Tensor
    ) -> Tensor:
        """Log predictive density at paired (x_query, y_query), shape ([batch,] n_query)."""
        bar = self._bar()
        logits = self(x_context, y_context, x_query)
        y_query = _as_float(y_query, "y_query", logits.dtype)
        if y_query.shape != logits.shape[:-1]:
            raise ValueError(
                f"y_query must have the shape of x_query's points {tuple(logits.shape[:-1])}, "
                f"got {tuple(y_query.shape)}"
            )
        return bar.log_density(logits, y_query)

    @torch.no_grad()
    def mean(self, x_context: Tensor, y_context: Tensor, x_query: Tensor) -> Tensor:
        """Predictive mean at each query, shape ([batch,] n_query)."""
        return self._bar().mean(self(x_context, y_context, x_query))

    @torch.no_grad()
    def density(
        self, x_context: Tensor, y_context: Tensor, x_query: Tensor, y_grid: Tensor
    ) -> Tensor:
        """Predictive density on a y grid: shape ([batch,] n_query, n_y)."""
        y_grid = _as_float(y_grid, "y_grid", torch.float32)
        if y_grid.ndim != 1:
            raise ValueError(f"y_grid must be 1-d, got shape {tuple(y_grid.shape)}")
        return self._bar().density(self(x_context, y_context, x_query), y_grid)

    @torch.no_grad()
    def quantiles(
        self, x_context: Tensor, y_context: Tensor, x_query: Tensor, levels: Tensor
    ) -> Tensor:
        """Predictive quantiles: shape ([batch,] n_query, n_levels)."""
        levels = _as_float(levels, "levels", torch.float32)
        return self._bar().quantiles(self(x_context, y_context, x_query), levels)

    @torch.no_grad()
    def class_probs(self, x_context: Tensor, y_context: Tensor, x_query: Tensor) -> Tensor:
        """Class probabilities (classifiers only): shape ([batch,] n_query, n_classes)."""
        if self.config.is_regression:
            raise ValueError("this PFN is a regression model; use mean/density/quantiles")
        return torch.softmax(self(x_context, y_context, x_query), dim=-1)

    # ---------------------------------------------------------------- validation

    def _check_inputs(
        self, x_context: object, y_context: object, x_query: object
    ) -> tuple[Tensor, Tensor, Tensor, bool]:
        dtype = self.encoder_x.weight.dtype
        xc = _as_float(x_context, "x_context", dtype)
        yc = _as_float(y_context, "y_context", dtype)
        xq = _as_float(x_query, "x_query", dtype)
        n_features = self.config.n_features
        if n_features == 1:
            for name, x in (("x_context", xc), ("x_query", xq)):
                if x.ndim == yc.ndim + 1 and x.ndim in (2, 3) and x.shape[-1] != 1:
                    raise ValueError(
                        f"{name} has {x.shape[-1]} features, the model was built for 1 "
                        "(n_features=1: x of shape (batch, points) or (points,))"
                    )
            if not xc.ndim == yc.ndim == xq.ndim or xc.ndim not in (1, 2):
                raise ValueError(
                    "x_context, y_context, x_query must all be 1-d (points,) or all 2-d "
                    f"(batch, points); got shapes {tuple(xc.shape)}, {tuple(yc.shape)}, "
                    f"{tuple(xq.shape)}"
                )
        else:
            _check_feature_axis(n_features, xc, yc, xq)
        batched = yc.ndim == 2
        if not batched:
            xc, yc, xq = xc[None], yc[None], xq[None]  # (1, points[, d])
        if xc.shape[:2] != yc.shape:
            raise ValueError(
                f"x_context and y_context must have the same shape"
                f"{' (batch, points)' if n_features > 1 else ''}, got {tuple(xc.shape)} "
                f"and {tuple(yc.shape)}"
            )
        if xq.shape[0] != xc.shape[0]:
            raise ValueError(
                f"x_query has batch size {xq.shape[0]} but the context has {xc.shape[0]}"
            )
        if xc.shape[1] < 1:
            raise ValueError("the context must hold at least one point")
        if xc.shape[1] > self.config.max_context:
            raise ValueError(
                f"context of {xc.shape[1]} points is longer than this model was trained for "
                f"(max_context={self.config.max_context})"
            )
        if xq.shape[1] < 1:
            raise ValueError("x_query must hold at least one point")
        if not self.config.is_regression and not bool(((yc == 0) | (yc == 1)).all()):
            raise ValueError("a classifier's y_context must hold class labels 0. or 1.")
        return xc, yc, xq, batched


def _check_feature_axis(n_features: int, xc: Tensor, yc: Tensor, xq: Tensor) -> None:
    """ValueError unless x_context and x_query are y_context's shape plus n_features (d > 1)."""
    if yc.ndim not in (1, 2):
        raise ValueError(
            f"y_context must have shape (batch, points) or (points,), got {tuple(yc.shape)}"
        )
    want = "(batch, points, d)" if yc.ndim == 2 else "(points, d)"
    for name, x in (("x_context", xc), ("x_query", xq)):
        if x.ndim != yc.ndim + 1:
            raise ValueError(
                f"{name} must have shape {want} with d = {n_features} (the model's "
                f"n_features), like y_context {tuple(yc.shape)} plus a feature axis; got "
                f"{tuple(x.shape)}"
            )
        if x.shape[-1] != n_features:
            raise ValueError(
                f"{name} has {x.shape[-1]} features, the model was built for {n_features}"
            )


def _as_float(t: object, name: str, dtype: torch.dtype) -> Tensor:
    """`t` as a finite tensor of `dtype`; ValueError for non-float dtypes, NaN or inf."""
    if not isinstance(t, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not t.is_floating_point():
        raise ValueError(f"{name} must have a floating dtype, got {t.dtype}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return t.to(dtype)


class _DenseMaskReference(nn.Module):
    """Stock ``nn.TransformerEncoder`` with a dense mask, sharing a PFN's weights."""

    def __init__(self, model: PFN) -> None:
        super().__init__()
        self.model = model
        first = model.layers[0]
        assert isinstance(first, nn.TransformerEncoderLayer)
        # enable_nested_tensor=False: the fast path is for inference with padding masks only
        self.encoder = nn.TransformerEncoder(
            first, num_layers=1, enable_nested_tensor=False,
        )
        self.encoder.layers = model.layers  # share, do not copy
        self.encoder.num_layers = len(model.layers)

    def forward(self, x_context: Tensor, y_context: Tensor, x_query: Tensor) -> Tensor:
        m = self.model
        h = m._tokens(x_context, y_context, x_query)  # (B, N, D)
        n_context, N = x_context.shape[1] + m.config.n_sink_tokens, h.shape[1]
        # mask[i, j] = True: token i may not attend to token j (every token sees the context)
        mask = torch.zeros(N, N, dtype=torch.bool)
        mask[:, n_context:] = True
        h = self.encoder(h, mask=mask)  # (B, N, D)
        return m.head(m.final_norm(h[:, n_context:]))  # (B, Nq, n_outputs)


def dense_mask_reference(model: PFN) -> nn.Module:
    """The same network computed the naive way: stock modules and a dense attention mask.

    Returns a module with the PFN's ``forward(x_context, y_context, x_query)`` signature (no
    validation) that shares the PFN's parameters. Every token, queries included, gets keys
    and values, and an (N, N) boolean mask hides the query columns.
    """
    return _DenseMaskReference(model)
