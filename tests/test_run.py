"""Whole runs on a small layered column: outputs, conservation every step, failed steps,
the stop below dt_min, checkpoint + resume, the mechanics hook, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from builders import case_from, run_until
from layered import column
from test_coupling_two_way import film_stress_work

from fem_electrode.config import ConfigError
from fem_electrode.fem.newton import NewtonResult
from fem_electrode.outputs import snapshots
from fem_electrode.outputs.timeseries import read_rows
from fem_electrode.physics.constants import FARADAY
from fem_electrode.problems.electrochemistry import ElectrochemistryProblem
from fem_electrode.run import simulation

BASE = {
    "case": {"name": "column"},
    "materials": {"D_nvp": 1e-15},
    "mechanics": {"coupling": "off"},
    "protocol": {"c_rate": 2.0, "hold_minutes": 2.0, "rest_minutes": 2.0, "dt_max": 200.0,
                 "output_interval": 600.0},
}


def make_case(**overrides):
    return case_from(BASE, **overrides)


@pytest.mark.parametrize("stepping", ["error", "bdf2"])
def test_full_cycle_outputs_and_conservation(comm, mpi_tmp_path, stepping):
    """Also with BDF2 steps: their balance S_{n+1} − S_n = (a2/a0)(S_n − S_{n−1}) − (dt/a0) I/F
    closes per step and, summed with the same weights, over the run (holds included, where the
    current changes from step to step)."""
    out = mpi_tmp_path / "run"  # depletion_end 0: every half-cycle must land on its cut-off
    case = make_case(protocol={"depletion_end": 0.0, "time_stepping": stepping})
    result = simulation.run(case, out, domain=column(comm))
    assert result.status == "completed", result.reason
    m = result.metrics
    assert (m["solver"]["bdf2_steps"] > 0) == (stepping == "bdf2"), m["solver"]["bdf2_steps"]
    if comm.rank == 0:
        assert json.loads((out / "metrics.json").read_text()) == json.loads(json.dumps(m))
        for name in ("case.toml", "timeseries.csv", "run.log", "fields/c.xdmf", "fields/phi_s.xdmf",
                     "fields/phi_e.xdmf", "fields/i_interface.xdmf"):
            assert (out / name).is_file(), name
    # charge and sodium conserved to 1e-8 relative at every accepted step
    assert m["conservation"]["charge"] < 1e-8 and m["conservation"]["sodium"] < 1e-8, m["conservation"]
    assert m["conservation"]["sodium_cumulative"] < 1e-8
    rows = comm.bcast(read_rows(out / "timeseries.csv") if comm.rank == 0 else None, root=0)
    steps = [r for r in rows if r["segment"] != "initial"]
    assert max(r["charge_rel_error"] for r in steps) < 1e-8
    assert max(r["sodium_rel_error"] for r in steps) < 1e-8
    segments = [r["segment"] for r in steps]
    for seg in ("charge", "charge_hold", "rest", "discharge", "discharge_hold"):
        assert seg in segments
    charge_end = [r for r in steps if r["segment"] == "charge"][-1]
    assert charge_end["voltage_V"] == pytest.approx(3.8, abs=2e-3)  # landed on the cut-off
    holds = [r for r in steps if r["segment"] == "charge_hold"]
    assert all(abs(r["voltage_V"] - 3.8) < 1e-9 for r in holds)
    assert all(r["current_A"] > 0 for r in holds) and holds[-1]["current_A"] < holds[0]["current_A"]
    rests = [r for r in steps if r["segment"] == "rest"]
    i_run = max(abs(r["current_A"]) for r in steps)
    assert all(abs(r["current_A"]) < 1e-9 * i_run for r in rests)  # round-off of g_c (φ̄ − φ_s)
    # capacity bookkeeping: Σ I dt over the half-cycle = capacity column = metrics
    q_charge = max(r["capacity_mAh_per_g"] for r in steps if r["segment"].startswith("charge"))
    assert m["capacity_charge_mAh_per_g"] == pytest.approx(q_charge, rel=1e-12)
    assert 0.5 < m["coulombic_efficiency"] <= 1.0 + 1e-9
    assert m["polarization_V"] > 0.0
    assert m["steps"] == len(steps)
    # energy: Σ V I dt over each half-cycle (J → mWh: / 3.6; per gram of NVP), and cycles.csv
    mass_g = m["cell"]["mass_nvp_kg"] * 1e3
    e_ch = sum(r["voltage_V"] * r["current_A"] * r["dt_s"] for r in steps
               if r["segment"] in ("charge", "charge_hold")) / 3.6 / mass_g
    e_dis = -sum(r["voltage_V"] * r["current_A"] * r["dt_s"] for r in steps
                 if r["segment"] in ("discharge", "discharge_hold")) / 3.6 / mass_g
    assert m["energy_charge_mWh_per_g"] == pytest.approx(e_ch, rel=1e-12)
    assert m["energy_discharge_mWh_per_g"] == pytest.approx(e_dis, rel=1e-12)
    assert m["energy_efficiency"] == pytest.approx(e_dis / e_ch, rel=1e-12) and e_dis < e_ch
    if comm.rank == 0:
        table = read_rows(out / "cycles.csv")
        assert len(table) == 1 and table[0]["cycle"] == 1
        for key, value in m["cycles"][0].items():
            if value is None:  # the interface damage of a bonded interface
                assert table[0][key] in ("", None), key
            else:
                assert table[0][key] == pytest.approx(value, rel=1e-15), key
        assert m["cycles"][0]["capacity_retention"] == 1.0 and m["cycles"][0]["debonded_fraction"] is None
    # the solver counters against what the run logged: every failed Newton solve is one
    # "Newton failed" warning in run.log (this column has some at the cut-offs and the rests)
    log = comm.bcast((out / "run.log").read_text() if comm.rank == 0 else None, root=0)
    s = m["solver"]
    assert s["failed_solves"] == log.count("Newton failed") > 0
    assert s["newton_solves"] == s["accepted_solves"] + s["failed_solves"]
    assert s["accepted_solves"] >= len(steps)  # + the converged steps rejected at a cut-off
    assert s["newton_iterations"] >= sum(r["newton_iterations"] for r in steps)


def test_failed_newton_steps_are_retried_never_accepted(comm, mpi_tmp_path, monkeypatch):
    """Fault injection: every try longer than 30 s fails after corrupting the fields."""
    real = ElectrochemistryProblem.solve

    def flaky(self, dt):
        if dt > 30.0:
            self.c.x.array[:] = np.nan  # a diverged iterate must never reach the outputs
            return NewtonResult(False, 3, 10, "DIVERGED_INJECTED", float("nan"))
        return real(self, dt)

    monkeypatch.setattr(ElectrochemistryProblem, "solve", flaky)
    case = make_case(protocol={"hold_minutes": 0.0, "rest_minutes": 0.0, "dt_initial": 10.0})
    result = simulation.run(case, mpi_tmp_path / "run", domain=column(comm))
    assert result.status == "completed", result.reason
    rows = comm.bcast(read_rows(mpi_tmp_path / "run" / "timeseries.csv") if comm.rank == 0 else None, root=0)
    assert all(r["dt_s"] <= 30.0 for r in rows)
    assert all(np.isfinite(r["c_mean_mol_per_m3"]) for r in rows)
    assert result.metrics["solver"]["failed_solves"] > 0
    assert result.metrics["conservation"]["sodium"] < 1e-8


def test_below_dt_min_the_run_stops_cleanly(comm, mpi_tmp_path, monkeypatch):
    real = ElectrochemistryProblem.solve
    t_fail = 300.0
    sims = []

    def failing_after(self, dt):
        if sims and sims[0].state.time >= t_fail:
            return NewtonResult(False, 25, 100, "DIVERGED_INJECTED", float("nan"))
        return real(self, dt)

    original_init = simulation.Simulation.__init__

    def remember(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        sims.append(self)

    monkeypatch.setattr(ElectrochemistryProblem, "solve", failing_after)
    monkeypatch.setattr(simulation.Simulation, "__init__", remember)
    out = mpi_tmp_path / "run"
    result = simulation.run(make_case(), out, domain=column(comm))
    assert result.status == "failed"
    assert "below dt_min" in result.reason and "Newton failed" in result.reason
    if comm.rank == 0:
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["status"] == "failed" and metrics["reason"] == result.reason
        rows = read_rows(out / "timeseries.csv")
        assert len(rows) > 3 and rows[-1]["time_s"] >= t_fail and rows[-1]["time_s"] < t_fail + 200.0
        assert "run stopped" in (out / "run.log").read_text()


@pytest.mark.parametrize("depletion_end", [0.35, 0.0])
def test_a_depleted_half_cycle_ends_instead_of_failing(comm, mpi_tmp_path, monkeypatch, depletion_end):
    """Fault injection standing in for P1 undershoot at an emptied NVP surface: once some node
    is below 0.3 c_max every charge step fails. Within ``depletion_end`` of empty the charge
    ends there and the cycle goes on; with 0 the run stops below dt_min."""
    real = ElectrochemistryProblem.solve

    def undershoot(self, dt):
        snap = self.snapshot()
        result = real(self, dt)
        if result.converged and self.state().c_min < 0.3 * self.params.c_max:
            self.restore(snap)
            return NewtonResult(False, 25, 100, "DIVERGED_INJECTED", float("nan"))
        return result

    monkeypatch.setattr(ElectrochemistryProblem, "solve", undershoot)
    case = make_case(protocol={"hold_minutes": 0.0, "rest_minutes": 0.0, "depletion_end": depletion_end})
    result = simulation.run(case, mpi_tmp_path / "run", domain=column(comm))
    if depletion_end == 0.0:
        assert result.status == "failed" and "below dt_min" in result.reason
        return
    assert result.status == "completed", result.reason
    # (the discharge may end the same way: with this generous threshold its surface is "full")
    event = result.metrics["depletion_ends"][0]
    assert event["segment"] == "charge 1" and event["voltage_V"] < event["cutoff_V"]
    assert 0.3 * case.materials.c_max <= event["c_min_mol_per_m3"] <= 0.35 * case.materials.c_max
    assert result.metrics["capacity_discharge_mAh_per_g"] > 0.0  # the discharge ran
    assert result.metrics["conservation"]["sodium"] < 1e-8


@pytest.mark.parametrize("stepping", ["error", "bdf2"])
def test_checkpoint_and_resume_give_the_same_result(comm, mpi_tmp_path, monkeypatch, stepping):
    """With BDF2 the checkpoint also carries the three states of its history and the charge the
    last step moved (its sodium balance)."""
    case = make_case(output={"checkpoint_interval": 500.0},
                     protocol={"hold_minutes": 0.0, "rest_minutes": 0.0, "time_stepping": stepping})
    ref = simulation.run(case, mpi_tmp_path / "ref", domain=column(comm))
    assert ref.status == "completed"
    out = mpi_tmp_path / "run"
    first = run_until(monkeypatch, case, out, column(comm), lambda sim, seg: sim.state.steps == 20)
    assert first.status == "interrupted"
    if comm.rank == 0:
        assert (out / "checkpoint.npz").is_file() and not (out / "metrics.json").exists()
    second = simulation.run(case, out, domain=column(comm), resume=True)
    assert second.status == "completed", second.reason
    for key in ("capacity_charge_mAh_per_g", "capacity_discharge_mAh_per_g", "polarization_V"):
        assert second.metrics[key] == pytest.approx(ref.metrics[key], rel=1e-8), key
    assert second.metrics["steps"] == ref.metrics["steps"]
    # the sodium bookkeeping went through the checkpoint too (BDF2: the last step's moved charge)
    assert second.metrics["conservation"]["sodium_cumulative"] < 1e-8
    assert second.metrics["solver"]["bdf2_steps"] == ref.metrics["solver"]["bdf2_steps"]
    if comm.rank == 0:
        assert len(read_rows(out / "timeseries.csv")) == ref.metrics["steps"] + 1
        # concentration snapshots: the same output times, none twice
        times = [s.time_s for s in snapshots.available(out / "concentration")]
        ref_times = [s.time_s for s in snapshots.available(mpi_tmp_path / "ref" / "concentration")]
        # the same output times, to round-off: a resumed process factorises afresh (the direct
        # solver's analysis sees another first matrix), which moves a cut-off landing by ~1e-13
        assert times == pytest.approx(ref_times, rel=1e-9, abs=1e-9) and len(times) >= 3


def test_mechanics_hook(comm, mpi_tmp_path):
    case = make_case(mechanics={"coupling": "one_way"}, protocol={"hold_minutes": 0.0, "rest_minutes": 0.0,
                                                                  "output_interval": 1200.0})
    out = mpi_tmp_path / "run"
    result = simulation.run(case, out, domain=column(comm))
    assert result.status == "completed"
    mech = result.metrics["mechanics"]
    assert mech["y_mean"] < case.electrochemistry.initial_y  # the most charged output state
    assert "strain_accommodation_index" in mech
    if comm.rank == 0:
        assert (out / "fields" / "displacement.xdmf").is_file()
        # The report's stress distributions come from the same, most strained state.
        import numpy as np

        samples = np.load(out / "stress_samples.npz")
        assert float(samples["y_mean"]) == mech["y_mean"]


def test_bad_input_fails_before_meshing(comm, mpi_tmp_path, monkeypatch):
    def no_meshing(*args, **kwargs):
        raise AssertionError("meshing must not start")

    monkeypatch.setattr(simulation, "load_domain", no_meshing)
    table = mpi_tmp_path / "ocv.csv"
    if comm.rank == 0:
        table.write_text("y,U\n0.0,3.8\n0.5,3.3\n0.4,3.2\n1.0,2.8\n")  # y not increasing
    comm.Barrier()
    with pytest.raises(ConfigError, match="ocv_table"):
        simulation.run(make_case(electrochemistry={"ocv": "table", "ocv_table": str(table)}),
                       mpi_tmp_path / "x")
    with pytest.raises(ConfigError, match="initial_y"):
        make_case(electrochemistry={"initial_y": 1.2})


@pytest.mark.serial
def test_cli_bad_case_exits_2_and_creates_nothing(tmp_path):
    """Serial: spawns the CLI in a subprocess."""
    bad = tmp_path / "bad.toml"
    bad.write_text('[protocol]\ncutoff_low = 3.9\ncutoff_high = 3.5\n[materials]\nD_nvp = 0.0\n')
    cmd = [sys.executable, "-m", "fem_electrode.cli", "run", str(bad), "-o", str(tmp_path / "o")]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "cutoff_low = 3.9 V must be below cutoff_high" in proc.stderr
    assert "materials.D_nvp = 0.0" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


@pytest.mark.serial
def test_cli_sigterm_writes_checkpoint_and_resume_finishes(tmp_path):
    """Serial: a real `fem-electrode run` child gets SIGTERM (as from Slurm or the sweep job
    step), exits 143 with a checkpoint and no metrics, then --resume completes the protocol."""
    import signal
    import time

    case = tmp_path / "film.toml"
    case.write_text(
        '[case]\nname = "film"\n[geometry]\nkind = "film"\nbox = [1.0, 1.0, 2.0]\nfilm_thickness = 1.0\n'
        f'[mesh]\nsize_max = 0.5\ndirectory = "{tmp_path / "meshes"}"\n[materials]\nD_nvp = 1e-15\n'
        '[mechanics]\ncoupling = "off"\n[protocol]\nc_rate = 2.0\ndt_max = 50.0\n'
        '[output]\nfields = "none"\ncheckpoint_interval = 100.0\n')
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "fem_electrode.cli", "run", str(case), "-o", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out / "checkpoint.npz").is_file():
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    log, _ = proc.communicate(timeout=120)
    assert proc.returncode == 143, log
    assert (out / "checkpoint.npz").is_file() and not (out / "metrics.json").exists()
    done = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["capacity_discharge_mAh_per_g"] > 0
    assert "resumed from" in (out / "run.log").read_text()


def test_meshing_errors_are_reported(comm, mpi_tmp_path, monkeypatch):
    """Bad input found by the geometry layer is a ConfigError; a failed build a MeshingError."""
    from fem_electrode.run import meshes

    case = make_case(mesh={"directory": str(mpi_tmp_path / "meshes")})

    def bad_input(*args, **kwargs):
        raise ValueError("layer_thickness = 2 µm does not fit")

    monkeypatch.setattr(meshes, "build_mesh", bad_input)
    with pytest.raises(ConfigError, match="geometry: layer_thickness = 2 µm does not fit"):
        simulation.run(case, mpi_tmp_path / "run")

    def broken(*args, **kwargs):
        raise RuntimeError("the 1D mesh seems not to be forming a closed loop")

    monkeypatch.setattr(meshes, "build_mesh", broken)
    with pytest.raises(meshes.MeshingError, match="closed loop"):
        simulation.run(case, mpi_tmp_path / "run")
    comm.Barrier()  # rank 0 removes the folder it made for the run (nothing was written)
    assert not (mpi_tmp_path / "run").exists()


def test_two_way_coupling_run(comm, mpi_tmp_path):
    """Stress in μ and η through a whole cycle: converged staggered steps, conservation, and the
    shift of the charge curve by the film's stress work w/F (tension on desodiation raises U).
    Fast diffusion keeps the film uniform, so the shift is that of the closed form."""
    protocol = {"hold_minutes": 0.0, "rest_minutes": 0.0, "output_interval": 1200.0}
    fast = {"D_nvp": 1e-13}
    one = simulation.run(make_case(mechanics={"coupling": "one_way"}, protocol=protocol, materials=fast),
                         mpi_tmp_path / "one", domain=column(comm))
    case = make_case(mechanics={"coupling": "two_way"}, protocol=protocol, materials=fast)
    two = simulation.run(case, mpi_tmp_path / "two", domain=column(comm))
    assert one.status == two.status == "completed", (one.reason, two.reason)
    m = two.metrics
    assert m["conservation"]["charge"] < 1e-8 and m["conservation"]["sodium"] < 1e-8, m["conservation"]
    coupling = m["solver"]["coupling"]
    assert coupling["mode"] == "two_way" and coupling["coupled_steps"] >= m["steps"]
    assert 1.0 < coupling["mean_staggered_iterations"] <= case.mechanics.coupling_max_iterations
    # mid-charge, the two voltages differ by ≈ w/F of a laterally held film at that filling
    rows = [comm.bcast(read_rows(p / "timeseries.csv") if comm.rank == 0 else None, root=0)
            for p in (mpi_tmp_path / "one", mpi_tmp_path / "two")]
    # both curves at the same filling (their steps differ): interpolated at SOC 0.4
    soc = 0.4
    mid = []
    for rs in rows:
        charge = [r for r in rs if r["segment"] == "charge"]
        mid.append({"voltage_V": float(np.interp(soc, [r["soc"] for r in charge],
                                                 [r["voltage_V"] for r in charge]))})
    w = film_stress_work(case, 1.0 - soc)
    # the step controller judges single Newton solves, not their sum over staggered iterations
    assert max(r["dt_s"] for r in rows[1]) == max(r["dt_s"] for r in rows[0]) == case.protocol.dt_max
    shift = mid[1]["voltage_V"] - mid[0]["voltage_V"]
    assert shift == pytest.approx(w / FARADAY, rel=0.02), (shift, w / FARADAY)
