"""[mesh]: element sizes (µm) and the refinement knob."""

from fem_electrode.config.spec import Key, Section

SECTION = Section(
    name="mesh",
    doc="Mesh size control. `refinement` divides every size (convergence studies).",
    keys=(
        Key("refinement", "float", 1.0, "-", "divides every element size below", lo=0.1, hi=16.0),
        Key("size_max", "float", 1.0, "µm", "element size in the bulk of the scaffold",
            lo=0.01, lo_open=True),
        Key("elements_across_layer", "int", 2, "-",
            "target number of elements across the NVP layer thickness", lo=1, hi=20),
        Key("grading", "float", 0.5, "-",
            "growth of the NZSP element size per unit distance from the NVP and pore walls "
            "(h = h_NVP + grading * d, up to size_max)", lo=0.05, hi=5.0),
        Key("curvature_elements", "float", 16.0, "-",
            "elements per full circle on curved faces (spheres); multiplied by refinement",
            lo=3.0, hi=200.0),
        Key("algorithm", "str", "hxt", "-", "gmsh 3D algorithm", choices=("hxt", "delaunay")),
        Key("threads", "int", 1, "-",
            "gmsh threads for 3D meshing (0 = all cores); HXT with more than one thread is "
            "faster but not repeatable (element counts vary run to run)", lo=0, hi=256),
        Key("max_retries", "int", 5, "-",
            "re-placements with a new sub-seed when an OCC boolean or meshing fails", lo=0, hi=50),
        Key("directory", "str", "meshes", "-", "where `mesh` writes <name>.msh and <name>.json"),
    ),
)
