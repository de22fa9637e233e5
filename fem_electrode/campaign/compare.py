"""Infiltrated vs co-sintered: one case, both designs, same composition and protocol, one report.

From a case, :func:`variants` makes the two designs (``geometry.kind`` replaced; everything
else, composition and protocol included, is shared) for each protocol of a preset. A
*runner* turns a case and a run folder into ``metrics.json``, ``timeseries.csv``, fields and
mesh; the default, :func:`job_runner`, runs ``fem-electrode run`` in a child process through
the sweep's job step (status.json, job.log, checkpoints) so both designs can run side by side.
Then :func:`report` loads the runs, writes the ParaView script ``views.py``, renders its
screenshots when ``pvpython`` is available, and builds ``report.md``/``report.html``/
``comparison.json``.

Folder layout of ``compare -o OUT``::

    OUT/case.toml               the resolved input case
    OUT/meshes/                 <name>-<design>[-<rate>].msh + .json
    OUT/<design>[-<rate>]/      one run folder per design and protocol (the case's seed)
    OUT/<design>[-<rate>]-seed<k>/  with ``--seeds N``: the same at seed + k, k = 1 ... N − 1
    OUT/<design>[-<rate>]-refined/  with ``--refine R``: the case's seed on an R× finer mesh
    OUT/views.py, OUT/views/    ParaView script and its screenshots
    OUT/report.md, report.html, comparison.json, figures/
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fem_electrode.campaign import status as casestatus
from fem_electrode.config import Case, dumps_case, write_case
from fem_electrode.report import build, pvrun, views
from fem_electrode.report.comparison import DESIGN_LABELS, DESIGNS
from fem_electrode.report.curves import columns
from fem_electrode.report.rundata import RunData
from fem_electrode.run.folder import CASE, RunFolder
from fem_electrode.util.log import get_logger

log = get_logger("compare")

#: Largest mesh.refinement of a refinement pair (the schema's bound of the key).
MAX_REFINEMENT = 16.0

#: A runner produces run_dir/metrics.json, timeseries.csv, the XDMF fields and the mesh.
Runner = Callable[[Case, Path], None]


class CompareError(RuntimeError):
    """A run of the comparison failed or left no results."""


@dataclass(frozen=True)
class Protocol:
    """One protocol of a comparison: a label and overrides of the case."""

    label: str
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    suffix: str = ""  #: run-folder suffix ("" when there is only one protocol)


#: Presets: protocols and case overrides. ``default`` keeps the case as it is.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {"protocols": None, "overrides": {}},
    "paper": {  # the paper's protocol: 0.1 C and 0.6 C with 20 min holds at the cut-offs
        "protocols": [
            Protocol("0.1 C", {"protocol": {"c_rate": 0.1, "hold_minutes": 20.0}}, "0.1C"),
            Protocol("0.6 C", {"protocol": {"c_rate": 0.6, "hold_minutes": 20.0}}, "0.6C"),
        ],
        # a larger RVE (23x the volume of the 7 µm demo; meshed: 2.1 M tetrahedra infiltrated,
        # 0.76 M co-sintered, 2-3.5 min and 1.7-2.4 GB in gmsh), meant for a cluster allocation;
        # the iterative solvers, whatever the case file says for its small RVE
        "overrides": {"geometry": {"box": [20.0, 20.0, 20.0]}, "solver": {"linear": "iterative"}},
    },
}


@dataclass(frozen=True)
class Variant:
    """One design under one protocol."""

    design: str
    protocol: Protocol
    case: Case
    folder: str
    seed_index: int = 0  #: 0: the case's own seed; k: seed + k
    refined: bool = False  #: the first seed again on a finer mesh (``refine``)


def protocols_of(case: Case, preset: str, mechanics_y: float | None = None) -> list[Protocol]:
    """The protocols of ``preset`` (the case's own protocol for ``default``)."""
    if mechanics_y is not None:
        return [Protocol(f"mechanics only, y = {mechanics_y:g}")]
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
    found = PRESETS[preset]["protocols"]
    if found:
        return list(found)
    p = case.protocol
    hold = f", {p.hold_minutes:g} min holds" if p.hold_minutes else ""
    return [Protocol(f"{p.c_rate:g} C{hold}")]


#: Kinds whose case ``compare`` cannot turn into its designs: ``geometry.kind`` is replaced by
#: each design, so the image would be silently dropped for two generated electrodes.
NOT_COMPARABLE_KINDS = ("image",)


def check_seeds_and_refine(case: Case, seeds: int | None = None, refine: float | None = None) -> int:
    """The number of seeds per design (``seeds``, default the case's ``geometry.seeds``); raises
    ``ValueError`` naming the value for fewer than one seed, a ``refine`` factor that is not
    > 1 or would take ``mesh.refinement`` past its bound, or an image case (docs/images.md)."""
    if case.geometry.kind in NOT_COMPARABLE_KINDS:
        raise ValueError(
            f"geometry.kind = {case.geometry.kind!r}: compare replaces geometry.kind by each design "
            f"({', '.join(DESIGNS)}) and builds both from the case's box and composition, so the image "
            "would not be used; give compare a case of a generated kind, and to set an image against a "
            "generated electrode run both cases (`fem-electrode run`) and compare their metrics.json "
            "(docs/images.md, 'Comparing an image with a generated design')")
    n_seeds = case.geometry.seeds if seeds is None else seeds
    if n_seeds < 1:
        raise ValueError(f"seeds = {n_seeds!r}: need at least 1 microstructure per design")
    if refine is not None and not (1.0 < refine and case.mesh.refinement * refine <= MAX_REFINEMENT):
        raise ValueError(f"refine = {refine!r}: need a factor > 1 with mesh.refinement × refine ≤ "
                         f"{MAX_REFINEMENT:g} (mesh.refinement = {case.mesh.refinement:g})")
    return n_seeds


def variants(case: Case, out_dir: Path, preset: str = "default",
             mechanics_y: float | None = None, seeds: int | None = None,
             refine: float | None = None) -> list[Variant]:
    """Both designs for every protocol of ``preset`` and every seed, meshes written under
    ``out_dir/meshes``.

    With ``mechanics_y`` there is one "protocol": the mechanics at a uniform NVP filling.
    ``seeds`` (default: the case's ``geometry.seeds``) microstructures per design: the case's
    seed in ``<design>[-<protocol>]``, seed + k in ``<design>[-<protocol>]-seed<k>``.
    ``refine`` (> 1): the case's seed once more with ``mesh.refinement`` multiplied by it, in
    ``<design>[-<protocol>]-refined`` (the discretisation error of every metric).
    """
    n_seeds = check_seeds_and_refine(case, seeds, refine)
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
    base = case.replace(**PRESETS[preset]["overrides"]) if PRESETS[preset]["overrides"] else case
    if mechanics_y is not None:
        base = base.replace(mechanics={"prescribed_y": mechanics_y})
    out = []
    for proto in protocols_of(base, preset, mechanics_y):
        for k in range(n_seeds):
            for design in DESIGNS:
                folder = design + (f"-{proto.suffix}" if proto.suffix else "") + (f"-seed{k}" if k else "")
                name = f"{base.case.name}-{folder}"
                overrides = {sec: dict(v) for sec, v in proto.overrides.items()}
                overrides.setdefault("geometry", {})["kind"] = design
                overrides["geometry"]["seed"] = base.geometry.seed + k
                overrides["geometry"]["seeds"] = n_seeds
                seed_note = f", seed {base.geometry.seed + k}" if n_seeds > 1 else ""
                overrides["case"] = {"name": name,
                                     "description": f"{DESIGN_LABELS[design]} variant of {base.case.name} "
                                                    f"({proto.label}{seed_note})"}
                overrides["mesh"] = {"directory": str(Path(out_dir).resolve() / "meshes")}
                out.append(Variant(design, proto, base.replace(**overrides), folder, k))
        if refine is not None:
            for v in [v for v in out if v.protocol == proto and v.seed_index == 0]:
                finer = v.case.replace(case={"name": f"{v.case.case.name}-refined"},
                                       mesh={"refinement": v.case.mesh.refinement * refine})
                out.append(Variant(v.design, proto, finer, f"{v.folder}-refined", 0, refined=True))
    return out


# ---- running ------------------------------------------------------------------------------------
def job_runner(ntasks: int = 1, launcher: str | None = None,
               command: str = "{python} -m fem_electrode.cli run {case} -o {dir} {resume}") -> Runner:
    """Run ``fem-electrode run`` in a child process via the sweep's job step."""
    from fem_electrode.campaign import job as casejob

    if launcher is None:
        launcher = "" if ntasks == 1 else "mpiexec -n {ntasks}"
    spec = casejob.RunSpec(command=command, launcher=launcher, ntasks=ntasks)

    def run(case: Case, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_case(case, RunFolder(run_dir).case)
        rc = casejob.run_case(run_dir, spec)
        if rc != 0:
            status = casestatus.read(run_dir)
            raise CompareError(f"the run in {run_dir} failed (exit {rc}): {status.get('reason', '?')}; "
                               f"see {run_dir / casestatus.JOB_LOG}")

    return run


#: The mechanics alone at the case's ``[mechanics] prescribed_y`` (``fem-electrode mechanics``).
MECHANICS_COMMAND = "{python} -m fem_electrode.cli mechanics {case} -o {dir}"


def mechanics_runner(ntasks: int = 1, launcher: str | None = None) -> Runner:
    """Mesh, then linear elasticity at a uniform NVP filling: ``fem-electrode mechanics`` per design.

    Writes what the report reads (metrics.json with a ``mechanics`` block, stress_samples.npz,
    fields/ with the mesh and the stress fields); no electrochemistry, so no curves.
    """
    return job_runner(ntasks, launcher, command=MECHANICS_COMMAND)


def is_done(variant: Variant, run_dir: Path) -> bool:
    """True when ``run_dir`` holds finished results of exactly this case."""
    folder = RunFolder(run_dir)
    case_file = folder.case
    return (folder.metrics.is_file() and case_file.is_file()
            and _body(case_file.read_text()) == _body(dumps_case(variant.case)))


def _body(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


def run_variants(items: Sequence[Variant], out_dir: Path, runner: Runner, jobs: int = 2,
                 force: bool = False) -> None:
    """Run every variant not already done (``jobs`` at a time); raise if any failed."""
    todo = [v for v in items if force or not is_done(v, out_dir / v.folder)]
    for v in items:
        if v not in todo:
            log.info("%s: finished results found, not re-run (use --force to re-run)", v.folder)
    errors: list[str] = []

    def one(v: Variant) -> None:
        log.info("running %s (%s) in %s", DESIGN_LABELS[v.design], v.protocol.label, out_dir / v.folder)
        try:
            runner(v.case, out_dir / v.folder)
        except Exception as exc:  # collect, so the other design still finishes
            errors.append(f"{v.folder}: {exc}")
            return
        if not RunFolder(out_dir / v.folder).metrics.is_file():
            errors.append(f"{v.folder}: the run finished but wrote no metrics.json")

    if jobs <= 1 or len(todo) <= 1:  # in the main thread: gmsh and signal handlers need it
        for v in todo:
            one(v)
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(one, todo))
    if errors:
        raise CompareError("run(s) failed:\n  " + "\n  ".join(errors))


# ---- report -------------------------------------------------------------------------------------
def snapshot_time(run: RunData) -> float | None:
    """Time (s) to show in ParaView: the mechanics snapshot, else the most charged state."""
    if "time" in run.stress_meta:
        return run.stress_meta["time"]
    mech = run.metrics.get("mechanics")
    if isinstance(mech, dict) and isinstance(mech.get("time_s"), int | float):
        return float(mech["time_s"])
    ts = run.timeseries
    t = columns(ts).time
    if t is None:
        return None
    if "soc" in ts:
        return float(ts[t][ts["soc"].argmax()])
    return float(ts[t][-1])


def load_pairs(items: Sequence[Variant], out_dir: Path) -> list[build.Pair]:
    """One :class:`~fem_electrode.report.build.Pair` per protocol from the run folders."""
    from fem_electrode.geometry import output_paths

    pairs: dict[str, dict[str, RunData]] = {}
    seed_metrics: dict[str, dict[str, list[dict[str, Any]]]] = {}
    refined: dict[str, dict[str, dict[str, Any]]] = {}
    for v in items:
        if v.refined:
            metrics = json.loads(RunFolder(out_dir / v.folder).metrics.read_text())
            refined.setdefault(v.protocol.label, {})[v.design] = metrics
        elif v.seed_index == 0:  # the figures, views and per-run tables show the case's own seed
            msh, js = output_paths(v.case, v.case.mesh.directory)
            run = RunData.load(v.design, out_dir / v.folder, mesh_json=js if js.is_file() else None,
                               msh_path=msh if msh.is_file() else None)
            pairs.setdefault(v.protocol.label, {})[v.design] = run
    for v in sorted((v for v in items if not v.refined), key=lambda v: v.seed_index):
        metrics = (pairs[v.protocol.label][v.design].metrics if v.seed_index == 0  # already read
                   else json.loads(RunFolder(out_dir / v.folder).metrics.read_text()))
        seed_metrics.setdefault(v.protocol.label, {}).setdefault(v.design, []).append(metrics)
    return [build.Pair(label, runs, _describe(items, label), seed_metrics=seed_metrics.get(label),
                       refined_metrics=refined.get(label))
            for label, runs in pairs.items()]


def _describe(items: Sequence[Variant], label: str) -> str:
    case = next(v.case for v in items if v.protocol.label == label and v.seed_index == 0 and not v.refined)
    p, g = case.protocol, case.geometry
    if case.mechanics.prescribed_y is not None:
        return (f"linear elasticity at a uniform NVP filling y = {case.mechanics.prescribed_y:g} (no "
                f"electrochemistry); box {' × '.join(f'{x:g}' for x in g.box)} µm, seed {g.seed}")
    return (f"{p.cycles} cycle(s) at {p.c_rate:g} C starting with {p.start}, cut-offs "
            f"{p.cutoff_low:g}/{p.cutoff_high:g} V, holds {p.hold_minutes:g} min; box "
            f"{' × '.join(f'{x:g}' for x in g.box)} µm, seed {g.seed}")


def intro(case: Case, items: Sequence[Variant]) -> str:
    g = case.geometry
    return (f"Case **{case.case.name}**: two electrodes with the same composition (target porosity "
            f"{g.porosity:g}, NVP fraction {g.nvp_fraction:g}, residual pore "
            f"{g.porosity - g.nvp_fraction:.3g}) "
            f"in a {' × '.join(f'{x:g}' for x in g.box)} µm RVE (seed {g.seed}), the same materials "
            f"and the same protocol; only the microstructure differs. Protocols: "
            + "; ".join(sorted({f"{v.protocol.label} ({_describe(items, v.protocol.label)})" for v in items}))
            + ". Ratios are infiltrated / co-sintered.")


def ensure_mesh_xdmf(run: RunData) -> Path | None:
    """The run's mesh + tags as XDMF (for ParaView's phase views); written from the .msh if missing."""
    found = views.discover(run.run_dir)["mesh"]
    if found:
        return Path(found)
    if run.msh_path is None or not run.msh_path.is_file():
        return None
    from fem_electrode.fem.domain import Domain
    from fem_electrode.fem.fenicsx import MPI

    target = RunFolder(run.run_dir).mesh_xdmf
    target.parent.mkdir(parents=True, exist_ok=True)
    return Domain.from_msh(run.msh_path, MPI.COMM_SELF).write_xdmf(target)


def colour_ranges(pair: build.Pair) -> dict[str, tuple[float, float]]:
    """von Mises colours from 0 to the largest 99th percentile (MPa): the maxima sit at corners."""
    p99 = []
    for run in pair.runs.values():
        phases = run.metrics.get("mechanics", {}).get("phases", {})
        p99 += [ph.get("von_mises", {}).get("p99") for ph in phases.values() if isinstance(ph, dict)]
    p99 = [v for v in p99 if isinstance(v, int | float)]
    return {"von_mises": (0.0, max(p99) * 1e-6)} if p99 else {}


def render_views(out_dir: Path, pairs: Sequence[build.Pair], screenshots: bool = True,
                 timeout: float = 600.0) -> tuple[Path, Path | None]:
    """Write ``views.py`` for the first protocol and, with pvpython, its screenshots."""
    for run in pairs[0].runs.values():
        ensure_mesh_xdmf(run)
    electrodes: dict[str, views.ElectrodeSpec] = {
        d: {"label": DESIGN_LABELS[d], "run_dir": r.run_dir, "time": snapshot_time(r)}
        for d, r in pairs[0].runs.items()}
    script = views.write_views(out_dir, electrodes, title=pairs[0].label, ranges=colour_ranges(pairs[0]))
    if not screenshots:
        return script, None
    if pvrun.pvpython() is None:
        log.info("pvpython not found: no ParaView screenshots (the report uses matplotlib figures)")
        return script, None
    shots = (out_dir / "views").resolve()  # pvpython runs in the script's folder
    try:
        pvrun.run_script(script, ["--screenshot", str(shots)], timeout=timeout)
    except pvrun.ParaViewError as exc:
        log.warning("ParaView screenshots failed, the report goes on without them: %s", exc)
        return script, None
    return script, shots


def report(case: Case, items: Sequence[Variant], out_dir: Path, screenshots: bool = True) -> dict[str, Path]:
    """Build the report of finished variants into ``out_dir``."""
    pairs = load_pairs(items, out_dir)
    script, shots = render_views(out_dir, pairs, screenshots)
    return build.build_report(out_dir, pairs, case=items[0].case.to_dict(),
                              title=f"Infiltrated vs co-sintered NVP|NZSP electrode: {case.case.name}",
                              intro=intro(case, items), screenshot_dir=shots, views_script=script)


def compare(case: Case, out_dir: str | os.PathLike[str], preset: str = "default",
            runner: Runner | None = None, jobs: int = 2, force: bool = False, report_only: bool = False,
            screenshots: bool = True, mechanics_y: float | None = None,
            seeds: int | None = None, refine: float | None = None) -> dict[str, Path]:
    """Run both designs (unless ``report_only``) and build the report; returns the report paths.

    ``seeds``: microstructures per design (default: the case's ``geometry.seeds``); ``refine``:
    also the first seed on a mesh ``refine`` times finer (discretisation error of every metric).

    ``mechanics_y``: skip the electrochemistry and compare the mechanics at a uniform NVP
    filling (``[mechanics] prescribed_y`` of both variants; default runner :func:`mechanics_runner`).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_case(case, out_dir / CASE)
    items = variants(case, out_dir, preset, mechanics_y, seeds, refine)
    if not report_only:
        if mechanics_y is not None:
            runner = runner or mechanics_runner()
        run_variants(items, out_dir, runner or job_runner(), jobs=jobs, force=force)
    missing = [v.folder for v in items if not RunFolder(out_dir / v.folder).metrics.is_file()]
    if missing:
        raise CompareError(f"no results in {', '.join(missing)} under {out_dir} (run without --report-only)")
    return report(case, items, out_dir, screenshots=screenshots)


def default_jobs() -> int:
    """Designs run side by side: one per core, at most two."""
    return max(1, min(2, os.cpu_count() or 1))

