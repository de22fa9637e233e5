"""The same problem on all ranks (COMM_WORLD) and on one rank (COMM_SELF) agrees to 1e-8.

On this layered box the default partition on 2 ranks cuts through the interface: some
interface facets have their NZSP and NVP cells on different ranks (the case where the
phase submeshes must carry the parent's ghost cells).
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import electro_params, solver_settings
from layered import layered_box

from fem_electrode.fem.fenicsx import MPI
from fem_electrode.problems.electrochemistry import ElectrochemistryProblem

LENGTHS = (1e-6, 1e-6, 2e-6)  # m
N = (4, 4, 8)
PARAMS = electro_params(D=1e-15, initial_y=0.6, r_series=3.7e-3)


def history(comm, linear: str) -> tuple[np.ndarray, int]:
    """Global quantities over a few galvanostatic steps from a 3D-varying initial filling."""
    domain = layered_box(comm, LENGTHS, N, z_interface=1e-6)
    ent = domain.interface_entities()
    n_cells = domain.mesh.topology.index_map(3).size_local
    cross = comm.allreduce(int(np.count_nonzero((ent[:, 0] >= n_cells) | (ent[:, 2] >= n_cells))), op=MPI.SUM)
    prob = ElectrochemistryProblem(domain, PARAMS, solver_settings(linear), c_rate=1.0)
    try:
        prob.c.interpolate(lambda x: PARAMS.c_max * (0.6 + 0.2 * np.sin(6e6 * x[0]) * np.cos(3e6 * x[1])
                                                     + 0.05 * (x[2] - 1e-6) / 1e-6))
        prob.accept()
        prob.set_galvanostatic(3.0 * prob.current_1c)
        out = []
        for dt in (5.0, 10.0, 20.0, 40.0):
            result = prob.solve(dt)
            assert result.converged, result
            st = prob.state()
            prob.accept()
            out.append([st.voltage, st.interface_current / prob.current_1c, st.c_mean, st.c_min, st.c_max,
                        st.sodium_change / prob.volume_nvp])
        return np.array(out), cross
    finally:
        prob.close()


@pytest.mark.parametrize("linear", ["iterative", "direct"])
def test_ranks_agree_with_serial(comm, linear):
    parallel, cross = history(comm, linear)
    serial, _ = history(MPI.COMM_SELF, linear)
    if comm.size > 1:
        assert cross > 0, "the partition does not cut the interface: the test would prove nothing"
    np.testing.assert_allclose(parallel, serial, rtol=1e-8, atol=0.0)
