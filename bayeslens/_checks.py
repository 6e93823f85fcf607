"""Argument checks shared by the priors: each raises a ValueError that names the argument and
what it must be, before any work is done."""

from __future__ import annotations

import math

import torch

__all__ = ["check_generator", "check_int", "check_positive"]


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
