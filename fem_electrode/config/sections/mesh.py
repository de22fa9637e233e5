"""[mesh]: element sizes (µm) and the refinement knob."""

from dataclasses import dataclass

from fem_electrode.config.spec import Section, key


@dataclass(frozen=True)
class MeshConfig:
    """Mesh size control. `refinement` divides every size (convergence studies)."""

    refinement: float = key(1.0, "-", "divides every element size below", lo=0.1, hi=16.0)
    size_max: float = key(1.0, "µm", "element size in the bulk of the scaffold", lo=0.01, lo_open=True)
    elements_across_layer: int = key(
        2, "-", "target number of elements across the NVP layer thickness", lo=1, hi=20
    )
    grading: float = key(
        0.5,
        "-",
        "growth of the NZSP element size per unit distance from the NVP and pore walls (h = h_NVP + grading"
        " * d, up to size_max)",
        lo=0.05,
        hi=5.0,
    )
    curvature_elements: float = key(
        16.0,
        "-",
        "elements per full circle on curved faces (spheres); multiplied by refinement",
        lo=3.0,
        hi=200.0,
    )
    algorithm: str = key("hxt", "-", "gmsh 3D algorithm", choices=("hxt", "delaunay"))
    image_mesher: str = key(
        "hxt",
        "-",
        "volume mesher of geometry.kind = 'image': 'hxt' (gmsh, with mesh.algorithm's 3D mesher, HXT by "
        "default; element size about the voxel size throughout) or 'tetgen' (TetGen via the optional "
        "package tetgen, AGPL-3.0, extra [tetgen], installed by make setup:"
        " elements graded away from the surfaces by its quality refinement, up to size_max / refinement;"
        " fewer tetrahedra, lower minimum quality; docs/images.md)",
        choices=("hxt", "tetgen"),
    )
    threads: int = key(
        1,
        "-",
        "gmsh threads for 3D meshing (0 = all cores); HXT with more than one thread is faster but not "
        "repeatable (element counts vary run to run)",
        lo=0,
        hi=256,
    )
    max_retries: int = key(
        5, "-", "re-placements with a new sub-seed when an OCC boolean or meshing fails", lo=0, hi=50
    )
    directory: str = key("meshes", "-", "where `mesh` writes <name>.msh and <name>.json")


SECTION = Section.from_config("mesh", MeshConfig)
