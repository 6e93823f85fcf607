"""Training a PFN on a prior: a fresh batch of datasets at every step.

There is no data set and no epoch: every step draws ``batch_size`` new datasets of
``n_points`` points from the prior, splits each into a context of ``n_context`` points
(drawn uniformly from 1 .. n_points - 1, one size per batch) and queries (the rest), and
minimises the model's negative log density of the query targets. Adam, linear warm-up, then
cosine decay to ``min_lr_ratio * lr``.

The run is reproducible from ``TrainConfig.seed``: one generator draws the bucket borders,
another initialises the network, a third draws every batch. With a ``workdir`` the loop writes
a resumable state (model, Adam moments, data generator, losses; safetensors + JSON, never
pickle) every ``checkpoint_every`` steps and resumes from it when started again.

Several processes (``torchrun``, one machine or many): whenever a ``torch.distributed``
process group is initialised, :func:`train` wraps the network in PyTorch's
``DistributedDataParallel``. The model starts from the same seeded weights on every process
(rank); each rank draws its own batches from a data generator seeded with
``data_seed(seed, rank)``, so a step sees ``world_size * batch_size`` fresh datasets;
the gradients are averaged across ranks, and so is the logged loss. Rank 0 alone shows
progress and writes files; at each checkpoint it also stores every rank's data-generator state,
and on resume each rank reads the state and takes its own. The command line joins the process
group that ``torchrun`` describes in its environment variables: NCCL with one GPU per local
rank when CUDA is present, else gloo on the CPU. A single process is unchanged: rank 0's data
generator is the single-process one.

Sequences: with a :class:`~bayeslens.sequence_model.SequenceModelConfig` and a sequence prior
(:class:`~bayeslens.sequences.MarkovPool`, :class:`~bayeslens.sequences.DirichletMarkov`) the
same loop trains a :class:`~bayeslens.sequence_model.SequenceModel`: each step draws
``prior.sample(batch_size, n_points, generator)`` sequences of ``n_points`` tokens and minimises
the mean next-token cross-entropy over all their positions. Progress, checkpoints, resume,
snapshots and ``torchrun`` are the PFN's; only drawing the batch, the loss and building the
network differ, in small functions that dispatch on the config.

Command line (``bayeslens-train`` or ``python -m bayeslens.train``)::

    python -m bayeslens.train --preset steps            # the shipped model's recipe
    python -m bayeslens.train --prior sines_e2 --steps 2000 --lr 1e-3 --out runs/sines
    torchrun --nproc_per_node 4 -m bayeslens.train --preset sines   # 4 GPUs of one machine
    python -m bayeslens.train --prior markov_pool_v3 --n-points 32 --steps 2000 --lr 1e-3
    python -m bayeslens.train --preset markov_pool      # a shipped sequence model's recipe
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar, overload

import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from bayeslens import checkpoints, paper, sequences
from bayeslens.bar_distribution import borders_from_prior
from bayeslens.model import PFN, PFNConfig
from bayeslens.priors import CoinPrior, Curriculum
from bayeslens.sequence_model import POSITIONS, SequenceModel, SequenceModelConfig
from bayeslens.sequences import DirichletMarkov, MarkovPool

__all__ = [
    "PFN_PRESETS",
    "PRESETS",
    "PRIORS",
    "SEQUENCE_PRESETS",
    "Preset",
    "StepInfo",
    "TrainConfig",
    "TrainResult",
    "data_seed",
    "loss_fn",
    "main",
    "resolve_device",
    "run_flops",
    "sample_batch",
    "sequence_loss",
    "step_flops",
    "train",
]

log = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", PFN, SequenceModel)
"""The network a run trains: a PFN, or a sequence model for a sequence prior."""


@dataclass(frozen=True)
class TrainConfig:
    """How a PFN is trained.

    Attributes
    ----------
    steps, batch_size, lr
        Optimiser steps, datasets per step (per process under ``torchrun``), peak Adam
        learning rate.
    warmup_steps : int
        Linear warm-up from 0 to ``lr``; then cosine decay to ``min_lr_ratio * lr``.
    n_points : int
        Points per training dataset (context + queries); context sizes are 1 .. n_points - 1.
        For a sequence model: tokens per training sequence.
    grad_clip : float
        Max gradient norm (0: no clipping).
    border_datasets, border_points
        The bar distribution's borders come from the targets of this many prior datasets of
        this many points (the paper: 10,000 of 10). Unused by sequence models and classifiers.
    seed : int
    checkpoint_every : int
        Steps between resumable checkpoints when a ``workdir`` is given.
    """

    steps: int = 10_000
    batch_size: int = 32
    lr: float = 3e-4
    warmup_steps: int = 500
    min_lr_ratio: float = 0.0
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    n_points: int = 20
    border_datasets: int = 10_000
    border_points: int = 10
    seed: int = 0
    checkpoint_every: int = 1000

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "n_points", "border_datasets", "border_points",
                     "checkpoint_every"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        if self.n_points < 2:
            raise ValueError("n_points must be >= 2 (at least one context and one query)")
        if not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be an int >= 0, got {self.warmup_steps!r}")
        for name in ("lr", "min_lr_ratio", "weight_decay", "grad_clip"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")

    def lr_at(self, step: int) -> float:
        """Learning rate used for optimiser step ``step`` (0-based)."""
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        decay_steps = max(1, self.steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / decay_steps)
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        return self.lr * (self.min_lr_ratio + (1 - self.min_lr_ratio) * cosine)


class TrainBatch(NamedTuple):
    """One training batch, float32: context (batch, n_context), queries (batch, n_query).

    The x of a prior with d > 1 input features carry a last axis: x_context
    (batch, n_context, d) and x_query (batch, n_query, d).
    """

    x_context: Tensor
    y_context: Tensor
    x_query: Tensor
    y_query: Tensor


def sample_batch(
    prior: Any, batch_size: int, n_points: int, generator: torch.Generator
) -> TrainBatch:
    """Fresh datasets from the prior, split at one context size drawn from 1 .. n_points - 1.

    The priors sample in float64 (exact inference needs it); the model gets float32. The
    split is along the points axis, so x of shape (B, n_points, d) splits as (B, n_points) does.
    """
    n_context = int(torch.randint(1, n_points, (1,), generator=generator))
    batch = prior.sample(batch_size, n_points, generator)
    x = batch.x.to(torch.float32)  # (B, n_points) or (B, n_points, d)
    y = batch.y.to(torch.float32)  # (B, n_points)
    return TrainBatch(x[:, :n_context], y[:, :n_context], x[:, n_context:], y[:, n_context:])


def loss_fn(model: PFN, logits: Tensor, y_query: Tensor) -> Tensor:
    """Mean negative log density (regression) or cross-entropy (classification) per query."""
    if model.bar is not None:
        return -model.bar.log_density(logits.float(), y_query).mean()
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]),
                           y_query.reshape(-1).long())


def sequence_loss(logits: Tensor, tokens: Tensor) -> Tensor:
    """Mean next-token cross-entropy over every position of every sequence, in nats.

    Parameters
    ----------
    logits : Tensor, shape (batch, length, vocab_size)
        A :class:`~bayeslens.sequence_model.SequenceModel`'s output: ``[b, t]`` predicts
        ``tokens[b, t]``.
    tokens : Tensor, shape (batch, length), int64
    """
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), tokens.reshape(-1))


def _draw(source: Any, model_config: PFNConfig | SequenceModelConfig,
          train_config: TrainConfig, generator: torch.Generator) -> tuple[Tensor, ...]:
    """One step's fresh batch: a :class:`TrainBatch`, or (tokens (batch, n_points),)."""
    if isinstance(model_config, SequenceModelConfig):
        return (source.sample(train_config.batch_size, train_config.n_points, generator).tokens,)
    return sample_batch(source, train_config.batch_size, train_config.n_points, generator)


