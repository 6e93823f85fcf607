"""The paper's priors and contexts, by name (Müller, Hollmann & Hutter, 2024; E1-E6).

One definition shared by chapters, tests and benchmarks. Contexts are functions returning
``(x_context, y_context)`` as float64 tensors of shape (points,).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor

from bayeslens.priors import CoinPrior, Curriculum, Mixture, SinePrior, StepPrior

__all__ = [
    "CONTEXTS",
    "Context",
    "bump",
    "coin_e5",
    "coin_e6",
    "e6_truth",
    "heads",
    "heads_and_tails",
    "line",
    "sine_2pi",
    "sine_context",
    "sines_and_lines_e3",
    "sines_e2",
    "sines_e2_curriculum",
    "sloped_sine",
    "step_context",
    "steps_e1",
    "steps_e4",
]

SIGMA = 0.1


def _lin(lo: float, hi: float, n: int) -> Tensor:
    return torch.linspace(lo, hi, n, dtype=torch.float64)


def steps_e1() -> StepPrior:
    """E1: c, b in linspace(-1, 1, 101), a in linspace(0, 2, 101); 1,030,301 latents."""
    return StepPrior.grid(_lin(-1, 1, 101), _lin(-1, 1, 101), _lin(0, 2, 101), SIGMA)


def steps_e4() -> StepPrior:
    """E4: steps up and down, c, b, a in linspace(-1, 1, 201); 8,120,601 latents."""
    return StepPrior.grid(_lin(-1, 1, 201), _lin(-1, 1, 201), _lin(-1, 1, 201), SIGMA)


def sines_e2(phi: Sequence[float] | None = None) -> SinePrior:
    """E2: m(x) = 0.2 sin(3 pi x + 2 pi phi), phi in linspace(0, 1, 101) (or the given phases)."""
    phases = _lin(0, 1, 101) if phi is None else torch.tensor(phi, dtype=torch.float64)
    return SinePrior.grid(sigma=SIGMA, A=0.2, f=3 * math.pi, phi=phases, name="sines_e2")


def sines_e2_curriculum(stage_steps: tuple[int, int, int] = (300, 300, 400)) -> Curriculum:
    """E2's prior after a curriculum of phases: {0}, then {0, 1/2}, then {0, 1/4, 1/2, 3/4}.

    The training recipe of the shipped ``sines`` model (see its card): on E2's prior a PFN
    sits on the prior predictive, ignoring its context, for thousands of steps, since no
    single feature of the context or the query predicts y alone. One phase first teaches the
    query's sine of x; two phases then make the sign of the context's sine worth reading.
    """
    stages = ([0.0], [0.0, 0.5], [0.0, 0.25, 0.5, 0.75])
    return Curriculum(sines_e2(), tuple(zip(stage_steps, map(sines_e2, stages), strict=True)))


def sines_and_lines_e3() -> Mixture:
    """E3: equal-family-weight mixture of 101 sines and 10,201 lines."""
    sines = SinePrior.grid(sigma=SIGMA, y0=_lin(0, 1, 101), A=0.2, f=3 * math.pi, name="sines")
    lines = SinePrior.grid(sigma=SIGMA, y0=_lin(-1, 1, 101), s=_lin(-1, 1, 101), name="lines")
    return Mixture.of([sines, lines], name="sines_and_lines_e3")


def coin_e5() -> CoinPrior:
    """E5: P(heads) uniform over linspace(0, 1, 103)[1:-1] (101 values)."""
    return CoinPrior.grid(_lin(0, 1, 103)[1:-1])


def coin_e6() -> CoinPrior:
    """E6: q in {0.3, 0.6}, equal weight (the truth, p = 0.5, is outside the prior)."""
    return CoinPrior.grid([0.3, 0.6])


e6_truth = 0.5
"""E6's true heads probability."""


# --------------------------------------------------------------------------------------------
# Context functions
# --------------------------------------------------------------------------------------------


def step_context(c: float, b: float, a: float, n: int = 10) -> tuple[Tensor, Tensor]:
    """Noise-free step b + a 1[x > c] at x = linspace(-1, 1, n)."""
    x = _lin(-1, 1, n)
    return x, b + a * (x > c).to(torch.float64)


def line(slope: float = 0.2, n: int = 10) -> tuple[Tensor, Tensor]:
    """E1's generalisation context: y = slope * x at x = linspace(-1, 1, n)."""
    x = _lin(-1, 1, n)
    return x, slope * x


def sine_context(phi: float, n: int = 10) -> tuple[Tensor, Tensor]:
    """E2 in-distribution: 0.2 sin(3 pi x + 2 pi phi) at x = linspace(-1, 1, n)."""
    x = _lin(-1, 1, n)
    return x, 0.2 * torch.sin(3 * math.pi * x + 2 * math.pi * phi)


