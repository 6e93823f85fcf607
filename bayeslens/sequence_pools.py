"""Which prior does a sequence model follow? Pool size K, from one chain to many.

The sequence counterpart of :mod:`bayeslens.diversity` (task diversity for regression, Raventós
et al., 2023). A :class:`~bayeslens.sequence_model.SequenceModel` trained on a pool of K Markov
chains (:class:`~bayeslens.sequences.MarkovPool`, rows drawn once from Dirichlet(alpha)) could
predict as the pool's exact posterior, which names the chain, or as the in-context bigram
predictor, the exact predictive of the Dirichlet prior the chains came from
(:class:`~bayeslens.sequences.DirichletMarkov`), which it was never trained on. For small K the
pool's posterior is the better guess on its own chains; for large K the two agree, and on
chains outside the pool only the bigram predictor is right. Each K trains one network with
:func:`bayeslens.train.train` on ``MarkovPool.draw(K, V, alpha, pool_seed)`` (3 tokens,
Dirichlet(1), seed 0 by default: the pools of :func:`~bayeslens.sequences.markov_pool_v3`,
nested, so a larger pool holds every chain of a smaller one) and measures it on held-out
sequences of two kinds: from chains *in* the pool (``"in_pool"``: a chain drawn uniformly from
the pool) and from *fresh* chains (``"fresh"``: every row drawn anew from Dirichlet(alpha)).
Every record holds, per split, each as a per-position curve and a mean over sequences and
positions with standard errors (:class:`~bayeslens.evaluate.SequenceKL`, nats per token; the
sums over the V next tokens are exact, the only noise is which sequences were drawn):

* ``kl_to_pool``: KL(pool's exact predictive || network);
* ``kl_to_bigram``: KL(bigram predictor || network);
* ``kl_to_bigram_minus_pool``: their paired difference on the same sequences (< 0: the network
  is closer to the bigram predictor; its standard error says whether that is resolved);
* ``kl_pool_bigram``, ``kl_bigram_pool``: the two exact predictives against each other, both
  ways: the scale on which the network's distances are read.

Every K's network starts from the same seeded weights (the training seed), so the networks
differ only in the chains they were trained on. :func:`sweep` trains the pool sizes a results
file does not hold yet and merges each record into the file as it comes
(:func:`bayeslens.budgets.save_results`), so a sweep stopped part-way resumes; a file made with
other settings is a ValueError. :func:`read_results`, :func:`curves`, :func:`position_curves`
and :func:`threshold` (:func:`bayeslens.diversity.crossing_threshold` in log K) are what the
chapter reads. Command line::

    python -m bayeslens.sequence_pools          # the 6 pool sizes into DEFAULT_OUT
    python -m bayeslens.sequence_pools --pool-sizes 1,16 --steps 300 --out runs/seqpools_x.json

Default sweep and what it costs (:data:`POOL_SIZES`, :data:`MODEL`, :data:`TRAIN`). The step
time is the process's CPU time per training step of :data:`MODEL` (the shipped sequence
models' architecture, :data:`bayeslens.train.SEQUENCE_PRESETS`) at batch 32 and 64 tokens on
one thread, from :func:`benchmark` (median of 35 steps after 5 of warm-up): 0.081 s at K = 64
and at K = 1, measured under contention (``OMP_NUM_THREADS=1 taskset -c 1``, the core shared
with another training job at the same priority; CPU time leaves out the waiting, not the
shared caches). Twenty minutes earlier, with the core shared with a timed job at high
priority, a 25-step loop of the same steps gave 0.098 s, so the arithmetic below uses 0.100 s.
The step does not depend on K: a batch is a gather from the K chains. Evaluation (2 x 2,000
held-out sequences: the network's passes and the exact pool predictive, which grows linearly
in K), measured the same way: 4.0 s CPU at K = 1, 9.2 to 10.8 s at K = 1,024.
For 6 pool sizes within 40 CPU-minutes:

* training: 3,500 steps x 0.100 s = 350 s per K (112,000 sequences of 64 tokens), 2,100 s for 6;
* evaluation: ~35 s for the 6;
* total ~2,135 s, about 36 CPU-minutes on one thread, ~10% under the budget for the
  measurement's noise (4,000 steps would be 41 minutes; at 0.081 s a step the sweep takes
  29 minutes).

A pilot of 150 steps per K (``--pool-sizes 1,1024 --steps 150``, 14 s CPU each) had the
K = 1 network on its chain even for fresh sequences (KL 0.0007 from the pool's predictive,
0.66 from the bigram predictor's) and the K = 1,024 network as far from both (0.081, 0.082;
the two exact predictives are 0.005 apart there); the pool sizes that tell the two apart lie
between.

Measured with::

    OMP_NUM_THREADS=1 taskset -c 1 python -c \\
        "from bayeslens import sequence_pools; print(sequence_pools.benchmark())"

Named ``sequence_pools``: the sequence modules share the ``sequence_`` prefix, and what this
sweep varies is the pool (``diversity`` is the regression study's name for the same question).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from bayeslens._checks import check_int, check_pool_sizes, check_positive
from bayeslens._cli import int_flag, json_overrides
from bayeslens.budgets import budget_config, open_results, save_results
from bayeslens.diversity import crossing_threshold
from bayeslens.evaluate import kl_per_token, predictor_log_probs, summarise_per_token
from bayeslens.sequence_model import SequenceModel, SequenceModelConfig
from bayeslens.sequences import (
    BOOK_ALPHA,
    BOOK_POOL_SEED,
    BOOK_VOCAB_SIZE,
    DirichletMarkov,
    MarkovPool,
)
from bayeslens.train import TrainConfig, train

__all__ = [
    "DEFAULT_OUT",
    "EVAL_SEQUENCES",
    "KEYS",
    "MODEL",
    "POOL_SIZES",
    "SPLITS",
    "TRAIN",
    "PoolCurves",
    "benchmark",
    "curves",
    "eval_tokens",
    "evaluate_network",
    "header",
    "main",
    "pool_distances",
    "position_curves",
    "read_results",
    "run_pool_size",
    "sweep",
    "threshold",
]

log = logging.getLogger(__name__)

DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "sequence_pools.json"
"""The shipped results file the chapter reads; the command line writes it by default."""
POOL_SIZES: tuple[int, ...] = (1, 4, 16, 64, 256, 1024)
"""Pool sizes K = 4^0 .. 4^5. The exact predictives' own distance falls from 0.60 nats per
token (K = 1, fresh chains) through 0.036 (K = 64) to 0.005 (K = 1,024), measured on 1,000
sequences of 64 tokens: past ~1,000 chains the two priors are hard to tell apart at all."""
MODEL = SequenceModelConfig(vocab_size=BOOK_VOCAB_SIZE, max_length=64)
"""The shipped sequence models' architecture: 2 layers of width 64, 104,643 parameters."""
TRAIN = TrainConfig(steps=3_500, batch_size=32, lr=3e-3, warmup_steps=70, n_points=64,
                    checkpoint_every=3_500)
