"""One prepared GPU check: the GPU tests in suite order, a bf16 training run of a recipe for a
fixed wall budget, the honest accuracy of what it trained, throughput, memory, host syncs.

Usage (one GPU, about 8 minutes; writes DIR/gpu_check.json and the trained model folder)::

    python benchmarks/gpu_check.py --out runs/gpu-check       # the shipped recipe, 2.5 min
    python benchmarks/gpu_check.py --out runs/gpu-check --config default --minutes 4 \\
        train.batch_size=128
    python benchmarks/gpu_check.py --out /tmp/gpu-smoke --smoke         # CPU, <= 60 s (CI)

Phases (each in its own try/except: a failure is recorded in the JSON under ``errors`` and
the next phase still runs; the JSON is rewritten after every phase):

1. ``tests``: ``pytest tests/training/test_trainer.py tests/training/test_gpu_paths.py``
   (CPU trainers first, then the bf16 GPU trainer, in one process: the suite order that
   exposed accelerate's process-wide state) and ``pytest -m gpu tests``.
2. ``data``: the recipe's data config (``--train-n`` pairs) and a held-out test set
   (``--test-config``, its own seed, ``--test-n`` pairs), generated into DIR/data when absent.
3. ``train``: the recipe (``--config``, default the one the shipped model's training.json
   names) through :class:`physdiff.training.Trainer` (accelerate, one process) in bf16
   (``--precision``) for ``--minutes`` of wall time; samples/s from the run log, peak GPU
   memory (``torch.cuda.max_memory_allocated``). The model folder is DIR/run/model.
4. ``syncs``: host syncs per training step and per guided sampling call
   (:class:`physdiff._host_sync.HostSyncCounter`: Python-level reads, and on CUDA the
   warnings of ``torch.cuda.set_sync_debug_mode``).
5. ``eval``: network alone and guided (the model's default sampler and steps) on the test
   set: the rho-driven relative error ``||phi - phi*|| / ||phi* - phi_h||``
   (:func:`physdiff.evaluation.metrics.relative_l2_driven`, ``phi_h`` from
   :func:`physdiff.solvers.harmonic_lift`) and plain relative L2, median and p95, with time
   per problem; the shipped model on the same set as a reference when the grid matches.

Hard wall-clock guards: the whole run stops at ``--budget-minutes`` (8; 1 with ``--smoke``):
each phase gets what is left minus a reserve for the later ones, subprocesses are killed at
their timeout and in-process phases are interrupted by an alarm.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import platform
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def say(msg: str) -> None:
    print(f"[gpu_check {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class PhaseTimeout(Exception):
    """A phase ran past its wall-clock share."""


@contextlib.contextmanager
def alarm(seconds: float) -> Iterator[None]:
    """Raise :class:`PhaseTimeout` in the main thread after ``seconds`` (SIGALRM)."""
    if seconds <= 0:
        raise PhaseTimeout("no time left for this phase")

    def handler(signum: int, frame: Any) -> None:
        raise PhaseTimeout(f"the phase ran past its {seconds:.0f} s share")

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Check:
    """The report: phases write into ``self.report``, which is saved after each phase."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out = Path(args.out)
        self.t0 = time.monotonic()
        self.deadline = self.t0 + 60 * args.budget_minutes
        self.report: dict[str, Any] = {"command": " ".join(sys.argv), "errors": {},
                                       "phase_seconds": {}, "smoke": args.smoke}

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def save(self) -> None:
        from physdiff.atomic import write_text

        self.report["total_seconds"] = round(time.monotonic() - self.t0, 1)
        write_text(self.out / "gpu_check.json",
                   json.dumps(self.report, indent=2, default=_json_default) + "\n")

    def phase(self, name: str, fn: Callable[[float], Any], reserve: float) -> Any:
        """Run ``fn(seconds)`` with ``left() - reserve`` seconds; record errors; save."""
        share = self.left() - reserve
        say(f"phase {name}: {share:.0f} s available")
        start = time.monotonic()
        result = None
        try:
            if share < 1:
                raise PhaseTimeout(f"skipped: {self.left():.0f} s left and {reserve:.0f} s "
                                   f"reserved for the later phases")
            with alarm(share + 5):
                result = fn(share)
        except BaseException as err:  # noqa: BLE001 - every failure goes into the report
            if isinstance(err, KeyboardInterrupt):
                raise
            self.report["errors"][name] = "".join(
                traceback.format_exception_only(type(err), err)).strip()
            self.report["errors"][name + "_traceback"] = traceback.format_exc()[-4000:]
            say(f"phase {name} FAILED: {self.report['errors'][name]}")
        self.report["phase_seconds"][name] = round(time.monotonic() - start, 1)
        self.save()
        return result


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return str(value)


