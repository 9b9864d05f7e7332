"""``physdiff evaluate`` and ``physdiff train-baseline``.

``evaluate`` reads an optional YAML (``configs/eval/*.yaml``) whose keys are the long option
names (``model``, ``data``, ``methods``, ``nfe``, ``guidance``, ``n_samples``, ``unet``,
``fno``, ``out``, ``limit``, ``batch_size``, ``sampler``, ``seed``, ``device``,
``n_panels``, and for the observation-pattern test sets ``observations``,
``recon_methods``, ``recon_model``, ``recon_samples``, ``recon_limit``, ``recon_steps``);
options given on the command line win. ``--methods none`` (``methods: none`` or ``[]`` in
YAML) runs only the reconstruction part.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register", "run_evaluate", "run_train_baseline"]

_GUIDANCE = {"off": (False,), "on": (True,), "both": (False, True)}
_EVAL_DEFAULTS: dict[str, Any] = {
    "model": None, "data": None, "methods": ["fd", "diffusion", "unet", "fno"],
    "nfe": [1, 3, 7, 15, 31], "guidance": "both", "n_samples": 1, "ensemble_nfe": None,
    "unet": None, "fno": None, "out": "runs/eval", "limit": None, "batch_size": 64,
    "sampler": "auto", "seed": 0, "device": "auto", "n_panels": 2,
    "observations": None, "recon_methods": ["diffusion", "gaussian", "tikhonov"],
    "recon_model": None, "recon_samples": 8, "recon_limit": 16, "recon_steps": 10,
}


def _read_yaml(name_or_path: str) -> dict[str, Any]:
    """An eval config (a path or a shipped name), unknown keys refused."""
    from ..config_files import load_mapping, reject_unknown

    path, data = load_mapping("eval", name_or_path)
    reject_unknown(data, _EVAL_DEFAULTS, str(path))
    return data


def _merged(args: argparse.Namespace) -> dict[str, Any]:
    opts = dict(_EVAL_DEFAULTS)
    if args.config:
        opts.update(_read_yaml(args.config))
    opts.update({k: v for k, v in vars(args).items() if k in opts and v is not None})
    if isinstance(opts["methods"], str):
        opts["methods"] = [opts["methods"]]
    if "none" in opts["methods"]:
        if len(opts["methods"]) > 1:
            raise ValueError(f"--methods: 'none' (only the observation patterns) excludes the "
                             f"other methods; got {' '.join(opts['methods'])}")
        opts["methods"] = []
    if isinstance(opts["data"], str):
        opts["data"] = [opts["data"]]
    if not opts["data"]:
        raise ValueError("no test set given; pass --data PATH (or `data:` in --config)")
    if opts["guidance"] not in _GUIDANCE:
        raise ValueError(f"guidance must be one of {sorted(_GUIDANCE)}, got {opts['guidance']!r}")
    return opts


def run_evaluate(args: argparse.Namespace) -> int:
    """Run :func:`physdiff.evaluation.evaluate` (and the observation-pattern evaluation) from
    parsed options; prints the report paths. The arguments are checked before torch is
    imported, so a slip is answered at once."""
    if args.rebuild:
        from .harness import rebuild

        rebuild(args.rebuild)
        print(f"rebuilt {Path(args.rebuild) / 'report.md'}")
        return 0
    o = _merged(args)
    if not o["methods"] and not o["observations"]:
        raise ValueError("nothing to evaluate: give --methods and/or --observations")
    settings = _settings(o, args) if o["methods"] else None
    patterns = _check_arguments(o, args, settings)
    if o["methods"]:
        from .harness import evaluate

        evaluate(o["model"], o["data"], methods=o["methods"], out_dir=o["out"],
                 settings=settings, overwrite=args.overwrite)
        print(f"wrote {Path(o['out']) / 'report.md'}")
    if o["observations"]:
        _evaluate_reconstruction(o, args, patterns)
    return 0


def _settings(o: dict[str, Any], args: argparse.Namespace) -> Any:
    from ..progress import progress_enabled
    from .settings import EvalSettings

    return EvalSettings(
        nfe=[int(n) for n in o["nfe"]], guidance=_GUIDANCE[o["guidance"]],
        n_samples=int(o["n_samples"]), ensemble_nfe=o["ensemble_nfe"], sampler=o["sampler"],
        batch_size=int(o["batch_size"]), limit=o["limit"], seed=int(o["seed"]),
        n_panels=int(o["n_panels"]), device=o["device"],
        baselines={k: o[k] for k in ("unet", "fno") if o[k]},
        progress=progress_enabled(args.quiet))


def _check_arguments(o: dict[str, Any], args: argparse.Namespace, settings: Any) -> list:
    """The checks that need no torch: methods and settings, test-set and model paths, the
    output folder, the observation patterns (returned parsed)."""
    from .settings import check_output_dir

    for p in o["data"]:
        if not Path(p).exists():
            raise FileNotFoundError(f"no test set at {p}; generate it with `physdiff generate`")
    if settings is not None:
        settings.check(o["methods"])
        if "diffusion" in o["methods"] and o["model"] is not None:
            from ..models.folder import model_folder, read_folder_config

            read_folder_config(model_folder(o["model"]))
        check_output_dir(o["out"], args.overwrite)
    if not o["observations"]:
        return []
    from .reconstruction import RECON_METHODS, parse_pattern

    patterns = [parse_pattern(p) for p in o["observations"]]
    bad = [m for m in o["recon_methods"] if m not in RECON_METHODS]
    if bad or not o["recon_methods"]:
        raise ValueError(f"--recon-methods: unknown method(s) {bad or '(none)'}; choose from "
                         f"{', '.join(RECON_METHODS)}")
    # the solver comparison writes out first; its files there are this run's, not a clash
    check_output_dir(Path(o["out"]) / "reconstruction", args.overwrite or bool(o["methods"]))
    return patterns


def _evaluate_reconstruction(o: dict[str, Any], args: argparse.Namespace,
                             patterns: list) -> None:
    from ..progress import progress_enabled
    from .reconstruction import evaluate_reconstruction

    evaluate_reconstruction(o["data"], patterns, o["recon_methods"], o["out"],
                            model=o["recon_model"], n_samples=int(o["recon_samples"]),
                            limit=o["recon_limit"], steps=int(o["recon_steps"]),
                            seed=int(o["seed"]), device=o["device"],
                            progress=progress_enabled(args.quiet))
    print(f"wrote {Path(o['out']) / 'reconstruction' / 'report.md'}")


def run_train_baseline(args: argparse.Namespace) -> int:
    """Train a U-Net or FNO baseline; its settings follow ``--like`` when given."""
    import sys

    from .._device import resolve_device
    from .baseline_training import (
        baseline_settings,
        resume_baseline_command,
        settings_from_train_config,
        settings_like,
        train_baseline,
    )

    if args.like and args.like_config:
        raise ValueError("give --like MODEL_DIR or --like-config TRAIN_YAML, not both")
    if args.resume and args.overwrite:
        raise ValueError("--resume and --overwrite contradict each other; pick one")
    if args.resume:
        from ..training.setup import check_resume_dir

        check_resume_dir(args.out)  # before the data: a typo in --out is the likelier slip
    # --max-steps alone bounds the run by steps: no wall-clock budget is then needed
    need_budget = args.max_steps is None
    if args.like:
        settings = settings_like(args.like, args.budget_minutes, need_budget=need_budget)
    elif args.like_config:
        settings = settings_from_train_config(args.like_config, args.budget_minutes,
                                              need_budget=need_budget)
    else:
        if args.budget_minutes is None and need_budget:
            raise ValueError("pass --budget-minutes M and/or --max-steps N, or --like MODEL_DIR "
                             "to copy its budget")
        settings = baseline_settings(max_minutes=args.budget_minutes)
    for name in ("max_steps", "batch_size", "lr", "seed"):
        if getattr(args, name) is not None:
            setattr(settings.train, name, getattr(args, name))
    settings.train.check()
    fno = {"n_modes": [args.modes, args.modes], "hidden_channels": args.width} \
        if args.kind == "fno" else None
    command = resume_baseline_command(args.kind, args.data, args.out, _baseline_options(args))
    result = train_baseline(args.kind, args.data, args.out, settings, fno=fno,
                            device=resolve_device(args.device), overwrite=args.overwrite,
                            resume=args.resume, progress=not args.quiet, command=command)
    if result.stopped == "interrupted":
        print(f"physdiff train-baseline: interrupted at step {result.step}; checkpoint saved. "
              f"Continue with `{command}`", file=sys.stderr)
        return 130
    resumed = "" if result.resumed_from is None else \
        f", resumed from step {result.resumed_from}"
    print(f"trained {result.step} steps ({result.stopped}{resumed}); saved {args.kind} "
          f"baseline to {result.model_dir}; log in {result.run_dir / 'log.csv'}")
    return 0


def _baseline_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of a ``train-baseline`` call that shape its run (for the resume command)."""
    names = ["like", "like-config", "budget-minutes", "max-steps", "batch-size", "lr", "seed"]
    if args.kind == "fno":
        names += ["modes", "width"]
    options = {n: getattr(args, n.replace("-", "_")) for n in names}
    if args.device != "auto":
        options["device"] = args.device
    return options