"""Steps per pool size (the shipped models': 5,000); warm-up 2% of the run (kept for other
``--steps``)."""
EVAL_SEQUENCES = 2_000
"""Held-out sequences per split."""
SPLITS = ("in_pool", "fresh")
KEYS = ("kl_to_pool", "kl_to_bigram", "kl_to_bigram_minus_pool", "kl_pool_bigram",
        "kl_bigram_pool")
"""What every split of a record holds (module docstring)."""
_SEED_OFFSETS = {"in_pool": 1000, "fresh": 1001}
"""Evaluation generators are seeded with the training seed plus these."""


# --------------------------------------------------------------------------------------------
# Measuring one network
# --------------------------------------------------------------------------------------------


@torch.no_grad()
def pool_distances(model: SequenceModel, pool: MarkovPool, tokens: Tensor) -> dict[str, Tensor]:
    """Per sequence and position: the network against the pool's exact predictive and the
    bigram predictor, and the two against each other (:data:`KEYS`).

    Parameters
    ----------
    model : SequenceModel
        Of the pool's vocabulary.
    pool : MarkovPool
        Drawn with a Dirichlet alpha (:meth:`~bayeslens.sequences.MarkovPool.draw`): the
        bigram predictor is the exact predictive of ``DirichletMarkov(V, pool.alpha)``.
    tokens : Tensor, shape (n_sequences, length), int64

    Returns
    -------
    dict of str to Tensor, each shape (n_sequences, length), float64
        KL per token in nats; ``kl_to_bigram_minus_pool`` is the paired difference.
    """
    pool_lp = predictor_log_probs("exact", pool, tokens)
    bigram_lp = predictor_log_probs("bigram", pool, tokens)
    net_lp = predictor_log_probs(model, pool, tokens)
    to_pool, to_bigram = kl_per_token(pool_lp, net_lp), kl_per_token(bigram_lp, net_lp)
    return {"kl_to_pool": to_pool, "kl_to_bigram": to_bigram,
            "kl_to_bigram_minus_pool": to_bigram - to_pool,
            "kl_pool_bigram": kl_per_token(pool_lp, bigram_lp),
            "kl_bigram_pool": kl_per_token(bigram_lp, pool_lp)}


