"""Command-line flag parsing shared by the sweeps (:mod:`bayeslens.diversity`,
:mod:`bayeslens.sequence_pools`): each bad value is a ValueError that names its flag."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

__all__ = ["int_flag", "json_overrides"]


def json_overrides(flag: str, text: str, cls: type) -> dict[str, Any]:
    """``text`` parsed as a JSON object whose keys are fields of the dataclass ``cls``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{flag} must be a JSON object, got {text!r}: {err}") from err
    if not isinstance(value, dict):
        raise ValueError(f"{flag} must be a JSON object, got {text!r}")
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(value) - names)
    if unknown:
        raise ValueError(f"{flag} has unknown fields {unknown}; {cls.__name__} has "
                         f"{sorted(names)}")
    return value


def int_flag(flag: str, text: str, minimum: int) -> int:
    """``text`` as an int of at least ``minimum``."""
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ValueError(f"{flag} must be an int >= {minimum}, got {text!r}")
    return value