# ----- phases ---------------------------------------------------------------------------------
def phase_environment(check: Check, device: str) -> dict[str, Any]:
    import accelerate
    import torch

    env = {"python": platform.python_version(), "torch": torch.__version__,
           "accelerate": accelerate.__version__, "device": device,
           "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count()}
    try:
        import diffusers

        env["diffusers"] = diffusers.__version__
    except ImportError as err:
        env["diffusers"] = f"missing: {err}"
    if device == "cuda":
        env["gpu"] = torch.cuda.get_device_name(0)
        env["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30,
                                      1)
        env["bf16_supported"] = torch.cuda.is_bf16_supported()
    try:
        env["commit"] = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"],
                                       capture_output=True, text=True, timeout=10
                                       ).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        env["commit"] = None
    return env


def _pytest_start(args: list[str]) -> tuple[subprocess.Popen, list[str], float]:
    """Start pytest in a subprocess (its own session, so that a timeout kills it all)."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    return proc, cmd, time.monotonic()


def _pytest_finish(started: tuple[subprocess.Popen, list[str], float], timeout: float
                   ) -> dict[str, Any]:
    """Wait for a :func:`_pytest_start` run at most ``timeout`` s; its counts and summary."""
    proc, cmd, start = started
    try:
        text, _ = proc.communicate(timeout=max(timeout, 1))
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        text, _ = proc.communicate()
        timed_out = True
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    summary = lines[-1] if lines else ""
    counts = {}
    for part in summary.replace("=", " ").split(","):
        words = part.split()
        for i, w in enumerate(words[1:], 1):
            if words[i - 1].isdigit() and w.rstrip("s") in ("passed", "failed", "skipped",
                                                             "error", "deselected"):
                counts[w.rstrip("s")] = int(words[i - 1])
    # pytest's final line came out with no failure: the tests passed even if the process was
    # then killed at the timeout while exiting (slow interpreter teardown on a loaded machine)
    finished = " in " in summary and counts.get("passed", 0) > 0 and not (
        counts.get("failed") or counts.get("error"))
    return {"command": " ".join(cmd[1:]), "returncode": proc.returncode, "timed_out": timed_out,
            "ok": proc.returncode == 0 or (timed_out and finished),
            "seconds": round(time.monotonic() - start, 1), "summary": summary, **counts,
            "tail": "\n".join(lines[-25:]) if proc.returncode else ""}


def _pytest(args: list[str], timeout: float) -> dict[str, Any]:
    return _pytest_finish(_pytest_start(args), timeout)


#: --smoke: the CPU trainer, then the accelerate-state reset and the GPU test (skips on CPU)
SMOKE_TESTS = ["tests/training/test_trainer.py", "tests/training/test_gpu_paths.py", "-k",
               "time_budget or bf16_training_on_gpu or accelerator_state"]


def phase_tests(check: Check, seconds: float) -> dict[str, Any]:
    end = time.monotonic() + seconds
    runs: dict[str, Any] = {}
    runs["suite_order"] = _pytest(
        ["tests/training/test_trainer.py", "tests/training/test_gpu_paths.py"], 0.65 * seconds)
    check.report["tests"] = runs
    check.save()
    runs["gpu_marked"] = _pytest(["-m", "gpu", "tests"], end - time.monotonic())
    return runs


def phase_data(check: Check, settings: Any) -> dict[str, Any]:
    from physdiff.datasets import PoissonDataset, generate, load_config

    args, data_dir = check.args, check.out / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    workers = max(1, min(16, os.cpu_count() or 1))
    if settings.data.config is None:
        raise ValueError(f"--config {args.config}: the recipe names no data.config to "
                         f"generate its training set from")
    train_cfg = load_config(settings.data.config)
    if args.train_n:
        train_cfg = dataclasses.replace(train_cfg, n=int(args.train_n))
    test_cfg = load_config(args.test_config)
    test_cfg = dataclasses.replace(test_cfg, n=int(args.test_n), name=f"{test_cfg.name}-check")
    if args.smoke:  # the tiny data config's own distribution, another seed
        test_cfg = dataclasses.replace(train_cfg, n=int(args.test_n), seed=train_cfg.seed + 1001,
                                       name="tiny-test-check")
    if tuple(test_cfg.grid.shape) != tuple(train_cfg.grid.shape):
        raise ValueError(f"--test-config {args.test_config} has grid {test_cfg.grid.shape}, "
                         f"the training data {train_cfg.grid.shape}; pick a test config of the "
                         f"recipe's grid")
    info: dict[str, Any] = {"workers": workers}
    for what, cfg, path in (("train", train_cfg, data_dir / "train.nc"),
                            ("test", test_cfg, data_dir / "test.nc")):
        start = time.monotonic()
        made = not path.exists()
        if made:
            say(f"generating {cfg.n} {what} pairs ({cfg.name}, {cfg.grid.shape}) -> {path}")
            generate(cfg, path, workers=workers, progress=False)
        n = len(PoissonDataset(path)) if what == "train" else cfg.n
        info[what] = {"path": str(path), "config": cfg.name, "n": n, "seed": cfg.seed,
                      "generated": made, "seconds": round(time.monotonic() - start, 1)}
    return info


def phase_train(check: Check, settings: Any, device: str, seconds: float) -> dict[str, Any]:
    import torch

    from physdiff.datasets import PoissonDataset
    from physdiff.training.run_log import read_log
    from physdiff.training.setup import prepare_run_dir
    from physdiff.training.trainer import Trainer

    run_dir = check.out / "run"
    prepare_run_dir(run_dir, resume=False, overwrite=True)  # --overwrite was checked up front
    overhead = 4 if check.args.smoke else 30  # building the trainer, the last validation
    minutes = min(check.args.minutes, max(seconds - overhead, 3) / 60)
    settings.train.max_minutes = minutes
    settings.data.path = str(check.out / "data" / "train.nc")
    settings.out = str(run_dir)
    dataset = PoissonDataset(settings.data.path)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    trainer = Trainer(settings, dataset, run_dir, device=device, progress=False)
    check.trainer = trainer
    say(f"training {check.args.config} for at most {minutes:.2f} min "
        f"({trainer.accelerator.mixed_precision}, batch {settings.train.batch_size}, "
        f"{sum(p.numel() for p in trainer.model.parameters()):,} parameters)")
    start = time.monotonic()
    result = trainer.run()
    if device == "cuda":
        torch.cuda.synchronize()
    wall = time.monotonic() - start
    rows = [r for r in read_log(run_dir / "log.csv") if "samples_per_s" in r]
    rates = [r["samples_per_s"] for r in rows[1:]] or [r["samples_per_s"] for r in rows]
    val = [r for r in read_log(run_dir / "log.csv") if "val_rel_l2" in r]
    info = {"config": check.args.config, "steps": result.step, "stopped": result.stopped,
            "wall_seconds": round(wall, 1), "max_minutes": round(minutes, 3),
            "batch_size": settings.train.batch_size, "lr": settings.train.lr,
            "mixed_precision": trainer.accelerator.mixed_precision,
            "num_processes": trainer.accelerator.num_processes,
            "parameters": sum(p.numel() for p in trainer.model.parameters()),
            "samples_per_s_median": float(np.median(rates)) if rates else None,
            "samples_per_s_overall": result.step * settings.train.batch_size / max(wall, 1e-9),
            "last_loss": result.losses.get(result.step),
            "val_rel_l2_last": val[-1]["val_rel_l2"] if val else None,
            "model_dir": str(result.model_dir)}
    if device == "cuda":
        info["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
    say(f"trained {result.step} steps in {wall:.0f} s ({result.stopped}); "
        f"{info['samples_per_s_median']} samples/s (median of the log windows)")
    return info


def phase_syncs(check: Check, device: str) -> dict[str, Any]:
    from physdiff._host_sync import HostSyncCounter
    from physdiff.evaluation.testset import load_test_set
    from physdiff.models import load_model
    from physdiff.sampling.solve import solve_diffusion

    out: dict[str, Any] = {}
    trainer = getattr(check, "trainer", None)
    if trainer is not None:
        batches = iter(trainer._loader())
        trainer.end_step(trainer.train_step(next(batches)))
        python, cuda = [], []
        for _ in range(5):
            batch = next(batches)  # data loading is host work: not counted
            # (the sync debug mode warns when the host call is made: no final sync needed,
            # and an explicit one would be counted)
            with HostSyncCounter(cuda=device == "cuda") as syncs:
                trainer.end_step(trainer.train_step(batch))
            python.append(syncs.count)
            cuda.append(syncs.cuda_count)
            out["train_step_where"] = dict(syncs.where)
            out["train_step_cuda_where"] = syncs.cuda_where
        out["train_step_python"] = python
        out["train_step_cuda"] = cuda if device == "cuda" else None
    model_dir = check.out / "run" / "model"
    if model_dir.exists():
        ts = load_test_set(check.out / "data" / "test.nc")
        trained = {tuple(k) for k in trainer_kinds(model_dir)}
        index = next(i for i in ts.batches(64) if tuple(ts.kinds[i[0]]) in trained)
        model = load_model(model_dir, device=device)
        kwargs = dict(model=model, guidance=True, extent=ts.extent, device=device,
                      batch_size=64, return_info=True)
        solve_diffusion(ts.rho[index], ts.bc(index), **kwargs)  # warm-up
        with HostSyncCounter(cuda=device == "cuda") as syncs:
            res = solve_diffusion(ts.rho[index], ts.bc(index), **kwargs)
        out["guided_call"] = {
            "problems": len(index), "nfe": res.nfe, "python": syncs.count,
            "cuda": syncs.cuda_count, "where": dict(syncs.where),
            "cuda_where": syncs.cuda_where,
            "jacobi_sweeps_max": _max(res.guidance_sweeps), "cg_max": _max(res.guidance_cg)}
    return out


def trainer_kinds(model_dir: Path) -> list[Any]:
    from physdiff.models.io import read_model_config

    return read_model_config(model_dir).bc_kinds


def _max(values: Any) -> float | None:
    return None if values is None or np.size(values) == 0 else float(np.max(values))


def _score(pred: np.ndarray, true: np.ndarray, lift: np.ndarray) -> dict[str, np.ndarray]:
    from physdiff.evaluation.metrics import relative_l2, relative_l2_driven

    return {"driven": relative_l2_driven(pred, true, lift), "plain": relative_l2(pred, true)}


def _stats(values: list[float]) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64)
    return {"median": float(np.median(v)), "p95": float(np.percentile(v, 95)),
            "mean": float(np.mean(v)), "max": float(np.max(v)), "n": int(v.size)}


def evaluate_model(model: Any, ts: Any, device: str, guided: bool) -> dict[str, Any]:
    import torch

    from physdiff.evaluation.metrics import boundary_share
    from physdiff.sampling.solve import solve_diffusion

    driven, plain, share, seconds, unseen = [], [], [], 0.0, 0
    trained = {tuple(k) for k in model.config.bc_kinds}
    for index in ts.batches(64):
        if tuple(ts.kinds[index[0]]) not in trained:  # kinds the training set lacked
            unseen += len(index)
            continue
        bc = ts.bc(index)
        start = time.perf_counter()
        phi = solve_diffusion(ts.rho[index], bc, model=model, guidance=guided,
                              extent=ts.extent, device=device, batch_size=64,
                              seed=[int(ts.sample[i]) for i in index])
        if device == "cuda":
            torch.cuda.synchronize()
        seconds += time.perf_counter() - start
        lift = ts.lift[index]  # the test set's cached harmonic lift
        s = _score(phi, ts.phi[index], lift)
        driven += s["driven"].tolist()
        plain += s["plain"].tolist()
        share += boundary_share(ts.phi[index], lift).tolist()
    return {"rel_l2_driven": _stats(driven), "rel_l2": _stats(plain),
            "boundary_share_median": float(np.median(share)),
            "ms_per_problem": 1000 * seconds / max(len(driven), 1),
            "skipped_unseen_kinds": unseen}


def phase_eval(check: Check, device: str) -> dict[str, Any]:
    from physdiff.evaluation.testset import load_test_set
    from physdiff.models import load_model

    ts = load_test_set(check.out / "data" / "test.nc")
    out: dict[str, Any] = {"test_set": ts.path, "n": len(ts)}
    model = load_model(check.out / "run" / "model", device=device)
    for guided in (False, True):
        name = "guided" if guided else "network_alone"
        out[name] = evaluate_model(model, ts, device, guided)
        r = out[name]["rel_l2_driven"]
        say(f"trained model, {name}: rho-driven rel. L2 median {r['median']:.4g}, "
            f"p95 {r['p95']:.4g}; plain median {out[name]['rel_l2']['median']:.4g}")
        check.save()
    shipped = load_model("default", device=device) if not check.args.smoke else None
    if shipped is not None and list(shipped.config.grid_shape) == list(ts.rho.shape[-2:]):
        out["shipped_model"] = {}
        for guided in (False, True):
            name = "guided" if guided else "network_alone"
            out["shipped_model"][name] = evaluate_model(shipped, ts, device, guided)
    return out


# ----- main -----------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="folder for gpu_check.json, data and the run")
    p.add_argument("--config", default=None,
                   help="training recipe (name or YAML); default: the shipped model's")
    p.add_argument("--minutes", type=float, default=None,
                   help="training wall budget (default 2.5; 0.1 with --smoke)")
    p.add_argument("--budget-minutes", type=float, default=None,
                   help="hard limit of the whole check (default 8; 0.85 with --smoke)")
    p.add_argument("--precision", default="bf16", choices=("bf16", "no", "auto"),
                   help="train.mixed_precision for the run (default bf16)")
    p.add_argument("--train-n", type=int, default=None,
                   help="training pairs to generate (default: the recipe's data config)")
    p.add_argument("--test-config", default="test-id", help="held-out test set config")
    p.add_argument("--test-n", type=int, default=None, help="test pairs (default 256)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--skip-tests", action="store_true", help="leave out the pytest phase")
    p.add_argument("--smoke", action="store_true",
                   help="CPU, tiny recipe, <= 60 s: checks that the script works")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier check in --out (its data are reused)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="recipe overrides, e.g. train.batch_size=128 train.lr=4e-4")
    args = p.parse_args(argv)
    if args.smoke:
        args.config = args.config or "tiny"
        args.device = "cpu" if args.device == "auto" else args.device
        args.test_config = "tiny"
        args.minutes = 0.1 if args.minutes is None else args.minutes
        args.budget_minutes = 0.85 if args.budget_minutes is None else args.budget_minutes
        args.test_n = args.test_n or 8
    args.minutes = 2.5 if args.minutes is None else args.minutes
    args.budget_minutes = 8.0 if args.budget_minutes is None else args.budget_minutes
    args.test_n = args.test_n or 256
    for name in ("minutes", "budget_minutes"):
        if not getattr(args, name) > 0:
            p.error(f"--{name.replace('_', '-')} must be > 0")
    if not args.test_n > 0 or (args.train_n is not None and not args.train_n > 1):
        p.error("--test-n must be >= 1 and --train-n >= 2")
    return args


def shipped_recipe() -> str:
    """The training config the shipped model's training.json names (its file stem)."""
    import physdiff

    meta = Path(physdiff.__file__).parent / "default_model" / "training.json"
    source = json.loads(meta.read_text()).get("source") or "default-cpu"
    return Path(source).stem


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    if ((out / "gpu_check.json").exists() or (out / "run").exists()) and not args.overwrite:
        raise SystemExit(f"{out} already holds a check; pass --overwrite to replace it (its "
                         f"generated data are reused) or pick another --out")
    out.mkdir(parents=True, exist_ok=True)
    check = Check(args)
    from physdiff._device import resolve_device

    device = resolve_device(args.device).type
    args.config = args.config or shipped_recipe()
    check.report["args"] = vars(args)
    say(f"device {device}; recipe {args.config}; budget {args.budget_minutes} min; out {out}")
    check.report["environment"] = check.phase("environment",
                                              lambda s: phase_environment(check, device), 0)
    # seconds each later phase needs: what a phase may use is what is left minus these
    need = {"data": 5, "syncs": 5, "eval": 8} if args.smoke else \
        {"data": 45, "syncs": 30, "eval": 60}
    need["train"] = 60 * args.minutes + (8 if args.smoke else 45)
    smoke_tests = None
    if not args.skip_tests and args.smoke:
        # on the CPU the test run overlaps the other phases (the smoke checks that the
        # script works; it measures nothing), so that the whole stays within a minute
        smoke_tests = _pytest_start(SMOKE_TESTS)
    elif not args.skip_tests:
        check.report["tests"] = check.phase("tests", lambda s: phase_tests(check, s),
                                            sum(need.values()))

    def load(s: float) -> Any:
        from physdiff.training.settings import load_run_settings

        extra = [f"train.mixed_precision={args.precision}"]
        return load_run_settings(args.config, [*args.overrides, *extra])

    settings = check.phase("settings", load, 0)
    if settings is not None:
        check.report["settings"] = settings.to_dict()
        check.report["data"] = check.phase("data", lambda s: phase_data(check, settings),
                                           need["train"] + need["syncs"] + need["eval"])
        check.report["train"] = check.phase(
            "train", lambda s: phase_train(check, settings, device, s),
            need["syncs"] + need["eval"])
    check.report["syncs"] = check.phase("syncs", lambda s: phase_syncs(check, device),
                                        need["eval"])
    check.report["eval"] = check.phase("eval", lambda s: phase_eval(check, device),
                                       3 if smoke_tests else 0)
    if smoke_tests is not None:
        check.report["tests"] = check.phase(
            "tests", lambda s: {"suite_order": _pytest_finish(smoke_tests, s)}, 0)
    failed = [k for k in check.report["errors"] if not k.endswith("_traceback")]
    tests = check.report.get("tests") or {}
    bad_tests = [k for k, v in tests.items() if not v.get("ok")]
    check.report["ok"] = not failed and not bad_tests
    check.save()
    say(f"done in {time.monotonic() - check.t0:.0f} s: {out / 'gpu_check.json'}; failed "
        f"phases {failed or 'none'}; failing test runs {bad_tests or 'none'}")
    _print_summary(check.report)
    return 0 if check.report["ok"] else 1


def _print_summary(report: dict[str, Any]) -> None:
    train, ev = report.get("train") or {}, report.get("eval") or {}
    lines = [f"samples/s (median): {train.get('samples_per_s_median')}",
             f"peak GPU memory GiB: {train.get('peak_memory_gib')}"]
    for name in ("network_alone", "guided"):
        if name in ev:
            r = ev[name]
            lines.append(f"{name}: rho-driven median {r['rel_l2_driven']['median']:.4g} "
                         f"p95 {r['rel_l2_driven']['p95']:.4g}; plain median "
                         f"{r['rel_l2']['median']:.4g}; {r['ms_per_problem']:.2f} ms/problem")
    syncs = report.get("syncs") or {}
    lines.append(f"host syncs per train step (python, cuda): {syncs.get('train_step_python')}, "
                 f"{syncs.get('train_step_cuda')}")
    for ln in lines:
        say(ln)
    if not math.isfinite(float(report.get("total_seconds", 0))):
        say("total time unknown")


if __name__ == "__main__":
    sys.exit(main())