def eval_tokens(pool: MarkovPool, n_sequences: int, length: int, seed: int) -> dict[str, Tensor]:
    """The held-out sequences of each split, (n_sequences, length) int64 each.

    ``"in_pool"``: ``pool.sample`` (a chain drawn from the pool's weights per sequence), seeded
    ``seed + 1000``; ``"fresh"``: ``DirichletMarkov(V, pool.alpha).sample``, seeded
    ``seed + 1001`` (the same for every K).
    """
    if pool.alpha is None:
        raise ValueError("pool must be drawn with a Dirichlet alpha (MarkovPool.draw): its "
                         "fresh chains come from that Dirichlet")
    fresh = DirichletMarkov(pool.vocab_size, pool.alpha)
    gen = {split: torch.Generator().manual_seed(seed + off) for split, off in _SEED_OFFSETS.items()}
    return {"in_pool": pool.sample(n_sequences, length, gen["in_pool"]).tokens,
            "fresh": fresh.sample(n_sequences, length, gen["fresh"]).tokens}


def evaluate_network(model: SequenceModel, pool: MarkovPool, n_sequences: int, length: int,
                     seed: int) -> dict[str, Any]:
    """The ``in_pool`` and ``fresh`` parts of a record: per split, :data:`KEYS` each as
    :meth:`~bayeslens.evaluate.SequenceKL.to_dict` (per position and in all, with SEs)."""
    return {split: {k: summarise_per_token(v).to_dict()
                    for k, v in pool_distances(model, pool, tokens).items()}
            for split, tokens in eval_tokens(pool, n_sequences, length, seed).items()}


# --------------------------------------------------------------------------------------------
# One pool size, the sweep
# --------------------------------------------------------------------------------------------


def run_pool_size(n_chains: int, model_config: SequenceModelConfig = MODEL,
                  train_config: TrainConfig = TRAIN, *, vocab_size: int = BOOK_VOCAB_SIZE,
                  alpha: float = BOOK_ALPHA, pool_seed: int = BOOK_POOL_SEED,
                  eval_sequences: int = EVAL_SEQUENCES) -> dict[str, Any]:
    """Train on ``MarkovPool.draw(n_chains, vocab_size, alpha, pool_seed)`` and measure: one
    record.

    Returns
    -------
    dict
        ``n_chains``, ``steps``, ``warmup_steps``, ``final_loss``; ``seconds`` (training wall
        time) and ``cpu_seconds`` (the process's CPU time in training, on ``threads``
        threads; the comparable one when the CPU is shared), ``eval_cpu_seconds``; and
        ``in_pool``, ``fresh`` as in the module docstring.
    """
    pool = MarkovPool.draw(n_chains, vocab_size, alpha, pool_seed)
    cpu = time.process_time()
    result = train(pool, model_config, train_config, progress=False)
    cpu_train = time.process_time() - cpu
    cpu = time.process_time()
    measured = evaluate_network(result.model, pool, eval_sequences, train_config.n_points,
                                train_config.seed)
    return {"n_chains": n_chains, "steps": train_config.steps,
            "warmup_steps": train_config.warmup_steps, "final_loss": result.final_loss,
            "seconds": result.seconds, "cpu_seconds": cpu_train,
            "eval_cpu_seconds": time.process_time() - cpu, "threads": torch.get_num_threads(),
            **measured}


