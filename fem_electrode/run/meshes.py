"""The domain of a run: the case's mesh, built on rank 0 when missing or stale, or a given ``.msh``.

A mesh in ``[mesh] directory`` is reused when its provenance JSON records the same geometry
and mesh parameters as the case; otherwise it is built (rank 0, pure gmsh) and every rank
reads it.
"""

from __future__ import annotations

import json
from pathlib import Path

from fem_electrode.config import Case, ConfigError
from fem_electrode.fem.domain import Domain
from fem_electrode.fem.fenicsx import MPI
from fem_electrode.geometry import build_mesh, output_paths
from fem_electrode.physics.ocv import from_config as ocv_from_config
from fem_electrode.util.log import get_logger

log = get_logger("run")


def check_case(case: Case) -> None:
    """Checks that need files or physics, done before any meshing (raise ConfigError)."""
    problems = []
    try:
        ocv_from_config(case.electrochemistry)
    except ValueError as exc:
        problems.append(f"electrochemistry.ocv_table: {exc}")
    if problems:
        raise ConfigError(problems, case.source)


def _mesh_matches(case: Case, json_path: Path) -> bool:
    """True when the provenance file records the geometry and mesh parameters of ``case``."""
    try:
        params = json.loads(json_path.read_text())["parameters"]
    except (OSError, ValueError, KeyError):
        return False
    ignore = ("threads", "directory", "max_retries")
    want = case.to_dict()
    mesh_now = {k: v for k, v in want["mesh"].items() if k not in ignore}
    mesh_then = {k: v for k, v in params.get("mesh", {}).items() if k not in ignore}
    return params.get("geometry") == want["geometry"] and mesh_then == mesh_now


class MeshingError(RuntimeError):
    """Building the case's mesh failed (the geometry layer's reason is in the message)."""


def load_domain(case: Case, comm: MPI.Comm, mesh: str | Path | None = None) -> tuple[Domain, Path]:
    """The domain from ``mesh`` or from the case's mesh folder (built on rank 0 when missing
    or made with other parameters). Bad geometry input raises ConfigError, a failed build
    :class:`MeshingError`."""
    if mesh is None:
        msh, js = output_paths(case, case.mesh.directory)
        error = None
        if comm.rank == 0:
            try:
                if msh.is_file() and _mesh_matches(case, js):
                    log.info("reusing mesh %s", msh)
                else:
                    log.info("building the %s mesh of case %r", case.geometry.kind, case.case.name)
                    build_mesh(case, case.mesh.directory)
            except ValueError as exc:  # bad input found with geometry knowledge
                error = ("input", str(exc))
            except Exception as exc:  # noqa: BLE001  (re-raised on every rank below)
                error = ("build", f"{type(exc).__name__}: {exc}")
        error = comm.bcast(error, root=0)
        if error is not None and error[0] == "input":
            raise ConfigError([f"geometry: {error[1]}"], case.source)
        if error is not None:
            raise MeshingError(f"meshing failed: {error[1]}")
        mesh = msh
    return Domain.from_msh(mesh, comm), Path(mesh)
