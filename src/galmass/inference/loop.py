"""The one training loop of galmass, shared by the CNN (:func:`galmass.inference.cnn.train_cnn`) and
the flow (:func:`galmass.inference.flow.train_flow`).

Each supplies its epoch (one pass over the shuffled training set, returning the mean
training loss) and its validation loss; the loop does the rest, identically for both:
epochs, the learning-rate schedule (``ReduceLROnPlateau`` on the validation loss), keeping
the best-validation weights, early stopping, progress, and a checkpoint after every epoch
(written atomically, loaded with ``weights_only=True``) from which an interrupted run
resumes exactly where it stopped.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from galmass.files import load_checkpoint, save_torch

__all__ = ["LoopSpec", "fit"]

#: What a checkpoint holds (one lacking any is incomplete and is moved aside).
CHECKPOINT_KEYS = ("model", "opt", "sched", "gen", "torch_rng", "hist", "best_state", "best_loss",
                   "since_best", "epoch")


@dataclass
class LoopSpec:
    """How one network is trained.

    Attributes
    ----------
    max_epochs : int
        Epochs at most (over every run of a resumed training).
    patience : int
        Stop once this many epochs in a row did not improve the validation loss.
    min_lr : float
        Stop once the learning rate of the last epoch is below this (0: never).
    lr_after_schedule : bool
        Record each epoch's learning rate after the scheduler's step (the CNN) or before
        it (the flow): the two histories were always written so.
    time_validation : bool
        Whether an epoch's recorded seconds include its validation pass.
    desc : str
        Progress-bar label.
    """

    max_epochs: int
    patience: int
    min_lr: float = 0.0
    lr_after_schedule: bool = True
    time_validation: bool = False
    desc: str = "epochs"


def fit(model: torch.nn.Module, opt: torch.optim.Optimizer, sched: Any, gen: torch.Generator,
        hist: Any, spec: LoopSpec, train_epoch: Callable[[], float], val_loss: Callable[[], float],
        *, checkpoint: str | Path | None = None, what: str = "checkpoint", progress: bool = True,
        log: Callable[[str], None] | None = None) -> Any:
    """Train ``model`` epoch by epoch; return ``hist`` with the best weights loaded.

    ``train_epoch()`` trains one epoch in place (drawing its shuffles and augmentations
    from ``gen``) and returns the mean training loss; ``val_loss()`` the validation loss.
    ``hist`` is a history dataclass with ``train_loss``, ``val_loss``, ``lr``, ``seconds``
    (lists), ``best_epoch`` and ``wall_seconds``, and optionally ``stopped_early``.
    ``sched`` may be None (constant learning rate).
    """
    from tqdm import tqdm

    best_state, best_loss, since_best, start = None, math.inf, 0, 0
    state = load_checkpoint(checkpoint, what, CHECKPOINT_KEYS) if checkpoint else None
    if state is not None:
        model.load_state_dict(state["model"]); opt.load_state_dict(state["opt"])
        if sched is not None and state["sched"] is not None:
            sched.load_state_dict(state["sched"])
        gen.set_state(state["gen"])
        torch.set_rng_state(state["torch_rng"])
        hist = type(hist)(**state["hist"])
        best_state, best_loss = state["best_state"], state["best_loss"]
        since_best, start = state["since_best"], state["epoch"] + 1
    run_start, wall_before = time.perf_counter(), hist.wall_seconds
    bar = tqdm(range(start, spec.max_epochs), desc=spec.desc, disable=not progress)
    stopped = False
    for epoch in bar:
        if since_best >= spec.patience or (hist.lr and hist.lr[-1] < spec.min_lr):
            stopped = True
            break
        model.train()
        t0 = time.perf_counter()
        loss = train_epoch()
        dt = time.perf_counter() - t0
        vloss = val_loss()
        if spec.time_validation:
            dt = time.perf_counter() - t0
        if sched is not None and spec.lr_after_schedule:
            sched.step(vloss)
        hist.train_loss.append(loss); hist.val_loss.append(vloss); hist.seconds.append(dt)
        hist.lr.append(opt.param_groups[0]["lr"])
        if sched is not None and not spec.lr_after_schedule:
            sched.step(vloss)
        if vloss < best_loss:
            best_loss, since_best, hist.best_epoch = vloss, 0, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            since_best += 1
        bar.set_postfix(train=f"{loss:.4f}", val=f"{vloss:.4f}", lr=f"{hist.lr[-1]:.1e}")
        if log:
            log(f"epoch {epoch}: train {loss:.4f} val {vloss:.4f} lr {hist.lr[-1]:.2e}")
        hist.wall_seconds = wall_before + time.perf_counter() - run_start
        if checkpoint:
            save_torch({"model": model.state_dict(), "opt": opt.state_dict(),
                        "sched": sched.state_dict() if sched is not None else None,
                        "gen": gen.get_state(), "torch_rng": torch.get_rng_state(), "hist": asdict(hist),
                        "best_state": best_state, "best_loss": best_loss, "since_best": since_best,
                        "epoch": epoch}, checkpoint)
    if hasattr(hist, "stopped_early"):
        hist.stopped_early = stopped or since_best >= spec.patience
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return hist