def data_seed(seed: int, rank: int = 0) -> int:
    """Seed of process ``rank``'s data generator: ``seed + 2 + 7919 * rank``.

    Rank 0 (and a single process) uses ``seed + 2``; the network's initial weights use
    ``seed`` and the bucket borders ``seed + 1`` on every rank. torch's CPU generator keeps
    32 bits of a seed, so the ranks' seeds stay small and distinct.
    """
    return seed + 2 + 7919 * rank


def step_flops(cfg: PFNConfig, batch: int, n_context: int, n_query: int) -> float:
    """Analytic FLOPs of one training step (forward x 3), matmuls and attention only.

    Counts what :class:`~bayeslens.model.PFN` computes: keys and values from the context
    tokens only (plus any sink tokens), scores against those, and in the last layer the
    queries' outputs only. ``benchmarks/bench_train.py`` counts the same for its GFLOP/s.
    """
    d, f = cfg.d_model, cfg.d_ff
    keys = n_context + cfg.n_sink_tokens  # sink tokens are keys like the context
    n = keys + n_query

    def layer(m: int) -> float:
        """A layer computing outputs for `m` tokens."""
        return (2 * m * d * d  # queries
                + 2 * keys * d * 2 * d  # keys and values
                + 2 * 2 * m * keys * d  # scores and weighted values
                + 2 * m * d * d  # output projection
                + 2 * 2 * m * d * f)  # feed-forward

    encoder = (cfg.n_layers - 1) * layer(n) + layer(n_query)
    hidden = cfg.head_hidden
    head = (2 * n_query * (d * hidden + hidden * cfg.n_outputs) if hidden
            else 2 * n_query * d * cfg.n_outputs)
    return 3.0 * batch * (encoder + head)


def run_flops(model_config: PFNConfig, train_config: TrainConfig) -> float:
    """Analytic FLOPs of a whole run on one process: :func:`step_flops` per step, averaged
    over the context sizes 1 .. n_points - 1 that the steps draw uniformly."""
    n = train_config.n_points
    per_step = sum(step_flops(model_config, train_config.batch_size, k, n - k)
                   for k in range(1, n)) / (n - 1)
    return per_step * train_config.steps


@dataclass
class StepInfo:
    """What a callback sees after each optimiser step."""

    step: int
    """Steps done so far (1 after the first)."""
    loss: float
    lr: float
    model: PFN | SequenceModel
    elapsed: float
    """Seconds of training so far (including earlier runs this one resumed)."""


@dataclass
class TrainResult(Generic[ModelT]):
    """What :func:`train` returns: the model, its training history and its snapshots.

    ``losses[i]``, ``lrs[i]`` and ``elapsed[i]`` belong to step ``i + 1``. ``model`` and the
    snapshots are PFNs, or sequence models for a :class:`SequenceModelConfig`.
    """

    model: ModelT
    losses: list[float]
    """The training loss of every step (averaged over the ranks under ``torchrun``)."""
    seconds: float
    """Wall time of the training, including earlier runs this one resumed."""
    final_loss: float
    """Mean loss over the last 5% of steps (at least the last step)."""
    config: TrainConfig
    model_config: PFNConfig | SequenceModelConfig
    extra: dict[str, Any] = field(default_factory=dict)
    """The device (``"device"``) and the number of processes (``"world_size"``)."""
    lrs: list[float] = field(default_factory=list)
    """The learning rate of every step."""
    elapsed: list[float] = field(default_factory=list)
    """Seconds of training after every step (NaN for steps of a resumed state that did not
    record them)."""
    snapshots: dict[int, ModelT] = field(default_factory=dict)
    """The model after each of ``snapshot_steps``: CPU copies in eval mode."""


# ------------------------------------------------------------------------- checks, devices


def _distributed() -> tuple[bool, int, int]:
    """(whether a process group is initialised, rank, world size)."""
    if dist.is_available() and dist.is_initialized():
        return True, dist.get_rank(), dist.get_world_size()
    return False, 0, 1


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The device to train on: ``device`` checked, or the default.

    The default is CUDA when available (under ``torchrun``, the GPU of the local rank), else
    the CPU. An unknown device, or CUDA/MPS where there is none, raises ValueError.
    """
    if device is None:
        if not torch.cuda.is_available():
            return torch.device("cpu")
        if _distributed()[0]:
            local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
            return torch.device("cuda", local % torch.cuda.device_count())
        return torch.device("cuda")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as err:
        raise ValueError(
            f"device must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}"
        ) from err
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r}, but CUDA is not available here")
    if dev.type == "cuda" and (dev.index or 0) >= torch.cuda.device_count():
        raise ValueError(
            f"device={device!r}, but there are {torch.cuda.device_count()} CUDA devices"
        )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={device!r}, but MPS is not available here")
    return dev


def _check_train_args(
    prior: Any, model_config: Any, train_config: Any, snapshot_steps: Sequence[int]
) -> None:
    """Every bad setting of :func:`train`, before any work."""
    if not callable(getattr(prior, "sample", None)):
        raise ValueError(
            "prior must have a sample(batch_size, n_points, generator) method (a prior "
            f"from bayeslens.priors or bayeslens.paper), got {type(prior).__name__}"
        )
    if not isinstance(train_config, TrainConfig):
        raise ValueError(f"train_config must be a TrainConfig, got {type(train_config).__name__}")
    if isinstance(model_config, SequenceModelConfig):
        _check_sequence_args(prior, model_config, train_config)
    elif not isinstance(model_config, PFNConfig):
        raise ValueError(
            "model_config must be a PFNConfig (a PFN) or a SequenceModelConfig (a sequence "
            f"model), got {type(model_config).__name__}"
        )
    else:
        _check_pfn_args(prior, model_config, train_config)
    bad = [s for s in snapshot_steps
           if not isinstance(s, int) or isinstance(s, bool) or not 1 <= s <= train_config.steps]
    if bad:
        raise ValueError(
            f"snapshot_steps must be ints in 1 .. steps={train_config.steps}, got {bad}"
        )


def _check_sequence_args(
    prior: Any, model_config: SequenceModelConfig, train_config: TrainConfig
) -> None:
    if not isinstance(prior, MarkovPool | DirichletMarkov):
        raise ValueError(
            "a SequenceModelConfig trains on a sequence prior (a MarkovPool or a "
            f"DirichletMarkov from bayeslens.sequences), got {type(prior).__name__}"
        )
    if prior.vocab_size != model_config.vocab_size:
        raise ValueError(
            f"the prior has vocab_size={prior.vocab_size}, but model_config.vocab_size="
            f"{model_config.vocab_size}; they must be equal"
        )
    if train_config.n_points > model_config.max_length:
        raise ValueError(
            f"train_config.n_points={train_config.n_points} gives sequences longer than "
            f"model_config.max_length={model_config.max_length}"
        )


def _check_pfn_args(prior: Any, model_config: PFNConfig, train_config: TrainConfig) -> None:
    if isinstance(prior, MarkovPool | DirichletMarkov):
        raise ValueError(
            f"the prior {type(prior).__name__} draws token sequences: train a sequence model "
            "on it (model_config a SequenceModelConfig), not a PFN"
        )
    n_features = getattr(prior, "n_features", 1)  # a prior that does not say is 1-d
    if n_features != model_config.n_features:
        raise ValueError(
            f"the prior {type(prior).__name__} has n_features={n_features} input features, "
            f"but model_config.n_features={model_config.n_features}; they must be equal"
        )
    if train_config.n_points - 1 > model_config.max_context:
        raise ValueError(
            f"train_config.n_points={train_config.n_points} gives contexts of up to "
            f"{train_config.n_points - 1} points, more than max_context={model_config.max_context}"
        )
    if isinstance(prior, CoinPrior) == model_config.is_regression:
        raise ValueError(
            f"model_config.n_classes={model_config.n_classes} does not fit the prior "
            f"{type(prior).__name__}: the coin needs n_classes=2, regression priors 0"
        )


def _autocast(dev: torch.device) -> Any:
    """bf16 autocast on GPUs that compute in bf16 natively (compute capability 8+), else none."""
    if dev.type == "cuda" and torch.cuda.get_device_capability(dev)[0] >= 8:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


# ---------------------------------------------------------------------- resumable state


def _state_paths(workdir: Path) -> tuple[Path, Path]:
    return workdir / "state.safetensors", workdir / "state.json"


def _generator_key(rank: int) -> str:
    """Rank 0's key is the single-process one, so one-process states read as before."""
    return "data_generator" if rank == 0 else f"data_generator.rank{rank}"


