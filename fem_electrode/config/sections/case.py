"""[case]: what the run is called."""

from dataclasses import dataclass

from fem_electrode.config.spec import Section, key


@dataclass(frozen=True)
class CaseConfig:
    """Identity of the case: its name names the mesh and run folders."""

    name: str = key("electrode", "-", "case name; used for mesh and run file names")
    description: str = key("", "-", "free text kept in the provenance files")


SECTION = Section.from_config(
    "case",
    CaseConfig,
    checks=(
        lambda v: (
            []
            if v["name"] and all(ch.isalnum() or ch in "-_." for ch in v["name"])
            else [f"name = {v['name']!r}: use letters, digits, '-', '_' or '.' only (it names files)"]
        ),
    ),
)
