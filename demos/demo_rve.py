# # An infiltrated electrode from Python
#
# This demo drives the package without the command line: it builds a small infiltrated
# RVE (a porous NZSP scaffold whose pore walls carry an NVP layer), charges it for a few
# minutes at 1 C, solves the elastic stresses of the NVP that has lost sodium, and plots a
# field and a metric. Run it with
#
#     python demos/demo_rve.py [OUTPUT_FOLDER]
#     mpiexec -n 2 python demos/demo_rve.py [OUTPUT_FOLDER]
#
# Lengths in the case are µm; everything inside the solver is SI.

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from fem_electrode.config import validate  # noqa: E402
from fem_electrode.fem.domain import Domain  # noqa: E402
from fem_electrode.fem.fenicsx import MPI  # noqa: E402
from fem_electrode.geometry import build_mesh  # noqa: E402
from fem_electrode.outputs.stress import StressPost  # noqa: E402
from fem_electrode.problems.electrochemistry import ElectrochemistryProblem  # noqa: E402
from fem_electrode.problems.mechanics import MechanicsProblem  # noqa: E402
from fem_electrode.run import setup  # noqa: E402

comm = MPI.COMM_WORLD
out = Path(sys.argv[1] if len(sys.argv) > 1 else "demo-rve")

# ## The case
#
# A case is a validated set of sections; every key not given takes the default of the schema
# (`fem-electrode keys` lists them with units and sources). A 4 µm box with coarse elements
# keeps the demo to seconds.

case = validate({
    "case": {"name": "demo-rve"},
    "geometry": {"kind": "infiltrated", "box": [4.0, 4.0, 4.0], "seed": 2,
                 "pore_radius_mean": 0.8, "pore_radius_min": 0.6, "pore_radius_max": 1.0},
    "mesh": {"size_max": 1.0, "refinement": 0.7, "elements_across_layer": 1, "directory": str(out)},
    "solver": {"linear": "direct"},
})

# ## The mesh
#
# The geometry layer is pure gmsh: rank 0 builds the microstructure and writes a tagged
# `.msh` with a provenance JSON (measured volume fractions, interface area, ...). Every
# rank then reads it as a DOLFINx domain, with the tags looked up by name.

msh = None
if comm.rank == 0:
    msh, _ = build_mesh(case, out)
msh = comm.bcast(msh, root=0)
domain = Domain.from_msh(msh, comm)
counts = domain.global_counts()
if comm.rank == 0:
    print(f"mesh: {counts['cells_NZSP']} NZSP and {counts['cells_NVP']} NVP tetrahedra")

# ## Electrochemistry: a few minutes of charge at 1 C
#
# The problem couples the ionic potential in NZSP, the Na concentration and the electronic
# potential in NVP through Butler–Volmer kinetics at their interface. Its parameters come
# from the case through `fem_electrode.run.setup`, exactly as a run makes them.

problem = ElectrochemistryProblem(domain, setup.electro_params(case), setup.solver_settings(case),
                                  c_rate=1.0)
problem.set_galvanostatic(problem.current_1c)  # > 0: charge, Na leaves NVP
voltages = []
for _ in range(5):
    result = problem.solve(60.0)  # one backward-Euler step of 60 s
    assert result.converged, result.reason
    problem.accept()
    voltages.append(problem.state().voltage)
state = problem.state()
if comm.rank == 0:
    print(f"after 5 min at 1 C: V = {state.voltage:.4f} V, state of charge {state.soc:.4f}")

# ## Mechanics on that concentration
#
# The NVP that lost sodium wants to shrink (Vegard strain); bonded to the scaffold it is
# stressed. The mechanics problem takes the concentration field of the electrochemistry;
# `StressPost` samples the stresses and reduces them to the metrics of a run.

mechanics = MechanicsProblem(domain, setup.mechanics_params(case), setup.mechanics_solver_options(case))
mechanics.solve(problem.c)
post = StressPost(mechanics)
metrics = post.metrics(setup.strengths(case), setup.layer_thickness(case, domain, msh))
nvp = metrics["phases"]["NVP"]
if comm.rank == 0:
    print(f"NVP hydrostatic stress: mean {nvp['hydrostatic']['mean'] / 1e6:.1f} MPa, "
          f"strain accommodation index {metrics['strain_accommodation_index']:.3f}")

# ## Plots
#
# A field, the Na filling y = c/c_max of every NVP node against its height z (the nodes on
# the NVP|NZSP interface, where the sodium leaves, empty first: the lower band), and a metric,
# the volume-weighted distribution of the von Mises stress per phase. Values are gathered to
# rank 0 for plotting.

V = problem.c.function_space
n_owned = V.dofmap.index_map.size_local
z = comm.gather(V.tabulate_dof_coordinates()[:n_owned, 2], root=0)
y = comm.gather(problem.c.x.array[:n_owned] / case.materials.c_max, root=0)
von_mises = {phase: comm.gather(post.phase_fields(phase)["von_mises"], root=0) for phase in ("NVP", "NZSP")}
weights = {phase: comm.gather(post.weights[phase], root=0) for phase in ("NVP", "NZSP")}
if comm.rank == 0:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    left.plot(1e6 * np.concatenate(z), np.concatenate(y), ".", ms=3)
    left.set(xlabel="z (µm; separator at 0)", ylabel="filling y = c/c_max", title="NVP after 5 min at 1 C")
    for phase, parts in von_mises.items():
        values, w = np.concatenate(parts) / 1e6, np.concatenate(weights[phase])
        order = np.argsort(values)
        right.plot(values[order], np.cumsum(w[order]) / w.sum(), label=phase)
    right.set(xlabel="von Mises stress (MPa)", ylabel="volume fraction below", title="stress distribution")
    right.legend()
    figure = out / "demo-rve.png"
    fig.savefig(figure, dpi=100)
    print(f"figure: {figure}")

mechanics.destroy()
problem.close()
