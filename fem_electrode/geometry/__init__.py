"""Geometry layer: microstructures -> tagged ``.msh`` + provenance ``.json``.

Generated microstructures are built with gmsh's OpenCASCADE kernel; a labelled 3D image
(``kind = "image"``) is meshed by its own pipeline (NumPy/SciPy surface nets, then gmsh for
the volume mesh).

No DOLFINx here. The model is in µm (the DOLFINx side scales to metres when loading).
Entry point: :func:`build_mesh`. One process builds; under MPI the ``mesh`` command
calls it on rank 0 only.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import ModuleType

import gmsh
import numpy as np

from fem_electrode.geometry import canonical, cosintered, image, infiltrated, measure, occ, provenance, sizing
from fem_electrode.geometry.base import GeometryError, MeshCheckError, Plan
from fem_electrode.geometry.session import gmsh_session, last_messages
from fem_electrode.util import atomic
from fem_electrode.util.log import get_logger

__all__ = ["BUILDERS", "GeometryError", "MeshCheckError", "build_mesh", "output_paths", "plan"]

#: Builder module per ``geometry.kind``.
BUILDERS: dict[str, ModuleType] = {
    "infiltrated": infiltrated,
    "cosintered": cosintered,
    "sphere_inclusion": canonical,
    "coated_cavity": canonical,
    "film": canonical,
    "column": canonical,
    "image": image,  # a labelled 3D image: its own surface and volume meshing (no OCC)
}
#: The OCC volumes may differ from the placement's voxel estimate by this much (absolute
#: volume fraction) before the booleans are deemed to have failed.
GEOMETRY_MATCH_TOL = 0.005
#: Remeshes with a finer NVP interior when the layer has too few elements across it.
LAYER_REMESHES = 3
#: Facet groups every RVE (box) mesh must have.
BOX_FACETS = ("separator", "current_collector", "lateral")

log = get_logger("geometry")


def output_paths(case, out_dir: str | Path) -> tuple[Path, Path]:
    """``<out_dir>/<case.name>.msh`` and ``.json``."""
    out = Path(out_dir)
    return out / f"{case.case.name}.msh", out / f"{case.case.name}.json"


def plan(case, attempt: int = 0) -> Plan:
    """The builder's plan for ``case`` (placement etc.; raises ``ValueError`` for bad input)."""
    seed = np.random.SeedSequence([case.geometry.seed, attempt])
    return BUILDERS[case.geometry.kind].plan(case, seed)


def _check_geometry(the_plan: Plan, regions: occ.Regions) -> dict[str, float]:
    fractions = provenance.occ_fractions(regions, the_plan.reference_volume)
    for phase in ("NZSP", "NVP"):
        if not regions.volume_tags(phase):
            raise MeshCheckError(f"the OCC model has no {phase} volume")
    expected = the_plan.expected
    if expected:
        for phase, value in expected.items():
            if abs(fractions[phase] - value) > GEOMETRY_MATCH_TOL:
                raise MeshCheckError(
                    f"OCC booleans give {phase} fraction {fractions[phase]:.4f}, the placement "
                    f"estimated {value:.4f}: the boolean result is incomplete"
                )
    if the_plan.box is not None:
        missing = [n for n in BOX_FACETS if not regions.face_tags(n)]
        if missing:
            raise MeshCheckError(f"no faces classified as {', '.join(missing)}")
    return fractions


def _mesh(case, the_plan: Plan, regions: occ.Regions, timings: dict[str, float]) -> tuple[
        measure.MeshData, sizing.Sizes, int | None, dict]:
    """Generate the mesh; remesh with a finer NVP interior while the layer is too thin."""
    refine = sizing.INTERIOR_REFINE if the_plan.layer is not None else 1.0
    wanted = case.mesh.elements_across_layer
    for remesh in range(LAYER_REMESHES + 1):
        sizes = sizing.resolve(case.mesh, the_plan.nvp_thickness, refine)
        sizing.apply(regions, sizes)
        t0 = time.perf_counter()
        gmsh.model.mesh.clear()
        gmsh.model.mesh.generate(3)
        timings["mesh"] = timings.get("mesh", 0.0) + time.perf_counter() - t0
        t0 = time.perf_counter()
        data = measure.read_mesh()
        across = None
        if the_plan.layer is not None:
            layer = the_plan.layer
            across = measure.elements_across(data, "NVP", layer.far_side, layer.near_side)
        timings["measure"] = timings.get("measure", 0.0) + time.perf_counter() - t0
        if across is None or across >= wanted or remesh == LAYER_REMESHES:
            break
        log.info("layer has %d element(s) across (< %d): remeshing with a finer NVP interior",
                 across, wanted)
        refine *= sizing.INTERIOR_REFINE_STEP
    if across is not None and across < wanted:
        log.warning("only %d element(s) across the NVP layer after %d remeshes (wanted %d)",
                    across, LAYER_REMESHES, wanted)
    conformity = measure.interface_conformity(data)
    if conformity["conforming"] != conformity["facets"]:
        raise MeshCheckError(f"interface not conformal: {conformity}")
    for name, cells in {**data.cells, **data.facets}.items():
        if not len(cells):
            raise MeshCheckError(f"physical group {name!r} has no elements")
    return data, sizes, across, conformity