def _add_evaluate(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="compare FD, diffusion and baselines on test sets",
                       description="Per-sample metrics, report.md, summary.json and figures "
                                   "for every method on every test set.")
    p.add_argument("--config", help="eval config: a YAML path or a shipped name (e.g. tiny, "
                   "default-cpu); options override it")
    p.add_argument("--model", help="diffusion model folder (default: the shipped model, as in "
                   "`physdiff demo` and physdiff.solve)")
    p.add_argument("--data", nargs="+", help="test-set file(s); one report section each")
    p.add_argument("--methods", nargs="+", metavar="METHOD",
                   help="solver methods: any of fd diffusion unet fno, or 'none' to run only "
                        "the observation patterns of --observations (default: all four)")
    p.add_argument("--nfe", nargs="+", type=int,
                   help="diffusion NFE values, run exactly (heun: odd values; default 1 3 7 "
                        "15 31)")
    p.add_argument("--guidance", choices=sorted(_GUIDANCE), help="diffusion guidance modes")
    p.add_argument("--n-samples", dest="n_samples", type=int,
                   help="ensemble size for the calibration config (1: none)")
    p.add_argument("--ensemble-nfe", dest="ensemble_nfe", type=int,
                   help="NFE of the ensemble config (default: the largest --nfe)")
    p.add_argument("--unet", help="regression U-Net baseline folder")
    p.add_argument("--fno", help="FNO baseline folder")
    p.add_argument("--out", help="output folder (default runs/eval)")
    p.add_argument("--limit", type=int, help="use only the first N samples of each set")
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--sampler", help="diffusion sampler: auto (the model's own), heun, "
                   "euler, dpmpp_2m (EDM models) or refiner (refiner models)")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="auto, cpu or cuda")
    p.add_argument("--n-panels", dest="n_panels", type=int, help="sample panel figures")
    p.add_argument("--observations", nargs="+", metavar="PATTERN",
                   help="observation-pattern test sets for physdiff.reconstruct, e.g. "
                        "phi:3%% (phi at 3 %% of the nodes), phi:grid8 (a sensor every 8 "
                        "nodes), rho:5%%, both:2%%, phi:3%%:noise0.01 (relative noise)")
    p.add_argument("--recon-methods", dest="recon_methods", nargs="+",
                   help="reconstruction methods: diffusion gaussian tikhonov (default all)")
    p.add_argument("--recon-model", dest="recon_model",
                   help="model of the diffusion method (default: the shipped prior)")
    p.add_argument("--recon-samples", dest="recon_samples", type=int,
                   help="posterior samples per problem (default 8)")
    p.add_argument("--recon-limit", dest="recon_limit", type=int,
                   help="problems per test set and pattern (default 16)")
    p.add_argument("--recon-steps", dest="recon_steps", type=int,
                   help="most network calls per sample of the diffusion method (default 10)")
    p.add_argument("--overwrite", action="store_true",
                   help="write into a non-empty --out (replacing this run's files there)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars (also: PHYSDIFF_NO_PROGRESS=1)")
    p.add_argument("--rebuild", metavar="OUT",
                   help="only re-derive figures, summary.json and report.md from OUT's netCDF")
    p.set_defaults(func=run_evaluate)