def _gather_generator_states(data_gen: torch.Generator, dev: torch.device) -> list[Tensor]:
    """Every rank's data-generator state (uint8 tensors), on every rank."""
    _, _, world = _distributed()
    state = data_gen.get_state()
    if world == 1:
        return [state]
    comm = dev if dist.get_backend() == "nccl" else torch.device("cpu")
    mine = state.to(comm)
    states = [torch.empty_like(mine) for _ in range(world)]
    dist.all_gather(states, mine)
    return [s.cpu() for s in states]


def _save_state(
    workdir: Path, step: int, model: nn.Module, opt: torch.optim.Optimizer,
    generator_states: list[Tensor], losses: list[float], elapsed: list[float],
    meta: dict[str, Any],
) -> None:
    """Resumable state: model, Adam moments, each rank's data generator; safetensors + JSON."""
    tensors: dict[str, Tensor] = {f"model.{k}": v.detach().cpu().contiguous()
                                  for k, v in model.state_dict().items()}
    params = list(model.parameters())
    for i, p in enumerate(params):
        st = opt.state.get(p, {})
        for k in ("exp_avg", "exp_avg_sq"):
            if k in st:
                tensors[f"opt.{i}.{k}"] = st[k].detach().cpu().contiguous()
    for rank, state in enumerate(generator_states):
        tensors[_generator_key(rank)] = state
    tensors["losses"] = torch.tensor(losses, dtype=torch.float64)
    tensors["elapsed"] = torch.tensor(elapsed, dtype=torch.float64)
    st_path, js_path = _state_paths(workdir)
    save_file(tensors, str(st_path) + ".tmp")
    os.replace(str(st_path) + ".tmp", st_path)
    card = {**meta, "step": step, "world_size": len(generator_states)}
    js_path.with_suffix(".tmp").write_text(json.dumps(card, indent=1))
    os.replace(js_path.with_suffix(".tmp"), js_path)


def _load_state(
    workdir: Path, model: nn.Module, opt: torch.optim.Optimizer, data_gen: torch.Generator,
    meta: dict[str, Any],
) -> tuple[int, list[float], list[float]]:
    """Restore a state into the model, optimiser and this rank's data generator."""
    _, rank, world = _distributed()
    st_path, js_path = _state_paths(workdir)
    saved = json.loads(js_path.read_text())
    for key in ("model_config", "train_config", "prior", "prior_settings"):
        if saved.get(key) != json.loads(json.dumps(meta.get(key))):  # as JSON holds it
            raise ValueError(
                f"cannot resume from {workdir}: its {key} differs from this run's "
                f"({saved.get(key)} vs {meta.get(key)}); use another workdir or resume=False"
            )
    if saved.get("world_size", 1) != world:
        raise ValueError(
            f"cannot resume from {workdir}: it was written by {saved.get('world_size', 1)} "
            f"processes, this run has {world}; use as many or another workdir"
        )
    tensors = load_file(str(st_path))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    device = next(model.parameters()).device
    step = int(saved["step"])
    for i, p in enumerate(model.parameters()):
        if f"opt.{i}.exp_avg" in tensors:
            opt.state[p] = {
                "step": torch.tensor(float(step)),
                "exp_avg": tensors[f"opt.{i}.exp_avg"].to(device),
                "exp_avg_sq": tensors[f"opt.{i}.exp_avg_sq"].to(device),
            }
    data_gen.set_state(tensors[_generator_key(rank)])
    meta["seconds_before"] = float(saved.get("seconds", 0.0))
    losses = tensors["losses"].tolist()
    elapsed = (tensors["elapsed"].tolist() if "elapsed" in tensors
               else [math.nan] * len(losses))
    return step, losses, elapsed


def _check_same_step(step: int, dev: torch.device) -> None:
    """Under torchrun: every rank must resume from the same step (a shared workdir)."""
    on, _, _ = _distributed()
    if not on:
        return
    comm = dev if dist.get_backend() == "nccl" else torch.device("cpu")
    t = torch.tensor([step, -step], dtype=torch.int64, device=comm)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    if int(t[0]) != -int(t[1]):
        raise ValueError(
            f"the ranks found states of different steps (from {-int(t[1])} to {int(t[0])}): "
            "the workdir must be one directory that every node sees"
        )


@overload
def build_model(prior: Any, model_config: PFNConfig, train_config: TrainConfig) -> PFN: ...


@overload
def build_model(
    prior: Any, model_config: SequenceModelConfig, train_config: TrainConfig
) -> SequenceModel: ...