def sine_2pi(n: int = 20) -> tuple[Tensor, Tensor]:
    """E2 generalisation: 0.2 sin(2 pi x) at x = linspace(-1, 1, n) (an unseen frequency)."""
    x = _lin(-1, 1, n)
    return x, 0.2 * torch.sin(2 * math.pi * x)


def sloped_sine(slope: float = 0.23, amplitude: float = 0.2, n: int = 10) -> tuple[Tensor, Tensor]:
    """E3: amplitude sin(3 pi x) + slope x at x = linspace(-1, 1, n)."""
    x = _lin(-1, 1, n)
    return x, amplitude * torch.sin(3 * math.pi * x) + slope * x


def bump(h: float = 0.2, n: int = 20, width: float = 0.5) -> tuple[Tensor, Tensor]:
    """E4: h (1[x > -width] - 1[x > width]) at x = linspace(-1, 1, n) (the paper: width 0.5)."""
    x = _lin(-1, 1, n)
    return x, h * ((x > -width).to(torch.float64) - (x > width).to(torch.float64))


def heads_and_tails(k: int, tails: int = 0) -> tuple[Tensor, Tensor]:
    """E5's explorer: k heads then `tails` tails (x = 0; y = 1 for heads, 0 for tails)."""
    y = torch.cat([torch.ones(k, dtype=torch.float64), torch.zeros(tails, dtype=torch.float64)])
    return torch.zeros(k + tails, dtype=torch.float64), y


def heads(k: int) -> tuple[Tensor, Tensor]:
    """E5: k identical heads (x = 0, y = 1)."""
    return heads_and_tails(k)


E3_SLOPES = tuple(round(0.21 + 0.01 * i, 2) for i in range(8))
"""E3 ablation: slopes 0.21 ... 0.28 of the sloped sine."""
E3_CONTEXT_SIZES = (10, 20, 40, 80)
"""E3 ablation: more context makes a bad prior worse."""
E3_TRAINING_STEPS = tuple(100 * 2**i for i in range(8))
"""E3 ablation: training budgets 100 ... 12,800 steps (doubling)."""
E4_HEIGHTS = (0.2, 0.3, 0.4, 0.5)
"""E4 ablation: bump heights."""
E5_HEADS = tuple(2**i for i in range(7))
"""E5: 1, 2, 4, ..., 64 identical heads."""
E6_FLIPS = tuple(2**i for i in range(11))
"""E6: 1, 2, 4, ..., 1024 flips."""


@dataclass(frozen=True)
class Context:
    """A named paper context: the prior it is evaluated under and how to make it."""

    experiment: str
    label: str
    prior: Callable[[], StepPrior | SinePrior | Mixture | CoinPrior]
    make: Callable[[], tuple[Tensor, Tensor]]
    in_distribution: bool


CONTEXTS: tuple[Context, ...] = (
    Context("E1", "step c=-0.2 b=0 a=0.5", steps_e1, lambda: step_context(-0.2, 0.0, 0.5), True),
    Context("E1", "step c=0.8 b=-0.5 a=1", steps_e1, lambda: step_context(0.8, -0.5, 1.0), True),
    Context("E1", "line 0.2x", steps_e1, line, False),
    Context("E2", "sine phi=0", sines_e2, lambda: sine_context(0.0), True),
    Context("E2", "sine phi=0.5", sines_e2, lambda: sine_context(0.5), True),
    Context("E2", "sine 2 pi x, 20 points", sines_e2, sine_2pi, False),
    Context("E3", "sine", sines_and_lines_e3, lambda: sloped_sine(slope=0.0), True),
    Context("E3", "line 0.23x", sines_and_lines_e3, lambda: sloped_sine(0.23, 0.0), True),
    Context("E3", "sloped sine", sines_and_lines_e3, sloped_sine, False),
    *(
        Context("E3", f"sloped sine, {n} points", sines_and_lines_e3,
                partial(sloped_sine, n=n), False)
        for n in E3_CONTEXT_SIZES[1:]
    ),
    *(
        Context("E3", f"sloped sine, slope {s}", sines_and_lines_e3,
                partial(sloped_sine, slope=s), False)
        for s in E3_SLOPES
    ),
    *(Context("E4", f"bump h={h}", steps_e4, partial(bump, h), False) for h in E4_HEIGHTS),
    *(Context("E5", f"{k} heads", coin_e5, partial(heads, k), False) for k in E5_HEADS),
)
"""Every paper context with a finite-latent prior (E1-E5)."""