def _check_periodic(data: measure.MeshData, box) -> None:
    """The nodes of x = Lx (y = Ly) must be those of x = 0 (y = 0) translated, one to one."""
    for name, problem in measure.periodic_mismatch(data, box).items():
        if problem:
            raise MeshCheckError(f"periodic mesh: the nodes of the face {name} are not the translated "
                                 f"nodes of the opposite face ({problem})")


def _attempt(case, the_plan: Plan, msh: Path, js: Path, attempt: int, t_start: float,
             timings: dict[str, float]) -> None:
    mcfg = case.mesh
    with gmsh_session(threads=mcfg.threads, algorithm=mcfg.algorithm, name=case.case.name):
        try:
            # a builder with its own pipeline (no OCC model: the image kind) provides build_and_write
            write = getattr(BUILDERS[case.geometry.kind], "build_and_write", _build_and_write)
            write(case, the_plan, msh, js, attempt, t_start, timings)
        except Exception as exc:
            if type(exc) is Exception:  # gmsh's Python API raises plain Exception
                tail = last_messages()
                raise MeshCheckError(f"gmsh: {exc}" + (f"\n{tail}" if tail else "")) from exc
            raise


def _build_and_write(case, the_plan: Plan, msh: Path, js: Path, attempt: int, t_start: float,
                     timings: dict[str, float]) -> None:
    t0 = time.perf_counter()
    regions = BUILDERS[case.geometry.kind].build(the_plan)
    timings["occ"] = time.perf_counter() - t0
    fractions = _check_geometry(the_plan, regions)
    occ.add_physical_groups(regions)
    periodic = the_plan.box is not None and the_plan.box.periodic
    if periodic:
        assert the_plan.box is not None  # periodic implies a box
        occ.set_periodic(the_plan.box)
    data, sizes, across, conformity = _mesh(case, the_plan, regions, timings)
    if periodic:
        _check_periodic(data, the_plan.box)
    t0 = time.perf_counter()
    record = provenance.record(
        case, the_plan, regions, data, fractions=fractions, sizes=sizes, across=across,
        conformity=conformity, attempt=attempt, timings=timings, t_start=t_start, msh=msh,
    )
    with atomic.atomic_path(msh) as tmp:
        gmsh.write(str(tmp))
        timings["write"] = time.perf_counter() - t0
        record["wall_time_s"] = time.perf_counter() - t_start
        atomic.write_json(js, record)


def build_mesh(case, out_dir: str | Path) -> tuple[Path, Path]:
    """Build, mesh and write ``<name>.msh`` + ``<name>.json`` in ``out_dir``.

    Bad input raises ``ValueError`` (naming the parameter) before any meshing. A failed
    OCC boolean or mesh is retried with a new placement sub-seed up to
    ``mesh.max_retries`` times (random microstructures only), then :class:`GeometryError`.
    Files are written atomically: after a failure neither file is left half-written.
    """
    msh, js = output_paths(case, out_dir)
    t_start = time.perf_counter()
    attempts = case.mesh.max_retries + 1 if BUILDERS[case.geometry.kind].RANDOM else 1
    errors = []
    for attempt in range(attempts):
        timings: dict[str, float] = {}
        try:
            t0 = time.perf_counter()
            the_plan = plan(case, attempt)
            timings["placement"] = time.perf_counter() - t0
            _attempt(case, the_plan, msh, js, attempt, t_start, timings)
        except MeshCheckError as exc:
            errors.append(f"attempt {attempt}: {exc}")
            log.warning("geometry attempt %d failed (%s); %s", attempt, exc,
                        "retrying with a perturbed placement" if attempt + 1 < attempts else "giving up")
            continue
        return msh, js
    raise GeometryError(
        f"{case.geometry.kind} geometry for case {case.case.name!r} (seed {case.geometry.seed}) failed "
        f"after {attempts} attempt(s) (mesh.max_retries = {case.mesh.max_retries}):\n" + "\n".join(errors)
    )
