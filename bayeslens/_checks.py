"""Argument checks shared by the priors: each raises a ValueError that names the argument and
what it must be, before any work is done."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

__all__ = ["check_generator", "check_int", "check_pool_sizes", "check_positive"]


def check_int(name: str, value: object, minimum: int) -> int:
    """``value`` if it is an int (not a bool) of at least ``minimum``, else ValueError."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def check_positive(name: str, value: object) -> float:
    """``value`` as a float if it is a finite number > 0 (not a bool), else ValueError."""
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_generator(generator: object) -> torch.Generator:
    """``generator`` if it is a ``torch.Generator`` (randomness is always seeded explicitly)."""
    if not isinstance(generator, torch.Generator):
        raise ValueError(
            f"generator must be a torch.Generator (explicit seeding), got {type(generator)}"
        )
    return generator


def check_pool_sizes(pool_sizes: object, symbol: str) -> list[int]:
    """``pool_sizes`` sorted and without repeats if it is a non-empty sequence of ints >= 1,
    else ValueError naming ``pool_sizes``; ``symbol`` (e.g. "M") says what they count."""
    if isinstance(pool_sizes, str | bytes) or not isinstance(pool_sizes, Sequence):
        raise ValueError(f"pool_sizes must be a sequence of ints >= 1, got {pool_sizes!r}")
    bad = [m for m in pool_sizes if not isinstance(m, int) or isinstance(m, bool) or m < 1]
    if bad or not pool_sizes:
        raise ValueError(f"pool_sizes must be one or more ints >= 1 (pool sizes {symbol}), "
                         f"got {list(pool_sizes)!r}")
    return sorted(set(pool_sizes))
