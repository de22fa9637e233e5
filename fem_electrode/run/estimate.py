"""How big and how long a run will be, estimated from the case before anything is meshed.

An order-of-magnitude estimate for planning (and for noticing a typo such as a 1000 µm box
before meshing starts): tetrahedra from the box and NVP volumes and their element sizes,
degrees of freedom, memory and time per cycle from rates measured on the 2-core development
VM. ``fem-electrode check`` prints it, and a run prints it before it starts when the case is
at least as large as the default case.

Calibration (tets = A V_box / h_bulk³ + B V_NVP / h_NVP³, V in µm³, h in µm): the 7 µm
demo pair (98 336 and 32 070 tets) gives A = 80.5, B = 3.0; it predicts the 20 µm paper-preset
meshes within 10 % (2.3 M vs 2.1 M infiltrated, 0.75 M vs 0.76 M co-sintered). Degrees of
freedom ≈ 0.44 per tetrahedron (φ_e on NZSP, c and φ_s on NVP nodes). Rates: ≈ 43 000 dofs/s
per core and Newton iteration (coupled problem, both solvers near 10⁵–10⁶ dofs), ≈ 750 Newton
iterations per 0.1 C cycle; memory ≈ 29 kB per dof with MUMPS, ≈ 5 kB per dof iterative.

Image cases (``geometry.kind = "image"``) mesh at the voxel size, so their tetrahedra scale with
the voxels of the prepared image (after ``image_crop`` and ``image_downsample``, read from the
file's header): tets = TETS_PER_VOXEL x voxels (see the constant for the calibration).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fem_electrode.config import Case, ConfigError
from fem_electrode.geometry import image_io
from fem_electrode.geometry.sizing import INTERIOR_REFINE

#: tets = TETS_BULK V_box / h_bulk³ + TETS_NVP V_NVP / h_NVP³ (fit on the demo pair, see above).
TETS_BULK, TETS_NVP = 80.5, 3.0
#: Tetrahedra per voxel of the prepared image (kind image; default smoothing and mesh keys, pores
#: counted as voxels): 4.0 on the 200³ benchmark image down-sampled twice
#: (benchmarks/bench_image_mesh.py --size 200 --downsample 2: 3.99 M tets on 100³ voxels), 4.1 on
#: examples/image.toml (264 k on 40³), 4.5 on it with image_downsample = 2 (36 k on 20³: more
#: surface per voxel); the unsmoothed fallback surface gives fewer (2.8 on the benchmark).
TETS_PER_VOXEL = 4.0
#: Degrees of freedom of the coupled problem per tetrahedron (demo pair: 0.43, 0.45).
DOFS_PER_TET = 0.44
#: Coupled Newton iteration throughput, dofs per second and core.
DOFS_PER_SECOND = 43_000.0
#: Newton iterations per 0.1 C cycle (demo pair: 760 and 643).
NEWTON_PER_CYCLE = 750.0
#: Memory per degree of freedom (bytes): MUMPS LU, field-split GMRES + GAMG.
BYTES_PER_DOF = {"direct": 29e3, "iterative": 5e3}


@dataclass(frozen=True)
class Estimate:
    tetrahedra: float
    dofs: float
    memory_bytes: float
    seconds_per_cycle: float  #: on ``ranks`` ranks
    ranks: int

    def describe(self) -> str:
        hours = self.seconds_per_cycle / 3600.0
        duration = f"{hours:.1f} h" if hours >= 1 else f"{self.seconds_per_cycle / 60:.0f} min"
        return (f"estimated size: ~{self.tetrahedra:.2g} tetrahedra, ~{self.dofs:.2g} coupled dofs, "
                f"~{self.memory_bytes / 2**30:.2g} GiB, ~{duration} per cycle (as at 0.1 C) on {self.ranks} "
                "rank(s); order of magnitude, from rates measured on a 2-core VM")


def nvp_size(case: Case) -> float:
    """The NVP element size (µm) the mesh will use, from the case alone."""
    g, m = case.geometry, case.mesh
    if g.kind == "infiltrated":
        t = g.layer_thickness
        if t is None:  # a shell of volume fraction f of a sphere of the mean radius
            f = min(g.nvp_fraction / g.porosity, 0.999)
            t = g.pore_radius_mean * (1.0 - (1.0 - f) ** (1.0 / 3.0))
        return t / m.elements_across_layer / m.refinement / INTERIOR_REFINE
    if g.kind == "cosintered":
        return g.pore_radius_min / m.elements_across_layer / m.refinement
    if g.kind == "sphere_inclusion":
        return g.inclusion_radius / m.elements_across_layer / m.refinement
    t = g.coating_thickness if g.kind == "coated_cavity" else g.film_thickness
    return t / m.elements_across_layer / m.refinement / INTERIOR_REFINE


def image_voxels(case: Case) -> int:
    """Voxels of the prepared image of a kind-image case (after crop and down-sampling), from the
    file's header; an unreadable image or a bad crop raises ConfigError naming the key."""
    g = case.geometry
    try:
        src = image_io.open_source(g.image, g.image_shape, g.image_dtype)
        return image_io.prepared_voxels(src, image_io.crop_slices(src, g.image_crop), g.image_downsample)
    except ValueError as exc:
        raise ConfigError([str(exc)], case.source) from None


def tetrahedra(case: Case) -> float:
    """The tetrahedra the case's mesh will have (order of magnitude)."""
    g, m = case.geometry, case.mesh
    if g.kind == "image":
        return TETS_PER_VOXEL * image_voxels(case)
    box = math.prod(g.box)
    bulk = m.size_max / m.refinement
    v_nvp = g.nvp_fraction * box if g.kind in ("infiltrated", "cosintered") else 0.1 * box
    h_nvp = min(nvp_size(case), bulk)
    return TETS_BULK * box / bulk**3 + TETS_NVP * v_nvp / h_nvp**3


def estimate(case: Case, ranks: int = 1) -> Estimate:
    """The estimate for ``case`` on ``ranks`` ranks."""
    tets = tetrahedra(case)
    dofs = DOFS_PER_TET * tets
    seconds = NEWTON_PER_CYCLE * dofs / (DOFS_PER_SECOND * max(ranks, 1))
    return Estimate(tets, dofs, BYTES_PER_DOF[case.solver.linear] * dofs, seconds, ranks)
