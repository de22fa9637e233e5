"""[geometry]: the representative volume element (lengths in µm)."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fem_electrode.config.spec import Section, key

KINDS = ("infiltrated", "cosintered", "sphere_inclusion", "coated_cavity", "film", "column")


def _composition(v: Mapping[str, Any]) -> list[str]:
    problems = []
    if v["kind"] in ("infiltrated", "cosintered") and v["nvp_fraction"] >= v["porosity"]:
        problems.append(
            f"nvp_fraction = {v['nvp_fraction']} must be below porosity = {v['porosity']} "
            "(residual pore = porosity - nvp_fraction must be >= 0; targets do not add up)"
        )
    if v["pore_radius_min"] > v["pore_radius_mean"] or v["pore_radius_mean"] > v["pore_radius_max"]:
        problems.append(
            "pore radii must satisfy pore_radius_min <= pore_radius_mean <= pore_radius_max, got "
            f"{v['pore_radius_min']} / {v['pore_radius_mean']} / {v['pore_radius_max']} µm"
        )
    if v["kind"] in ("infiltrated", "cosintered") and v["pore_radius_max"] * 2 > min(v["box"]):
        problems.append(
            f"pore_radius_max = {v['pore_radius_max']} µm: a pore larger than the box "
            f"{v['box']} µm (diameter must be below the smallest box edge)"
        )
    t = v["layer_thickness"]
    if t is not None and t >= v["pore_radius_min"]:
        problems.append(
            f"layer_thickness = {t} µm must be below the smallest pore radius "
            f"pore_radius_min = {v['pore_radius_min']} µm"
        )
    if len(v["box"]) != 3:
        problems.append(f"box = {v['box']}: give three edge lengths [Lx, Ly, Lz] in µm")
    return problems


def _shapes(v: Mapping[str, Any]) -> list[str]:
    """Dimension checks of the co-sintered pores and the canonical shapes (no geometry needed)."""
    problems: list[str] = []
    kind, box = v["kind"], v["box"]
    if len(box) != 3:
        return problems  # reported by _composition
    gap = v["min_gap"]
    if kind == "cosintered" and 2 * v["residual_pore_radius"] >= min(box):
        problems.append(
            f"residual_pore_radius = {v['residual_pore_radius']} µm: a pore larger than the box {box} µm"
        )
    if kind in ("sphere_inclusion", "coated_cavity"):
        a, outer = v["inclusion_radius"], v["outer_radius"]
        if outer is None and a + gap > min(box) / 2:
            problems.append(
                f"inclusion_radius = {a} µm must be below half the smallest box edge "
                f"minus min_gap ({min(box) / 2 - gap:g} µm)"
            )
        if outer is not None and a + gap > outer:
            problems.append(
                f"inclusion_radius = {a} µm must be below outer_radius = {outer} µm minus min_gap = {gap} µm"
            )
    if kind == "coated_cavity" and v["coating_thickness"] + gap > v["inclusion_radius"]:
        problems.append(
            f"coating_thickness = {v['coating_thickness']} µm must be below "
            f"inclusion_radius = {v['inclusion_radius']} µm minus min_gap = {gap} µm"
        )
    if kind in ("film", "column") and v["film_thickness"] + gap > box[2]:
        problems.append(
            f"film_thickness = {v['film_thickness']} µm must be below the box height "
            f"Lz = {box[2]} µm minus min_gap = {gap} µm"
        )
    return problems


#: Kinds that fill the box and so can repeat periodically in x and y.
PERIODIC_KINDS = ("infiltrated", "cosintered", "film", "column")


def _periodic(v: Mapping[str, Any]) -> list[str]:
    if v["periodic"] and v["kind"] not in PERIODIC_KINDS:
        return [
            f"periodic = true is not allowed with kind = {v['kind']!r} (one centred sphere or "
            "cavity, not a box-filling microstructure); periodic = true is allowed with kind = "
            + " / ".join(repr(k) for k in PERIODIC_KINDS)
            + "; use periodic = false"
        ]
    return []


@dataclass(frozen=True)
class GeometryConfig:
    """Microstructure of the RVE. z = 0 faces the separator, z = Lz the current collector."""

    kind: str = key(
        "infiltrated",
        "-",
        "microstructure to build",
        choices=("infiltrated", "cosintered", "sphere_inclusion", "coated_cavity", "film", "column"),
    )
    box: list[float] = key([10.0, 10.0, 10.0], "µm", "RVE edge lengths [Lx, Ly, Lz]", lo=0.5, hi=1000.0)
    seed: int = key(1, "-", "random seed for pore / grain placement", lo=0)
    seeds: int = key(
        1,
        "-",
        "`compare`: microstructures per design (seeds seed, seed + 1, ...); with 2 or more every metric "
        "gets its mean and 95 % interval and a design wins only where the intervals separate",
        lo=1,
        hi=1000,
    )
    porosity: float = key(
        0.2,
        "-",
        "scaffold porosity (pore-former volume / box); NVP + residual pore share it",
        lo=0.0,
        hi=0.6,
        lo_open=True,
        source="paper: NZSP:NVP:pore = 80:15.5:4.5 vol%",
    )
    nvp_fraction: float = key(
        0.155,
        "-",
        "target NVP volume fraction of the box",
        lo=0.0,
        hi=0.6,
        lo_open=True,
        source="paper: NZSP:NVP:pore = 80:15.5:4.5 vol%",
    )
    layer_thickness: float | None = key(
        None,
        "µm",
        "NVP layer thickness on infiltrated pore walls; absent = solved from nvp_fraction",
        lo=0.0,
        lo_open=True,
    )
    pore_radius_mean: float = key(
        1.0,
        "µm",
        "median radius of the log-normal pore-former (infiltrated) or NVP grain (co-sintered) distribution",
        lo=0.05,
    )
    pore_radius_sigma: float = key(0.2, "-", "log-normal shape parameter of the radii", lo=0.0, hi=1.5)
    pore_radius_min: float = key(0.6, "µm", "radii are clipped below at this value", lo=0.05)
    pore_radius_max: float = key(1.6, "µm", "radii are clipped above at this value", lo=0.05)
    pore_connectivity: float = key(
        1.0,
        "-",
        "infiltrated: probability that a pore former is placed touching the pore network open to the "
        "current collector (1 = open-porosity template; lower values leave isolated, unfilled pores)",
        lo=0.0,
        hi=1.0,
    )
    grain_connectivity: float = key(
        1.0,
        "-",
        "co-sintered: probability that an NVP grain is placed touching the grain network connected to the "
        "current collector (0 = fully random dispersion)",
        lo=0.0,
        hi=1.0,
    )
    min_gap: float = key(
        0.05,
        "µm",
        "clearance kept between sphere surfaces, intersection circles and box faces (rejects near-tangent "
        "placements that break OCC booleans)",
        lo=0.001,
        hi=1.0,
    )
    residual_pore_radius: float = key(
        0.5, "µm", "radius of the small residual pores of the co-sintered electrode", lo=0.05
    )
    inclusion_radius: float = key(
        2.0, "µm", "radius of the sphere (sphere_inclusion) or cavity (coated_cavity)", lo=0.05
    )
    outer_radius: float | None = key(
        None, "µm", "sphere_inclusion: radius of an outer spherical shell instead of the box", lo=0.05
    )
    film_thickness: float = key(
        1.0, "µm", "NVP thickness of the film / column (film on top of an NZSP substrate)", lo=0.01
    )
    coating_thickness: float = key(0.5, "µm", "coated_cavity: NVP coating thickness", lo=0.01)
    periodic: bool = key(
        False,
        "-",
        "periodic microstructure in x and y (periods Lx, Ly): a pore or grain crossing x = Lx re-enters at "
        "x = 0, and the mesh nodes of the faces x = Lx and y = Ly are those of x = 0 and y = 0 translated; "
        'needed for mechanics.lateral_bc = "periodic". z is never periodic (separator at z = 0, current '
        "collector at z = Lz). Kinds infiltrated, cosintered, film, column",
    )


SECTION = Section.from_config(
    "geometry",
    GeometryConfig,
    checks=(
        _composition,
        _shapes,
        _periodic,
    ),
)
