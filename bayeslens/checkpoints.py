"""Trained models as files that load without unpickling.

A saved model is a directory with two files:

- ``weights.safetensors``: the tensors (safetensors holds raw tensors, never code);
- ``model.json``: the model config, the prior's name and settings, the training config, the
  final training loss, the measured NLL gap, and the SHA-256 of ``weights.safetensors``.

A prior with a ``settings()`` method (a seeded :class:`~bayeslens.linear.LinearPool`, say) is
recorded by those settings, so ``load(path, prior=pool)`` can refuse a model trained on another
pool (:func:`check_prior`). Cards from before ``PFNConfig.n_features`` load as 1-feature models.

:func:`load` rebuilds the network from the JSON config and fills it with the weights. It
refuses, with an error that says which, a weights file whose hash differs from the recorded
one, a config that is not a valid :class:`~bayeslens.model.PFNConfig`, and tensors whose
names or shapes do not match the config. Models shipped with the package live in
``bayeslens/pretrained/<name>/`` and load with :func:`load_pretrained`.

Sequence models (:class:`~bayeslens.sequence_model.SequenceModel`) are saved the same way; their
card says ``"model_class": "SequenceModel"`` (a PFN's card has no such field, so PFN cards are
unchanged) and they load with :func:`load_sequence_model`, checked the same way, their pool's
settings included. :func:`load` refuses them, and :func:`load_sequence_model` refuses PFNs, so
each returns the one kind of network it says; a shipped one loads with
:func:`load_pretrained_sequence_model`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from bayeslens.model import PFN, PFNConfig
from bayeslens.sequence_model import SequenceModel, SequenceModelConfig

__all__ = [
    "CARD_FILE",
    "PRETRAINED_ROOT",
    "WEIGHTS_FILE",
    "CheckpointError",
    "check_prior",
    "is_sequence_card",
    "load",
    "load_pretrained",
    "load_pretrained_sequence_model",
    "load_sequence_model",
    "pretrained_dir",
    "prior_settings",
    "read_card",
    "save",
    "sha256_file",
]

WEIGHTS_FILE = "weights.safetensors"
CARD_FILE = "model.json"
FORMAT = "bayeslens-pfn"
FORMAT_VERSION = 1
SEQUENCE_MODEL_CLASS = "SequenceModel"
"""The card's ``model_class`` of a sequence model; a card without the field holds a PFN."""
PRETRAINED_ROOT = Path(__file__).parent / "pretrained"
"""The folder of the shipped models, one subfolder with a card each (read at every call)."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be trusted or does not fit its config."""


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _jsonable(v: Any) -> Any:
    """Plain JSON values: tensors to lists, NaN to None, dataclasses to dicts."""
    if isinstance(v, Tensor):
        return _jsonable(v.tolist())
    if isinstance(v, float):
        return None if not math.isfinite(v) else v
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: _jsonable(getattr(v, f.name)) for f in dataclasses.fields(v)}
    return v


def prior_settings(prior: object) -> dict[str, Any]:
    """A JSON description of a prior: its class and every field (axes as values and weights).

    Axis weights are given as probabilities, or None where uniform. A prior with a
    ``settings()`` method (:class:`~bayeslens.linear.LinearPool`,
    :class:`~bayeslens.linear.LinearGaussian`) is described by its class and those settings,
    which rebuild it and which its ``check_settings`` accepts (a pool's weights are derived
    from its seed and are not written out).
    """
    from bayeslens.priors import Axis  # local: checkpoints need not import priors to load

    if not dataclasses.is_dataclass(prior) or isinstance(prior, type):
        raise ValueError(f"prior must be a prior dataclass instance, got {type(prior)}")
    out: dict[str, Any] = {"class": type(prior).__name__}
    settings = getattr(prior, "settings", None)
    if callable(settings):
        return {**out, **_jsonable(settings())}
    for f in dataclasses.fields(prior):
        v = getattr(prior, f.name)
        if isinstance(v, Axis):
            w = v.log_weights.exp()
            uniform = bool(torch.allclose(w, torch.full_like(w, 1 / len(v))))
            out[f.name] = {"values": v.values.tolist(), "weights": None if uniform else w.tolist()}
        elif isinstance(v, tuple) and v and dataclasses.is_dataclass(v[0]):
            out[f.name] = [prior_settings(p) for p in v]
        elif f.name == "log_family_weights":
            out["family_weights"] = torch.as_tensor(v).exp().tolist()
        else:
            out[f.name] = _jsonable(v)
    return out


