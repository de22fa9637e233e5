"""[mechanics]: chemo-mechanical coupling and boundary conditions."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fem_electrode.config.spec import Section, key

#: Source of both end-member lattice strains (one pair of recalled lattice parameters).
LATTICE_SOURCE = "recalled lattice parameters, to be verified: Zatovsky 2010 (Na3), Jian et al. 2013 (Na1)"


def check_periodic_mesh(case: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Periodic lateral faces need a mesh that repeats across them."""
    if case["mechanics"]["lateral_bc"] == "periodic" and not case["geometry"]["periodic"]:
        return [
            "mechanics.lateral_bc = 'periodic' needs [geometry] periodic = true (the mesh must "
            "repeat across the lateral faces); with periodic = false use lateral_bc = 'rollers' "
            "or 'free'"
        ]
    return []


def _anisotropic_needs_strains(v: Mapping[str, Any]) -> list[str]:
    missing = v["lattice_strain_a"] is None or v["lattice_strain_c"] is None
    if v["strain_model"] == "anisotropic" and missing:
        return ["strain_model = 'anisotropic' needs lattice_strain_a and lattice_strain_c (the linear "
                "lattice strains along a and c from Na3V2(PO4)3 to NaV2(PO4)3, e.g. -0.0345 and -0.0153 "
                "from the lattice parameters in docs/mechanics.md; no default: they are not verified here)"]
    return []


def _one_concentration_source(v: Mapping[str, Any]) -> list[str]:
    if v["prescribed_y"] is not None and v["concentration_from"] is not None:
        return [
            f"prescribed_y = {v['prescribed_y']!r} and concentration_from = "
            f"{v['concentration_from']!r} both set: give one NVP state (uniform or from a run)"
        ]
    if v["concentration_time"] is not None and v["concentration_from"] is None:
        return [f"concentration_time = {v['concentration_time']!r} needs concentration_from (a run folder)"]
    return []


