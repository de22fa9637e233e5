"""Problems built from a case, for tests: the run layer's set-up plus a few conveniences.

The package's problems take parameter objects, not cases; these helpers make them from a
(validated) case the way a run does (:mod:`fem_electrode.run.setup`), so tests state only
the values they change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from fem_electrode.config import Case, validate
from fem_electrode.fem.domain import Domain
from fem_electrode.fem.newton import SolverSettings
from fem_electrode.outputs.mechanics_fields import MechanicsFieldWriter
from fem_electrode.outputs.stress import StressPost
from fem_electrode.physics.fracture import LayerThickness
from fem_electrode.problems.electrochemistry import ElectroParams
from fem_electrode.problems.mechanics import MechanicsProblem
from fem_electrode.run import setup, simulation


def case_from(base: Mapping[str, Mapping[str, Any]], **overrides: Mapping[str, Any]) -> Case:
    """The validated case of the sections ``base`` with ``overrides`` (section -> keys) merged in."""
    data = {k: dict(v) for k, v in base.items()}
    for sec, values in overrides.items():
        data.setdefault(sec, {}).update(values)
    return validate(data)


def electro_params(case: Case | None = None, **overrides: Any) -> ElectroParams:
    """The electrochemistry parameters of ``case`` (default: the default case) with ``overrides``."""
    return dataclasses.replace(setup.electro_params(case or validate({})), **overrides)


def solver_settings(linear: str = "iterative", **solver: Any) -> SolverSettings:
    """Newton settings of a case whose ``[solver]`` has ``linear`` and the other given keys."""
    return setup.solver_settings(validate({"solver": {"linear": linear, **solver}}))


class Mechanics(MechanicsProblem):
    """A :class:`MechanicsProblem` of a case, with the case's metrics and fields at hand."""

    def __init__(self, domain: Domain, case: Case, *, degree: int | None = None, c_degree: int = 1,
                 layer: LayerThickness | None = None):
        super().__init__(domain, setup.mechanics_params(case), setup.mechanics_solver_options(case),
                         degree=degree, c_degree=c_degree)
        self.case = case
        self.layer = layer
        self._post: StressPost | None = None

    @property
    def post(self) -> StressPost:
        if self._post is None:
            self._post = StressPost(self)
        return self._post

    def metrics(self) -> dict[str, Any]:
        """The ``mechanics`` block of metrics.json, h as a run on this domain would decide it."""
        layer = self.layer or setup.layer_thickness(self.case, self.domain, None)
        return self.post.metrics(setup.strengths(self.case), layer)

    def field_writer(self, folder: Any) -> MechanicsFieldWriter:
        return MechanicsFieldWriter(self.post, folder)


def run_until(monkeypatch: Any, case: Case, out: Any, domain: Domain,
              stop_at: Callable[[simulation.Simulation, Any], bool]) -> simulation.RunResult:
    """Run ``case`` into ``out`` and request a stop (as SIGTERM does) after the first accepted step
    where ``stop_at(sim, segment)`` holds; ``Simulation.accept`` is restored before returning."""
    real_accept = simulation.Simulation.accept
    stopped: list[bool] = []

    def accept_then_stop(self: simulation.Simulation, seg: Any, *args: Any, **kwargs: Any) -> None:
        real_accept(self, seg, *args, **kwargs)
        if not stopped and stop_at(self, seg):
            stopped.append(True)
            simulation.request_stop()

    monkeypatch.setattr(simulation.Simulation, "accept", accept_then_stop)
    try:
        return simulation.run(case, out, domain=domain)
    finally:
        monkeypatch.setattr(simulation.Simulation, "accept", real_accept)
