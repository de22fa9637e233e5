"""[solver]: Newton and linear-solver settings; PETSc options under a prefix."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fem_electrode.config.spec import Section, key


@dataclass(frozen=True)
class SolverConfig:
    """Solver settings. `petsc` entries override the defaults (keys without the '-'): keys starting
    with 'mechanics_' go to the mechanics KSP, all others to the electrochemistry SNES (an optional
    'echem_' prefix is removed), e.g. ksp_rtol = 1e-9, fieldsplit_c_pc_type = 'jacobi',
    mechanics_ksp_rtol = 1e-8.
    """

    linear: str = key(
        "iterative",
        "-",
        "iterative (GMRES + block Gauss-Seidel field-split with GAMG per field, scales) or direct (MUMPS "
        "LU, below ~1.5e5 dofs)",
        choices=("iterative", "direct"),
    )
    rtol: float = key(1e-10, "-", "Newton relative tolerance", lo=0.0, hi=1.0, lo_open=True)
    atol: float = key(
        1e-12,
        "-",
        "Newton absolute tolerance (residual in units of the run's current, c_rate x 1 C)",
        lo=0.0,
        lo_open=True,
    )
    max_it: int = key(25, "-", "Newton iterations per step", lo=1, hi=1000)
    step_tol: float = key(
        1e-9,
        "-",
        "Newton also stops when its update is below this, in units of RT/F for potentials and c_max for c",
        lo=0.0,
        hi=0.001,
    )
    newton_error_tol: float = key(
        0.0,
        "-",
        "Newton also stops when its error estimate theta/(1 - theta) |update| (theta: contraction of the "
        "last two updates, trusted where theta <= 0.1 and the update was taken whole; Hairer & Wanner, "
        "Solving ODEs II, IV.8) is below this, in the units of step_tol; 0 = off (the default: the "
        "residual then converges to round-off, which the conservation checks to 1e-8 need). 1e-6 saves "
        "about one Newton iteration in three on a cycle (docs/electrochemistry.md) at an error 5000x "
        "below the step tolerances, but leaves charge and sodium balances at ~1e-7",
        lo=0.0,
        hi=0.001,
    )
    jacobian_reuse: float = key(
        0.1,
        "-",
        "Newton assembles (and factorizes) the Jacobian at the first iteration of each solve and keeps it "
        "while each correction is at most this fraction of the previous one (chord steps: a residual and "
        "a solve with the kept factorization each); above it the Jacobian is rebuilt. 0 = rebuild at every "
        "iteration (plain Newton). Used with linear = 'direct' only: with the iterative solver a chord step "
        "costs a whole Krylov solve, as a Newton step does (slower: docs/electrochemistry.md), and "
        "protocol.time_stepping = 'newton' counts Newton iterations. The converged state is the same",
        lo=0.0,
        hi=0.5,
    )
    quadrature_degree: int = key(
        2, "-", "quadrature degree of the nonlinear (exp) interface terms", lo=1, hi=8
    )
    petsc: dict[str, str | int | float | bool] = key(
        {},
        "-",
        "extra PETSc options, e.g. ksp_rtol = 1e-9; monitors and viewers print to the log only (a value "
        "naming a file or viewer is refused)",
    )


#: Option names that make PETSc print or write (monitors, viewers); their value may select a file.
OUTPUT_OPTION_WORDS = ("monitor", "view", "log")


def _output_options(v: Mapping[str, Any]) -> list[str]:
    """Monitor and viewer options may switch output on (true) or off, never name a file or viewer:
    PETSc would write wherever the value points."""
    problems = []
    for name, value in v["petsc"].items():
        if any(word in name for word in OUTPUT_OPTION_WORDS) and not isinstance(value, bool):
            problems.append(f"petsc.{name} = {value!r}: a monitor or viewer value can name a file (PETSc "
                            "writes there); allowed: true or false (output goes to the log)")
    return problems


SECTION = Section.from_config("solver", SolverConfig, checks=(_output_options,))