def header(model_config: SequenceModelConfig = MODEL, train_config: TrainConfig = TRAIN, *,
           vocab_size: int = BOOK_VOCAB_SIZE, alpha: float = BOOK_ALPHA,
           pool_seed: int = BOOK_POOL_SEED,
           eval_sequences: int = EVAL_SEQUENCES) -> dict[str, Any]:
    """The settings a results file records; a file with others is refused by :func:`sweep`."""
    return {
        "prior": {"name": "markov_pool", "vocab_size": vocab_size, "alpha": alpha,
                  "pool_seed": pool_seed, "length": train_config.n_points,
                  "nested": "MarkovPool.draw(K, vocab_size, alpha, pool_seed): the first K "
                            "chains of any larger pool"},
        "model_config": model_config.to_dict(),
        "train_config": asdict(train_config),
        "eval": {"sequences": eval_sequences, "seed": train_config.seed,
                 "seed_offsets": dict(_SEED_OFFSETS),
                 "splits": {"in_pool": "a chain drawn uniformly from the pool per sequence",
                            "fresh": "every row drawn anew from Dirichlet(alpha) per sequence"},
                 "bigram": "add-alpha bigram counts: the DirichletMarkov(vocab_size, alpha) "
                           "predictive",
                 "kl": "KL(first || second) of the next-token distributions, nats per token, "
                       "summed over the vocabulary; per position and in all, SEs over "
                       "sequences"},
    }


def _check_settings(model_config: SequenceModelConfig, train_config: TrainConfig,
                    vocab_size: int, alpha: float, pool_seed: int, eval_sequences: int) -> None:
    """Every bad setting of :func:`sweep`, named, before any work."""
    check_int("vocab_size", vocab_size, 2)
    check_positive("alpha", alpha)
    check_int("pool_seed", pool_seed, 0)
    check_int("eval_sequences", eval_sequences, 2)  # a standard error needs two
    if not isinstance(model_config, SequenceModelConfig):
        raise ValueError(f"model_config must be a SequenceModelConfig, got "
                         f"{type(model_config).__name__}")
    if not isinstance(train_config, TrainConfig):
        raise ValueError(f"train_config must be a TrainConfig, got {type(train_config).__name__}")
    if model_config.vocab_size != vocab_size:
        raise ValueError(f"model_config.vocab_size={model_config.vocab_size} must be the "
                         f"pool's vocab_size = {vocab_size}")
    if train_config.n_points > model_config.max_length:
        raise ValueError(f"train_config.n_points={train_config.n_points} gives sequences "
                         f"longer than model_config.max_length={model_config.max_length}")


def sweep(out: str | os.PathLike[str], pool_sizes: Sequence[int] = POOL_SIZES,
          model_config: SequenceModelConfig = MODEL, train_config: TrainConfig = TRAIN, *,
          vocab_size: int = BOOK_VOCAB_SIZE, alpha: float = BOOK_ALPHA,
          pool_seed: int = BOOK_POOL_SEED,
          eval_sequences: int = EVAL_SEQUENCES) -> dict[str, Any]:
    """Train and measure the pool sizes ``out`` does not hold yet, smallest first; merge each
    record into ``out`` as it comes (other sweeps on the same file keep theirs).

    An existing ``out`` must record the same :func:`header` (else ValueError naming the
    differing settings: delete it or write another). Returns the file's contents.
    """
    sizes = check_pool_sizes(pool_sizes, "K")
    _check_settings(model_config, train_config, vocab_size, alpha, pool_seed, eval_sequences)
    path = Path(out)
    doc = open_results(path, header(model_config, train_config, vocab_size=vocab_size,
                                    alpha=alpha, pool_seed=pool_seed,
                                    eval_sequences=eval_sequences))
    done = {r["n_chains"] for r in doc["runs"]}
    for k in [k for k in sizes if k not in done]:
        r = run_pool_size(k, model_config, train_config, vocab_size=vocab_size, alpha=alpha,
                          pool_seed=pool_seed, eval_sequences=eval_sequences)
        log.info("K = %d: loss %.3f; fresh KL to pool %.4f, to bigram %.4f; %.0f + %.0f s CPU",
                 k, r["final_loss"], r["fresh"]["kl_to_pool"]["mean"],
                 r["fresh"]["kl_to_bigram"]["mean"], r["cpu_seconds"], r["eval_cpu_seconds"])
        save_results(path, doc, [r], key=lambda x: x["n_chains"])  # other sweeps keep theirs
    return doc


