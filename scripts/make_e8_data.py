"""Regenerate bayeslens/data/e8_results.json: E8 at the paper's scale (chapter 4).

100 tiny MLPs per setting (no input noise; noise std 0.1), 10,000 AdamW steps of batch 1024
each, all seeds trained at once (:mod:`bayeslens.mlp`). On the project's 2-core CPU the shipped
file took 73 s without noise (two distinct points per step, see the module docstring of
bayeslens.mlp) and 800 s with noise, where every point costs. The chapter reads the shipped
file and also runs a reduced version live; ``tests/test_mlp.py`` runs this script shrunk.

    python scripts/make_e8_data.py --threads 2 --log-every 1000   # the paper's scale
    python scripts/make_e8_data.py --n-seeds 4 --n-steps 20 --out /tmp/e8.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from bayeslens.mlp import E8Config, run_e8

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "bayeslens" / "data" / "e8_results.json"
NOISE_STDS = (0.0, 0.1)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-seeds", type=int, default=100)
    parser.add_argument("--n-steps", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument(
        "--noisy-batch-size",
        type=int,
        default=0,
        help="batch size of the noisy setting only (0: --batch-size); the noise-free setting "
        "costs two points per step whatever the batch size, the noisy one all of them",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--noise-stds",
        type=float,
        nargs="+",
        default=list(NOISE_STDS),
        help="settings to run; results for other settings already in --out are kept",
    )
    parser.add_argument(
        "--noisy-n-steps", type=int, default=0, help="steps of the noisy setting (0: --n-steps)"
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--log-every", type=int, default=0, help="print progress every N steps")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    settings = []
    for noise_std in args.noise_stds:
        noisy_batch = args.noisy_batch_size or args.batch_size
        noisy_steps = args.noisy_n_steps or args.n_steps
        cfg = E8Config(
            noise_std=noise_std,
            n_seeds=args.n_seeds,
            n_steps=noisy_steps if noise_std > 0 else args.n_steps,
            batch_size=noisy_batch if noise_std > 0 else args.batch_size,
            seed=args.seed,
        )
        start = time.perf_counter()

        def progress(step: int, loss: float, start: float = start) -> None:
            if args.log_every and (step + 1) % args.log_every == 0:
                elapsed = time.perf_counter() - start
                print(f"  step {step + 1}: loss {loss:.4f}, {elapsed:.0f} s", flush=True)

        result = run_e8(cfg, callback=progress)
        seconds = time.perf_counter() - start
        print(f"noise_std={noise_std}: {seconds:.0f} s", flush=True)
        settings.append({**result.to_dict(), "seconds": round(seconds, 1)})
    if args.out.exists():  # keep the settings this run did not redo
        old = json.loads(args.out.read_text())["settings"]
        done = {s["config"]["noise_std"] for s in settings}
        settings += [s for s in old if s["config"]["noise_std"] not in done]
    settings.sort(key=lambda s: s["config"]["noise_std"])
    payload = {
        "experiment": "E8",
        "generated_by": "scripts/make_e8_data.py",
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
        "settings": settings,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, separators=(",", ":")) + "\n")
    print(f"wrote {args.out}")
    return args.out


if __name__ == "__main__":
    main()
