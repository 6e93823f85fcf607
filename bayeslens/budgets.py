"""Training-budget ablation: one recipe trained for several step counts, each measured exactly.

The paper's E3 ablation trains the same architecture for 100, 200, 400, ..., 12,800 steps and
shows the predictions approaching the posterior's as the loss falls. Here every budget is a
run of its own (its own warm-up, the same fraction of the run as the base recipe's, see
:func:`budget_base`, and its own cosine decay; the same architecture and seed), and every
run is measured against the exact posterior: the NLL gap on the same fresh datasets for all
budgets, and the predictive mean on given contexts next to the exact PPD mean.

:func:`run_budget` trains and measures one budget; :func:`sweep` runs the budgets a results
file does not hold yet and writes the file after each, so a sweep stopped part-way resumes
where it stopped. Command line::

    python -m bayeslens.budgets --preset sines_and_lines          # E3: 100 ... 12,800 steps
    python -m bayeslens.budgets --preset sines_and_lines --budgets 100,200 --eval-datasets 500
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from bayeslens import paper
from bayeslens.evaluate import EvalSet, exact_nll, gap_from_nlls, model_nll, sample_eval_set
from bayeslens.model import PFNConfig
from bayeslens.posterior import posterior
from bayeslens.train import PFN_PRESETS, PRIORS, TrainConfig, train

__all__ = ["BudgetResult", "budget_config", "main", "open_results", "run_budget", "save_results",
           "sweep"]

log = logging.getLogger(__name__)

DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "e3_budgets.json"
X_QUERY = torch.linspace(-1, 1, 101, dtype=torch.float64)
"""Queries of the recorded predictive means."""


@dataclass(frozen=True)
class BudgetResult:
    """One budget's run and its measurements.

    Attributes
    ----------
    steps, warmup_steps : int
    final_loss : float
        Mean training loss over the last 5% of steps.
    gap, se : float
        NLL gap to the exact PPD on the sweep's fresh datasets (nats per query) and its
        standard error.
    seconds : float
        Training wall time.
    means : dict of str to list of float
        The network's predictive mean at :data:`X_QUERY` for each named context.
    mean_rms : dict of str to float
        RMS over :data:`X_QUERY` of network mean minus exact PPD mean, per context.
    threads : int
        Torch's CPU threads during the run (``seconds`` depends on it).
    """

    steps: int
    warmup_steps: int
    final_loss: float
    gap: float
    se: float
    seconds: float
    means: dict[str, list[float]]
    mean_rms: dict[str, float]
    threads: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


BASE_STEPS = {"sines_and_lines": 6_000}
"""The recipe length a preset's budget runs take their warm-up fraction from, where it is not
the preset's own: ``data/e3_budgets.json`` was made with the first E3 recipe's 500 warm-up
steps of 6,000, and keeps them now that the shipped recipe trains for 18,000."""


def budget_base(preset: str) -> TrainConfig:
    """The base recipe of ``preset``'s budget runs: its training config, with the length of
    :data:`BASE_STEPS` where one is given (only the warm-up fraction depends on it)."""
    train_config = PFN_PRESETS[preset].train
    return replace(train_config, steps=BASE_STEPS.get(preset, train_config.steps))


def budget_config(base: TrainConfig, steps: int) -> TrainConfig:
    """``base`` run for ``steps`` steps, warm-up the same fraction of the run (at least 1)."""
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    warmup = max(1, round(base.warmup_steps * steps / base.steps)) if base.warmup_steps else 0
    return replace(base, steps=steps, warmup_steps=warmup,
                   checkpoint_every=min(base.checkpoint_every, steps))


def run_budget(
    prior: Any,
    model_config: PFNConfig,
    base: TrainConfig,
    steps: int,
    data: EvalSet,
    exact: Tensor,
    contexts: dict[str, tuple[Tensor, Tensor]],
) -> BudgetResult:
    """Train ``model_config`` on ``prior`` for ``steps`` steps and measure it.

    Parameters
    ----------
    data, exact
        Fresh datasets (:func:`bayeslens.evaluate.sample_eval_set`) and their exact-PPD NLLs
        (n_datasets,), shared by every budget so the gaps are comparable.
    contexts : dict of str to (x_context, y_context), each (n_context,)
        Contexts whose predictive means are recorded.
    """
    cfg = budget_config(base, steps)
    result = train(prior, model_config, cfg, progress=False)
    model = result.model.eval()
    g = gap_from_nlls(model_nll(model, data), exact, data.x.shape[1])
    means, rms = {}, {}
    for name, (xc, yc) in contexts.items():
        exact_mean = posterior(prior, xc, yc).mean(X_QUERY)
        m = model.mean(xc, yc, X_QUERY).to(torch.float64)
        means[name] = [round(float(v), 6) for v in m]
        rms[name] = float((m - exact_mean).pow(2).mean().sqrt())
    return BudgetResult(steps, cfg.warmup_steps, result.final_loss, g.gap, g.se,
                        result.seconds, means, rms, torch.get_num_threads())


def open_results(out: Path, header: dict[str, Any]) -> dict[str, Any]:
    """The results file ``out`` (``header`` and no runs if it does not exist yet).

    An existing file must record ``header``'s settings, else ValueError: runs made with other
    settings are not comparable (delete the file or write another).
    """
    if not out.exists():
        return {**header, "runs": []}
    doc: dict[str, Any] = json.loads(out.read_text())
    differs = [k for k, v in header.items() if doc.get(k) != v]
    if differs:
        raise ValueError(f"{out} was made with other settings ({', '.join(differs)});"
                         " delete it or pass another --out")
    return doc


def save_results(out: Path, doc: dict[str, Any], new: Sequence[dict[str, Any]],
                 key: Callable[[dict[str, Any]], Any]) -> None:
    """Merge the ``new`` runs into the file ``out`` (``doc``'s header) and replace it atomically.

    Under an exclusive lock, the file's runs are re-read first, so sweeps of other settings
    writing to the same file keep theirs; a new run replaces one of the same ``key``, and the
    runs are sorted by ``key``. ``doc["runs"]`` becomes the merged list.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    with _locked(out):
        runs = json.loads(out.read_text())["runs"] if out.exists() else doc["runs"]
        merged = {key(r): r for r in [*runs, *new]}
        doc["runs"] = [merged[k] for k in sorted(merged)]
        doc["machine"] = platform.machine()
        tmp = out.with_suffix(out.suffix + ".tmp")
        tmp.write_text(json.dumps(doc, indent=1) + "\n")
        os.replace(tmp, out)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` + ".lock" (POSIX; elsewhere no lock), held in the block."""
    lock = path.with_suffix(path.suffix + ".lock")
    with open(lock, "a") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: one sweep per file
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sweep(
    prior_name: str,
    model_config: PFNConfig,
    base: TrainConfig,
    budgets: Sequence[int],
    out: Path,
    *,
    eval_datasets: int = 10_000,
    contexts: dict[str, tuple[Tensor, Tensor]] | None = None,
) -> dict[str, Any]:
    """Run the ``budgets`` that ``out`` does not hold yet; rewrite ``out`` after each.

    An existing ``out`` must record the same prior, architecture, base recipe and evaluation
    (else ValueError: delete it to start again). Returns the file's contents.
    """
    prior = PRIORS[prior_name]()
    contexts = contexts or {"sloped sine": paper.sloped_sine()}
    header = {"prior": prior_name, "model_config": model_config.to_dict(),
              "base_train_config": asdict(base), "eval_datasets": eval_datasets,
              "eval_seed": base.seed + 1000, "x_query": [-1.0, 1.0, len(X_QUERY)],
              "contexts": sorted(contexts)}
    doc = open_results(out, header)
    done = {r["steps"] for r in doc["runs"]}
    todo = [b for b in budgets if b not in done]
    if not todo:
        return doc
    data = sample_eval_set(prior, eval_datasets, base.n_points,
                           torch.Generator().manual_seed(base.seed + 1000))
    t = time.perf_counter()
    exact = exact_nll(prior, data)
    log.info("exact NLL of %d datasets in %.0f s", eval_datasets, time.perf_counter() - t)
    for steps in todo:
        r = run_budget(prior, model_config, base, steps, data, exact, contexts)
        log.info("%6d steps: loss %.4f, gap %.4f +- %.4f, %.0f s", steps, r.final_loss,
                 r.gap, r.se, r.seconds)
        save_results(out, doc, [r.to_dict()], key=lambda d: d["steps"])
    return doc


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m bayeslens.budgets --preset NAME [--budgets ...]``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(prog="python -m bayeslens.budgets",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", choices=sorted(PFN_PRESETS), default="sines_and_lines")
    p.add_argument("--budgets", default=",".join(map(str, paper.E3_TRAINING_STEPS)),
                   help="comma-separated step counts (default: the paper's 100 ... 12,800)")
    p.add_argument("--eval-datasets", type=int, default=10_000)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--model", default="{}",
                   help='JSON overrides of the architecture, e.g. \'{"n_layers": 1}\' (tests)')
    p.add_argument("--train", default="{}", help="JSON overrides of the base recipe")
    args = p.parse_args(argv)
    preset = PFN_PRESETS[args.preset]
    budgets = [int(b) for b in args.budgets.split(",") if b]
    model_config = replace(preset.model, **json.loads(args.model))
    base = replace(budget_base(args.preset), **json.loads(args.train))
    sweep(preset.prior, model_config, base, budgets, args.out,
          eval_datasets=args.eval_datasets)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
