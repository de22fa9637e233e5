"""[case]: what the run is called."""

from fem_electrode.config.spec import Key, Section

SECTION = Section(
    name="case",
    doc="Identity of the case: its name names the mesh and run folders.",
    keys=(
        Key("name", "str", "electrode", "-", "case name; used for mesh and run file names"),
        Key("description", "str", "", "-", "free text kept in the provenance files"),
    ),
    checks=(
        lambda v: [] if v["name"] and all(ch.isalnum() or ch in "-_." for ch in v["name"])
        else [f"name = {v['name']!r}: use letters, digits, '-', '_' or '.' only (it names files)"],
    ),
)
