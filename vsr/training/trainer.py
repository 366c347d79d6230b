"""The training loop of ``vsr train``.

It keeps what the reference repositories had (scale, patch size, loss, resume, best-by-validation
weights, progress) and adds exact resumption: the checkpoint holds the model, optimiser, scheduler,
epoch and RNG state, and patches come from a plan fixed by (seed, epoch).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from ..errors import ConfigError
from ..files import write_json_atomically
from ..models import create_model
from ..models.weights import read_weights, save_weights
from .checkpoint import load_checkpoint, save_checkpoint
from .data import PatchDataset, load_pairs
from .precision import PRECISIONS, Precision
from .run_folder import BEST_WEIGHTS, CHECKPOINT, LAST_WEIGHTS, SUMMARY
from .validation import validate_psnr


@dataclass
class TrainConfig:
    """Everything that determines a run. Saved in the checkpoint; ``--resume`` restores it."""

    model: str
    scale: int
    train_dirs: list[str]
    val_dirs: list[str]
    out_dir: str
    patch_size: int = 17  # LR patch side; the paper's 17r x 17r HR sub-images
    batch_size: int = 64
    epochs: int = 100
    patches_per_epoch: int = 32768
    lr: float = 1e-3
    loss: str = "l1"
    optimizer: str = "adam"
    schedule: str = "cosine"  # cosine | step (x0.1 at 80 % of epochs, the ESPCN paper's)
    last_layer_lr_scale: float = 1.0  # the ESPCN paper trains the sub-pixel layer at 0.1x
    model_config: dict = field(default_factory=dict)
    context: int = 0  # LR pixels of context around each patch, outside the loss (see PatchDataset)
    scale_augment: list[float] = field(default_factory=list)  # shrink factors, each adds shrunk copies (see load_pairs)
    phase_augment: bool = False  # every image at all scale² sub-pixel phases of the LR grid (see load_pairs)
    init_weights: str | None = None
    seed: int = 0
    device: str = "cpu"
    precision: str = "fp32"  # autocast dtype of the convolutions; weights, optimiser and loss stay fp32
    workers: int = 0
    threads: int | None = None
    command: str = ""

    def validate(self) -> None:
        if self.loss not in ("l1", "mse"):
            raise ConfigError("--loss must be l1 or mse")
        if self.schedule not in ("cosine", "step", "constant"):
            raise ConfigError("--schedule must be cosine, step or constant")
        if self.optimizer not in ("adam", "sgd"):
            raise ConfigError("--optimizer must be adam or sgd")
        for name in ("epochs", "patch_size", "batch_size", "patches_per_epoch"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}")
        if self.context < 0:
            raise ConfigError("--context must be 0 or more")
        if any(not 0.0 < f < 1.0 for f in self.scale_augment):
            raise ConfigError("--scale-augment factors must each be between 0 and 1 (exclusive)")


def _lr_factor(schedule: str, epochs: int):
    if schedule == "step":
        milestone = max(1, int(round(0.8 * epochs)))
        return lambda epoch: 1.0 if epoch < milestone else 0.1
    if schedule == "cosine":
        return lambda epoch: 0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))
    return lambda epoch: 1.0


def _loss(kind: str, sr: torch.Tensor, hr: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean L1 or squared error, over the pixels ``weight`` selects when given (``--context``)."""
    error = (sr - hr).abs() if kind == "l1" else (sr - hr).square()
    return error.mean() if weight is None else (error * weight).sum() / weight.sum()


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    last = getattr(model, "last_layer_parameters", lambda: [])()
    last_ids = {id(p) for p in last}
    rest = [p for p in model.parameters() if id(p) not in last_ids]
    groups = [{"params": rest, "lr": config.lr}]
    if last:
        groups.append({"params": last, "lr": config.lr * config.last_layer_lr_scale})
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=0.9)
    return torch.optim.Adam(groups, lr=config.lr)


def _init_from(model: nn.Module, path: str) -> int:
    """Copy every tensor of ``path`` whose name and shape fit (e.g. x2 weights into x3)."""
    tensors, _ = read_weights(path)
    own = model.state_dict()
    fitting = {k: v.to(own[k].dtype) for k, v in tensors.items() if k in own and own[k].shape == v.shape}
    own.update(fitting)
    model.load_state_dict(own)
    return len(fitting)


@dataclass
class _RunState:
    """What a run carries from epoch to epoch, and what its checkpoint restores."""

    config: TrainConfig
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    precision: Precision
    memory_format: torch.memory_format
    invocations: list[dict]  # every command that trained this run, and the epochs each one ran
    start_epoch: int = 0
    best_psnr: float = -math.inf
    best_epoch: int = -1
    history: list[dict] = field(default_factory=list)