def build_model(
    prior: Any, model_config: PFNConfig | SequenceModelConfig, train_config: TrainConfig
) -> PFN | SequenceModel:
    """The untrained network of a run: weights from the seed, a PFN's borders from the prior."""
    if isinstance(model_config, SequenceModelConfig):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(train_config.seed)
            return SequenceModel(model_config)
    borders = None
    if model_config.is_regression:
        border_gen = torch.Generator().manual_seed(train_config.seed + 1)
        borders = borders_from_prior(
            prior, model_config.n_buckets, generator=border_gen,
            n_datasets=train_config.border_datasets, n_points=train_config.border_points,
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(train_config.seed)
        return PFN(model_config, borders)


def _weights_digest(model: nn.Module) -> str:
    """SHA-256 over the model's tensors in state-dict order (names, shapes and bytes)."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(f"{name}{tuple(t.shape)}".encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _cpu_copy(model: PFN | SequenceModel) -> PFN | SequenceModel:
    """An eval-mode copy of ``model`` on the CPU (the global RNG is left untouched)."""
    copy: PFN | SequenceModel
    with torch.random.fork_rng(devices=[]):
        if isinstance(model, SequenceModel):
            copy = SequenceModel(model.config)
        else:
            borders = model.bar.borders.detach().cpu() if model.bar is not None else None
            copy = PFN(model.config, borders)
    copy.load_state_dict({k: v.detach().cpu() for k, v in model.state_dict().items()})
    return copy.eval()


class _BatchLoss(nn.Module):
    """The training objective as a module, so that DistributedDataParallel can wrap it."""

    def __init__(self, model: PFN, autocast: Any) -> None:
        super().__init__()
        self.model = model
        self.autocast = autocast

    def forward(self, xc: Tensor, yc: Tensor, xq: Tensor, yq: Tensor) -> Tensor:
        with self.autocast:
            logits = self.model.logits_unchecked(xc, yc, xq)
        return loss_fn(self.model, logits, yq)


class _SequenceLoss(nn.Module):
    """A sequence model's objective as a module (for DistributedDataParallel)."""

    def __init__(self, model: SequenceModel, autocast: Any) -> None:
        super().__init__()
        self.model = model
        self.autocast = autocast

    def forward(self, tokens: Tensor) -> Tensor:
        with self.autocast:
            logits = self.model.logits_unchecked(tokens)
        return sequence_loss(logits, tokens)


def _objective(model: PFN | SequenceModel, autocast: Any) -> nn.Module:
    """The loss of one batch as a module: ``objective(*batch)`` for a batch from ``_draw``."""
    if isinstance(model, SequenceModel):
        return _SequenceLoss(model, autocast)
    return _BatchLoss(model, autocast)


def _check_init(init: object, model_config: PFNConfig | SequenceModelConfig) -> None:
    """ValueError unless ``init`` can start a run of ``model_config`` (fine-tuning)."""
    if isinstance(model_config, SequenceModelConfig):
        if not isinstance(init, SequenceModel) or init.config != model_config:
            raise ValueError(
                "init must be a SequenceModel of model_config's architecture, got "
                f"{getattr(init, 'config', type(init).__name__)}"
            )
    elif not isinstance(init, PFN) or replace(init.config, max_context=1) != replace(
        model_config, max_context=1
    ):
        raise ValueError(
            "init must be a PFN with model_config's architecture (max_context aside), "
            f"got {getattr(init, 'config', type(init).__name__)}"
        )


def _load_snapshot(path: Path, model_config: PFNConfig | SequenceModelConfig) -> Any:
    """A snapshot saved by an earlier run of this one, as its kind of network."""
    if isinstance(model_config, SequenceModelConfig):
        return checkpoints.load_sequence_model(path)
    return checkpoints.load(path)


# --------------------------------------------------------------------------------- train


@overload
def train(
    prior: Any, model_config: PFNConfig, train_config: TrainConfig, *,
    workdir: str | os.PathLike[str] | None = None, resume: bool = True,
    callback: Callable[[StepInfo], None] | None = None, progress: bool = True,
    device: str | torch.device | None = None, snapshot_steps: Sequence[int] = (),
    compile: bool = False, init: PFN | None = None,
) -> TrainResult[PFN]: ...


@overload
def train(
    prior: Any, model_config: SequenceModelConfig, train_config: TrainConfig, *,
    workdir: str | os.PathLike[str] | None = None, resume: bool = True,
    callback: Callable[[StepInfo], None] | None = None, progress: bool = True,
    device: str | torch.device | None = None, snapshot_steps: Sequence[int] = (),
    compile: bool = False, init: SequenceModel | None = None,
) -> TrainResult[SequenceModel]: ...


def train(
    prior: Any,
    model_config: PFNConfig | SequenceModelConfig,
    train_config: TrainConfig,
    *,
    workdir: str | os.PathLike[str] | None = None,
    resume: bool = True,
    callback: Callable[[StepInfo], None] | None = None,
    progress: bool = True,
    device: str | torch.device | None = None,
    snapshot_steps: Sequence[int] = (),
    compile: bool = False,
    init: PFN | SequenceModel | None = None,
) -> TrainResult[Any]:
    """Train a PFN on ``prior``, or a sequence model on a sequence prior.

    Parameters
    ----------
    prior
        A prior from :mod:`bayeslens.priors` or :mod:`bayeslens.linear`
        (``sample(batch, points, generator)``, x of shape (batch, points) or, for a prior of
        ``n_features = d > 1``, (batch, points, d)), or a
        :class:`~bayeslens.priors.Curriculum`: then each step's batch comes from its
        ``prior_at(step)``, and the borders from its target. For a sequence model, a
        :class:`~bayeslens.sequences.MarkovPool` or :class:`~bayeslens.sequences.DirichletMarkov`
        (``sample(batch, length, generator)``, tokens of shape (batch, length)).
    model_config, train_config
        What to build and how to train it: a :class:`~bayeslens.model.PFNConfig` (a PFN) or a
        :class:`~bayeslens.sequence_model.SequenceModelConfig` (a sequence model, trained on
        sequences of ``train_config.n_points`` tokens).
    workdir : path, optional
        Where to keep the resumable state (every ``checkpoint_every`` steps and at the end)
        and snapshots. Without one, nothing is written.
    resume : bool
        Continue from ``workdir``'s state if there is one (its configs must match).
    callback : callable, optional
        Called with a :class:`StepInfo` after every step (on every rank under ``torchrun``).
    progress : bool
        Show a tqdm bar with the running loss (rank 0 only).
    device : optional
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``; the default is
        ``resolve_device()``'s. On GPUs with native bf16 the forward pass runs under bf16
        autocast.
    snapshot_steps : sequence of int
        Steps (in 1 .. ``steps``) after which a copy of the model is kept in
        ``TrainResult.snapshots``, and, with a ``workdir``, saved to
        ``workdir/snapshots/step_XXXXXXX``.
    compile : bool
        ``torch.compile`` the forward pass and loss (dynamic shapes: the context size varies).
        Needs a C++ compiler; compiling takes a minute or two, then steps are faster.
    init : PFN or SequenceModel, optional
        Start from this network's weights and bar borders instead of the seed's (fine-tuning):
        its architecture must be ``model_config``'s except, for a PFN, possibly
        ``max_context``. A ``workdir`` state, when resumed, takes precedence.

    Returns
    -------
    TrainResult
        The trained model (in eval mode, on ``device``), the loss, learning rate and elapsed
        time of every step, the snapshots, and the wall time.

    Raises
    ------
    ValueError
        Before any work, for a bad setting: a context longer than ``max_context``, an
        unknown or absent device, snapshot steps outside 1 .. steps, a classifier for a
        regression prior (or the reverse), a prior whose ``n_features`` (1 if it has none)
        differs from ``model_config.n_features``; for a sequence model, a prior that is not a
        sequence prior or has another ``vocab_size``, sequences longer than ``max_length``.
        ``TrainConfig`` checks its own fields.
    """
    curriculum = prior if isinstance(prior, Curriculum) else None
    _check_train_args(curriculum.target if curriculum else prior, model_config, train_config,
                      snapshot_steps)
    dev = resolve_device(device)
    distributed, rank, world = _distributed()
    model = build_model(prior, model_config, train_config)
    if init is not None:
        _check_init(init, model_config)
        model.load_state_dict(init.state_dict())
    model = model.to(dev)
    model.train()
    # fused Adam: one kernel for all parameters instead of ~10 small ops per tensor
    opt = torch.optim.Adam(model.parameters(), lr=train_config.lr,
                           weight_decay=train_config.weight_decay, fused=True)
    data_gen = torch.Generator().manual_seed(data_seed(train_config.seed, rank))
    meta = {
        "model_config": model_config.to_dict(),
        "train_config": asdict(train_config),
        "prior": getattr(prior, "name", type(prior).__name__),
    }
    if callable(getattr(prior, "settings", None)):  # a seeded pool: its name is not enough
        meta["prior_settings"] = prior.settings()
    if init is not None:  # a resumed fine-tuning must have started from the same weights
        meta["init"] = _weights_digest(init)
    meta_saved: dict[str, Any] = dict(meta)
    wd = Path(workdir) if workdir is not None else None
    step, losses, elapsed = 0, list[float](), list[float]()
    snapshots: dict[int, Any] = {}
    if wd is not None:
        wd.mkdir(parents=True, exist_ok=True)
        if resume and _state_paths(wd)[1].is_file():
            step, losses, elapsed = _load_state(wd, model, opt, data_gen, meta_saved)
            log.info("resumed from %s at step %d", wd, step)
            for s in sorted(set(snapshot_steps)):
                path = wd / "snapshots" / f"step_{s:07d}"
                if s <= step and path.is_dir():
                    snapshots[s] = _load_snapshot(path, model_config)
        _check_same_step(step, dev)
    lrs = [train_config.lr_at(i) for i in range(step)]
    objective = _objective(model, _autocast(dev))
    if distributed:
        if dev.type == "cuda" and dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
        objective = DistributedDataParallel(
            objective, device_ids=[dev.index] if dev.type == "cuda" else None
        )
    # max-autotune lets Inductor try its own GEMM kernels against the BLAS call per shape; on
    # the project's CPU it kept BLAS for every matmul (profiled), and the gain over eager
    # (about 12%, benchmarks/bench_train.py) comes from fusing the elementwise work
    step_loss = (torch.compile(objective, dynamic=True, mode="max-autotune-no-cudagraphs")
                 if compile else objective)
    wanted = set(snapshot_steps)
    t0 = time.perf_counter() - float(meta_saved.get("seconds_before", 0.0))
    bar = tqdm(total=train_config.steps, initial=step, disable=not progress or rank != 0,
               desc="train", dynamic_ncols=True)
    running = losses[-1] if losses else float("nan")
    while step < train_config.steps:
        lr = train_config.lr_at(step)
        for group in opt.param_groups:
            group["lr"] = lr
        source = curriculum.prior_at(step) if curriculum else prior
        b = tuple(t.to(dev, non_blocking=True)
                  for t in _draw(source, model_config, train_config, data_gen))
        loss = step_loss(*b)
        opt.zero_grad(set_to_none=True)
        loss.backward()  # under DDP: gradients averaged across the ranks here
        if train_config.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), train_config.grad_clip)
        opt.step()
        step += 1
        value_t = loss.detach()
        if distributed:
            value_t = value_t.clone()
            dist.all_reduce(value_t)  # a sum (gloo has no average)
            value_t /= world
        value = value_t.item()
        if not math.isfinite(value):
            raise FloatingPointError(f"loss became {value} at step {step}; lower the lr")
        losses.append(value)
        lrs.append(lr)
        elapsed.append(time.perf_counter() - t0)
        running = value if math.isnan(running) else 0.98 * running + 0.02 * value
        bar.update(1)
        if step % 20 == 0 or step == train_config.steps:
            bar.set_postfix(loss=f"{running:.4f}", lr=f"{lr:.2e}")
        if callback is not None:
            callback(StepInfo(step, value, lr, model, elapsed[-1]))
        if step in wanted:
            snapshots[step] = _cpu_copy(model)
            if wd is not None and rank == 0:
                checkpoints.save(snapshots[step], wd / "snapshots" / f"step_{step:07d}",
                                 prior=prior, train_config=train_config, final_loss=running,
                                 extra={"step": step, "elapsed_seconds": elapsed[-1]})
        if wd is not None and (step % train_config.checkpoint_every == 0
                               or step == train_config.steps):
            generator_states = _gather_generator_states(data_gen, dev)
            if rank == 0:
                _save_state(wd, step, model, opt, generator_states, losses, elapsed,
                            {**meta, "seconds": time.perf_counter() - t0})
    bar.close()
    seconds = time.perf_counter() - t0
    model.eval()
    tail = max(1, len(losses) // 20)
    final_loss = sum(losses[-tail:]) / tail if losses else float("nan")
    return TrainResult(model, losses, seconds, final_loss, train_config, model_config,
                       extra={"device": str(dev), "world_size": world}, lrs=lrs,
                       elapsed=elapsed, snapshots=snapshots)


# ---------------------------------------------------------------------------------- presets


ConfigT = TypeVar("ConfigT", PFNConfig, SequenceModelConfig)
"""What a preset builds: a PFN's config, or a sequence model's."""


@dataclass(frozen=True)
class Preset(Generic[ConfigT]):
    """A named, rerunnable recipe: prior, architecture, training.

    ``model`` is a :class:`~bayeslens.model.PFNConfig` (a PFN) or a
    :class:`~bayeslens.sequence_model.SequenceModelConfig` (a sequence model, on a sequence
    prior of :data:`PRIORS`).
    """

    prior: str
    model: ConfigT
    train: TrainConfig
    eval_datasets: int = 10_000
    """Fresh datasets (sequences, for a sequence model) the card's gap (KL) is measured on."""
    snapshots: int = 10
    """Snapshots at every 1/snapshots of the run, for the gap-vs-steps curve."""
    snapshot_steps: tuple[int, ...] = ()
    """Snapshot steps given explicitly, instead of ``snapshots`` evenly spaced ones (a
    sequence model passes its phases in the first few hundred steps); steps past the run's
    end are left out when ``--steps`` shortens it."""
    fp16: bool = False
    compile: bool = False
    init_from: str | None = None
    """A shipped model (``load_pretrained``) to fine-tune from, instead of the seed's weights."""

    def snapshot_schedule(self, steps: int) -> list[int]:
        """The snapshot steps of a run of ``steps`` steps (sorted, in 1 .. steps)."""
        if self.snapshot_steps:
            return sorted({s for s in self.snapshot_steps if 1 <= s <= steps})
        return sorted({round(steps * k / self.snapshots) for k in range(1, self.snapshots)}
                      - {0})


PRIORS: dict[str, Callable[[], Any]] = {
    "steps": paper.steps_e1,
    "steps_e1": paper.steps_e1,
    "steps_e4": paper.steps_e4,
    "sines_e2": paper.sines_e2,
    "sines_e2_curriculum": paper.sines_e2_curriculum,
    "sines_and_lines_e3": paper.sines_and_lines_e3,
    "coin_e5": paper.coin_e5,
    "markov_pool_v3": sequences.markov_pool_v3,
    "dirichlet_markov_v3": sequences.dirichlet_markov_v3,
}
"""Priors the command line knows by name; the sequence priors train a sequence model."""

_SEQUENCE_ONLY = sorted({f.name for f in fields(SequenceModelConfig)}
                        - {f.name for f in fields(PFNConfig)} - {"vocab_size"})
"""Sequence-model flags a PFN does not take (the vocabulary comes from the prior)."""
_PFN_ONLY = sorted({f.name for f in fields(PFNConfig)}
                   - {f.name for f in fields(SequenceModelConfig)})
"""PFN flags a sequence model does not take."""

PFN_PRESETS: dict[str, Preset[PFNConfig]] = {
    "steps": Preset(
        prior="steps_e1",
        model=PFNConfig(),
        # Chosen by pilot runs of ~150 s each (gap on 1,000 datasets): lr 1e-3 beat the
        # authors' 3e-4 (0.096 vs 0.238 at bs 32); the 512-wide MLP head beat a linear head
        # per second despite twice the head FLOPs (0.086 vs 0.107 at bs 64).
        train=TrainConfig(steps=18_000, batch_size=64, lr=1e-3, warmup_steps=1000),
    ),
    "sines": Preset(
        prior="sines_e2",
        # contexts of up to 24 points: E2's unseen-frequency context has 20
        model=PFNConfig(max_context=24),
        # From scratch, on this prior a PFN sits on the prior predictive (loss -0.35, exact
        # -0.82) for thousands of steps: measured 5,600 steps at lr 1e-3, 1,200 with
        # standardize_y, 1,100 after a curriculum of phases. Fine-tuned from the E3 network,
        # which already draws sin(3 pi x) and reads its context, it left the plateau within
        # 300 steps (pilot: loss -0.73 after 1,200 steps at lr 3e-4). It keeps E3's borders.
        # 6,000 steps reached a gap of 0.019 on the first machine (0.40 s a step on one
        # thread); on a 2-core Xeon with AVX-512 and AMX a step takes 66 ms on 2 threads,
        # and 36,000 steps (39 minutes) reach 0.0028 (the card).
        train=TrainConfig(steps=36_000, batch_size=64, lr=3e-4, warmup_steps=100,
                          n_points=25, checkpoint_every=500),
        init_from="sines_and_lines",
    ),
    "sines_and_lines": Preset(
        prior="sines_and_lines_e3",
        # datasets of 100 points, as the authors', so contexts of up to 99 (E3 shows 80). At
        # 100 points a step cost 379 ms at batch 32 and 788 ms at batch 64 on the first
        # 2-core machine (measured), so batch 32; 6,000 steps there reached a gap of 0.019.
        # On a 2-core Xeon with AVX-512 and AMX a step takes 117 ms on 2 threads, and
        # 18,000 steps (35 minutes) reach 0.009 (the card).
        model=PFNConfig(max_context=99),
        train=TrainConfig(steps=18_000, batch_size=32, lr=1e-3, warmup_steps=500,
                          n_points=100, checkpoint_every=250),
    ),
    "updown": Preset(
        prior="steps_e4",
        # E4's bump context has 20 points, so contexts of up to 20 (datasets of 21). 9,000
        # steps on one core (0.32 s each) reached a gap of 0.025, still falling. 15,000 on
        # two threads took 49.8 minutes (0.20 s a step) for a gap of 0.0165, over the
        # 45-minute budget; 13,500 took 42.2 minutes for 0.0181 (its card).
        model=PFNConfig(max_context=20),
        train=TrainConfig(steps=13_500, batch_size=64, lr=1e-3, warmup_steps=1000,
                          n_points=21),
    ),
    "coin": Preset(
        prior="coin_e5",
        # the paper's architecture: no positions, softmax attention, a 2-class head; E5
        # queries up to 64 identical flips, so datasets of 65
        model=PFNConfig(n_classes=2, max_context=64),
        train=TrainConfig(steps=4_000, batch_size=32, lr=1e-3, warmup_steps=500,
                          n_points=65),
    ),
    "coin_counting": Preset(
        prior="coin_e5",
        # the same recipe plus one attention sink: attention can then count (PFNConfig)
        model=PFNConfig(n_classes=2, max_context=64, n_sink_tokens=1),
        train=TrainConfig(steps=4_000, batch_size=32, lr=1e-3, warmup_steps=500,
                          n_points=65),
    ),
}
"""The shipped PFNs' recipes."""

SEQUENCE_STEPS = 5_000
"""Training steps of the shipped sequence models (:data:`SEQUENCE_PRESETS`)."""
SEQUENCE_SNAPSHOTS = (25, 50, 100, 150, 200, 300, 400, 600, 800, 1_000, 1_500, 2_000, 3_000,
                      4_000)
"""Their snapshot steps: dense in the first few hundred steps, where pilots passed from the
uniform to the unigram to the bigram predictor (Edelman et al.'s phases), then sparse."""

SEQUENCE_PRESETS: dict[str, Preset[SequenceModelConfig]] = {
    # Both: 3 tokens and Dirichlet(1) rows (the named priors), sequences of 64 tokens, the
    # default 2-layer width-64 causal transformer (2 heads, feed-forward 256, learned
    # positions; 104,643 parameters), batches of 32, peak lr 3e-3 with 100 warm-up steps and
    # cosine decay to 0. Measured step time (process CPU time per step, median of 20 after 5
    # of warm-up; under contention: OMP_NUM_THREADS=1 taskset -c 1 on a core shared with a
    # timed training job at high priority): 0.098 s on the pool, 0.104 s on the Dirichlet
    # prior; length 128 cost 0.226 s, batch 64 0.158 s, 4 layers 0.214 s. Later, with the core
    # shared at equal priority, sequence_pools.benchmark gave 0.080 s and 0.084 s. From the
    # slower numbers, 5,000 steps are ~520 s, 8.7 minutes on one thread; two threads should
    # be no slower, so each trains within 10 minutes with ~13% to spare (length 128 would
    # buy only 2,600 steps).
    # Pilots of 300 steps (30 s): at lr 3e-3 the network left the unigram plateau by step
    # 150 and reached KL 0.021 nats per token on the Dirichlet prior against the unigram
    # predictor's 0.107 (pool: 0.045 against 0.147); at lr 1e-3 it still sat near the
    # unigram predictor at step 300 (0.082). Length 64 gives the in-context bigram counts
    # room: the unigram predictor's KL to the exact predictive grows from 0.09 at 32 tokens
    # to 0.11 at 64, the pool posterior's KL to the bigram predictor stays 0.046. The card's
    # numbers come from 2,000 fresh sequences: a network's pass over 10,000 sequences of 64
    # tokens took 10 s CPU (measured as above), so 10,000 would add 160 s for the 16 models
    # of the curve (14 snapshots, the untrained and the final one), 2,000 add ~32 s; pilots'
    # standard errors on 500 sequences were 2.5% of the KL.
    "markov_pool": Preset(
        prior="markov_pool_v3",  # 8 chains: the posterior names the chain within a few tokens
        model=SequenceModelConfig(vocab_size=3, max_length=64),
        train=TrainConfig(steps=SEQUENCE_STEPS, batch_size=32, lr=3e-3, warmup_steps=100,
                          n_points=64, checkpoint_every=500),
        eval_datasets=2_000, snapshot_steps=SEQUENCE_SNAPSHOTS,
    ),
    "markov_dirichlet": Preset(
        prior="dirichlet_markov_v3",  # the Bayes predictor is in-context bigram counting
        model=SequenceModelConfig(vocab_size=3, max_length=64),
        train=TrainConfig(steps=SEQUENCE_STEPS, batch_size=32, lr=3e-3, warmup_steps=100,
                          n_points=64, checkpoint_every=500),
        eval_datasets=2_000, snapshot_steps=SEQUENCE_SNAPSHOTS,
    ),
}
"""The shipped sequence models' recipes."""

PRESETS: dict[str, Preset[Any]] = {**PFN_PRESETS, **SEQUENCE_PRESETS}
"""The shipped models' recipes (``--preset NAME``): :data:`PFN_PRESETS` and
:data:`SEQUENCE_PRESETS` (a tool that trains PFNs only takes its presets from the first)."""


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bayeslens-train", description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--preset", choices=sorted(PRESETS), help="a shipped model's recipe")
    src.add_argument("--prior", choices=sorted(PRIORS), help="a paper prior by name")
    p.add_argument("--out", type=Path, help="output directory (default runs/<name>)")
    for f in fields(TrainConfig):
        p.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=None)
    for f in fields(PFNConfig):
        if f.type in ("bool", bool):
            p.add_argument(f"--{f.name.replace('_', '-')}", default=None,
                           type=lambda s: s.lower() in ("1", "true", "yes"))
        else:
            p.add_argument(f"--{f.name.replace('_', '-')}", type=int, default=None)
    p.add_argument("--max-length", type=int, default=None,
                   help="sequence models: longest sequence (default: --n-points)")
    p.add_argument("--positions", choices=POSITIONS, default=None,
                   help="sequence models: learned or rotary positions")
    p.add_argument("--snapshot-steps", type=lambda s: [int(v) for v in s.split(",") if v],
                   default=[], help="comma-separated steps at which to save snapshots")
    p.add_argument("--eval-datasets", type=int, default=None,
                   help="fresh datasets for the final NLL gap, or sequences for a sequence "
                        "model's KL (0: skip)")
    p.add_argument("--fp16", action="store_true", help="store the final weights as float16")
    p.add_argument("--compile", action="store_true", help="torch.compile the training step")
    p.add_argument("--no-resume", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def _overrides(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    return {f.name: getattr(args, f.name) for f in fields(cls)
            if getattr(args, f.name, None) is not None}


def _refuse_flags(args: argparse.Namespace, names: Sequence[str], what: str) -> None:
    """Exit with a message if any of the flags ``names`` was given: they do not apply."""
    given = [f"--{n.replace('_', '-')}" for n in names if getattr(args, n, None) is not None]
    if given:
        raise SystemExit(f"bayeslens-train: {', '.join(given)} do not apply to {what}")


def _train_joined(prior: Any, model_config: Any, train_config: TrainConfig, out: Path,
                  args: argparse.Namespace, snapshot_steps: Sequence[int], compile_: bool,
                  init: Any) -> TrainResult[Any]:
    """The command line's run: inside torchrun's process group when torchrun launched it
    (joined here and left afterwards, also on error), from ``init``'s weights (None: the
    seed's)."""
    joined = _join_torchrun()
    try:
        return train(prior, model_config, train_config, workdir=out,
                     resume=not args.no_resume, progress=not args.no_progress,
                     snapshot_steps=snapshot_steps, compile=compile_, init=init)
    finally:
        if joined:
            dist.destroy_process_group()


def _fp16_round_trip(model: ModelT) -> ModelT:
    """The model as it will be after saving with float16 weights (borders stay float32)."""
    with torch.no_grad():
        for k, t in model.state_dict().items():
            if t.is_floating_point() and not k.endswith("borders"):
                t.copy_(t.half().float())
    return model


def _plot_curve(curve: list[dict[str, Any]], final: dict[str, Any], path: Path,
                title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    pts = [c for c in curve if c["step"] > 0]
    ax.errorbar([c["step"] for c in pts], [c["gap"] for c in pts],
                yerr=[c["se"] for c in pts], marker="o", ms=4, capsize=3,
                label="snapshots (same eval datasets)")
    ax.errorbar([final["step"]], [final["gap"]], yerr=[final["se"]], marker="s", ms=7,
                color="C3", capsize=3, label=f"shipped weights: {final['gap']:.4f} nats")
    ax.axhline(0.02, color="grey", ls="--", lw=1, label="target 0.02")
    ax.set_xlabel("training step")
    ax.set_ylabel("NLL gap to the exact PPD (nats / query)")
    if all(c["gap"] > 0 for c in curve) and final["gap"] > 0:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _join_torchrun() -> bool:
    """Join the process group ``torchrun`` describes in its environment, if it does.

    NCCL with one GPU per local rank when CUDA is present, else gloo on the CPU.
    """
    if not all(k in os.environ for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")):
        return False
    if dist.is_initialized():  # the caller's group: used, not ours to destroy
        return False
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo")
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: train, measure the gap (and its curve), save ``<out>/model``.

    With ``--eval-datasets N`` (a preset's default: 10,000) the final model and every
    snapshot are evaluated on the same N fresh datasets; the card records the gap, its
    standard error and the gap-vs-steps curve, and ``<out>/model/gap_vs_steps.png`` draws it.
    Under ``torchrun`` every rank trains; rank 0 alone logs, evaluates and saves.
    """
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format="%(asctime)s %(name)s: %(message)s")
    args = _parse(argv)
    if args.preset in SEQUENCE_PRESETS:
        return _main_sequences(args, args.preset, SEQUENCE_PRESETS[args.preset], rank)
    if args.prior and isinstance(seq_prior := PRIORS[args.prior](), MarkovPool | DirichletMarkov):
        return _main_sequences(args, args.prior, _prior_preset(args.prior, seq_prior), rank)
    _refuse_flags(args, _SEQUENCE_ONLY, "a PFN")
    preset: Preset[PFNConfig]
    if args.preset:
        preset = PFN_PRESETS[args.preset]
        name = args.preset
    else:
        default_model = PFNConfig(n_classes=2) if args.prior.startswith("coin") else PFNConfig()
        preset = Preset(prior=args.prior, model=default_model, train=TrainConfig())
        name = args.prior
    model_config = replace(preset.model, **_overrides(args, PFNConfig))
    train_config = replace(preset.train, **_overrides(args, TrainConfig))
    fp16 = args.fp16 or preset.fp16
    compile_ = args.compile or preset.compile
    snapshot_steps = args.snapshot_steps or preset.snapshot_schedule(train_config.steps)
    prior = PRIORS[preset.prior]()
    target = prior.target if isinstance(prior, Curriculum) else prior  # what is evaluated
    out = args.out or Path("runs") / name
    log.info("training %s on prior %s: %s, %s", name, preset.prior, model_config, train_config)
    init = checkpoints.load_pretrained(preset.init_from) if preset.init_from else None
    result = _train_joined(prior, model_config, train_config, out, args, snapshot_steps,
                           compile_, init)
    if rank != 0:
        return 0
    log.info("trained %d steps in %.1f s on %d process(es); final loss %.4f",
             train_config.steps, result.seconds, result.extra["world_size"], result.final_loss)
    model = _fp16_round_trip(result.model) if fp16 else result.model
    n_eval = preset.eval_datasets if args.eval_datasets is None else args.eval_datasets
    gap, curve = None, None
    if n_eval:
        from bayeslens.evaluate import (
            exact_nll,
            gap_curve,
            gap_from_nlls,
            model_nll,
            sample_eval_set,
        )

        n_points = train_config.n_points
        data = sample_eval_set(target, n_eval, n_points,
                               torch.Generator().manual_seed(train_config.seed + 1000))
        t = time.perf_counter()
        exact = exact_nll(target, data)
        log.info("exact PPD NLL of %d datasets in %.1f s", n_eval, time.perf_counter() - t)
        g = gap_from_nlls(model_nll(model, data), exact, n_points)
        gap = {**g.to_dict(), "eval_seed": train_config.seed + 1000,
               "weights": "float16" if fp16 else "float32"}
        log.info("NLL gap to the exact PPD: %.4f +- %.4f nats per query (%d datasets)",
                 g.gap, g.se, n_eval)
        untrained = (init if init is not None  # step 0: where the run started
                     else build_model(target, model_config, train_config)).eval()
        gaps = gap_curve({**result.snapshots, 0: untrained}, data, exact)
        for step, g_step in gaps.items():
            log.info("gap at step %d: %.4f +- %.4f", step, g_step.gap, g_step.se)
        curve = [{"step": step, "gap": v.gap, "se": v.se} for step, v in gaps.items()]
        curve.append({"step": train_config.steps, "gap": g.gap, "se": g.se})
    path = checkpoints.save(
        model, out / "model", prior=target,
        prior_name=target.name if target is not prior else preset.prior,
        train_config=train_config, final_loss=result.final_loss, gap=gap,
        dtype=torch.float16 if fp16 else torch.float32,
        extra={"train_seconds": result.seconds, "device": result.extra["device"],
               "world_size": result.extra["world_size"],
               "torch_threads": torch.get_num_threads(), "torch_version": torch.__version__,
               "preset": args.preset, "compiled": compile_, "gap_vs_steps": curve,
               "curriculum": prior.name if target is not prior else None,
               "init_from": preset.init_from},
    )
    if gap is not None and curve is not None:
        _plot_curve(curve, {**gap, "step": train_config.steps}, path / "gap_vs_steps.png",
                    f"{name}: PFN vs exact PPD on {n_eval:,} fresh datasets")
    log.info("saved %s", path)
    return 0


def _prior_preset(name: str, prior: MarkovPool | DirichletMarkov) -> Preset[SequenceModelConfig]:
    """``--prior NAME`` for a sequence prior: the default recipe, 1,000 evaluation sequences;
    the model's ``max_length`` follows ``--n-points`` (see :func:`_main_sequences`)."""
    return Preset(prior=name, model=SequenceModelConfig(vocab_size=prior.vocab_size),
                  train=TrainConfig(), eval_datasets=1000)


def _main_sequences(
    args: argparse.Namespace, name: str, preset: Preset[SequenceModelConfig], rank: int
) -> int:
    """:func:`main` for a sequence model (``--preset`` of :data:`SEQUENCE_PRESETS`, or
    ``--prior`` of a sequence prior): train, measure, save ``<out>/model``.

    On ``--eval-datasets`` fresh sequences (default: the preset's; 1,000 for ``--prior``) of
    the training length, seeded with the training seed + 1000, the card records the final
    model's per-position KL from the exact predictive (``kl``), the in-context baselines'
    (``kl_uniform``, ``kl_unigram``, ``kl_bigram``: :func:`bayeslens.evaluate.baseline_kls`)
    and every snapshot's KL and its distance from each baseline (``kl_vs_steps``);
    ``<out>/model/kl_vs_steps.png`` draws them. Without ``--max-length``, a ``--prior`` run's
    model reads sequences of ``--n-points`` tokens.
    """
    _refuse_flags(args, _PFN_ONLY, "a sequence model")
    prior = PRIORS[preset.prior]()
    if not isinstance(prior, MarkovPool | DirichletMarkov):
        raise ValueError(f"preset {name!r} has the prior {preset.prior!r}, which draws no "
                         "token sequences")
    train_config = replace(preset.train, **_overrides(args, TrainConfig))
    base = (preset.model if args.preset
            else replace(preset.model, max_length=train_config.n_points))
    model_config = replace(base, **_overrides(args, SequenceModelConfig))
    fp16 = args.fp16 or preset.fp16
    compile_ = args.compile or preset.compile
    snapshot_steps = args.snapshot_steps or preset.snapshot_schedule(train_config.steps)
    out = args.out or Path("runs") / name
    log.info("training a sequence model %s on prior %s: %s, %s", name, preset.prior,
             model_config, train_config)
    init = (checkpoints.load_pretrained_sequence_model(preset.init_from)
            if preset.init_from else None)
    result = _train_joined(prior, model_config, train_config, out, args, snapshot_steps,
                           compile_, init)
    if rank != 0:
        return 0
    log.info("trained %d steps in %.1f s on %d process(es); final loss %.4f",
             train_config.steps, result.seconds, result.extra["world_size"], result.final_loss)
    model = _fp16_round_trip(result.model) if fp16 else result.model
    n_eval = preset.eval_datasets if args.eval_datasets is None else args.eval_datasets
    facts: dict[str, Any] = {}
    if n_eval:
        eval_seed = train_config.seed + 1000
        tokens = prior.sample(n_eval, train_config.n_points,
                              torch.Generator().manual_seed(eval_seed)).tokens
        untrained = (init if init is not None
                     else build_model(prior, model_config, train_config)).eval()
        t = time.perf_counter()
        facts = _sequence_facts({**result.snapshots, 0: untrained, train_config.steps: model},
                                prior, tokens)
        log.info("KL(exact || network): %.4f +- %.4f nats per token (uniform %.4f, unigram "
                 "%.4f, bigram %.4f; %d sequences, %.1f s)", facts["kl"]["mean"],
                 facts["kl"]["se"], facts["kl_uniform"]["mean"], facts["kl_unigram"]["mean"],
                 facts["kl_bigram"]["mean"], n_eval, time.perf_counter() - t)
        facts |= {"eval_seed": eval_seed, "weights": "float16" if fp16 else "float32"}
    path = checkpoints.save(
        model, out / "model", prior=prior, prior_name=preset.prior, train_config=train_config,
        final_loss=result.final_loss, dtype=torch.float16 if fp16 else torch.float32,
        gap=_sequence_gap(facts) if facts else None,
        extra={**facts, "train_seconds": result.seconds, "device": result.extra["device"],
               "world_size": result.extra["world_size"],
               "torch_threads": torch.get_num_threads(), "torch_version": torch.__version__,
               "preset": args.preset, "compiled": compile_, "init_from": preset.init_from},
    )
    if facts:
        _plot_kl_curve(facts, path / "kl_vs_steps.png",
                       f"{name}: sequence model vs exact predictive on {n_eval:,} sequences")
    log.info("saved %s", path)
    return 0


def _sequence_gap(facts: dict[str, Any]) -> dict[str, Any]:
    """A sequence card's ``gap``, as a PFN card's: its measured KL(exact || network) with its
    standard error (on the prior's own sequences, the expected NLL gap per token)."""
    kl = facts["kl"]
    return {"gap": kl["mean"], "se": kl["se"], "n_sequences": kl["n_sequences"],
            "n_points": kl["length"], "eval_seed": facts["eval_seed"],
            "unit": "nats per token", "measure": "KL(exact || network), next token"}


def _sequence_facts(models: dict[int, SequenceModel], prior: MarkovPool | DirichletMarkov,
                    tokens: Tensor) -> dict[str, Any]:
    """A sequence card's numbers on the sequences ``tokens`` (n, length).

    ``kl``: the last step's model's KL(exact || network), per position and in all, with
    standard errors; ``kl_uniform``, ``kl_unigram``, ``kl_bigram``: KL(exact || baseline),
    add-alpha with the prior's alpha (``baseline_alpha``); ``kl_vs_steps``: per model (step
    0 is the untrained network), its KL from the exact predictive (``kl``, ``se``) and from
    each baseline (``kl_from_uniform`` ...: KL(baseline || network), ``mean`` and ``se``),
    the distances that show which predictor a snapshot is closest to.
    """
    from bayeslens.evaluate import BASELINES, kl_from_log_probs, predictor_log_probs

    exact = predictor_log_probs("exact", prior, tokens)
    baselines = {b: predictor_log_probs(b, prior, tokens) for b in BASELINES}
    facts: dict[str, Any] = {}
    curve = []
    for step, m in sorted(models.items()):
        net = predictor_log_probs(m, prior, tokens)
        kl = kl_from_log_probs(exact, net)
        entry: dict[str, Any] = {"step": step, "kl": kl.mean, "se": kl.se}
        for b, log_b in baselines.items():
            d = kl_from_log_probs(log_b, net)
            entry[f"kl_from_{b}"] = {"mean": d.mean, "se": d.se}
        curve.append(entry)
        facts["kl"] = kl.to_dict()  # the last step's, when the loop ends
    for b, log_b in baselines.items():
        facts[f"kl_{b}"] = kl_from_log_probs(exact, log_b).to_dict()
    return {**facts, "baseline_alpha": prior.alpha, "kl_vs_steps": curve}


def _plot_kl_curve(facts: dict[str, Any], path: Path, title: str) -> None:
    """The card's figure: each snapshot's KL from the exact predictive and from the three
    baselines against the step (log axis), the baselines' own KLs as dashed lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [c for c in facts["kl_vs_steps"] if c["step"] > 0]
    steps = [c["step"] for c in pts]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.errorbar(steps, [c["kl"] for c in pts], yerr=[c["se"] for c in pts], marker="o", ms=4,
                capsize=3, color="k", label="KL(exact || network)")
    for i, b in enumerate(("uniform", "unigram", "bigram")):
        ax.plot(steps, [c[f"kl_from_{b}"]["mean"] for c in pts], marker=".", lw=1,
                color=f"C{i}", label=f"KL({b} || network)")
        ax.axhline(facts[f"kl_{b}"]["mean"], color=f"C{i}", ls="--", lw=1,
                   label=f"KL(exact || {b}): {facts[f'kl_{b}']['mean']:.4f}")
    ax.set_xscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("KL (nats / token)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
