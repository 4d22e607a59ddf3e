"""The two-branch CNN of Sect. 4.2 and its training (MSE on standardised log10 M).

Architecture (Fig. 3 of the paper; widths are configurable, the layer pattern is fixed):

- branch 1 (position map {x/R_h, y/R_h}) and branch 2 (phase map {R/R_h, v/v_p98}): each
  ``conv -> ReLU -> max-pool -> conv -> ReLU -> max-pool -> dropout``;
- flatten both, concatenate, then the three scalars (R_h, sigma_los, v_p98; log10-scaled and
  standardised) are concatenated after that first dropout;
- dense layers ``hidden -> dropout -> 32`` (the penultimate layer whose 32 features feed the
  flow) ``-> 10`` outputs (standardised log10 M(< f R_h)).

Input 1 is randomly rotated by multiples of 90 degrees and flipped during training (the
dihedral group of the square grid, which moves no probability mass off the map); input 2 is
not augmented, as in the paper.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from galmass.config import CNNConfig
from galmass.errors import GalmassError
from galmass.inference.loop import LoopSpec, fit
from galmass.inference.preprocess import Preprocessor

__all__ = ["CNNConfig", "MassCNN", "augment_position_maps", "train_cnn",
           "predict_cnn", "default_device", "TrainHistory"]


def default_device() -> torch.device:
    """CUDA when available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# --------------------------------------------------------------------------- network
