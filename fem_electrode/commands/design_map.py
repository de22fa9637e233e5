"""`fem-electrode design-map runs/<sweep> [--thickness UM] [--set SECTION.KEY=VALUE] [--max-risk R] ...`:
the porosity × layer-thickness map of a sweep of `scale` cases (:mod:`fem_electrode.campaign.design_map`)."""

from __future__ import annotations

import argparse
import tomllib

from fem_electrode.campaign import design_map
from fem_electrode.config import ConfigError
from fem_electrode.util.log import get_logger

NAME = "design-map"
HELP = ("draw the design map of a sweep of `scale` cases: energy density, internal resistance and "
        "mechanical risk per point with seed intervals, the feasible region and the Pareto front")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="sweep folder (runs/<sweep>) whose cases ran `fem-electrode scale`")
    parser.add_argument("--thickness", type=float, default=None,
                        help="electrode thickness of the predictions to map, µm (default: the largest)")
    parser.add_argument("--min-rate-retention", type=float, default=design_map.MIN_RATE_RETENTION,
                        help="feasible only if the highest C-rate keeps this fraction of the lowest "
                             "rate's discharge capacity (default %(default)s)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="predict again with this key changed, from the stored effective properties "
                             "(no case runs again; e.g. materials.sigma_s_nvp=1.0; repeatable); the map is "
                             "written as design-map-<what changed>.*")
    parser.add_argument("--max-risk", type=float, default=None,
                        help="feasible only below this mechanical risk (default: 0.2 of the interface "
                             "contact lost for cohesive runs, 1 for the thin-film G/G_c of bonded runs)")


def run(args: argparse.Namespace) -> int:
    problems = []
    if args.thickness is not None and not args.thickness > 0:
        problems.append(f"--thickness = {args.thickness!r}: allowed: > 0 µm")
    if not 0 < args.min_rate_retention <= 1:
        problems.append(f"--min-rate-retention = {args.min_rate_retention!r}: allowed: (0, 1]")
    if args.max_risk is not None and not args.max_risk > 0:
        problems.append(f"--max-risk = {args.max_risk!r}: allowed: > 0")
    overrides: dict[str, dict[str, object]] = {}
    for item in args.set:
        name, sep, text = item.partition("=")
        section, dot, key = name.strip().partition(".")
        try:
            value = tomllib.loads(f"v = {text}")["v"] if sep and dot else None
        except tomllib.TOMLDecodeError:
            value = None
        if value is None:
            problems.append(f"--set {item!r}: expected SECTION.KEY=VALUE with a TOML value, e.g. "
                            "materials.sigma_s_nvp=1.0")
        else:
            overrides.setdefault(section, {})[key] = value
    if problems:
        raise ConfigError(problems, "command line")
    name = "design-map" + "".join(f"-{k}-{v}" for kv in overrides.values() for k, v in kv.items())
    try:
        paths = design_map.write(args.folder, args.thickness, args.min_rate_retention, args.max_risk,
                                 overrides or None, name=name)
    except ValueError as exc:
        raise ConfigError([str(exc)], args.folder) from None
    log = get_logger("design-map")
    log.info("%s", paths["md"].read_text().split("\n\n")[2])
    log.info("wrote %s, %s, %s", paths["md"], paths["png"], paths["json"])
    return 0
