"""Training under torchrun: DistributedDataParallel on gloo, two CPU processes.

The slow test launches this file as torchrun's worker script (``python -m
torch.distributed.run --standalone --nproc_per_node 2 tests/test_distributed.py OUT``), then
the command line ``-m bayeslens.train`` under torchrun, both with one thread per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file

from bayeslens import checkpoints, paper
from bayeslens.model import PFNConfig
from bayeslens.train import StepInfo, TrainConfig, data_seed, train

# what the command line below builds from its flags
CLI = ["--prior", "steps", "--steps", "8", "--checkpoint-every", "4", "--batch-size", "16",
       "--n-points", "10", "--lr", "2e-3", "--warmup-steps", "2", "--n-layers", "1",
       "--d-model", "16", "--n-heads", "2", "--d-ff", "32", "--n-buckets", "20",
       "--head-hidden", "0", "--max-context", "9", "--border-datasets", "200"]
MODEL = PFNConfig(n_layers=1, d_model=16, n_heads=2, d_ff=32, n_buckets=20, head_hidden=0,
                  max_context=9)
TRAIN = TrainConfig(steps=8, checkpoint_every=4, batch_size=16, n_points=10, lr=2e-3,
                    warmup_steps=2, border_datasets=200)


def _crash_at(step: int) -> Callable[[StepInfo], None]:
    def callback(info: StepInfo) -> None:
        if info.step == step:
            raise KeyboardInterrupt

    return callback


def _worker(out: Path) -> None:
    """One rank: a full run, then a run that stops at step 6 (its last state: step 4)."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    try:
        full = train(paper.steps_e1(), MODEL, TRAIN, workdir=out / "full", progress=False,
                     snapshot_steps=[4])
        save_file({k: v.contiguous() for k, v in full.model.state_dict().items()},
                  str(out / f"rank{rank}.safetensors"))
        (out / f"losses{rank}.json").write_text(json.dumps(full.losses))
        try:
            train(paper.steps_e1(), MODEL, TRAIN, workdir=out / "resumed", progress=False,
                  callback=_crash_at(6))
        except KeyboardInterrupt:
            pass
    finally:
        dist.destroy_process_group()


def _torchrun(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node", "2", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300,
                          check=False)


@pytest.mark.slow
def test_two_ranks_train_one_model_and_resume_under_torchrun(tmp_path: Path) -> None:
    run = _torchrun(__file__, str(tmp_path))
    assert run.returncode == 0, run.stderr[-3000:]
    rank0 = load_file(str(tmp_path / "rank0.safetensors"))
    rank1 = load_file(str(tmp_path / "rank1.safetensors"))
    assert rank0.keys() == rank1.keys()
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0), "ranks' weights differ"
    losses = json.loads((tmp_path / "losses0.json").read_text())
    assert losses == json.loads((tmp_path / "losses1.json").read_text())
    assert len(losses) == 8

    state = load_file(str(tmp_path / "full" / "state.safetensors"))
    assert json.loads((tmp_path / "full" / "state.json").read_text())["world_size"] == 2
    # each rank drew its own batches: their generators are in different states
    assert not torch.equal(state["data_generator"], state["data_generator.rank1"])
    snap = checkpoints.load(tmp_path / "full" / "snapshots" / "step_0000004")
    assert snap.metadata["step"] == 4
    assert json.loads((tmp_path / "resumed" / "state.json").read_text())["step"] == 4

    # fresh processes, the command line: resume the stopped run at step 4 and finish it
    cli = _torchrun("-m", "bayeslens.train", *CLI, "--out", str(tmp_path / "resumed"),
                    "--eval-datasets", "0", "--no-progress")
    assert cli.returncode == 0, cli.stderr[-3000:]
    assert "resumed from" in cli.stderr
    model = checkpoints.load(tmp_path / "resumed" / "model")
    assert model.metadata["world_size"] == 2
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, rank0[k], atol=1e-6, rtol=1e-6)


def test_a_one_process_group_trains_exactly_as_no_group(tmp_path: Path) -> None:
    """The DistributedDataParallel path with one rank: the same bits as a single process."""
    alone = train(paper.steps_e1(), MODEL, TRAIN, progress=False)
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        grouped = train(paper.steps_e1(), MODEL, TRAIN, workdir=tmp_path, progress=False)
    finally:
        dist.destroy_process_group()
    assert grouped.extra["world_size"] == 1
    assert grouped.losses == alone.losses
    for a, b in zip(alone.model.state_dict().values(), grouped.model.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    state = load_file(str(tmp_path / "state.safetensors"))
    assert "data_generator.rank1" not in state
    # a state written by two ranks does not resume in one (whose generator would it take?)
    js = tmp_path / "state.json"
    js.write_text(json.dumps({**json.loads(js.read_text()), "world_size": 2}))
    with pytest.raises(ValueError, match="written by 2 processes, this run has 1"):
        train(paper.steps_e1(), MODEL, TRAIN, workdir=tmp_path, progress=False)


def test_data_seeds_differ_by_rank_and_rank_0_is_the_single_process_one() -> None:
    assert data_seed(5) == data_seed(5, 0) == 7
    seeds = {data_seed(0, r) for r in range(512)}
    assert len(seeds) == 512
    assert max(seeds) < 2**32  # torch's CPU generator keeps 32 bits of a seed


if __name__ == "__main__":
    _worker(Path(sys.argv[1]))
