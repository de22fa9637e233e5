"""`fem-electrode collect runs/<sweep>`: results.csv and plots of each metric vs each swept value."""

from __future__ import annotations

import argparse

from fem_electrode.campaign.collect import collect
from fem_electrode.util.log import get_logger

NAME = "collect"
HELP = "gather a sweep: results.csv (swept values + metrics per case) and plots/*.png"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="sweep folder (runs/<sweep>)")
    parser.add_argument("--metrics", action="append", default=[], metavar="PATTERN",
                        help="keep only metrics matching this glob (repeatable), e.g. 'capacity*'")
    parser.add_argument("--no-plots", action="store_true", help="write results.csv only")


def run(args: argparse.Namespace) -> int:
    res = collect(args.folder, metrics=args.metrics, plots=not args.no_plots)
    done = sum(r["state"] == "done" for r in res.rows)
    log = get_logger("collect")
    log.info("%s: %d case(s), %d done, %d metric(s); %d plot(s) in %s", res.csv_path, len(res.rows), done,
             len(res.metrics), len(res.plots), res.csv_path.parent / "plots")
    if done < len(res.rows):
        log.warning("%d case(s) not done: see `fem-electrode status %s`", len(res.rows) - done, args.folder)
    return 0