def save(
    model: PFN | SequenceModel,
    path: str | os.PathLike[str],
    *,
    prior: object | None = None,
    prior_name: str | None = None,
    train_config: object | None = None,
    final_loss: float | None = None,
    gap: dict[str, Any] | None = None,
    dtype: torch.dtype = torch.float32,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` to the directory ``path`` (created if needed).

    Parameters
    ----------
    dtype : torch.dtype
        float32 or float16 for the weights; bar-distribution borders always stay float32.
    gap : dict, optional
        The measured NLL gap, e.g. ``evaluate.GapResult.to_dict()``.
    extra : dict, optional
        More JSON-able facts for the card (e.g. training time, gap-vs-steps).

    Returns
    -------
    Path
        The directory.
    """
    if dtype not in (torch.float32, torch.float16):
        raise ValueError(f"dtype must be torch.float32 or torch.float16, got {dtype}")
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for k, t in model.state_dict().items():
        t = t.detach().cpu()
        if t.is_floating_point() and not k.endswith("borders"):
            t = t.to(dtype)
        tensors[k] = t.contiguous()
    weights = out / WEIGHTS_FILE
    tmp = out / (WEIGHTS_FILE + ".tmp")
    save_file(tensors, str(tmp))
    os.replace(tmp, weights)
    card: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION}
    if isinstance(model, SequenceModel):
        card["model_class"] = SEQUENCE_MODEL_CLASS
    card |= {
        "model_config": model.config.to_dict(),
        "weights_dtype": str(dtype).removeprefix("torch."),
        "weights_sha256": sha256_file(weights),
        "prior": {
            "name": prior_name or (getattr(prior, "name", None) if prior is not None else None),
            "settings": prior_settings(prior) if prior is not None else None,
        },
        "train_config": _jsonable(train_config),
        "final_loss": final_loss,
        "gap": _jsonable(gap),
    }
    if extra:
        card.update(_jsonable(extra))
    tmp_card = out / (CARD_FILE + ".tmp")
    tmp_card.write_text(json.dumps(card, indent=1) + "\n")
    os.replace(tmp_card, out / CARD_FILE)
    return out


def read_card(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON card of the saved model at directory ``path``."""
    card_path = Path(path) / CARD_FILE
    if not card_path.is_file():
        raise CheckpointError(f"no {CARD_FILE} in {path}")
    try:
        card = json.loads(card_path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{card_path} is not valid JSON: {err}") from err
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise CheckpointError(f"{card_path} is not a {FORMAT} card")
    return card


def check_prior(model: PFN | SequenceModel, prior: object) -> None:
    """Raise CheckpointError unless ``model`` (loaded, with its card) was trained on ``prior``.

    The prior's ``n_features`` (1 if it has none) must be the model's (for a sequence model,
    its ``vocab_size``), and the card's recorded prior settings must pass the prior's
    ``check_settings`` (e.g. a :class:`~bayeslens.linear.LinearPool`'s seed, M, d and sigma,
    a :class:`~bayeslens.sequences.MarkovPool`'s seed and transitions checksum); the error
    names the first setting that differs. A prior without ``check_settings`` raises ValueError.
    """
    check = getattr(prior, "check_settings", None)
    if not callable(check):
        raise ValueError(
            f"prior must have a check_settings method (e.g. a LinearPool) to be checked "
            f"against a card, got {type(prior).__name__}"
        )
    if isinstance(model, SequenceModel):
        vocab_size = getattr(prior, "vocab_size", None)
        if vocab_size != model.config.vocab_size:
            raise CheckpointError(
                f"prior mismatch: {type(prior).__name__} has vocab_size={vocab_size}, the "
                f"model was built for vocab_size={model.config.vocab_size}"
            )
    elif (n_features := getattr(prior, "n_features", 1)) != model.config.n_features:
        raise CheckpointError(
            f"prior mismatch: {type(prior).__name__} has n_features={n_features}, the model "
            f"was built for n_features={model.config.n_features}"
        )
    recorded = (model.metadata.get("prior") or {}).get("settings")
    if not isinstance(recorded, dict) or recorded.get("class") != type(prior).__name__:
        found = recorded.get("class") if isinstance(recorded, dict) else None
        raise CheckpointError(
            f"prior mismatch: the card records prior settings of class {found!r}, not of a "
            f"{type(prior).__name__}"
        )
    try:
        check({k: v for k, v in recorded.items() if k != "class"})
    except ValueError as err:
        raise CheckpointError(f"prior mismatch: {err}") from err


def load(
    path: str | os.PathLike[str],
    *,
    map_location: str | torch.device = "cpu",
    prior: object | None = None,
) -> PFN:
    """Load a saved PFN (float32, eval mode); its card is in ``model.metadata``.

    Parameters
    ----------
    prior : optional
        A prior with ``check_settings`` (e.g. a :class:`~bayeslens.linear.LinearPool`): the
        model is refused unless its card records this prior (:func:`check_prior`).

    Raises
    ------
    CheckpointError
        If the weights' SHA-256 differs from the card's, the card's config is invalid, the
        tensors do not match the config (names, shapes), the card's prior is not ``prior``, or
        the card holds a sequence model (load it with :func:`load_sequence_model`).
    """
    model = _load(Path(path), map_location, prior, sequence=False)
    assert isinstance(model, PFN)
    return model


def load_sequence_model(
    path: str | os.PathLike[str],
    *,
    map_location: str | torch.device = "cpu",
    prior: object | None = None,
) -> SequenceModel:
    """Load a saved :class:`~bayeslens.sequence_model.SequenceModel` (float32, eval mode).

    Checked as :func:`load` checks a PFN; ``prior`` (a
    :class:`~bayeslens.sequences.MarkovPool` or :class:`~bayeslens.sequences.DirichletMarkov`)
    is compared with the card's recorded settings. A PFN's card raises CheckpointError.
    """
    model = _load(Path(path), map_location, prior, sequence=True)
    assert isinstance(model, SequenceModel)
    return model


def _load(
    root: Path, map_location: str | torch.device, prior: object | None, *, sequence: bool
) -> PFN | SequenceModel:
    """:func:`load` (``sequence=False``) or :func:`load_sequence_model` (``sequence=True``)."""
    card = read_card(root)
    model_class = card.get("model_class", "PFN")
    if model_class not in ("PFN", SEQUENCE_MODEL_CLASS):
        raise CheckpointError(f"{root / CARD_FILE} records an unknown model_class "
                              f"{model_class!r}")
    if (model_class == SEQUENCE_MODEL_CLASS) != sequence:
        raise CheckpointError(
            f"{root} holds a {model_class}; load it with "
            f"{'load_sequence_model' if model_class == SEQUENCE_MODEL_CLASS else 'load'}"
        )
    weights = root / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"no {WEIGHTS_FILE} in {root}")
    digest = sha256_file(weights)
    if digest != card.get("weights_sha256"):
        raise CheckpointError(
            f"hash mismatch: {weights} has SHA-256 {digest}, but {CARD_FILE} records "
            f"{card.get('weights_sha256')}; the weights were changed or corrupted"
        )
    config: PFNConfig | SequenceModelConfig
    try:
        config = (SequenceModelConfig if sequence else PFNConfig).from_dict(card["model_config"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(
            f"config mismatch: {CARD_FILE} has an invalid model_config: {err}"
        ) from err
    tensors = load_file(str(weights), device=str(map_location))
    model: PFN | SequenceModel = (
        SequenceModel(config) if isinstance(config, SequenceModelConfig) else PFN(config)
    )
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in tensors.items()}
    if expected != found:
        missing = sorted(set(expected) - set(found))
        unexpected = sorted(set(found) - set(expected))
        shapes = sorted(
            f"{k}: file {found[k]} vs config {expected[k]}"
            for k in set(found) & set(expected) if found[k] != expected[k]
        )
        raise CheckpointError(
            f"config mismatch: the weights do not fit model_config {config}: missing "
            f"{missing[:5]}, unexpected {unexpected[:5]}, shape differences {shapes[:5]}"
        )
    model.load_state_dict({k: v.to(torch.float32) for k, v in tensors.items()})
    model.to(map_location)
    model.eval()
    model.metadata = card
    if prior is not None:
        check_prior(model, prior)
    return model


def pretrained_dir(name: str) -> Path:
    """Directory of the model ``name`` shipped in ``bayeslens/pretrained/``."""
    root = PRETRAINED_ROOT
    available = sorted(p.name for p in root.iterdir() if (p / CARD_FILE).is_file()) if (
        root.is_dir()
    ) else []
    if name not in available:
        raise ValueError(f"no shipped model named {name!r}; available: {available}")
    return root / name


def is_sequence_card(card: dict[str, Any]) -> bool:
    """Whether a card (:func:`read_card`) holds a sequence model rather than a PFN."""
    return card.get("model_class") == SEQUENCE_MODEL_CLASS


def load_pretrained(name: str) -> PFN:
    """Load a model shipped with the package, e.g. ``load_pretrained("steps")`` (offline)."""
    return load(pretrained_dir(name))


def load_pretrained_sequence_model(name: str) -> SequenceModel:
    """Load a sequence model shipped with the package, e.g.
    ``load_pretrained_sequence_model("markov_pool")`` (offline, checked as
    :func:`load_sequence_model`)."""
    return load_sequence_model(pretrained_dir(name))
