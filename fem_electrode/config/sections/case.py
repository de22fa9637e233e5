"""[case]: what the run is called."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fem_electrode.config.spec import Section, key


@dataclass(frozen=True)
class CaseConfig:
    """Identity of the case: its name names the mesh and run folders."""

    name: str = key("electrode", "-", "case name; used for mesh and run file names")
    description: str = key("", "-", "free text kept in the provenance files")


def _name(v: Mapping[str, Any]) -> list[str]:
    """The name names files and folders: letters, digits, '-', '_', '.', and at least one letter or
    digit (``.`` and ``..`` would name the working directory or its parent)."""
    name = v["name"]
    if name and all(ch.isalnum() or ch in "-_." for ch in name) and any(ch.isalnum() for ch in name):
        return []
    return [f"name = {name!r}: use letters, digits, '-', '_' or '.', with at least one letter or digit "
            "(it names the mesh and run folders)"]


SECTION = Section.from_config("case", CaseConfig, checks=(_name,))
