"""A small causal transformer for token sequences: the architecture of a language model.

Decoder-only. A learned start token (index ``vocab_size`` of the embedding, never an input the
caller gives) comes first, then the sequence; every position attends to itself and the positions
before it (``F.scaled_dot_product_attention(is_causal=True)``), and a linear head gives
``vocab_size`` logits per position. Positions are learned embeddings added to the tokens, or
rotary (queries and keys rotated by their position in every layer, nothing added).

Layout: ``forward(tokens)[:, t]`` are the logits of x_{t+1} after x_1..x_t, where ``tokens[:, 0]``
is x_1; the model reads the start token and ``tokens[:, :t]`` for it. Position 0 thus predicts
the first token from the start token alone, and the last token is only predicted, never read.
This is exactly the layout of :func:`bayeslens.sequence_posterior.next_token_log_probs`, so the
network's :meth:`SequenceModel.next_token_log_probs` and the exact predictive compare entry by
entry with no shift.

As in the PFN (:mod:`bayeslens.model`), each block keeps its weights in a stock
``nn.TransformerEncoderLayer`` (the same parameter names, shapes and initial values) and is
computed by hand around them; :func:`dense_mask_reference` runs the same weights through stock
``nn.TransformerEncoder`` with a dense causal mask (learned positions), the slow reference the
tests compare against. A model does not know how it is trained: that is
:mod:`bayeslens.train`'s business.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["POSITIONS", "ROTARY_BASE", "SequenceModel", "SequenceModelConfig",
           "dense_mask_reference"]

POSITIONS = ("learned", "rotary")
"""The kinds of position information :class:`SequenceModelConfig` knows."""
ROTARY_BASE = 10_000.0
"""Rotary positions: head-dimension pair i turns by position * ROTARY_BASE ** (-2 i / head_dim)."""


@dataclass(frozen=True)
class SequenceModelConfig:
    """Architecture of a :class:`SequenceModel`.

    Attributes
    ----------
    vocab_size : int >= 2
        Tokens 0 .. vocab_size - 1 (the prior's ``vocab_size``).
    max_length : int >= 1
        Longest sequence the model reads: its start token and up to max_length - 1 tokens,
        which predict up to max_length tokens. Longer sequences are refused.
    n_layers, d_model, n_heads, d_ff : int >= 1
        Transformer size; d_model must be divisible by n_heads.
    positions : str
        ``"learned"`` (a (max_length, d_model) embedding added to the tokens) or ``"rotary"``
        (queries and keys rotated by position; needs an even head size d_model / n_heads).
    norm_first : bool
        Pre-layer-norm with a final LayerNorm (True, as in GPT-2) or post-layer-norm (False).
    """

    vocab_size: int = 3
    max_length: int = 64
    n_layers: int = 2
    d_model: int = 64
    n_heads: int = 2
    d_ff: int = 256
    positions: str = "learned"
    norm_first: bool = True

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "positions":
                if v not in POSITIONS:
                    raise ValueError(f"positions must be one of {POSITIONS}, got {v!r}")
            elif f.name == "norm_first":
                if not isinstance(v, bool):
                    raise ValueError(f"norm_first must be a bool, got {v!r}")
            elif not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{f.name} must be an int >= 1, got {v!r}")
        if self.vocab_size < 2:
            raise ValueError(f"vocab_size must be an int >= 2, got {self.vocab_size}")
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})"
            )
        if self.positions == "rotary" and (self.d_model // self.n_heads) % 2:
            raise ValueError(
                f"positions='rotary' needs an even head size, d_model / n_heads = "
                f"{self.d_model} / {self.n_heads} = {self.d_model // self.n_heads}"
            )

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SequenceModelConfig:
        """Inverse of :meth:`to_dict`; unknown or missing fields raise ValueError."""
        names = {f.name for f in fields(cls)}
        unknown, missing = set(d) - names, names - set(d)
        if unknown or missing:
            raise ValueError(
                f"model config does not match SequenceModelConfig: unknown fields "
                f"{sorted(unknown)}, missing fields {sorted(missing)}"
            )
        return cls(**d)


# ------------------------------------------------------------------------------ the pieces


def rotary_angles(length: int, head_dim: int, device: torch.device | None = None) -> Tensor:
    """Rotation angle of each position and head-dimension pair, shape (length, head_dim / 2)."""
    inv_freq = ROTARY_BASE ** (
        -torch.arange(0, head_dim, 2, dtype=torch.float32, device=device) / head_dim
    )  # (head_dim / 2,)
    pos = torch.arange(length, dtype=torch.float32, device=device)
    return pos[:, None] * inv_freq[None]


def rotate(x: Tensor, angles: Tensor) -> Tensor:
    """Rotate pairs (x_i, x_{i + head_dim/2}) of the last axis by ``angles``.

    Parameters
    ----------
    x : Tensor, shape (..., length, head_dim)
    angles : Tensor, shape (length, head_dim / 2)

    Returns
    -------
    Tensor, the shape of `x`. Dot products of rotated queries and keys depend on their
    positions only through the difference.
    """
    half = x.shape[-1] // 2
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


def _causal_attention(
    layer: nn.TransformerEncoderLayer, h: Tensor, n_heads: int, angles: Tensor | None
) -> Tensor:
    """Causal self-attention with the weights of ``layer.self_attn``: (B, L, D) -> (B, L, D).

    `angles` (L, head_dim / 2) rotates queries and keys (rotary positions), or None.
    """
    attn = layer.self_attn
    B, L, D = h.shape
    qkv = F.linear(h, attn.in_proj_weight, attn.in_proj_bias)  # (B, L, 3D)
    qkv = qkv.view(B, L, 3, n_heads, D // n_heads).permute(2, 0, 3, 1, 4)  # (3, B, H, L, hd)
    q, k, v = qkv[0], qkv[1], qkv[2]
    if angles is not None:
        q, k = rotate(q, angles), rotate(k, angles)
    o = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, L, hd)
    return attn.out_proj(o.transpose(1, 2).reshape(B, L, D))


def _block(
    layer: nn.TransformerEncoderLayer, h: Tensor, n_heads: int, angles: Tensor | None,
    norm_first: bool,
) -> Tensor:
    """One transformer block (the PFN's block structure, causal): (B, L, D) -> (B, L, D)."""
    def ff(x: Tensor) -> Tensor:
        return layer.linear2(F.gelu(layer.linear1(x)))

    if norm_first:
        h = h + _causal_attention(layer, layer.norm1(h), n_heads, angles)
        return h + ff(layer.norm2(h))
    h = layer.norm1(h + _causal_attention(layer, h, n_heads, angles))
    return layer.norm2(h + ff(h))


# ------------------------------------------------------------------------------ the model


class SequenceModel(nn.Module):
    """A decoder-only transformer that predicts every next token of a sequence.

    Parameters
    ----------
    config : SequenceModelConfig

    Notes
    -----
    Methods take ``tokens`` of shape (batch, length), int64, in 0 .. vocab_size - 1, with
    1 <= length <= ``config.max_length``; anything else raises ValueError naming ``tokens``.
    Output position t is the prediction of ``tokens[:, t]`` from ``tokens[:, :t]`` (see the
    module docstring).
    """

    def __init__(self, config: SequenceModelConfig) -> None:
        super().__init__()
        if not isinstance(config, SequenceModelConfig):
            raise ValueError(f"config must be a SequenceModelConfig, got {type(config)}")
        self.config = config
        d = config.d_model
        # index vocab_size: the start token, read first by every sequence
        self.token_embedding = nn.Embedding(config.vocab_size + 1, d)
        self.position_embedding: nn.Embedding | None = (
            nn.Embedding(config.max_length, d) if config.positions == "learned" else None
        )
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                d, config.n_heads, config.d_ff, dropout=0.0, activation="gelu",
                batch_first=True, norm_first=config.norm_first,
            )
            for _ in range(config.n_layers)
        )
        self.final_norm = nn.LayerNorm(d) if config.norm_first else nn.Identity()
        self.head = nn.Linear(d, config.vocab_size)
        self.metadata: dict[str, Any] = {}
        """What a checkpoint recorded about this model (prior, training, measured KL)."""

    def _inputs(self, tokens: Tensor) -> Tensor:
        """The start token then all but the last token: (B, L) -> (B, L) in 0 .. V."""
        start = tokens.new_full((tokens.shape[0], 1), self.config.vocab_size)
        return torch.cat([start, tokens[:, :-1]], dim=1)

    def _embed(self, inputs: Tensor) -> Tensor:
        """Token (and learned position) embeddings: (B, L) -> (B, L, d_model)."""
        h = self.token_embedding(inputs)
        if self.position_embedding is not None:
            h = h + self.position_embedding.weight[: inputs.shape[1]]
        return h

    def logits_unchecked(self, tokens: Tensor) -> Tensor:
        """:meth:`forward` without input validation (the training loop's fast path)."""
        inputs = self._inputs(tokens)  # (B, L)
        h = self._embed(inputs)  # (B, L, D)
        angles = (rotary_angles(inputs.shape[1], self.config.head_dim, h.device)
                  if self.config.positions == "rotary" else None)
        for layer in cast(list[nn.TransformerEncoderLayer], list(self.layers)):
            h = _block(layer, h, self.config.n_heads, angles, self.config.norm_first)
        return self.head(self.final_norm(h))  # (B, L, V)

    def forward(self, tokens: Tensor) -> Tensor:
        """Next-token logits at every position.

        Parameters
        ----------
        tokens : Tensor, shape (batch, length), int64

        Returns
        -------
        Tensor, shape (batch, length, vocab_size), float
            ``[b, t]``: logits of ``tokens[b, t]`` (x_{t+1}) given ``tokens[b, :t]``.
        """
        return self.logits_unchecked(self.check_tokens(tokens))

    @torch.no_grad()
    def next_token_log_probs(self, tokens: Tensor) -> Tensor:
        """The network's next-token predictive, in the layout of the exact one.

        Parameters
        ----------
        tokens : Tensor, shape (batch, length), int64

        Returns
        -------
        Tensor, shape (batch, length, vocab_size), float32
            ``[b, t, v]`` = log q(x_{t+1} = v | x_1..x_t), t = 0 .. length - 1, as
            :func:`bayeslens.sequence_posterior.next_token_log_probs` (float64 there).
        """
        return torch.log_softmax(self(tokens).float(), dim=-1)

    def check_tokens(self, tokens: object) -> Tensor:
        """`tokens` if it is an int64 tensor (batch, length) the model can read, else ValueError."""
        if not isinstance(tokens, Tensor):
            raise ValueError(f"tokens must be a torch.Tensor, got {type(tokens).__name__}")
        if tokens.dtype != torch.int64:
            raise ValueError(f"tokens must have dtype int64, got {tokens.dtype}")
        if tokens.ndim != 2 or tokens.shape[0] < 1 or tokens.shape[1] < 1:
            raise ValueError(
                f"tokens must have shape (batch, length) with batch, length >= 1, got shape "
                f"{tuple(tokens.shape)}"
            )
        if tokens.shape[1] > self.config.max_length:
            raise ValueError(
                f"tokens has length {tokens.shape[1]}, longer than this model reads "
                f"(max_length={self.config.max_length})"
            )
        v = self.config.vocab_size
        lo, hi = (int(t) for t in torch.aminmax(tokens))
        if lo < 0 or hi >= v:
            raise ValueError(f"tokens must lie in 0 .. {v - 1} (vocab_size {v}), got {lo}..{hi}")
        return tokens