def _restore(config: TrainConfig, resume: str | None, log) -> _RunState:
    """A new run from ``config``, or the run saved in the checkpoint ``resume`` (its own config,
    with this command's schedule length, workers, threads and command line)."""
    checkpoint = load_checkpoint(resume) if resume else None
    invocations = []
    if checkpoint is not None:
        saved = json.loads(checkpoint["config"])
        # Checkpoints from before invocations were recorded: the first command ran up to here.
        invocations = json.loads(checkpoint.get("invocations") or "[]") or [
            {"command": saved["command"], "epochs": saved["epochs"], "first_epoch": 1, "last_epoch": int(checkpoint["epoch"])}
        ]
        # The schedule's length may change (None: keep it); the run itself may not.
        saved["epochs"] = config.epochs or saved["epochs"]
        saved["workers"], saved["threads"] = config.workers, config.threads
        saved["command"] = config.command
        config = TrainConfig(**saved)
    config.validate()
    precision = Precision(config.precision, config.device)
    torch.manual_seed(config.seed)
    model = create_model(config.model, config.scale, **config.model_config).to(config.device)
    # oneDNN's convolutions run ~1.25x faster on NHWC tensors (measured: ESPCN x3 step, 1 thread).
    memory_format = torch.channels_last if config.device == "cpu" else torch.contiguous_format
    if torch.device(config.device).type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed patch shapes: the fastest kernels, chosen once
    model.to(memory_format=memory_format)
    if config.init_weights and checkpoint is None:
        log(f"initialised {_init_from(model, config.init_weights)} tensors from {config.init_weights}")
    optimizer = _optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_factor(config.schedule, config.epochs))
    state = _RunState(config, model, optimizer, scheduler, precision, memory_format, invocations)
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        # The schedule may have changed length (--epochs raised on resume): recompute this epoch's rate.
        factor = _lr_factor(config.schedule, config.epochs)
        for group, base_lr in zip(optimizer.param_groups, scheduler.base_lrs):
            group["lr"] = base_lr * factor(scheduler.last_epoch)
        torch.set_rng_state(checkpoint["torch_rng"])
        state.start_epoch = int(checkpoint["epoch"])
        state.best_psnr, state.best_epoch = float(checkpoint["best_psnr"]), int(checkpoint["best_epoch"])
        state.history = json.loads(checkpoint["history"])
        log(f"resumed from {resume} at epoch {state.start_epoch}")
    return state


