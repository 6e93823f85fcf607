"""Shared test fixtures: the drawing tests' headless backend and a fresh Axes per test."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest


@pytest.fixture
def ax():
    """A fresh Axes on its own figure, closed after the test."""
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)
