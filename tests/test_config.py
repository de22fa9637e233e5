"""Case-file validation: every problem is reported at once, with key, value and range."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fem_electrode.config import SCHEMA, ConfigError, dumps_case, load_case, validate
from fem_electrode.config.schema import markdown


def test_defaults_are_valid_and_frozen():
    case = validate({})
    assert case.geometry.porosity == pytest.approx(0.20)
    assert case.geometry.nvp_fraction == pytest.approx(0.155)
    with pytest.raises(AttributeError):
        case.geometry.porosity = 0.3  # frozen


def test_every_problem_is_listed_with_key_value_and_range():
    bad = {
        "geometry": {"porosity": 0.9, "porsity": 0.2, "seed": "one"},
        "materials": {"E_nzsp": -1.0},
        "protocol": {"cutoff_low": 3.9, "cutoff_high": 3.0},
        "bogus": {},
    }
    with pytest.raises(ConfigError) as err:
        validate(bad)
    text = str(err.value)
    problems = err.value.problems
    assert "geometry.porosity = 0.9" in text and "(0, 0.6]" in text
    assert "did you mean 'porosity'" in text
    assert "geometry.seed = 'one'" in text and "integer" in text
    assert "materials.E_nzsp = -1.0" in text
    assert "cutoff_low = 3.9 V must be below cutoff_high = 3.0 V" in text
    assert "unknown section [bogus]" in text
    assert len(problems) == 6


def test_cross_checks_name_the_parameter():
    with pytest.raises(ConfigError, match="layer_thickness = 0.7 µm must be below"):
        validate({"geometry": {"layer_thickness": 0.7, "pore_radius_min": 0.6}})
    with pytest.raises(ConfigError, match="targets do not add up"):
        validate({"geometry": {"porosity": 0.1, "nvp_fraction": 0.155}})


def test_resolved_case_round_trips(tmp_path):
    case = validate({"geometry": {"seed": 7}, "solver": {"petsc": {"ksp_rtol": 1e-9}}})
    path = tmp_path / "case.toml"
    path.write_text(dumps_case(case))
    again = load_case(path)
    assert again.to_dict() == case.to_dict()


def test_every_key_is_documented():
    doc = markdown()
    for section in SCHEMA:
        for key in section.keys:
            assert key.doc and key.unit, f"{section.name}.{key.name} lacks doc or unit"
            assert f"`{key.name}`" in doc


def test_examples_validate(examples, tmp_path):
    """Every example case file validates; sweep files expand into valid cases."""
    import tomllib

    from fem_electrode.campaign.sweep import load_sweep

    files = sorted(examples.glob("*.toml"))
    assert files, "no example case files"
    for f in files:
        if "sweep" in tomllib.loads(f.read_text()):
            load_sweep(f, directory=tmp_path / f.stem)
        else:
            load_case(f)


@pytest.mark.serial
def test_cli_bad_case_exits_2_and_creates_nothing(tmp_path):
    """Serial: spawns a subprocess CLI (no MPI communicator to share)."""
    bad = tmp_path / "bad.toml"
    bad.write_text('[geometry]\nporosity = 0.9\nkind = "sponge"\n[mesh]\nrefinment = 2\n')
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "fem_electrode.cli", "check", str(bad)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    assert "geometry.porosity = 0.9" in proc.stderr
    assert "'sponge' is not allowed" in proc.stderr
    assert "did you mean 'refinement'" in proc.stderr
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


@pytest.mark.serial
def test_cli_help_and_version():
    """Serial: spawns a subprocess CLI."""
    proc = subprocess.run([sys.executable, "-m", "fem_electrode.cli", "--help"],
                          capture_output=True, text=True)
    assert proc.returncode == 0
    from fem_electrode.cli import COMMANDS

    for module in COMMANDS:
        assert module.NAME in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "fem_electrode.cli", "--version"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "0.1.0" in proc.stdout


def test_key_docs_file_is_current():
    """docs/case-keys.md is generated from the schema; regenerate with `fem-electrode keys`."""
    from conftest import ROOT

    assert (ROOT / "docs" / "case-keys.md").read_text() == markdown() + "\n"


@pytest.mark.parametrize(("name", "value"), [
    ("ksp_monitor", "ascii:/tmp/x"),  # PETSc would write the monitor to /tmp/x
    ("snes_view", "binary:snes.bin"),
    ("log_view", ":/tmp/log.txt"),
    ("echem_ksp_monitor_true_residual", "ascii:out.txt"),
    ("mechanics_ksp_view", "draw"),
    ("ksp_monitor", 1),  # not a bool either
])
def test_a_petsc_monitor_or_viewer_value_naming_a_file_is_refused(name, value):
    """[solver] petsc: monitors and viewers may be switched on or off, never pointed at a file."""
    with pytest.raises(ConfigError) as err:
        validate({"solver": {"petsc": {name: value, "ksp_rtol": 1e-9, "pc_type": "jacobi"}}})
    assert len(err.value.problems) == 1, err.value.problems  # the other options are fine
    assert f"petsc.{name} = {value!r}" in err.value.problems[0]
    assert "allowed: true or false" in err.value.problems[0]


def test_a_petsc_monitor_switched_on_or_off_is_accepted():
    options = {"ksp_monitor": True, "snes_monitor": False, "mechanics_ksp_view": True, "pc_type": "jacobi"}
    case = validate({"solver": {"petsc": options}})
    assert case.solver.petsc == options


def test_an_empty_case_file_is_refused_unless_defaults_are_asked_for(comm, mpi_tmp_path, capsys):
    """``check EMPTY`` exits 2 with one message naming --defaults and prints no case; ``check EMPTY
    --defaults`` prints the default case (the same as validating no keys at all)."""
    import tomllib

    from fem_electrode import cli

    for text in ("", "# only a comment\n"):
        empty = mpi_tmp_path / "empty.toml"
        if comm.rank == 0:
            empty.write_text(text)
        comm.Barrier()
        assert cli.main(["check", str(empty)]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        if comm.rank == 0:  # the log prints on rank 0
            errors = [line for line in err.splitlines() if line.startswith("error")]
            assert len(errors) == 1 and str(empty) in errors[0], err
            assert "the case file is empty" in err and "pass --defaults" in err
        assert cli.main(["check", str(empty), "--defaults"]) == 0
        out, err = capsys.readouterr()
        if comm.rank == 0:  # the case is printed once, by rank 0
            assert validate(tomllib.loads(out)).to_dict() == validate({}).to_dict()
        else:
            assert out == ""
        assert "error" not in err
        if comm.rank == 0:  # and, as for any case, its size
            assert "estimated size:" in err