def train_step(model: nn.Module, precision: Precision, optimizer: torch.optim.Optimizer, loss_kind: str,
               lr_patch: torch.Tensor, hr_patch: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """One optimiser step: the model under autocast, the loss in fp32; the loss, detached, on the device."""
    with precision.autocast():
        sr = model(lr_patch)
    loss = _loss(loss_kind, sr.float(), hr_patch, weight)
    precision.step(loss, optimizer)
    return loss.detach()


def _train_epoch(state: _RunState, dataset: PatchDataset, epoch: int, progress) -> float:
    """One epoch of steps over the patch plan of ``epoch``; returns the mean loss."""
    config = state.config
    dataset.set_epoch(epoch)
    loader = DataLoader(dataset, batch_size=config.batch_size, shuffle=False, num_workers=config.workers, drop_last=True)
    state.model.train()
    # Summed on the device: loss.item() each step would make the CPU wait for every step on a GPU,
    # so it could not queue the next one meanwhile.
    total_loss, batches = torch.zeros((), device=config.device), 0
    bar = progress(len(loader) * config.batch_size, f"epoch {epoch + 1}/{config.epochs}") if progress else None
    try:
        for batch in loader:
            lr_patch, hr_patch, *weight = (t.to(config.device, memory_format=state.memory_format) for t in batch)
            total_loss += train_step(state.model, state.precision, state.optimizer, config.loss, lr_patch, hr_patch, *weight)
            batches += 1
            if bar is not None:
                bar.update(config.batch_size)
    finally:
        if bar is not None:
            bar.close()
    state.scheduler.step()
    return total_loss.item() / max(batches, 1)


def _end_epoch(state: _RunState, epoch: int, loss: float, val_psnr: float, seconds: float, out_dir: Path) -> bool:
    """Record the epoch, write the best weights if it improved, then the checkpoint; True if improved."""
    config = state.config
    improved = val_psnr > state.best_psnr
    if improved:
        state.best_psnr, state.best_epoch = val_psnr, epoch + 1
        save_weights(state.model, out_dir / BEST_WEIGHTS,
                     extra={"epoch": str(epoch + 1), "val_psnr": f"{val_psnr:.4f}", "command": config.command})
    state.invocations[-1]["last_epoch"] = epoch + 1
    state.history.append({"epoch": epoch + 1, "loss": loss, "val_psnr": val_psnr, "seconds": seconds,
                          "lr": state.optimizer.param_groups[0]["lr"]})
    save_checkpoint(
        {
            "model": state.model.state_dict(),
            "optimizer": state.optimizer.state_dict(),
            "scheduler": state.scheduler.state_dict(),
            "epoch": epoch + 1,
            "best_psnr": state.best_psnr,
            "best_epoch": state.best_epoch,
            "torch_rng": torch.get_rng_state(),
            "config": json.dumps(asdict(config)),
            "history": json.dumps(state.history),
            "invocations": json.dumps(state.invocations),
        },
        out_dir / CHECKPOINT,
    )
    return improved


def _finish(state: _RunState, end_epoch: int, out_dir: Path, log) -> dict:
    """The last weights of a finished schedule, or how to continue; the summary, written and returned."""
    config = state.config
    done_epochs = max(state.start_epoch, end_epoch)
    if done_epochs >= config.epochs:
        save_weights(state.model, out_dir / LAST_WEIGHTS, extra={"epoch": str(config.epochs), "command": config.command})
    else:
        log(f"stopped after epoch {done_epochs} of {config.epochs}; continue with --resume {out_dir / CHECKPOINT}")
    return _write_summary(state, done_epochs, out_dir)


def _write_summary(state: _RunState, done_epochs: int, out_dir: Path) -> dict:
    """OUT/summary.json: the run so far. Written after every epoch too, so that a run killed with
    its machine still says what its best weights are (scripts/park_run.py reads it)."""
    summary = {
        "config": asdict(state.config),
        "best_val_psnr": state.best_psnr,
        "best_epoch": state.best_epoch,
        "epochs": done_epochs,
        "schedule_epochs": state.config.epochs,
        "invocations": state.invocations,
        "train_seconds": sum(h["seconds"] for h in state.history),
        "history": state.history,
    }
    write_json_atomically(out_dir / SUMMARY, summary)
    return summary


def train(config: TrainConfig, resume: str | None = None, log=lambda line: None, stop_at: int | None = None,
          progress=None) -> dict:
    """Run (or resume) training; returns the summary written to ``OUT/summary.json``.

    ``log(line)`` receives one line per event (an epoch's figures, a resume); ``progress(total,
    desc)``, if given, returns a bar with ``update(n)`` and ``close()`` for each epoch's patches.
    ``stop_at``: end this invocation after that epoch (the schedule still spans ``config.epochs``),
    leaving a checkpoint to resume from: long runs in time-boxed sessions, reproducibly.
    ``config.threads`` holds for this call only: torch's thread count is restored afterwards.
    """
    threads_before = torch.get_num_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        state = _restore(config, resume, log)
        config = state.config
        train_pairs = load_pairs(config.train_dirs, config.scale, tuple(config.scale_augment), config.phase_augment)
        val_pairs = load_pairs(config.val_dirs, config.scale)
        dataset = PatchDataset(train_pairs, config.scale, config.patch_size, config.patches_per_epoch, config.seed, context=config.context)
        log(f"{config.model} x{config.scale}: {sum(p.numel() for p in state.model.parameters())} parameters, "
            f"{len(dataset.pairs)} training images, {len(val_pairs)} validation images, {config.precision} on {config.device}")

        # Made only now that the model and data are known good: a refused run leaves nothing behind.
        out_dir = Path(config.out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        state.invocations.append({"command": config.command, "epochs": config.epochs,
                                  "first_epoch": state.start_epoch + 1, "last_epoch": state.start_epoch})
        end_epoch = min(config.epochs, stop_at) if stop_at else config.epochs
        for epoch in range(state.start_epoch, end_epoch):
            started = time.perf_counter()
            loss = _train_epoch(state, dataset, epoch, progress)
            val_psnr = validate_psnr(state.model, val_pairs, config.scale, config.device)
            seconds = time.perf_counter() - started
            improved = _end_epoch(state, epoch, loss, val_psnr, seconds, out_dir)
            _write_summary(state, epoch + 1, out_dir)
            log(f"epoch {epoch + 1}/{config.epochs}  loss {loss:.5f}  val {val_psnr:.3f} dB"
                f"{'  (best)' if improved else ''}  {seconds:.1f}s")
        return _finish(state, end_epoch, out_dir, log)
    finally:
        torch.set_num_threads(threads_before)
