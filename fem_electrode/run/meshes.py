"""The domain of a run: the case's mesh, built on rank 0 when missing or stale, or a given ``.msh``.

A mesh in ``[mesh] directory`` is reused when its provenance JSON records the same geometry
and mesh parameters as the case (and, for ``geometry.kind = "image"``, the SHA-256 of the image
file as it is now); otherwise it is built (rank 0, pure gmsh) and every rank reads it.
"""

from __future__ import annotations

import json
from pathlib import Path

from fem_electrode import tags
from fem_electrode.config import Case, ConfigError
from fem_electrode.fem.domain import Domain
from fem_electrode.fem.fenicsx import MPI
from fem_electrode.geometry import build_mesh, image_io, output_paths
from fem_electrode.geometry.session import gmsh_session
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


#: Mesh keys that do not change the mesh (threads, where it is written, retries).
MESH_KEYS_IGNORED = ("threads", "directory", "max_retries")


def provenance_differences(case: Case, json_path: Path) -> list[str] | None:
    """The geometry and mesh keys in which the mesh's provenance differs from ``case``
    (``[]``: built for this case; None: no readable provenance).

    For ``geometry.kind = "image"`` with every key equal, the image file is hashed too (a few ms
    per MB): an image edited under the same name differs in ``geometry.image (sha256)``."""
    try:
        record = json.loads(json_path.read_text())
        params = record["parameters"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    want = case.to_dict()
    out = []
    for section in ("geometry", "mesh"):
        then, now = params.get(section, {}), want[section]
        for key in sorted(set(then) | set(now)):
            if key not in MESH_KEYS_IGNORED and then.get(key) != now.get(key):
                out.append(f"{section}.{key}: mesh {then.get(key)!r}, case {now.get(key)!r}")
    if not out and case.geometry.kind == "image":
        out.extend(image_checksum_differences(case, record))
    return out


def image_checksum_differences(case: Case, record: dict) -> list[str]:
    """``[]`` when the SHA-256 of the image that ``record`` (an image mesh's provenance) was
    built from is that of ``geometry.image`` now; else why not (changed, not recorded, unreadable)."""
    g = case.geometry
    try:
        then = record["resolved"]["image"]["sha256"]
    except (KeyError, TypeError):
        then = None
    try:
        now = image_io.checksum(image_io.open_source(g.image, g.image_shape, g.image_dtype))
    except ValueError as exc:  # unreadable: the rebuild reports it naming the key
        return [f"geometry.image (sha256): cannot hash the image ({exc})"]
    if then == now:
        return []
    if then is None:
        return [f"geometry.image (sha256): the mesh records no checksum of the image, file {now[:12]}..."]
    return [f"geometry.image (sha256): mesh {then[:12]}..., file {now[:12]}... (the image changed since "
            "the mesh was built)"]


def _mesh_matches(case: Case, json_path: Path) -> bool:
    """True when the provenance file records the geometry and mesh parameters of ``case``."""
    return provenance_differences(case, json_path) == []


#: The first bytes of every gmsh ``.msh`` file (text or binary).
MSH_HEADER = b"$MeshFormat"


def mesh_file_problems(path: Path, case: Case, force: bool) -> list[str]:
    """Why ``--mesh PATH`` cannot be used for ``case`` (empty when it can); rank 0 only.

    The file must exist, be a gmsh mesh that gmsh reads to the end, carry volume groups with
    the registry's names, and, when it has a provenance JSON, have been built for this case's
    geometry and mesh keys (``force`` accepts another case's mesh).
    """
    key = f"--mesh {str(path)!r}"
    if not path.is_file():
        return [f"{key}: no such file; allowed: a gmsh .msh written by `fem-electrode mesh`"]
    with path.open("rb") as fh:
        head = fh.read(len(MSH_HEADER))
    if head != MSH_HEADER:
        what = "empty" if not head else "not a gmsh mesh (it does not start with $MeshFormat)"
        return [f"{key}: the file is {what}; allowed: a gmsh .msh written by `fem-electrode mesh`"]
    import gmsh

    try:
        with gmsh_session(name="check"):
            gmsh.open(str(path))
            groups = {gmsh.model.getPhysicalName(dim, tag): (dim, tag)
                      for dim, tag in gmsh.model.getPhysicalGroups()}
            n_tets = sum(len(t) for t in gmsh.model.mesh.getElements(3)[1])
    except Exception as exc:  # noqa: BLE001  (gmsh raises plain Exception)
        return [f"{key}: gmsh cannot read it ({exc}); is it truncated?"]
    problems = []
    if not n_tets:
        problems.append(f"{key}: the mesh has no tetrahedra")
    missing = [name for name in tags.PHASES if name not in groups]
    if missing:
        problems.append(f"{key}: no volume group named {', '.join(missing)}; the mesh must tag its phases "
                        f"with the names and ids of fem_electrode/tags.py (volumes {dict(tags.CELL_TAGS)})")
    js = path.with_suffix(".json")
    differences = provenance_differences(case, js) if js.is_file() else None
    if differences and not force:
        problems.append(f"{key} was built for another case (provenance {js.name}: "
                        + "; ".join(differences[:6]) + ("; ..." if len(differences) > 6 else "")
                        + "); pass --force-mesh to use it anyway")
    elif differences is None:
        log.warning("%s has no provenance JSON: it cannot be checked against the case", path)
    return problems


class MeshingError(RuntimeError):
    """Building the case's mesh failed (the geometry layer's reason is in the message)."""

    expected = True


def load_domain(case: Case, comm: MPI.Comm, mesh: str | Path | None = None,
                force_mesh: bool = False) -> tuple[Domain, Path]:
    """The domain from ``mesh`` or from the case's mesh folder (built on rank 0 when missing
    or made with other parameters). Bad geometry input raises ConfigError, a failed build
    :class:`MeshingError`; a ``mesh`` that cannot be read or was built for another case
    (unless ``force_mesh``) a ConfigError on every rank, before any rank reads it."""
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
    else:
        problems = mesh_file_problems(Path(mesh), case, force_mesh) if comm.rank == 0 else None
        problems = comm.bcast(problems, root=0)
        if problems:
            raise ConfigError(problems, case.source)
    return Domain.from_msh(mesh, comm), Path(mesh)
