"""From a validated case to the objects the problems take: parameters, solver settings, h.

The problems (:mod:`fem_electrode.problems`) know nothing of case files; this module is the
one place that reads the case's sections for them. Units are converted here (the case's
geometry lengths are in µm, everything else SI already).
"""

from __future__ import annotations

import json
from pathlib import Path

from fem_electrode.config import Case
from fem_electrode.config.sections.solver import OUTPUT_OPTION_WORDS
from fem_electrode.fem.domain import Domain
from fem_electrode.fem.elastic_solver import solver_options
from fem_electrode.fem.fenicsx import MPI, dolfinx
from fem_electrode.fem.newton import SolverSettings
from fem_electrode.fem.petsc_options import OptionValue
from fem_electrode.physics import ocv
from fem_electrode.physics.cohesive import CohesiveLaw
from fem_electrode.physics.fracture import LayerThickness, Strengths
from fem_electrode.physics.kinetics import ButlerVolmer
from fem_electrode.problems.cohesive_mechanics import CohesiveMechanicsProblem
from fem_electrode.problems.electrochemistry import ElectroParams
from fem_electrode.problems.mechanics import MechanicsParams, MechanicsProblem
from fem_electrode.util.log import get_logger

log = get_logger("run")

#: µm (case geometry lengths) -> m.
MICROMETRE = 1e-6

#: Keys of a mesh provenance's ``resolved`` block (µm) that give the NVP layer thickness.
PROVENANCE_THICKNESS_KEYS = ("layer_thickness", "film_thickness", "coating_thickness")


def electro_params(case: Case) -> ElectroParams:
    """The electrochemistry's parameters from ``[materials]`` and ``[electrochemistry]``."""
    m, e = case.materials, case.electrochemistry
    return ElectroParams(
        sigma_e=m.sigma_e_nzsp, sigma_s=m.sigma_s_nvp, D=m.D_nvp, c_max=m.c_max,
        kinetics=ButlerVolmer(e.i0_ref, e.alpha_a, e.alpha_c, e.temperature),
        ocv=ocv.from_config(e), initial_y=e.initial_y,
        r_series=e.separator_thickness / m.sigma_e_nzsp + e.asr_na_nzsp,
        density=m.density_nvp, capacity=m.capacity_nvp, collector_conductance=e.collector_conductance,
    )


def petsc_user_options(case: Case) -> dict[str, OptionValue]:
    """``[solver] petsc`` as PETSc reads it: a monitor or viewer switched on (true) prints to the
    log (the empty value), one switched off (false) is left out."""
    out: dict[str, OptionValue] = {}
    for name, value in case.solver.petsc.items():
        if any(word in name for word in OUTPUT_OPTION_WORDS) and isinstance(value, bool):
            if value:
                out[name] = ""
            continue
        out[name] = value
    return out


def solver_settings(case: Case) -> SolverSettings:
    """The Newton settings of ``[solver]`` (its ``petsc`` table as given: the solver picks its keys).
    Newton keeps its Jacobian (``jacobian_reuse``) with the direct solver only: with the
    iterative one a chord step costs a whole Krylov solve, as a Newton step does (measured:
    examples/infiltrated.toml on 2 ranks 358 s with reuse, 277 s without); and not with
    ``time_stepping = "newton"``, whose rule judges a step by its Newton iterations."""
    s = case.solver
    plain = case.protocol.time_stepping == "newton" or s.linear != "direct"
    reuse = 0.0 if plain else s.jacobian_reuse
    if reuse != s.jacobian_reuse:
        log.debug("plain Newton (solver.jacobian_reuse = %g applies to linear = 'direct' with "
                  "error-controlled steps only)", s.jacobian_reuse)
    return SolverSettings(linear=s.linear, rtol=s.rtol, atol=s.atol, max_it=s.max_it,
                          quadrature_degree=s.quadrature_degree, petsc=petsc_user_options(case),
                          step_tol=s.step_tol, newton_error_tol=s.newton_error_tol,
                          jacobian_reuse=reuse)


def mechanics_params(case: Case) -> MechanicsParams:
    """Elastic constants, chemical strain and boundary conditions from ``[materials]``/``[mechanics]``."""
    m, mech = case.materials, case.mechanics
    return MechanicsParams(
        E_nzsp=m.E_nzsp, nu_nzsp=m.nu_nzsp, E_nvp=m.E_nvp, nu_nvp=m.nu_nvp, omega=m.omega_nvp,
        c_max=m.c_max, y_ref=mech.y_ref, strain_model=mech.strain_model,
        lattice_strain_a=mech.lattice_strain_a, lattice_strain_c=mech.lattice_strain_c,
        separator_bc=mech.separator_bc, lateral_bc=mech.lateral_bc, collector_bc=mech.collector_bc,
        degree=mech.degree, residual_strain=residual_strain(case))


