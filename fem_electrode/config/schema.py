"""The case-file schema: every section and key, in one place.

The validator (:mod:`fem_electrode.config.loader`) and the documentation
(``fem-electrode keys``, ``docs/case-keys.md``) are both generated from :data:`SCHEMA`.
"""

from fem_electrode.config.sections import (
    case,
    electrochemistry,
    electrode,
    geometry,
    materials,
    mechanics,
    mesh,
    output,
    protocol,
    solver,
)
from fem_electrode.config.spec import Key, Section

SCHEMA: tuple[Section, ...] = (
    case.SECTION,
    geometry.SECTION,
    mesh.SECTION,
    materials.SECTION,
    electrochemistry.SECTION,
    protocol.SECTION,
    mechanics.SECTION,
    electrode.SECTION,
    solver.SECTION,
    output.SECTION,
)


def section(name: str) -> Section:
    """The section called ``name``."""
    for s in SCHEMA:
        if s.name == name:
            return s
    raise KeyError(f"no section [{name}]; sections: {', '.join(s.name for s in SCHEMA)}")


def markdown() -> str:
    """Documentation of every key as Markdown tables."""
    from fem_electrode.config.spec import REQUIRED

    out = ["# Case-file keys", "", "Generated from `fem_electrode/config/schema.py` "
           "(`fem-electrode keys`). Units as stated; lengths of the geometry in µm.", ""]
    for s in SCHEMA:
        out += [f"## [{s.name}]", "", s.doc, "",
                "| key | meaning | unit | default | allowed | source |",
                "|---|---|---|---|---|---|"]
        for k in s.keys:
            default = "required" if k.default is REQUIRED else (
                "(absent)" if k.default is None else repr(k.default))
            out.append(f"| `{k.name}` | {k.doc} | {k.unit} | {default} | {k.allowed()} | "
                       f"{k.source} |")
        out.append("")
    return "\n".join(out)


__all__ = ["SCHEMA", "Key", "Section", "markdown", "section"]