def _add_train_baseline(sub: Any) -> None:
    p = sub.add_parser("train-baseline", help="train a regression U-Net or FNO baseline",
                       description="MSE regression cond -> phi/s on the same data, with the "
                                   "same trainer, settings and wall-clock budget as a "
                                   "diffusion model. The run folder holds checkpoints, "
                                   "log.csv and the baseline (model/).")
    p.add_argument("--kind", required=True, choices=("unet", "fno"))
    p.add_argument("--data", required=True, help="training dataset file")
    p.add_argument("--out", required=True,
                   help="run folder (evaluate --unet/--fno take it or its model/)")
    p.add_argument("--like", help="diffusion model folder: copy its backbone, budget, batch, lr")
    p.add_argument("--like-config", dest="like_config",
                   help="diffusion training YAML (configs/train/*.yaml): copy its backbone, "
                        "max_minutes, batch, lr (for a baseline trained alongside it)")
    p.add_argument("--budget-minutes", dest="budget_minutes", type=float)
    p.add_argument("--max-steps", dest="max_steps", type=int)
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--modes", type=int, default=16, help="FNO Fourier modes per axis")
    p.add_argument("--width", type=int, default=32, help="FNO hidden channels")
    p.add_argument("--device", default="auto")
    p.add_argument("--resume", action="store_true",
                   help="continue from the newest checkpoint in --out (same options)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (also: PHYSDIFF_NO_PROGRESS=1)")
    p.set_defaults(func=run_train_baseline)


def register(subparsers: Any) -> None:
    """Add ``evaluate`` and ``train-baseline`` to the ``physdiff`` command."""
    _add_evaluate(subparsers)
    _add_train_baseline(subparsers)