# --------------------------------------------------------------------------------------------
# Reading a results file (for the chapter)
# --------------------------------------------------------------------------------------------


def read_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A results file written by :func:`sweep`, its runs sorted by K."""
    doc: dict[str, Any] = json.loads(Path(path).read_text())
    if not isinstance(doc.get("runs"), list) or (doc.get("prior") or {}).get("name") != (
            "markov_pool"):
        raise ValueError(f"{path} is not a sequence-pool results file (no markov_pool prior "
                         "or runs)")
    doc["runs"] = sorted(doc["runs"], key=lambda r: r["n_chains"])
    return doc


@dataclass(frozen=True)
class PoolCurves:
    """One split's mean distances of the network to each predictor against K, with SEs.

    Attributes
    ----------
    n_chains : ndarray, shape (n_sizes,)
    to_pool, to_pool_se, to_bigram, to_bigram_se : ndarray, shape (n_sizes,)
        ``kl_to_pool`` and ``kl_to_bigram``.
    diff, diff_se : ndarray, shape (n_sizes,)
        The paired difference to_bigram - to_pool (< 0: closer to the bigram predictor).
    reference, reference_se : ndarray, shape (n_sizes,)
        The two exact predictives' KL, from the split's own process to the other:
        ``kl_pool_bigram`` on ``in_pool``, ``kl_bigram_pool`` on ``fresh``.
    """

    n_chains: np.ndarray
    to_pool: np.ndarray
    to_pool_se: np.ndarray
    to_bigram: np.ndarray
    to_bigram_se: np.ndarray
    diff: np.ndarray
    diff_se: np.ndarray
    reference: np.ndarray
    reference_se: np.ndarray


_REFERENCE = {"in_pool": "kl_pool_bigram", "fresh": "kl_bigram_pool"}


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def curves(doc: dict[str, Any], split: str = "fresh") -> PoolCurves:
    """The mean distances on ``split`` (``"in_pool"`` or ``"fresh"``) against K, from a
    results file's contents (:func:`read_results`)."""
    _check_split(split)
    runs = sorted(doc["runs"], key=lambda r: r["n_chains"])

    def col(key: str, part: str) -> np.ndarray:
        return np.array([r[split][key][part] for r in runs], dtype=float)

    ref = _REFERENCE[split]
    return PoolCurves(
        np.array([r["n_chains"] for r in runs], dtype=float),
        col("kl_to_pool", "mean"), col("kl_to_pool", "se"),
        col("kl_to_bigram", "mean"), col("kl_to_bigram", "se"),
        col("kl_to_bigram_minus_pool", "mean"), col("kl_to_bigram_minus_pool", "se"),
        col(ref, "mean"), col(ref, "se"),
    )