def residual_strain(case: Case) -> float:
    """The NVP thermal mismatch strain (α_NVP − α_NZSP)(T_cell − T_heat) of ``residual_stress =
    'thermal'``, else 0 (dimensionless, isotropic)."""
    m, mech = case.materials, case.mechanics
    if mech.residual_stress != "thermal":
        return 0.0
    return (m.cte_nvp - m.cte_nzsp) * (case.electrochemistry.temperature - mech.heat_treatment_temperature)


def mechanics_solver_options(case: Case) -> dict[str, OptionValue]:
    """KSP options of the elasticity solve (``[solver] linear`` and its ``mechanics_`` PETSc keys)."""
    return solver_options(case.solver.linear, petsc_user_options(case))


def cohesive_law(case: Case) -> CohesiveLaw:
    """The interface's traction-separation law from ``[materials]``: G_Ic = K_IC² (1 − ν²)/E of
    NVP (plane strain), G_IIc = ratio × G_Ic."""
    m = case.materials
    g_i = m.toughness_interface**2 * (1.0 - m.nu_nvp**2) / m.E_nvp
    return CohesiveLaw(strength_normal=m.strength_interface, strength_shear=m.strength_interface_shear,
                       toughness_normal=g_i, toughness_shear=g_i * m.toughness_ratio_interface,
                       penalty=m.penalty_interface, bk_exponent=m.bk_exponent_interface)


def mechanics_problem(case: Case, domain: Domain) -> MechanicsProblem:
    """The mechanics of ``[mechanics]``: bonded (:class:`MechanicsProblem`) or with a cohesive
    interface (:class:`CohesiveMechanicsProblem`, MUMPS LU whatever ``[solver] linear``)."""
    mech = case.mechanics
    if mech.interface == "cohesive":
        return CohesiveMechanicsProblem(domain, mechanics_params(case), cohesive_law(case),
                                        tolerance=mech.damage_tolerance,
                                        max_iterations=mech.damage_max_iterations,
                                        contact_measure=mech.contact_measure)
    return MechanicsProblem(domain, mechanics_params(case), mechanics_solver_options(case))


def strengths(case: Case) -> Strengths:
    """Strengths and toughnesses of ``[materials]``."""
    m = case.materials
    return Strengths(m.strength_nzsp, m.strength_nvp, m.strength_interface, m.toughness_nvp,
                     m.toughness_interface)


def provenance_thickness(mesh_path: Path | None) -> float | None:
    """NVP layer thickness (m) recorded in the mesh's provenance JSON (``<mesh>.json``), if any."""
    if mesh_path is None:
        return None
    js = Path(mesh_path).with_suffix(".json")
    if not js.is_file():
        return None
    try:
        data = json.loads(js.read_text())
    except (OSError, ValueError):
        return None
    resolved = data.get("resolved", {})
    to_metre = data.get("units", {}).get("to_metre", MICROMETRE)
    for key in PROVENANCE_THICKNESS_KEYS:
        if resolved.get(key) is not None:
            return float(resolved[key]) * to_metre
    return None


def layer_thickness(case: Case, domain: Domain, mesh_path: Path | None) -> LayerThickness:
    """h (m) of the thin-film fracture indicator and where it came from, for every path (run,
    compare, mechanics alone). In order: ``[mechanics] fracture_layer_thickness``; the layer,
    film or coating thickness the mesh was built with (its provenance JSON); else the mean
    thickness V_NVP / A_interface (exact for a film; co-sintered grains: a nominal value).
    Collective: every rank gets the same answer.
    """
    comm = domain.mesh.comm
    given = case.mechanics.fracture_layer_thickness
    if given is not None:
        return LayerThickness(given * MICROMETRE, "mechanics.fracture_layer_thickness")
    h = comm.bcast(provenance_thickness(mesh_path) if comm.rank == 0 else None, root=0)
    if h is not None:
        return LayerThickness(h, "mesh provenance")
    one = dolfinx.fem.Constant(domain.mesh, 1.0)
    area_form = dolfinx.fem.form(one * domain.dS("interface_nvp_nzsp"))
    area = comm.allreduce(dolfinx.fem.assemble_scalar(area_form), op=MPI.SUM)
    if area > 0.0:
        return LayerThickness(domain.volume("NVP") / area, "V_NVP / A_interface")
    return LayerThickness(None, "no interface")
