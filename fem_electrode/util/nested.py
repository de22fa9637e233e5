"""Nested mappings (``metrics.json``) under dotted names, shared by ``collect`` and the report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Scalars (bool, int, float, str) of a nested mapping under dotted names; lists and None are skipped."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        elif isinstance(value, bool | int | float | str):
            out[name] = value
    return out