# ------------------------------------------------------------------------------ reference


class _DenseMaskReference(nn.Module):
    """Stock ``nn.TransformerEncoder`` with a dense causal mask, sharing a model's weights."""

    def __init__(self, model: SequenceModel) -> None:
        super().__init__()
        if model.config.positions != "learned":
            raise ValueError("the dense-mask reference is for learned positions (stock layers "
                             "have no rotary positions)")
        self.model = model
        first = model.layers[0]
        assert isinstance(first, nn.TransformerEncoderLayer)
        self.encoder = nn.TransformerEncoder(first, num_layers=1, enable_nested_tensor=False)
        self.encoder.layers = model.layers  # share, do not copy
        self.encoder.num_layers = len(model.layers)

    def forward(self, tokens: Tensor) -> Tensor:
        m = self.model
        inputs = m._inputs(tokens)
        L = inputs.shape[1]
        # mask[i, j] = True: position i may not attend to position j (a later one)
        mask = torch.ones(L, L, dtype=torch.bool).triu(1)
        h = self.encoder(m._embed(inputs), mask=mask)
        return m.head(m.final_norm(h))


def dense_mask_reference(model: SequenceModel) -> nn.Module:
    """The same network the naive way: stock modules and an (L, L) boolean causal mask.

    Returns a module with ``forward(tokens)`` (no validation) that shares ``model``'s
    parameters. Learned positions only.
    """
    return _DenseMaskReference(model)
