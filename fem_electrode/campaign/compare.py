"""Infiltrated vs co-sintered: one case, both designs, same composition and protocol, one report.

From a case, :func:`variants` makes the two designs (``geometry.kind`` replaced; everything
else, composition and protocol included, is shared) for each protocol of a preset. A
*runner* turns a case and a run folder into ``metrics.json``, ``timeseries.csv``, fields and
mesh; the default, :func:`job_runner`, runs ``fem-electrode run`` in a child process through
the sweep's job step (status.json, job.log, checkpoints) so both designs can run side by side.
Then :func:`report` loads the runs, writes the ParaView script ``views.py``, renders its
screenshots when ``pvpython`` is available, and builds ``report.md``/``report.html``/
``comparison.json``.

An image case (``geometry.kind = "image"``) is set against one generated design instead
(``against``, default infiltrated): the image is meshed first (:func:`measure_image`) and the
generated design takes its box and measured volume fractions; the designs are then "image" and
that kind, in this order, through the runs and the report (docs/images.md).

Folder layout of ``compare -o OUT``::

    OUT/case.toml               the resolved input case
    OUT/meshes/                 <name>-<design>[-<rate>].msh + .json
    OUT/<design>[-<rate>]/      one run folder per design and protocol (the case's seed)
    OUT/<design>[-<rate>]-seed<k>/  with ``--seeds N``: the same at seed + k, k = 1 ... N − 1
    OUT/<design>[-<rate>]-refined/  with ``--refine R``: the case's seed on an R× finer mesh
    OUT/views.py, OUT/views/    ParaView script and its screenshots
    OUT/report.md, report.html, comparison.json, figures/

``--executor slurm`` (:func:`submit`) writes the same run folders, each with its resolved
``case.toml``, and submits them as one job array through the sweep's Slurm executor; the folder
is then also a sweep folder (``OUT/sweep.json``, ``OUT/jobs/NNN-job.sh``, ``OUT/logs/``) that
``fem-electrode status OUT`` reads, and ``compare --report-only`` builds the report from it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fem_electrode.campaign import executors, slurm
from fem_electrode.campaign import job as casejob
from fem_electrode.campaign import status as casestatus
from fem_electrode.campaign.job import RunSpec
from fem_electrode.campaign.slurm import SlurmOptions
from fem_electrode.campaign.sweep import Point, Sweep, SweepSettings
from fem_electrode.campaign.sweep import job_options as sweep_job_options
from fem_electrode.campaign.sweep_folder import prepare, read_info, states
from fem_electrode.config import Case, ConfigError, dumps_case, write_case
from fem_electrode.report import build, pvrun, views
from fem_electrode.report.comparison import DESIGN_LABELS, DESIGNS, IMAGE, design_label
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
    label: str = ""  #: the design's label in the report (default: its short name)


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


#: Microstructures per design when neither ``--seeds`` nor ``geometry.seeds`` says (generated
#: designs): enough for a Student-t interval of every metric (t(0.975, 2) = 4.30).
DEFAULT_SEEDS = 3

#: The generated kinds an image case can be set against (``--against``), the first the default.
AGAINST = DESIGNS


def designs_of(case: Case, against: str | None = None) -> tuple[str, str]:
    """The two designs of ``case``: infiltrated and co-sintered, or for an image case the image
    and the generated kind ``against`` (default infiltrated)."""
    if case.geometry.kind == IMAGE:
        return IMAGE, against or AGAINST[0]
    return DESIGNS


def design_labels(case: Case, against: str | None = None) -> dict[str, str]:
    """The designs' labels in the report: for an image case, the image's file name and what the
    generated design shares with it."""
    one, two = designs_of(case, against)
    if one != IMAGE:
        return {d: DESIGN_LABELS[d] for d in (one, two)}
    return {IMAGE: f"image ({Path(case.geometry.image).name})",
            two: f"{DESIGN_LABELS[two]} (generated, same box and fractions)"}


def check_seeds_and_refine(case: Case, seeds: int | None = None, refine: float | None = None,
                           against: str | None = None) -> int:
    """The number of seeds per design (``seeds``, else the case's ``geometry.seeds``, else
    :data:`DEFAULT_SEEDS` for generated designs and 1 for an image); raises
    ``ValueError`` naming the value for fewer than one seed, or a ``refine`` factor that is not
    > 1 or would take ``mesh.refinement`` past its bound, and :class:`ConfigError` naming the
    option for an ``against`` that is not a generated design or is given with a generated case,
    and for several seeds or a refinement pair of an image case (docs/images.md)."""
    image = case.geometry.kind == IMAGE
    if against is not None and against not in AGAINST:
        raise ConfigError([f"--against {against!r}: an image is set against one of the generated designs "
                           f"{', '.join(AGAINST)}"], "compare")
    if against is not None and not image:
        raise ConfigError([f"--against {against}: only for an image case (geometry.kind = 'image'); a case "
                           f"of kind {case.geometry.kind!r} compares {' and '.join(DESIGNS)}"], "compare")
    n_seeds = seeds if seeds is not None else case.geometry.seeds
    if n_seeds is None:  # not set: intervals by default for generated designs; an image is one
        n_seeds = 1 if image else DEFAULT_SEEDS
    if image and n_seeds > 1:
        option = "geometry.seeds" if seeds is None else "--seeds"
        raise ConfigError([f"{option} = {n_seeds}: an image is one microstructure, and seed statistics of "
                           "the generated design alone would set an interval against a single value; compare "
                           "the image with one seed, and run `compare --seeds N` on a generated case with "
                           "the image's box and fractions for the spread of the generated design"], "compare")
    if image and refine is not None:
        raise ConfigError([f"--refine {refine:g}: an image mesh keeps the voxel size on its surfaces "
                           "(mesh.refinement only caps the interior size, never below a voxel), so a "
                           "refinement pair would refine the generated design only"], "compare")
    if n_seeds < 1:
        raise ValueError(f"seeds = {n_seeds!r}: need at least 1 microstructure per design")
    if refine is not None and not (1.0 < refine and case.mesh.refinement * refine <= MAX_REFINEMENT):
        raise ValueError(f"refine = {refine!r}: need a factor > 1 with mesh.refinement × refine ≤ "
                         f"{MAX_REFINEMENT:g} (mesh.refinement = {case.mesh.refinement:g})")
    return n_seeds


@dataclass(frozen=True)
class ImageMeasure:
    """What a generated design takes from an image (its mesh's provenance JSON)."""

    box: tuple[float, float, float]  #: µm, after crop and down-sampling (``resolved.box``)
    porosity: float  #: NVP + pore, measured on the image (``measured.volume_fractions``)
    nvp_fraction: float  #: NVP, measured on the image

    @classmethod
    def from_provenance(cls, info: dict[str, Any]) -> ImageMeasure:
        fractions = info["measured"]["volume_fractions"]
        nvp, pore = float(fractions["NVP"]), float(fractions.get("pore", 0.0))
        box = tuple(round(float(x), 9) for x in info["resolved"]["box"])
        return cls((box[0], box[1], box[2]), round(nvp + pore, 6), round(nvp, 6))


def measure_image(case: Case) -> ImageMeasure:
    """Mesh the image case in its ``[mesh] directory`` (reused when current, as a run reuses it)
    and read the image's box and volume fractions from the mesh's provenance JSON."""
    from fem_electrode.geometry import build_mesh, output_paths
    from fem_electrode.run.meshes import provenance_differences

    msh, js = output_paths(case, case.mesh.directory)
    if not (msh.is_file() and provenance_differences(case, js) == []):
        log.info("meshing the image of %s to size the generated design", case.case.name)
        try:
            build_mesh(case, case.mesh.directory)
        except ValueError as exc:  # bad input found reading the image
            raise ConfigError([f"geometry: {exc}"], case.source) from exc
    measure = ImageMeasure.from_provenance(json.loads(js.read_text()))
    log.info("image %s: box %s µm, porosity %.4g, NVP fraction %.4g", case.geometry.image,
             " × ".join(f"{x:g}" for x in measure.box), measure.porosity, measure.nvp_fraction)
    return measure


def variants(case: Case, out_dir: Path, preset: str = "default",
             mechanics_y: float | None = None, seeds: int | None = None,
             refine: float | None = None, against: str | None = None,
             measure: Callable[[Case], ImageMeasure] = measure_image) -> list[Variant]:
    """Both designs for every protocol of ``preset`` and every seed, meshes written under
    ``out_dir/meshes``.

    With ``mechanics_y`` there is one "protocol": the mechanics at a uniform NVP filling.
    ``seeds`` (default: the case's ``geometry.seeds``) microstructures per design: the case's
    seed in ``<design>[-<protocol>]``, seed + k in ``<design>[-<protocol>]-seed<k>``.
    ``refine`` (> 1): the case's seed once more with ``mesh.refinement`` multiplied by it, in
    ``<design>[-<protocol>]-refined`` (the discretisation error of every metric).

    An image case gives the image and the generated kind ``against``: the image variant keeps
    the case; the generated one takes ``geometry.box``, ``porosity`` and ``nvp_fraction`` from
    ``measure`` of the image variant (default :func:`measure_image`: meshes the image).
    """
    n_seeds = check_seeds_and_refine(case, seeds, refine, against)
    designs, labels = designs_of(case, against), design_labels(case, against)
    measured: list[ImageMeasure] = []
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
    base = case.replace(**PRESETS[preset]["overrides"]) if PRESETS[preset]["overrides"] else case
    if mechanics_y is not None:
        base = base.replace(mechanics={"prescribed_y": mechanics_y})
    out: list[Variant] = []
    for proto in protocols_of(base, preset, mechanics_y):
        for k in range(n_seeds):
            for design in designs:
                folder = design + (f"-{proto.suffix}" if proto.suffix else "") + (f"-seed{k}" if k else "")
                name = f"{base.case.name}-{folder}"
                overrides = {sec: dict(v) for sec, v in proto.overrides.items()}
                geometry = overrides.setdefault("geometry", {})
                if design != IMAGE:
                    geometry["kind"] = design
                if designs[0] == IMAGE and design != IMAGE:  # sized to the image (measured once)
                    image_case = next(v.case for v in out if v.design == IMAGE)
                    measured = measured or [measure(image_case)]
                    geometry.update(box=list(measured[0].box), porosity=measured[0].porosity,
                                    nvp_fraction=measured[0].nvp_fraction)
                geometry["seed"] = base.geometry.seed + k
                if base.geometry.seeds is not None or n_seeds > 1:  # the number the pair was run with
                    geometry["seeds"] = n_seeds
                seed_note = f", seed {base.geometry.seed + k}" if n_seeds > 1 else ""
                overrides["case"] = {"name": name,
                                     "description": f"{labels[design]} variant of {base.case.name} "
                                                    f"({proto.label}{seed_note})"}
                overrides["mesh"] = {"directory": str(Path(out_dir).resolve() / "meshes")}
                out.append(Variant(design, proto, base.replace(**overrides), folder, k, label=labels[design]))
        if refine is not None:
            for v in [v for v in out if v.protocol == proto and v.seed_index == 0]:
                finer = v.case.replace(case={"name": f"{v.case.case.name}-refined"},
                                       mesh={"refinement": v.case.mesh.refinement * refine})
                out.append(Variant(v.design, proto, finer, f"{v.folder}-refined", 0, refined=True,
                                   label=v.label))
    return out


# ---- running ------------------------------------------------------------------------------------
#: The run command of every variant (the job step's template; ``{python}``: the Python running it).
RUN_COMMAND = "{python} -m fem_electrode.cli run {case} -o {dir} {resume}"


def default_launcher(ntasks: object) -> str:
    """The MPI launcher of a variant: none for one rank, else ``mpiexec -n {ntasks}``."""
    return "" if ntasks == 1 else "mpiexec -n {ntasks}"


def job_runner(ntasks: int = 1, launcher: str | None = None, command: str = RUN_COMMAND) -> Runner:
    """Run ``fem-electrode run`` in a child process via the sweep's job step."""
    if launcher is None:
        launcher = default_launcher(ntasks)
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
        log.info("running %s (%s) in %s", v.label or design_label(v.design), v.protocol.label,
                 out_dir / v.folder)
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
    designs = _designs(items)
    labels = {v.design: v.label for v in items if v.label}
    return [build.Pair(label, runs, _describe(items, label), seed_metrics=seed_metrics.get(label),
                       refined_metrics=refined.get(label), designs=designs, design_labels=labels)
            for label, runs in pairs.items()]


def _designs(items: Sequence[Variant]) -> tuple[str, str]:
    found = tuple(dict.fromkeys(v.design for v in items))
    if len(found) != 2:
        raise CompareError(f"a comparison needs two designs, the variants have {', '.join(found) or 'none'}")
    return found[0], found[1]


def _describe(items: Sequence[Variant], label: str) -> str:
    case = next(v.case for v in items if v.protocol.label == label and v.seed_index == 0 and not v.refined
                and v.design != IMAGE)  # an image case's box is the image's: the generated one shows it
    p, g = case.protocol, case.geometry
    if case.mechanics.prescribed_y is not None:
        return (f"linear elasticity at a uniform NVP filling y = {case.mechanics.prescribed_y:g} (no "
                f"electrochemistry); box {' × '.join(f'{x:g}' for x in g.box)} µm, seed {g.seed}")
    return (f"{p.cycles} cycle(s) at {p.c_rate:g} C starting with {p.start}, cut-offs "
            f"{p.cutoff_low:g}/{p.cutoff_high:g} V, holds {p.hold_minutes:g} min; box "
            f"{' × '.join(f'{x:g}' for x in g.box)} µm, seed {g.seed}")


def intro(case: Case, items: Sequence[Variant]) -> str:
    g = case.geometry
    protocols = "; ".join(sorted({f"{v.protocol.label} ({_describe(items, v.protocol.label)})"
                                  for v in items}))
    one, two = _designs(items)
    if one == IMAGE:
        made = next(v.case.geometry for v in items if v.design == two)
        return (f"Case **{case.case.name}**: the segmented image {Path(g.image).name} against a generated "
                f"{design_label(two)} electrode in the same {' × '.join(f'{x:g}' for x in made.box)} µm box "
                f"with the image's measured porosity {made.porosity:g} (NVP + pore) and NVP fraction "
                f"{made.nvp_fraction:g} (residual pore {made.porosity - made.nvp_fraction:.3g}), seed "
                f"{made.seed}; the same materials and the same protocol. Protocols: {protocols}. Ratios are "
                f"{design_label(one)} / {design_label(two)}.")
    return (f"Case **{case.case.name}**: two electrodes with the same composition (target porosity "
            f"{g.porosity:g}, NVP fraction {g.nvp_fraction:g}, residual pore "
            f"{g.porosity - g.nvp_fraction:.3g}) "
            f"in a {' × '.join(f'{x:g}' for x in g.box)} µm RVE (seed {g.seed}), the same materials "
            f"and the same protocol; only the microstructure differs. Protocols: "
            + protocols + ". Ratios are infiltrated / co-sintered.")


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
        d: {"label": design_label(d), "run_dir": r.run_dir, "time": snapshot_time(r)}
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
    one, two = pairs[0].designs
    title = ("Infiltrated vs co-sintered" if one != IMAGE else f"Image vs generated {design_label(two)}")
    return build.build_report(out_dir, pairs, case=items[0].case.to_dict(),
                              title=f"{title} NVP|NZSP electrode: {case.case.name}",
                              intro=intro(case, items), screenshot_dir=shots, views_script=script)


def compare(case: Case, out_dir: str | os.PathLike[str], preset: str = "default",
            runner: Runner | None = None, jobs: int = 2, force: bool = False, report_only: bool = False,
            screenshots: bool = True, mechanics_y: float | None = None,
            seeds: int | None = None, refine: float | None = None, against: str | None = None,
            measure: Callable[[Case], ImageMeasure] = measure_image) -> dict[str, Path]:
    """Run both designs (unless ``report_only``) and build the report; returns the report paths.

    ``seeds``: microstructures per design (default: the case's ``geometry.seeds``); ``refine``:
    also the first seed on a mesh ``refine`` times finer (discretisation error of every metric).

    ``mechanics_y``: skip the electrochemistry and compare the mechanics at a uniform NVP
    filling (``[mechanics] prescribed_y`` of both variants; default runner :func:`mechanics_runner`).

    An image case: the image against the generated kind ``against`` (default infiltrated) sized
    by ``measure`` (default: mesh the image and read its provenance); one seed, no ``refine``.
    """
    check_seeds_and_refine(case, seeds, refine, against)  # before anything is written
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_case(case, out_dir / CASE)
    items = variants(case, out_dir, preset, mechanics_y, seeds, refine, against, measure)
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



# ---- Slurm: every variant as one task of a job array --------------------------------------------
#: Where the variants run: ``local`` here, side by side (:func:`compare`); ``slurm`` as one job
#: array through the sweep's Slurm executor (:func:`submit`).
EXECUTORS = ("local", "slurm")

#: What tells the variants of a comparison apart, as swept values in ``sweep.json``.
VARIANT_KEYS = ("design", "protocol", "geometry.seed", "mesh.refinement")


@dataclass(frozen=True)
class Submission:
    """What :func:`submit` did, or with ``dry_run`` would do."""

    tasks: tuple[tuple[Path, tuple[str, ...]], ...]  #: (run folder, run argv) per array task, in order
    skipped: tuple[tuple[str, str], ...]  #: (variant folder, why) of the variants left out
    script: str | None = None  #: the rendered job script of a dry run (None: nothing to run)
    job_id: str | None = None  #: the array's Slurm job id (None: dry run, or nothing to submit)


def array_options(raw: Mapping[str, Any], run_over: Mapping[str, Any], slurm_over: Mapping[str, Any],
                  mechanics: bool, source: str) -> tuple[RunSpec, SlurmOptions]:
    """The ``[run]`` and ``[slurm]`` tables of ``raw`` (an options file; ``{}`` for none) with the
    command-line values ``run_over``/``slurm_over`` on top, as ``sweep``/``submit`` read them.

    ``[run] command`` and ``launcher`` default to those of a local comparison (``fem-electrode run``,
    or ``mechanics`` when ``mechanics``; no launcher for one rank), so a task runs its variant exactly
    as :func:`job_runner` does. Raises :class:`ConfigError` naming every bad key or value."""
    run_raw = raw.get("run", {})
    if isinstance(run_raw, Mapping):  # anything else: job_options names the problem
        ntasks = run_over.get("ntasks", run_raw.get("ntasks", 1))
        run_raw = {"command": MECHANICS_COMMAND if mechanics else RUN_COMMAND,
                   "launcher": default_launcher(ntasks), **run_raw}
    problems: list[str] = []
    run, opts = sweep_job_options({**raw, "run": run_raw}, run_over, slurm_over, problems)
    if problems:
        raise ConfigError(problems, source)
    return run, opts


def job_array(out_dir: Path, run: RunSpec, opts: SlurmOptions, source: str,
              items: Sequence[Variant] = ()) -> Sweep:
    """The comparison folder as a sweep folder for the sweep's executor and ``fem-electrode status``:
    one case per variant, in ``out_dir/<variant folder>`` where a local comparison runs it."""
    name = Path(out_dir).resolve().name
    points = tuple(Point(id=v.folder, dir=v.folder, case=v.case,
                         values={"design": v.design, "protocol": v.protocol.label,
                                 "geometry.seed": v.case.geometry.seed,
                                 "mesh.refinement": v.case.mesh.refinement})
                   for v in items)
    return Sweep(name=name, source=source, directory=Path(out_dir), points=points, swept=VARIANT_KEYS,
                 run=run, slurm=opts, settings=SweepSettings(name=name))


def check_array(executor: executors.SlurmExecutor, array: Sweep) -> None:
    """Raise :class:`ConfigError` when ``sbatch`` is missing or the job script cannot be rendered."""
    try:
        problems = executor.check(array)
    except slurm.SlurmError as exc:  # an unsafe job name or log path (from the folder's name)
        problems = [str(exc)]
    if problems:
        raise ConfigError(problems, array.source)


def plan_array(items: Sequence[Variant], out_dir: Path, force: bool = False) -> tuple[
        list[Variant], list[tuple[str, str]]]:
    """The variants to submit and (folder, why) of the others: a finished variant (:func:`is_done`)
    is not submitted again unless ``force``, one queued or running in an earlier array never."""
    rows = {r.id: r for r in states(out_dir)} if read_info(out_dir) is not None else {}
    todo: list[Variant] = []
    skipped: list[tuple[str, str]] = []
    for v in items:
        row = rows.get(v.folder)
        if row is not None and row.state in casestatus.ACTIVE:
            skipped.append((v.folder, f"{row.state} as job {row.job or '?'}"))
        elif not force and is_done(v, out_dir / v.folder):
            skipped.append((v.folder, "finished results found (--force submits it again)"))
        else:
            todo.append(v)
    return todo, skipped


def submit(case: Case, out_dir: str | os.PathLike[str], run: RunSpec, opts: SlurmOptions, *,
           preset: str = "default", mechanics_y: float | None = None, seeds: int | None = None,
           refine: float | None = None, against: str | None = None, force: bool = False,
           dry_run: bool = False, measure: Callable[[Case], ImageMeasure] = measure_image) -> Submission:
    """Submit every variant of :func:`variants` that is not finished as ONE Slurm job array.

    Each variant's run folder is ``out_dir/<variant folder>`` (as :func:`compare` runs it) with its
    resolved ``case.toml``; the sweep's Slurm executor renders the job script from ``opts``, writes
    ``jobs/NNN-job.sh`` and ``NNN-cases.txt``, records the submission in ``sweep.json`` and submits
    it. ``dry_run``: render the script, write nothing (an image case is still meshed first, to size
    the generated design, as :func:`variants` always does). Raises :class:`ConfigError` before anything
    is written for bad seeds, refine or against values, a missing ``sbatch`` or a bad template.
    """
    check_seeds_and_refine(case, seeds, refine, against)
    out_dir = Path(out_dir)
    executor = executors.SlurmExecutor(array=True)
    check_array(executor, job_array(out_dir, run, opts, case.source))
    items = variants(case, out_dir, preset, mechanics_y, seeds, refine, against, measure)
    array = job_array(out_dir, run, opts, case.source, items)
    todo, skipped = plan_array(items, out_dir, force)
    for folder, why in skipped:
        log.info("%s: not submitted: %s", folder, why)
    wanted = {v.folder for v in todo}
    points = [p for p in array.points if p.id in wanted]
    tasks = tuple((out_dir / p.dir, tuple(casejob.build_argv(out_dir / p.dir, run))) for p in points)
    if dry_run or not points:
        script = (executor.script(array, points, out_dir.resolve() / "jobs" / "NNN-cases.txt", 0)
                  if points else None)
        return Submission(tasks, tuple(skipped), script=script)
    write_case(case, out_dir / CASE)
    for v in todo:  # as job_runner writes it: a folder left by another case gets this one
        write_case(v.case, RunFolder(out_dir / v.folder).case)
    prepare(array)
    executor.launch(array, points)
    return Submission(tasks, tuple(skipped), job_id=executor.job_id)
