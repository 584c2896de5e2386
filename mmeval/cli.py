"""The ``mmeval`` command. User errors print one line ``ErrorType: message`` and exit 2 (a traceback
only with ``--debug``)."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import MmevalError, SpecError, one_line
from .registry import KINDS

if TYPE_CHECKING:
    from .spec import EvalSpec

EXIT_USER_ERROR = 2
EXIT_UNRELIABLE = 3


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mmeval", description="Adversarial robustness evaluation "
                                "of vision-language models.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run an evaluation spec (resumes into an existing --out)")
    run.add_argument("spec", help="spec.py (exporting SPEC), spec.py:NAME or spec.json")
    run.add_argument("--out", help="run directory (default: the spec's output_dir)")
    run.add_argument("--limit", type=int, help="evaluate at most N samples per task")
    run.add_argument("--device", help="cpu, cuda, cuda:N or auto")
    run.add_argument("--no-progress", action="store_true", help="hide progress bars")
    run.add_argument("--nproc", type=int, help="run on N processes under torchrun (one GPU "
                     "each on CUDA, gloo on CPU); the same as torchrun --nproc-per-node N -m mmeval run")
    run.add_argument("--strict", action="store_true",
                     help=f"exit {EXIT_UNRELIABLE} if a sanity check marks any result unreliable")

    tr = sub.add_parser("train", help="fine-tune a model with a weight defense (resumes into an "
                        "existing --out); under torchrun: torchrun --nproc-per-node N -m mmeval train SPEC")
    tr.add_argument("spec", help="train.py (exporting SPEC, a TrainSpec), train.py:NAME or .json")
    tr.add_argument("--out", help="output directory (default: the spec's output_dir)")
    tr.add_argument("--device", help="cpu, cuda, cuda:N or auto")
    tr.add_argument("--no-progress", action="store_true", help="hide progress bars")

    val = sub.add_parser("validate", help="check a spec: every name and params block, dataset "
                         "roots, model files (without loading anything); print its tasks and "
                         "cells; no attack runs")
    val.add_argument("spec")
    val.add_argument("--deep", action="store_true",
                     help="also build every dataset (checking its first sample) and every model "
                     "on the CPU, and score each task's first sample")

    lst = sub.add_parser("list", help="list registered components")
    lst.add_argument("kind", nargs="?", choices=[f"{k}s" for k in KINDS])
    lst.add_argument("--params", action="store_true", help="also each component's params")

    desc = sub.add_parser("describe", help="a component's description, origin and every param "
                          "(type, default, constraint), with a spec entry")
    desc.add_argument("name")

    sub.add_parser("plugins", help="list plugins with their distributions and versions")

    rep = sub.add_parser("report", help="recompute results.json and report.md from a run's journal")
    rep.add_argument("run_dir")

    zoo = sub.add_parser("zoo", help="the offline zoo of tiny models trained on shapes")
    zoo_sub = zoo.add_subparsers(dest="zoo_command", required=True)
    build = zoo_sub.add_parser("build", help="train zoo models ahead of time (those neither "
                               "packaged nor cached), or afresh into the package with --package")
    build.add_argument("names", nargs="*", help="default: all")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--package", action="store_true", help="train from scratch and write the "
                       "weights, with their recipe, into the package (mmeval/zoo/weights/)")
    zoo_sub.add_parser("list", help="show the zoo: what ships with the package, what is cached")
    return p


def _cmd_run(args: argparse.Namespace) -> int:
    import os

    from .runner import evaluate
    from .spec import load_spec

    spec = load_spec(args.spec)
    if args.no_progress:
        spec = spec.model_copy(update={"run": spec.run.model_copy(update={"progress": False})})
    if args.nproc is not None and "WORLD_SIZE" not in os.environ:
        return _launch(args, spec)
    result = evaluate(spec, out=args.out, limit=args.limit, device=args.device)
    if os.environ.get("RANK", "0") != "0":  # under torchrun rank 0 reports
        return 0
    print((result.run_dir / "report.md").read_text())
    print(f"results: {result.run_dir / 'results.json'}")
    return _verdict(result.results, args.strict)


def _launch(args: argparse.Namespace, spec: EvalSpec) -> int:
    """``mmeval run --nproc N``: the single-process preflight here (the spec, the datasets, the
    run directory and its lock: bad input exits 2 with one line before any process starts), then
    the run under torchrun, and the verdict on the results it wrote."""
    import json

    from .distributed import launch
    from .planning import plan
    from .runner import load_datasets
    from .store import prepare_run_dir, run_lock

    the_plan = plan(spec, limit=args.limit, device=args.device, out=args.out)
    prepare_run_dir(the_plan.run_dir)
    with run_lock(the_plan.run_dir):  # a busy directory is refused here, not by a rank
        pass
    load_datasets(the_plan)
    argv = ["run", args.spec] + [f"--{k.replace('_', '-')}={v}" for k in ("out", "limit", "device")
                                 if (v := getattr(args, k)) is not None]
    argv += ["--no-progress"] if args.no_progress else []
    code = launch(args.nproc, argv)
    if code:
        return code
    path = the_plan.run_dir / "results.json"
    return _verdict(json.loads(path.read_text()), args.strict)


def _verdict(results: dict[str, Any], strict: bool) -> int:
    """1 if a cell failed, 3 under ``--strict`` if a result is unreliable, else 0."""
    failed = [c for c in results["cells"] if c["status"] != "done"]
    if failed:
        print(f"{len(failed)} cell(s) failed; see report.md", file=sys.stderr)
        return 1
    if results["unreliable"]:
        print(f"{len(results['unreliable'])} cell(s) unreliable: a sanity check failed (see "
              "report.md, 'Sanity checks')", file=sys.stderr)
        return EXIT_UNRELIABLE if strict else 0
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    import json
    import os

    from .training.engine import train
    from .training.spec import load_train_spec

    spec = load_train_spec(args.spec)
    if args.no_progress:
        spec = spec.model_copy(update={"progress": False})
    result = train(spec, out=args.out, device=args.device)
    if os.environ.get("RANK", "0") != "0":  # under torchrun rank 0 reports
        return 0
    for e in result.epochs:
        print(f"epoch {e['epoch']}: loss {e['loss']:.4f}, {e['samples_per_s']} samples/s")
    print(f"trained model: {json.dumps(result.model)}")
    print(f"log: {result.output_dir / 'train.json'}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from .planning import plan
    from .spec import load_spec

    the_plan = plan(load_spec(args.spec))
    if args.deep:
        from .validation import validate

        validate(the_plan)
    tasks = list({c.task.index: c.task for c in the_plan.cells}.values())
    print(f"spec '{the_plan.spec.name}' is valid: {len(tasks)} task(s), "
          f"{len(the_plan.cells)} cell(s)")
    for task in tasks:
        suite = f"  (suite {task.suite})" if task.suite else ""
        limit = f", first {task.limit}" if task.limit else ""
        print(f"  task {task.label}: {task.dataset.name} x {task.objective.name}{limit}{suite}")
    for cell in the_plan.cells:
        budget = cell.info.threat.budget() if cell.info.role != "clean" else ""
        budget = f", {budget}" if budget else ""
        print(f"  {cell.id}  {cell.label}  [{cell.info.role}{budget}]")
    for w in the_plan.warnings:
        print(f"warning: {w}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from .describe import params_of
    from .plugins import get_host

    registry = get_host().registry
    kinds = [args.kind[:-1]] if args.kind else list(KINDS)
    for kind in kinds:
        print(f"{kind}s:")
        for comp in registry.components(kind):  # type: ignore[arg-type]
            alias = f" (aliases: {', '.join(comp.aliases)})" if comp.aliases else ""
            clash = (" (registered twice: unusable until one plugin is disabled)"
                     if (kind, comp.name) in registry.conflicts else "")
            print(f"  {comp.name:<34} {comp.summary}  [{comp.origin}]{alias}{clash}")
            if args.params:
                params = ", ".join(f"{p.name}: {p.type} = {p.default}" for p in params_of(comp))
                print(f"      params: {params or 'none'}")
    return 0


def _cmd_describe(args: argparse.Namespace) -> int:
    from .describe import describe
    from .plugins import get_host

    host = get_host()
    print("\n\n".join(describe(c, host) for c in host.registry.lookup(args.name)))
    return 0


def _cmd_plugins(args: argparse.Namespace) -> int:
    from .plugins import get_host

    for info in get_host().plugins():
        line = f"{info.name:<24} {info.distribution} {info.version}  {info.status}"
        print(line + (f"  ({info.error})" if info.error else ""))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .plugins import get_host
    from .report import recompute

    results = recompute(args.run_dir, get_host())
    print(f"recomputed {len(results['cells'])} cell(s) into {args.run_dir}/report.md")
    return 0


def _cmd_zoo(args: argparse.Namespace) -> int:
    from . import zoo

    if args.zoo_command == "build":
        names = args.names or list(zoo.ENTRIES)
        for name in names:
            if name not in zoo.ENTRIES:
                raise SpecError(f"no zoo model '{name}'; choose from {sorted(zoo.ENTRIES)}", "names")
        for name in names:
            path = (zoo.build(name, args.seed, zoo.packaged_dir(name, args.seed)) if args.package
                    else zoo.ensure(name, seed=args.seed))
            print(f"{name}: {path}")
        return 0
    shipped = {(c["name"], c["seed"]): c for c in zoo.shipped()}
    built = {(c["name"], c["seed"]) for c in zoo.cached()}
    print(f"cache: {zoo.cache_dir()}")
    for entry in zoo.ENTRIES.values():
        packaged = sorted(s for (n, s), c in shipped.items() if n == entry.name and c["current"])
        stale = sorted(s for (n, s), c in shipped.items() if n == entry.name and not c["current"])
        cached = sorted(s for n, s in built if n == entry.name)
        state = ", ".join([f"packaged (seeds {packaged})"] * bool(packaged)
                          + [f"packaged by an older recipe (seeds {stale})"] * bool(stale)
                          + [f"cached (seeds {cached})"] * bool(cached)) or "not built"
        print(f"  zoo/{entry.name:<24} {entry.description}\n      {state}")
    return 0


COMMANDS = {"run": _cmd_run, "train": _cmd_train, "validate": _cmd_validate, "list": _cmd_list,
            "describe": _cmd_describe,
            "plugins": _cmd_plugins, "report": _cmd_report, "zoo": _cmd_zoo}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except MmevalError as exc:
        if args.debug:
            traceback.print_exc()
        print(one_line(f"{type(exc).__name__}: {exc}"), file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted; completed batches are in the journal, re-run to resume",
              file=sys.stderr)
        return 130
    except SystemExit as exc:  # the commands return their codes: this came from component code
        if args.debug:
            traceback.print_exc()
        print(f"ComponentExit: code run by `mmeval {args.command}` called sys.exit({exc.code!r}) "
              "outside any cell; completed batches are in the journal, re-run to resume (--debug "
              "shows where)", file=sys.stderr)
        return 1
