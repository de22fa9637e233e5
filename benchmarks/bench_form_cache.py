"""Forms compile once for a sweep: a second case with other parameters compiles no form.

A sweep runs each case in its own process (``fem-electrode run`` through the job step). This
benchmark does the same with two cases on the same mesh, the second with other material and
kinetic parameters (D_nvp ×30, i0_ref ×4, sigma_e ×2, E_nvp ×0.75, alpha_a/alpha_c 0.4/0.6),
sharing one fresh JIT cache, and prints for each the wall time of building its
electrochemistry and mechanics problems (form compilation included) and the number of forms
FFCx compiled (new modules in the cache). Parameters enter the forms as ``fem.Constant``, so
the second case compiles nothing.

(Within one process a second problem may recompile a few forms: UFL orders the factors of
a product by the creation counter of its constants, which differs between two problems.)

    python benchmarks/bench_form_cache.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if "FEM_ELECTRODE_BENCH_CACHE" not in os.environ:  # the parent: one fresh cache for both cases
    os.environ["FEM_ELECTRODE_BENCH_CACHE"] = tempfile.mkdtemp(prefix="fem_electrode_jit_")
CACHE = Path(os.environ["FEM_ELECTRODE_BENCH_CACHE"])
os.environ["XDG_CACHE_HOME"] = str(CACHE)  # before DOLFINx reads it

import _paths  # noqa: E402,F401  (tests/ on sys.path: the test helpers below)
from layered import layered_box  # noqa: E402

from fem_electrode.config import validate  # noqa: E402
from fem_electrode.fem.fenicsx import MPI  # noqa: E402
from fem_electrode.problems.electrochemistry import ElectrochemistryProblem  # noqa: E402
from fem_electrode.problems.mechanics import MechanicsProblem  # noqa: E402
from fem_electrode.run import setup  # noqa: E402

CASES = {
    "case 1 (defaults)": {},
    "case 2 (D_nvp x30, i0_ref x4, sigma_e x2, E_nvp x0.75, alpha 0.4/0.6)": {
        "materials": {"D_nvp": 3e-15, "sigma_e_nzsp": 1.0, "E_nvp": 60e9},
        "electrochemistry": {"i0_ref": 4.0, "alpha_a": 0.4, "alpha_c": 0.6},
    },
}


def compiled_modules() -> int:
    """Compiled form modules in the JIT cache."""
    return sum(1 for _ in CACHE.rglob("*.so"))


def build(index: int) -> dict:
    """Build the problems of case ``index`` (this process); time and count compiled forms."""
    comm = MPI.COMM_WORLD
    label, overrides = list(CASES.items())[index]
    domain = layered_box(comm, (4e-6, 4e-6, 8e-6), (6, 6, 12), z_interface=4e-6)
    case = validate({"solver": {"linear": "direct"}, **overrides})
    before = compiled_modules()
    t0 = time.perf_counter()
    echem = ElectrochemistryProblem(domain, setup.electro_params(case), setup.solver_settings(case),
                                    c_rate=1.0)
    mech = MechanicsProblem(domain, setup.mechanics_params(case), setup.mechanics_solver_options(case))
    seconds = time.perf_counter() - t0
    comm.Barrier()
    row = {"case": label, "build_s": seconds, "forms_compiled": compiled_modules() - before}
    mech.destroy()
    echem.close()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--case", type=int, default=None, help=argparse.SUPPRESS)  # one case (child)
    args = parser.parse_args()
    if args.case is not None:
        print(json.dumps(build(args.case)))
        return
    rows = []
    for index in range(len(CASES)):  # one process per case, as in a sweep
        out = subprocess.run([sys.executable, __file__, "--case", str(index)], check=True,
                             capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    print(f"JIT cache: {CACHE} (fresh; one process per case, as a sweep runs them)")
    for r in rows:
        print(f"{r['case']:<75} build {r['build_s']:7.2f} s   forms compiled: {r['forms_compiled']}")
    print(f"ratio build time case 2 / case 1: {rows[1]['build_s'] / rows[0]['build_s']:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