def check_cohesive(case: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """A cohesive interface needs the mechanics, held NZSP, no periodic faces, one-way coupling
    and a penalty stiff enough for the strengths."""
    mech, mat = case["mechanics"], case["materials"]
    if mech["interface"] != "cohesive":
        if mech["fatigue"] != "off" or mech["cycle_jump"]:
            return [f"mechanics.fatigue = {mech['fatigue']!r} and cycle_jump = {mech['cycle_jump']!r} need "
                    "mechanics.interface = 'cohesive' (the fatigue law acts on the cohesive interface's "
                    "damage)"]
        return []
    errors = []
    if mech["cycle_jump"] and mech["fatigue"] == "off":
        errors.append("mechanics.cycle_jump = true needs mechanics.fatigue = 'paris': without fatigue the "
                      "damage does not evolve from cycle to cycle and there is nothing to extrapolate")
    if mech["coupling"] != "one_way" and mech["prescribed_y"] is None and mech["concentration_from"] is None:
        errors.append(f"mechanics.interface = 'cohesive' needs coupling = 'one_way' (got "
                      f"{mech['coupling']!r}): the damage is updated after each accepted step; two_way "
                      "with damage is not implemented")
    if mech["lateral_bc"] != "rollers" or mech["separator_bc"] == "free":
        errors.append(f"mechanics.interface = 'cohesive' needs lateral_bc = 'rollers' (got "
                      f"{mech['lateral_bc']!r}) and separator_bc 'fixed_z' or 'clamped' (got "
                      f"{mech['separator_bc']!r}): the NZSP scaffold must be held")
    e_bar = mat["E_nvp"] / (1.0 - mat["nu_nvp"] ** 2)
    g_i = mat["toughness_interface"] ** 2 / e_bar
    g_ii = g_i * mat["toughness_ratio_interface"]
    for mode, strength, g in (("normal", mat["strength_interface"], g_i),
                              ("shear", mat["strength_interface_shear"], g_ii)):
        need = strength**2 / (2.0 * g)
        if not mat["penalty_interface"] > need:
            errors.append(f"materials.penalty_interface = {mat['penalty_interface']:g} Pa/m is too soft for "
                          f"the {mode} strength {strength:g} Pa and toughness {g:.3g} J/m^2: allowed "
                          f"> strength^2 / (2 G) = {need:.3g} Pa/m")
    return errors


@dataclass(frozen=True)
class MechanicsConfig:
    """Linear elasticity on NZSP ∪ NVP with the NVP Vegard strain (Ω/3)(c - c_ref) I. PETSc options of
    the mechanics solve go in [solver] petsc with the prefix 'mechanics_' (e.g. mechanics_ksp_rtol =
    1e-12).
    """

    coupling: str = key(
        "one_way",
        "-",
        "off, one_way (c -> strain each output step) or two_way (stress in mu and eta)",
        choices=("off", "one_way", "two_way"),
    )
    coupling_tolerance: float = key(
        1e-6,
        "-",
        "two_way: the staggered iteration of a time step stops when the stress work w = sigma : "
        "d(eps_ch)/dc changes by less than this times RT (max over NVP nodes)",
        lo=0.0,
        hi=1.0,
        lo_open=True,
    )
    coupling_max_iterations: int = key(
        25,
        "-",
        "two_way: staggered iterations per time step before the step is retried with a smaller dt",
        lo=1,
        hi=1000,
    )
    coupling_stabilization: float = key(
        0.5,
        "-",
        "two_way: slope of the stabilising term of the staggered iteration, as a fraction of the stress-"
        "work slope of rigidly held NVP (see docs/mechanics.md; >= 0.5 contracts for any constraint, larger"
        " is safer but slower)",
        lo=0.0,
        hi=10.0,
    )
    degree: int = key(1, "-", "Lagrange degree of the displacement", lo=1, hi=2)
    y_ref: float = key(
        1.0, "-", "stress-free filling y_ref = c_ref/c_max (1 = sintered Na3V2(PO4)3)", lo=0.0, hi=1.0
    )
    prescribed_y: float | None = key(
        None, "-", "solve mechanics alone for a uniform NVP filling y (no electrochemistry)", lo=0.0, hi=1.0
    )
    concentration_from: str | None = key(
        None,
        "-",
        "fem-electrode mechanics: a finished run folder whose NVP concentration snapshot "
        "(concentration/c_NNNN.npz, same mesh) drives the mechanics instead of prescribed_y",
    )
    concentration_time: float | None = key(
        None,
        "s",
        "concentration_from: the snapshot nearest this time; absent = the most strained snapshot (largest "
        "|y_mean - y_ref|, the state the run's own metrics describe)",
        lo=0.0,
    )
    separator_bc: str = key(
        "fixed_z", "-", "separator face: u_z = 0 or clamped", choices=("fixed_z", "clamped", "free")
    )
    lateral_bc: str = key(
        "rollers",
        "-",
        "lateral faces (x, y): rollers (u.n = 0), periodic (u repeats with the box; zero mean in-plane "
        "strain; needs a periodic mesh: [geometry] periodic = true) or free",
        choices=("rollers", "periodic", "free"),
    )
    collector_bc: str = key("free", "-", "current-collector face", choices=("free", "rollers"))
    strain_model: str = key(
        "isotropic",
        "-",
        "isotropic Vegard strain, or anisotropic from the end-member lattice strains",
        choices=("isotropic", "anisotropic"),
    )
    lattice_strain_a: float | None = key(
        None,
        "-",
        "anisotropic: linear strain along the hexagonal a axis (x and y) from y = 1 to y = 0; required "
        "with strain_model = 'anisotropic' (no verified default: see docs/mechanics.md, about -0.034)",
        lo=-0.2,
        hi=0.2,
        source=LATTICE_SOURCE,
    )
    lattice_strain_c: float | None = key(
        None,
        "-",
        "anisotropic: linear strain along the hexagonal c axis (z: texture 'c along z') from y = 1 to "
        "y = 0; required with strain_model = 'anisotropic' (see docs/mechanics.md, about -0.015)",
        lo=-0.2,
        hi=0.2,
        source=LATTICE_SOURCE,
    )
    residual_stress: str = key(
        "none",
        "-",
        "thermal: NVP carries the isotropic mismatch strain (cte_nvp - cte_nzsp)(T_cell - "
        "heat_treatment_temperature) from cooling after the heat treatment that forms NVP, on top of which "
        "cycling acts; none: stress-free at y_ref (the default: no measured CTE of NVP exists, see "
        "docs/degradation.md)",
        choices=("none", "thermal"),
    )
    heat_treatment_temperature: float = key(
        1013.15,
        "K",
        "residual_stress = 'thermal': the temperature at which NVP and NZSP are stress-free (the 740 C heat "
        "treatment that forms NVP in both processes)",
        lo=200.0,
        hi=2500.0,
        source="the paper (seed): NVP formed at 740 C after infiltration and after co-sintering",
    )
    interface: str = key(
        "bonded",
        "-",
        "NVP|NZSP interface: bonded (continuous displacement) or cohesive (may open and slide, with "
        "irreversible damage D from the traction-separation law of [materials] strength_interface, "
        "strength_interface_shear, toughness_interface, toughness_ratio_interface, bk_exponent_interface, "
        "penalty_interface; the contact fraction 1 - D scales the interface current; docs/degradation.md)",
        choices=("bonded", "cohesive"),
    )
    contact_measure: str = key(
        "damage",
        "-",
        "cohesive: the contact fraction that scales the interface current: damage = 1 - D (a facet past its "
        "strength loses contact almost at once with a stiff penalty), separation = the fraction of its "
        "strength the facet can still carry (contact lasts until the faces separate)",
        choices=("damage", "separation"),
    )
    damage_tolerance: float = key(
        1e-4,
        "-",
        "cohesive: the secant iteration of a mechanics solve stops when no facet's damage changes by more "
        "than this and no facet switches between open and closed",
        lo=0.0,
        hi=0.1,
        lo_open=True,
    )
    damage_update_dy: float = key(
        0.02,
        "-",
        "cohesive: the mechanics (and the damage) is updated after an accepted step once the NVP filling y "
        "has changed by this much at some node since the last update, and at the end of every protocol "
        "segment; 0 = after every accepted step (docs/degradation.md shows the error of the default)",
        lo=0.0,
        hi=0.5,
    )
    damage_max_iterations: int = key(
        20,
        "-",
        "cohesive: secant iterations per mechanics update; when reached, the damage of the last iterate is "
        "kept and the next update goes on from it (counted as unconverged_updates in metrics.json)",
        lo=1,
        hi=10000,
    )
    fatigue: str = key(
        "off",
        "-",
        "cohesive: cyclic fatigue of the interface: off (the damage grows only when the static law's "
        "envelope is exceeded) or paris (a cycle-based Paris law in cohesive-zone form after Turon et al., "
        "Mech. Mater. 39 (2007) 1079, applied per facet at the end of each cycle from the cycle's largest "
        "jump; [materials] fatigue_paris_C, fatigue_paris_m, fatigue_threshold_ratio; docs/degradation.md)",
        choices=("off", "paris"),
    )
    cycle_jump: bool = key(
        False,
        "-",
        "fatigue: after full simulated cycles, extrapolate the per-facet damage over a block of cycles "
        "with the last cycle's load (the Paris law's closed form) and skip them; the skipped cycles are "
        "interpolated in cycles.csv and marked extrapolated (docs/degradation.md)",
    )
    cycle_jump_max_dD: float = key(
        0.02,
        "-",
        "cycle_jump: the largest damage increment a jump may add to any facet (sets the block length)",
        lo=0.0,
        hi=1.0,
        lo_open=True,
        source="numerical parameter: docs/degradation.md shows the retention error against a full run",
    )
    cycle_jump_min_cycles: int = key(
        2,
        "-",
        "cycle_jump: full cycles simulated before the first jump and between jumps (the first cycle "
        "carries the static damage and is never extrapolated from)",
        lo=1,
        hi=10000,
    )
    fracture_layer_thickness: float | None = key(
        None,
        "µm",
        "h of the thin-film fracture indicators (G proportional to sigma^2 h, docs/mechanics.md); "
        "absent = from the geometry (provenance,"
        " film/coating/layer thickness) or V_NVP / A_interface",
        lo=0.0,
        lo_open=True,
    )


SECTION = Section.from_config("mechanics", MechanicsConfig,
                               checks=(_one_concentration_source, _anisotropic_needs_strains))