class _Branch(nn.Sequential):
    def __init__(self, c1: int, c2: int, k: int, dropout: float) -> None:
        super().__init__(
            nn.Conv2d(1, c1, k, padding=k // 2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, k, padding=k // 2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Dropout(dropout), nn.Flatten(),
        )


class MassCNN(nn.Module):
    """Two-branch CNN: (map1, map2, scalars) -> 10 standardised log10 masses.

    Parameters
    ----------
    map_size : int
        Side of the (square) input maps in pixels (a multiple of 4).
    config : CNNConfig
        Widths and dropout.
    n_outputs : int
        Number of radii (10).
    """

    def __init__(self, map_size: int, config: CNNConfig | None = None, n_outputs: int = 10) -> None:
        super().__init__()
        cfg = config or CNNConfig()
        if map_size % 4:
            raise GalmassError(f"map_size must be a multiple of 4, got {map_size}")
        c1, c2 = cfg.channels
        self.branch1 = _Branch(c1, c2, cfg.kernel_size, cfg.dropout)
        self.branch2 = _Branch(c1, c2, cfg.kernel_size, cfg.dropout)
        n_flat = 2 * c2 * (map_size // 4) ** 2
        self.features = nn.Sequential(
            nn.Linear(n_flat + (1 if cfg.scale_free else 3), cfg.hidden), nn.ReLU(), nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, cfg.n_features), nn.ReLU(),
        )
        self.head = nn.Linear(cfg.n_features, n_outputs)

    def embed(self, map1: torch.Tensor, map2: torch.Tensor, scalars: torch.Tensor) -> torch.Tensor:
        """The penultimate-layer features, shape (B, n_features)."""
        h = torch.cat([self.branch1(map1), self.branch2(map2), scalars], dim=1)
        return self.features(h)

    def forward(self, map1: torch.Tensor, map2: torch.Tensor, scalars: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(map1, map2, scalars))


def augment_position_maps(map1: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random rotation by k x 90 degrees and random flip of each (B, 1, S, S) map."""
    b = map1.shape[0]
    k = torch.randint(0, 4, (b,), generator=generator)
    flip = torch.randint(0, 2, (b,), generator=generator).bool()
    out = map1.clone()
    for kk in range(4):
        for ff in (False, True):
            sel = (k == kk) & (flip == ff)
            if sel.any():
                x = map1[sel]
                if ff:
                    x = torch.flip(x, dims=(-1,))
                out[sel] = torch.rot90(x, kk, dims=(-2, -1))
    return out


# --------------------------------------------------------------------------- training
@dataclass
class TrainHistory:
    """Per-epoch losses (MSE on standardised labels), learning rates and timings."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int = -1
    stopped_early: bool = False
    wall_seconds: float = 0.0  # epochs' wall time over every run (a resumed training adds up)

    @property
    def samples_per_second(self) -> float:
        return float(getattr(self, "_sps", float("nan")))


def _tensors(pre: Preprocessor, map1, map2, scalars, labels=None):
    m1, m2 = pre.maps(map1, map2)
    out = [torch.from_numpy(m1[:, None]), torch.from_numpy(m2[:, None]),
           torch.from_numpy(pre.scalars(scalars))]
    if labels is not None:
        out.append(torch.from_numpy(pre.labels(labels, scalars)))
    return out


def _eval_loss(model, tensors, batch, device) -> float:
    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(tensors[0]), batch):
            m1, m2, s, y = (t[i:i + batch].to(device) for t in tensors)
            total += float(((model(m1, m2, s) - y) ** 2).mean(1).sum())
            n += len(y)
    return total / max(n, 1)


def train_cnn(train: dict[str, np.ndarray], val: dict[str, np.ndarray], map_size: int,
              config: CNNConfig | None = None, workdir: str | Path | None = None,
              device: torch.device | None = None, progress: bool = True,
              log: Callable[[str], None] | None = None) -> tuple[MassCNN, Preprocessor, TrainHistory]:
    """Train the CNN on in-memory arrays (keys ``map1, map2, scalars, labels``).

    Adam (lr from config), the learning rate multiplied by ``lr_factor`` after
    ``lr_patience`` epochs without validation improvement, early stop after
    ``early_stop_patience``; the best-validation weights are returned. The epochs run in
    the shared loop :func:`galmass.inference.loop.fit`: with ``workdir`` a checkpoint is written
    atomically after every epoch and an interrupted run resumes.
    """
    cfg = config or CNNConfig()
    for name, d in (("train", train), ("validation", val)):
        missing = {"map1", "map2", "scalars", "labels"} - set(d)
        if missing:
            raise GalmassError(f"{name} set lacks {sorted(missing)}")
        if len(d["labels"]) == 0:
            raise GalmassError(f"{name} set is empty")
    device = device or default_device()
    torch.set_num_threads(cfg.num_threads or os.cpu_count() or 1)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    pre = Preprocessor.fit(train["map1"], train["map2"], train["scalars"], train["labels"],
                           residual_target=cfg.residual_target, scale_free=cfg.scale_free)
    tr = _tensors(pre, train["map1"], train["map2"], train["scalars"], train["labels"])
    va = _tensors(pre, val["map1"], val["map2"], val["scalars"], val["labels"])
    model = MassCNN(map_size, cfg, n_outputs=tr[3].shape[1]).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=cfg.lr_factor, patience=cfg.lr_patience)
    n = len(tr[0])

    def train_epoch() -> float:
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, cfg.batch_size):
            idx = perm[i:i + cfg.batch_size]
            m1 = augment_position_maps(tr[0][idx], gen).to(device)
            m2, s, y = tr[1][idx].to(device), tr[2][idx].to(device), tr[3][idx].to(device)
            loss = ((model(m1, m2, s) - y) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        return total / n

    spec = LoopSpec(max_epochs=cfg.max_epochs, patience=cfg.early_stop_patience, desc="CNN epochs")
    hist = fit(model, opt, sched, gen, TrainHistory(), spec, train_epoch,
               lambda: _eval_loss(model, va, 512, device),
               checkpoint=Path(workdir) / "cnn_checkpoint.pt" if workdir else None, what="CNN checkpoint",
               progress=progress, log=log)
    t_train = sum(hist.seconds)
    hist._sps = n * len(hist.seconds) / t_train if t_train else float("nan")  # type: ignore[attr-defined]
    return model, pre, hist


def predict_cnn(model: MassCNN, pre: Preprocessor, map1, map2, scalars, batch: int = 512,
                device: torch.device | None = None) -> tuple[np.ndarray, np.ndarray]:
    """CNN point predictions of log10 M (B, 10) and the penultimate features (B, 32)."""
    device = device or next(model.parameters()).device
    m1, m2, s = _tensors(pre, map1, map2, scalars)
    model.eval()
    preds, feats = [], []
    with torch.no_grad():
        for i in range(0, len(s), batch):
            a, b, c = m1[i:i + batch].to(device), m2[i:i + batch].to(device), s[i:i + batch].to(device)
            f = model.embed(a, b, c)
            feats.append(f.cpu().numpy())
            preds.append(model.head(f).cpu().numpy())
    z = np.concatenate(preds) if preds else np.zeros((0, len(pre.label_mean)))
    return pre.inverse_labels(z, scalars), (np.concatenate(feats) if feats else np.zeros((0, model.head.in_features)))
