"""The training loop: EDM loss, AdamW + warmup/cosine, clipping, EMA, accelerate, checkpoints.

Accelerate conventions (https://huggingface.co/docs/accelerate): the model, optimiser and
scheduler go through ``Accelerator.prepare``; the loss is reduced over processes for logging;
only the main process logs, validates and writes. The data order is our own
(:class:`~.data_order.StepBatchSampler`, sharded by rank) so that it is a pure function of
the step: a resumed run, on any number of processes, sees the same global batches. The
training noise of step ``k`` on process ``r`` is drawn from a generator seeded with
``(seed, k, r)``, so it needs no state either.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from diffusers.optimization import get_cosine_schedule_with_warmup
from diffusers.training_utils import EMAModel
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from .augment import augment_batch
from .checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint
from .data_order import StepBatchSampler
from .loss import batch_residual_fn
from .resume import check_resume, data_identity, deferred_interrupt, resume_command
from .run_log import RunLog
from .settings import RunSettings
from .trainable import DiffusionTrainable, Trainable
from .validation import validation_batch

__all__ = ["Trainer", "TrainResult", "NaNLossError", "DivergedError"]


class NaNLossError(ValueError):
    """The loss became NaN or infinite; the run stopped without writing the bad state."""


class DivergedError(ValueError):
    """The validation error diverged; the run stopped without writing the bad state."""


@dataclass
class TrainResult:
    """What a finished (or stopped) run produced."""

    run_dir: Path
    model_dir: Path | None
    step: int
    losses: dict[int, float] = field(default_factory=dict)  #: step -> mean loss over processes
    #: "max_steps", "max_minutes", "max_cpu_minutes", "stop_after" or "interrupted"
    stopped: str = "max_steps"
    resumed_from: int | None = None  #: the checkpoint step a resumed run started from


class Trainer:
    """One training run of a :class:`~physdiff.models.PoissonDiffusionModel` (or of another
    network and loss plugged in as ``trainable``).

    Parameters
    ----------
    settings : RunSettings
        Model architecture, data and training settings.
    dataset : PoissonDataset
        Training data; the last ``settings.data.val_samples`` samples are held out (their
        harmonic lift is solved once from ``dataset.bc_of(i)``, for the ρ-driven error).
    run_dir : Path
        Where checkpoints, logs and the final model go.
    resume_from : Path, optional
        A checkpoint folder to continue from.
    device : {"cpu", "cuda"}
        Resolved device type (see :func:`physdiff._device.resolve_device`).
    progress : bool
        Show a tqdm bar (main process only).
    allow_new_data : bool
        Resume on data other than the checkpoint's (refused otherwise, naming the change).
    trainable : Trainable, optional
        The network and loss (:mod:`.trainable`); the diffusion model by default.
    command : str, optional
        The command that resumes this run, for messages (default: ``physdiff train``'s).
    """

    def __init__(self, settings: RunSettings, dataset: Any, run_dir: str | Path, *,
                 resume_from: Path | None = None, device: str = "cpu",
                 progress: bool = True, allow_new_data: bool = False,
                 trainable: Trainable | None = None, command: str | None = None) -> None:
        self.settings, self.t = settings, settings.train
        self.trainable = trainable if trainable is not None else DiffusionTrainable()
        self.command = command or resume_command(settings.source, run_dir)
        self.dataset, self.run_dir, self.progress = dataset, Path(run_dir), progress
        self.run_dir.mkdir(parents=True, exist_ok=True)
        mp = "bf16" if (self.t.mixed_precision == "auto" and device == "cuda") else \
            ("no" if self.t.mixed_precision == "auto" else self.t.mixed_precision)
        self.accelerator = _accelerator(device, mp)
        ckpt = load_checkpoint(resume_from) if resume_from is not None else None
        cfg = self.trainable.config_for(settings.model, dataset)
        if self.t.init_from:
            cfg = self._init_config(cfg)
        if ckpt:
            check_resume(ckpt["state"], self.trainable.describe(cfg), dataset,
                         allow_new_data=allow_new_data)
            cfg = self.trainable.config_from_dict(ckpt["state"]["model_config"])
        if getattr(cfg, "lift", None) == "harmonic":  # the model sees homogeneous problems
            self.dataset = dataset = dataset.homogeneous()
        self._build(cfg)
        self.model.check_problem(dataset.grid, dataset.kinds_present)
        self._check_task(cfg, dataset)
        self.step, self.resumed_from, self.elapsed_before = 0, None, 0.0
        self.cpu_before, self._cpu_start = 0.0, None
        self._start: float | None = None
        if ckpt is not None:
            self._restore(ckpt)
        elif self.t.init_from:
            self._init_weights()
        self._split_data()

    # ----- construction -------------------------------------------------------------------
    def _build(self, cfg: Any) -> None:
        torch.manual_seed(self.t.seed)
        self.config = cfg
        self.model = self.trainable.build(cfg)
        self.ema = self._ema()
        self.eval_model = self.trainable.build(cfg).eval().requires_grad_(False)
        opt = torch.optim.AdamW(self.model.parameters(), lr=self.t.lr,
                                betas=tuple(self.t.betas), weight_decay=self.t.weight_decay)
        sched = get_cosine_schedule_with_warmup(opt, self.t.warmup_steps, self.t.max_steps)
        acc = self.accelerator
        self.net, self.optimizer, self.scheduler = acc.prepare(self.model, opt, sched)
        self.eval_model.to(acc.device)
        self.ema.to(acc.device)
        self.train_fn = torch.compile(self.net) if self.t.compile else self.net
        self.loss_fn = self.trainable.loss(cfg, self.t)
        self.param_names = [n for n, _ in self.model.named_parameters()]

    def _ema(self) -> EMAModel:
        """diffusers' EMA of the model's parameters; ``foreach`` (one fused kernel per
        parameter group instead of ~4 per tensor) on CUDA only, so that CPU runs keep their
        bit-exact numbers (the foreach update may round differently in the last bit)."""
        return EMAModel(self.model.parameters(), decay=self.t.ema_decay,
                        foreach=self.accelerator.device.type == "cuda")

    def _check_task(self, cfg: Any, dataset: Any) -> None:
        """A ``rho_posterior`` model needs a posterior set and takes no phi augmentation."""
        if getattr(cfg, "task", "solve") != "rho_posterior":
            return
        if not getattr(dataset, "extra", ()):
            raise ValueError(f"model.task=rho_posterior trains on a posterior training set "
                             f"(physdiff.reconstruction.training_set.build_posterior_set); "
                             f"{getattr(dataset, 'path', 'the dataset')} has no rho_gauss")
        if self.t.symmetries or self.t.superposition > 0 or self.t.physics_weight > 0:
            raise ValueError("model.task=rho_posterior: set train.symmetries=false, "
                             "train.superposition=0 and train.physics_weight=0 (they "
                             "transform phi pairs, not observation patterns)")

    def _init_config(self, cfg: Any) -> Any:
        """The config of ``train.init_from``, which must have the run's architecture."""
        from ..models.io import read_model_config

        init = read_model_config(self.t.init_from)
        mine, theirs = cfg.to_dict(), init.to_dict()
        skip = {"sigma_data", "bc_kinds"} | cfg.unused_keys
        differ = sorted(k for k in mine if k not in skip and mine[k] != theirs.get(k))
        if differ:
            diffs = ", ".join(f"{k}: {theirs.get(k)} there, {mine[k]} here" for k in differ)
            raise ValueError(f"train.init_from={self.t.init_from} has a different model "
                             f"config ({diffs}); use a model of the same architecture and "
                             f"formulation")
        return init  # its sigma_data: the network was trained with that scaling

    def _init_weights(self) -> None:
        """Raw and EMA weights from ``train.init_from`` (a warm start, not a resume)."""
        from ..models.io import load_model

        path = Path(self.t.init_from)
        has_raw = (path / "model_raw.safetensors").is_file()
        ema = load_model(path)
        raw = load_model(path, weights="raw") if has_raw else ema
        self.model.load_state_dict(raw.state_dict())
        self.ema = self._ema()
        self.ema.shadow_params = [p.detach().clone().to(self.accelerator.device)
                                  for p in ema.parameters()]

    def _split_data(self) -> None:
        n, n_val = len(self.dataset), int(self.settings.data.val_samples)
        if not 0 < n_val < n:
            raise ValueError(f"data.val_samples={n_val} must be between 1 and the dataset "
                             f"size - 1 ({n - 1})")
        self.train_indices = range(n - n_val)
        # fixed for the whole run: its harmonic lift is solved here, once
        self.val_batch = validation_batch(self.dataset, range(n - n_val, n),
                                          getattr(self.config, "task", "solve"))

    def _loader(self) -> DataLoader:
        acc = self.accelerator
        sampler = StepBatchSampler(self.train_indices, self.t.batch_size, self.t.seed,
                                   start_step=self.step, rank=acc.process_index,
                                   world_size=acc.num_processes)
        return DataLoader(self.dataset, batch_sampler=sampler,
                          num_workers=self.settings.data.num_workers,
                          pin_memory=acc.device.type == "cuda")

    # ----- checkpoints --------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        ema = {k: v for k, v in self.ema.state_dict().items() if k != "shadow_params"}
        return {"scheduler": self.scheduler.state_dict(), "ema": ema,
                "model_config": self.trainable.describe(self.config),
                "settings": self.settings.to_dict(), "data": data_identity(self.dataset),
                "elapsed_s": self.elapsed_s(), "cpu_s": self.cpu_s()}

    def elapsed_s(self) -> float:
        """Training wall time so far, over every resume of this run."""
        if self._start is None:
            return self.elapsed_before
        return time.perf_counter() - self._start

    def cpu_s(self) -> float:
        """Training CPU time (this process, ``time.process_time``) so far, over every resume."""
        if self._cpu_start is None:
            return self.cpu_before
        return time.process_time() - self._cpu_start

    def save_checkpoint(self) -> Path | None:
        """Write a checkpoint of the current step (main process); returns its folder."""
        acc = self.accelerator
        acc.wait_for_everyone()
        path = None
        if acc.is_main_process:
            path = save_checkpoint(
                self.run_dir, self.step, model=self.model.state_dict(),
                ema=dict(zip(self.param_names, self.ema.shadow_params, strict=True)),
                optimizer=self.optimizer.state_dict(), rng=capture_rng(),
                state=self._state(), keep=self.t.keep_checkpoints)
        acc.wait_for_everyone()
        return path

    def _restore(self, ckpt: dict[str, Any]) -> None:
        state = ckpt["state"]
        self.model.load_state_dict(ckpt["model"])
        shadow = [ckpt["ema"][n].to(self.accelerator.device) for n in self.param_names]
        self.ema.load_state_dict({**state["ema"], "shadow_params": shadow})
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        restore_rng(ckpt["rng_tensors"], state["rng"])
        self.step = self.resumed_from = int(state["step"])
        self.elapsed_before = float(state.get("elapsed_s", 0.0))
        self.cpu_before = float(state.get("cpu_s", 0.0))

    # ----- one step -----------------------------------------------------------------------
    def _noise_generator(self) -> torch.Generator:
        seq = np.random.SeedSequence([self.t.seed, self.step, self.accelerator.process_index])
        return torch.Generator().manual_seed(int(seq.generate_state(1, np.uint64)[0] >> 1))

    def train_step(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """One optimisation step on ``batch``; returns this process's loss, a 0-d float32
        tensor on the device (no host sync: :meth:`end_step` reads it with the stop flags)."""
        acc = self.accelerator
        host = batch
        batch = {k: v.to(acc.device, non_blocking=True) for k, v in batch.items()}
        gen = self._noise_generator()
        extent = tuple(self.model.config.extent)
        if self.t.symmetries or self.t.superposition > 0:
            batch = augment_batch(batch, extent, gen, symmetries=self.t.symmetries,
                                  superposition=self.t.superposition, host_masks=host)
        cond, _ = self.model.condition_batch(batch)
        kwargs = {}
        if self.t.physics_weight > 0:
            kwargs["residual_fn"] = batch_residual_fn(batch, extent)
        with acc.autocast():
            loss = self.loss_fn(self.train_fn, self.model.target_batch(batch), cond, gen,
                                **kwargs).mean()
        acc.backward(loss)
        if self.t.grad_clip > 0:
            acc.clip_grad_norm_(self.model.parameters(), self.t.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.ema.step(self.model.parameters())
        self.step += 1
        return loss.detach().float()

    def end_step(self, loss: torch.Tensor | float, *, out_of_time: bool = False,
                 interrupted: bool = False) -> tuple[float, bool, bool]:
        """The step's one host sync: ``(mean loss, out of time, interrupted)`` over processes.

        ``loss`` (this process's, from :meth:`train_step`), the time-budget flag and the
        Ctrl-C flag travel in one all-reduce (sum) and one device-to-host copy, so every
        process sees the same decisions at the same step: a Ctrl-C on one rank stops all of
        them at that step (without this, ranks that saw it a step apart would meet a barrier
        and an all-reduce: a hang). A NaN or infinite loss on any process raises
        :class:`NaNLossError` here, before anything of the step is logged or saved.
        """
        acc = self.accelerator
        flags = torch.tensor([float(out_of_time), float(interrupted)])
        if isinstance(loss, torch.Tensor):
            values = torch.cat([loss.detach().float().reshape(1),
                                flags.to(loss.device, non_blocking=True)])
        else:
            values = torch.cat([torch.tensor([float(loss)]), flags]).to(acc.device)
        if acc.num_processes > 1:
            values = acc.reduce(values, "sum")
        total, over, stop = values.tolist()
        mean_loss = total / acc.num_processes
        if not math.isfinite(mean_loss):
            raise NaNLossError(self._nan_message())
        return mean_loss, over > 0, stop > 0

    def _nan_message(self) -> str:
        return (f"the loss became NaN/inf at step {self.step}; nothing of that step was "
                f"saved. Resume from the last good checkpoint with `{self.command}` (consider "
                f"a lower train.lr or train.grad_clip)")

    # ----- validation and the final model -------------------------------------------------
    def validate(self) -> dict[str, float]:
        """Validation metrics of the EMA weights on the fixed batch (main process)."""
        self.ema.copy_to(self.eval_model.parameters())
        return self.trainable.validate(self.eval_model, self.val_batch, self.t)

    def save_model(self) -> Path:
        """Write ``run_dir/model`` (EMA weights + raw weights + metadata); returns the path."""
        self.ema.copy_to(self.eval_model.parameters())
        return self.trainable.save(self)

    # ----- the loop -----------------------------------------------------------------------
    def run(self, stop_after: int | None = None) -> TrainResult:
        """Train to ``max_steps`` (or the time budget, or ``stop_after`` steps: a "kill")."""
        acc, t = self.accelerator, self.t
        log = RunLog(self.run_dir, resume_step=self.step if self.step else None,
                     enabled=acc.is_main_process)
        result = TrainResult(self.run_dir, None, self.step, resumed_from=self.resumed_from)
        bar = tqdm(total=t.max_steps, initial=self.step, unit="step", dynamic_ncols=True,
                   disable=not (self.progress and acc.is_main_process))
        # elapsed time and the max_minutes budget continue across resumes
        start = self._start = time.perf_counter() - self.elapsed_before
        self._cpu_start = time.process_time() - self.cpu_before
        window = (time.perf_counter(), self.step)
        with deferred_interrupt() as interrupt:
            self._loop(result, log, bar, start, window, stop_after, interrupt)
        result.step = self.step
        if result.stopped not in ("stop_after", "interrupted") and acc.is_main_process:
            result.model_dir = self.save_model()
        acc.wait_for_everyone()
        return result

    def _loop(self, result: TrainResult, log: RunLog, bar: tqdm, start: float,
              window: tuple[float, int], stop_after: int | None, interrupt: Any) -> None:
        """The steps of :meth:`run`; Ctrl-C saves a checkpoint at the next step boundary."""
        t = self.t
        try:
            for batch in self._loader():
                if self.step >= t.max_steps:
                    break
                loss, timed_out, interrupted = self.end_step(
                    self.train_step(batch), out_of_time=self._out_of_time(start),
                    interrupted=interrupt.is_set())
                result.losses[self.step] = loss
                bar.update(1)
                window = self._after_step(log, bar, loss, start, window,
                                          last=timed_out or self.step >= t.max_steps)
                if stop_after is not None and self.step >= stop_after:
                    result.stopped = "stop_after"
                    break
                if timed_out:
                    cpu = self.t.max_cpu_minutes
                    result.stopped = ("max_cpu_minutes" if cpu is not None
                                      and self.cpu_s() > 60 * cpu else "max_minutes")
                    break
                if interrupted:
                    result.stopped = "interrupted"
                    if self.step % t.checkpoint_every:
                        self.save_checkpoint()
                    break
        finally:
            bar.close()
            log.close()

    def _after_step(self, log: RunLog, bar: tqdm, loss: float, start: float,
                    window: tuple[float, int], last: bool) -> tuple[float, int]:
        """Log, validate and checkpoint on their cadences and at the ``last`` step."""
        t, step = self.t, self.step
        row: dict[str, Any] = {}
        if step % t.log_every == 0 or last:
            now = time.perf_counter()
            rate = (step - window[1]) * t.batch_size / max(now - window[0], 1e-9)
            row = {"step": step, "loss": loss, "lr": self.scheduler.get_last_lr()[0],
                   "samples_per_s": rate, "elapsed_s": now - start}
            bar.set_postfix(loss=f"{loss:.4g}", samples_per_s=f"{rate:.1f}")
            window = (now, step)
        if (step % t.val_every == 0 or last) and self.accelerator.is_main_process:
            row = {"step": step, **row, **self.validate()}
            self._check_divergence(*_watched(row))
        if row:
            log.write(row)
        if step % t.checkpoint_every == 0 or last:
            self.save_checkpoint()
        return window

    def _check_divergence(self, name: str, value: float) -> None:
        """Raise :class:`DivergedError` when the validation error ``name`` (:func:`_watched`)
        is NaN or far above its best."""
        factor = self.t.diverge_factor
        best = getattr(self, "_best_val", math.inf)
        if factor > 0 and (not math.isfinite(value) or value > factor * best):
            from .checkpoint import latest_checkpoint

            good = latest_checkpoint(self.run_dir)
            raise DivergedError(
                f"validation diverged at step {self.step}: {name} = {value:.3g} against a "
                f"best of {best:.3g} (train.diverge_factor = {factor}); nothing of this state "
                f"was saved. The last good checkpoint is "
                f"{good if good is not None else '(none yet)'}: resume from it with "
                f"`{self.command}` and a lower train.lr")
        self._best_val = min(best, value)

    def _out_of_time(self, start: float) -> bool:
        """This process's view of the time budgets (:meth:`end_step` agrees it over ranks)."""
        t = self.t
        if t.max_minutes is not None and time.perf_counter() - start > 60 * t.max_minutes:
            return True
        return t.max_cpu_minutes is not None and self.cpu_s() > 60 * t.max_cpu_minutes


def _watched(row: dict[str, Any]) -> tuple[str, float]:
    """The validation error the divergence check follows: the ρ-driven relative error
    (``task: solve``), else the relative L2 (of rho, ``task: rho_posterior``).

    Examples
    --------
    >>> _watched({"val_rel_l2": 0.01, "val_rel_l2_driven": 0.3})
    ('val_rel_l2_driven', 0.3)
    >>> _watched({"val_rel_l2": 0.2})
    ('val_rel_l2', 0.2)
    """
    name = "val_rel_l2_driven" if "val_rel_l2_driven" in row else "val_rel_l2"
    return name, float(row[name])


def _accelerator(device: str, mixed_precision: str) -> Accelerator:
    """An :class:`~accelerate.Accelerator` for this run's device and precision.

    accelerate keeps one process-wide state: a second ``Accelerator`` with another
    ``mixed_precision`` raises "AcceleratorState has already been initialized", and one with
    another device silently reuses the first device. So when an earlier run in this process
    (a test suite, a notebook, a benchmark) set other values, the state is reset first, as
    accelerate's own test case does between tests (``accelerate.test_utils.testing.
    AccelerateTestCase.tearDown``: ``AcceleratorState._reset_state(True)``,
    ``GradientState._reset_state()``). Under ``accelerate launch`` (several processes) the
    process group is kept and only the precision may change.
    """
    from accelerate.state import AcceleratorState, GradientState, PartialState

    shared = AcceleratorState._shared_state
    if shared:
        have_cpu = shared["device"].type == "cpu"
        same = have_cpu == (device == "cpu") and shared.get("_mixed_precision") == \
            mixed_precision
        if not same:
            several = PartialState._shared_state.get("num_processes", 1) > 1
            if several and have_cpu != (device == "cpu"):
                raise ValueError(f"this process already runs accelerate on "
                                 f"{shared['device'].type}; a run on {device} needs a fresh "
                                 f"process (launch it separately)")
            AcceleratorState._reset_state(reset_partial_state=not several)
            GradientState._reset_state()
    return Accelerator(cpu=device == "cpu", mixed_precision=mixed_precision,
                       step_scheduler_with_optimizer=False)