def position_curves(doc: dict[str, Any], split: str = "fresh",
                    key: str = "kl_to_pool") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One distance per position for every K: ``(n_chains (n_sizes,), mean (n_sizes,
    length), se (n_sizes, length))``; column t is the prediction after t tokens."""
    _check_split(split)
    if key not in KEYS:
        raise ValueError(f"key must be one of {KEYS}, got {key!r}")
    runs = sorted(doc["runs"], key=lambda r: r["n_chains"])
    return (np.array([r["n_chains"] for r in runs], dtype=float),
            np.array([r[split][key]["per_position"] for r in runs], dtype=float),
            np.array([r[split][key]["per_position_se"] for r in runs], dtype=float))


def threshold(doc: dict[str, Any], split: str = "fresh") -> float | None:
    """The pool size K* where the network's KL from the bigram predictor first falls below
    its KL from the pool's, interpolated in log K (:func:`bayeslens.diversity.crossing_threshold`);
    None when the sweep holds no such crossing (check ``curves(doc, split).diff[0]``: < 0,
    closer to the bigram predictor from the smallest K on)."""
    c = curves(doc, split)
    return crossing_threshold(c.n_chains, c.to_pool, c.to_bigram)


# --------------------------------------------------------------------------------------------
# Step time, command line
# --------------------------------------------------------------------------------------------


def benchmark(model_config: SequenceModelConfig = MODEL, train_config: TrainConfig = TRAIN,
              steps: int = 40, n_chains: int = 64,
              prior: MarkovPool | DirichletMarkov | None = None) -> dict[str, float]:
    """CPU seconds per training step (median after 5 warm-up steps) of a ``steps``-step run
    on ``prior`` (default: a pool of ``n_chains`` chains of the book's settings).

    Process CPU time, so a shared core's waiting is left out (its shared caches are not).
    """
    times: list[float] = []
    last = [time.process_time()]

    def tick(_: Any) -> None:
        now = time.process_time()
        times.append(now - last[0])
        last[0] = now

    cfg = budget_config(train_config, steps)
    source = prior if prior is not None else MarkovPool.draw(
        n_chains, model_config.vocab_size, BOOK_ALPHA, BOOK_POOL_SEED)
    train(source, model_config, cfg, progress=False, callback=tick)
    tail = sorted(times[5:]) or times
    return {"cpu_seconds_per_step": tail[len(tail) // 2], "steps": float(steps),
            "threads": float(torch.get_num_threads())}


def _pool_sizes_flag(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        sizes = [0]
    if not sizes or min(sizes) < 1:
        raise ValueError(f"--pool-sizes must be comma-separated ints >= 1, got {text!r}")
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m bayeslens.sequence_pools [--pool-sizes ...] [--steps N] ...``.

    Every bad argument is a ValueError naming its flag.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(prog="python -m bayeslens.sequence_pools",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--pool-sizes", default=",".join(map(str, POOL_SIZES)),
                   help="comma-separated pool sizes K (default: 1, 4, ..., 1024)")
    p.add_argument("--steps", default=None, help=f"training steps per K (default {TRAIN.steps})")
    p.add_argument("--model", default="{}",
                   help='JSON overrides of the architecture, e.g. \'{"n_layers": 1}\'')
    p.add_argument("--train", default="{}", help="JSON overrides of the training recipe")
    p.add_argument("--eval-sequences", default=str(EVAL_SEQUENCES),
                   help="held-out sequences per split")
    p.add_argument("--pool-seed", default=str(BOOK_POOL_SEED), help="seed of every pool's chains")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    sizes = _pool_sizes_flag(args.pool_sizes)
    model_over = json_overrides("--model", args.model, SequenceModelConfig)
    train_over = json_overrides("--train", args.train, TrainConfig)
    try:
        model_config = replace(MODEL, **model_over)
    except (TypeError, ValueError) as err:
        raise ValueError(f"--model: {err}") from err
    try:
        train_config = replace(TRAIN, **train_over)
    except (TypeError, ValueError) as err:
        raise ValueError(f"--train: {err}") from err
    if args.steps is not None:
        if "steps" in train_over:
            raise ValueError("give the steps by --steps or in --train, not both")
        train_config = budget_config(train_config, int_flag("--steps", args.steps, 1))
    eval_sequences = int_flag("--eval-sequences", args.eval_sequences, 2)
    pool_seed = int_flag("--pool-seed", args.pool_seed, 0)
    if model_config.vocab_size != BOOK_VOCAB_SIZE:
        raise ValueError(f"--model: vocab_size={model_config.vocab_size} must be the pools' "
                         f"{BOOK_VOCAB_SIZE} tokens")
    if train_config.n_points > model_config.max_length:
        raise ValueError(f"--train: n_points={train_config.n_points} is longer than the "
                         f"model's max_length={model_config.max_length} (--model)")
    sweep(args.out, sizes, model_config, train_config, pool_seed=pool_seed,
          eval_sequences=eval_sequences)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
