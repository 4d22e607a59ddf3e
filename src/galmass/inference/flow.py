"""Neural posterior estimation with a masked autoregressive flow (Sect. 4.2-4.3).

The paper trains the flow with ltu-ili; ltu-ili is not installable here and its NPE + MAF
path is a thin layer over ``sbi``, so galmass builds the same estimator with ``sbi``
directly: ``sbi.neural_nets.posterior_nn(model="maf", hidden_features=32,
num_transforms=4)``, conditioned on the CNN's 32 penultimate features, trained with Adam
(lr 1e-4, batch 64) on the negative log-likelihood of the true log10 masses. The training
loop is galmass's own so that the validation set is the CNN's galaxy-grouped split (sbi's
``train`` draws its own random split, which would put projections of one galaxy on both
sides); early stopping and gradient clipping follow sbi's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from galmass.config import FLOW_ESTIMATORS, FlowConfig
from galmass.errors import GalmassError
from galmass.inference.loop import LoopSpec, fit

__all__ = ["FlowConfig", "FlowHistory", "train_flow", "sample_posterior"]


@dataclass
class FlowHistory:
    """Per-epoch mean negative log-likelihoods and the learning rate of each epoch."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int = -1
    wall_seconds: float = 0.0  # epochs' wall time over every run (a resumed training adds up)


_ESTIMATORS = FLOW_ESTIMATORS


def build_flow(theta: torch.Tensor, x: torch.Tensor, config: FlowConfig):
    """sbi's MAF posterior network, z-scoring fitted on (theta, x)."""
    from sbi.neural_nets import posterior_nn

    if config.estimator not in _ESTIMATORS:
        raise GalmassError(f"flow estimator {config.estimator!r} is not one of {_ESTIMATORS}")
    builder = posterior_nn(model=config.estimator, hidden_features=config.hidden_features,
                           num_transforms=config.num_transforms)
    return builder(theta, x)


def _check(name: str, theta: np.ndarray, x: np.ndarray) -> None:
    if len(theta) != len(x) or len(x) == 0:
        raise GalmassError(f"{name}: need the same non-zero number of labels and features, got {len(theta)} and {len(x)}")
    if not (np.all(np.isfinite(theta)) and np.all(np.isfinite(x))):
        raise GalmassError(f"{name}: labels or features contain NaN or infinite values")


def _mean_loss(net, theta: torch.Tensor, x: torch.Tensor, batch: int = 4096) -> float:
    net.eval()
    tot = 0.0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            tot += float(net.loss(theta[i:i + batch], condition=x[i:i + batch]).sum())
    return tot / len(x)


def train_flow(theta_train: np.ndarray, x_train: np.ndarray, theta_val: np.ndarray, x_val: np.ndarray,
               config: FlowConfig | None = None, workdir: str | Path | None = None,
               progress: bool = True):
    """Train the MAF posterior ``p(log10 M | features)``; returns (net, history).

    ``theta`` are the labels (N, 10) and ``x`` the CNN features (N, 32). The best
    validation-loss weights are kept. The epochs run in the shared loop
    :func:`galmass.inference.loop.fit`: with ``workdir`` training checkpoints every epoch (atomically)
    and resumes after an interruption.
    """
    cfg = config or FlowConfig()
    _check("flow training set", theta_train, x_train)
    _check("flow validation set", theta_val, x_val)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    th, xx = torch.as_tensor(theta_train, dtype=torch.float32), torch.as_tensor(x_train, dtype=torch.float32)
    thv, xv = torch.as_tensor(theta_val, dtype=torch.float32), torch.as_tensor(x_val, dtype=torch.float32)
    net = build_flow(th, xx, cfg)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = (torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=cfg.lr_factor, patience=cfg.lr_patience)
             if cfg.lr_patience else None)
    n = len(th)

    def train_epoch() -> float:
        perm = torch.randperm(n, generator=gen)
        tot = 0.0
        for i in range(0, n, cfg.batch_size):
            idx = perm[i:i + cfg.batch_size]
            loss = net.loss(th[idx], condition=xx[idx]).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.clip_max_norm)
            opt.step()
            tot += float(loss.detach()) * len(idx)
        return tot / n

    spec = LoopSpec(max_epochs=cfg.max_epochs, patience=cfg.stop_after_epochs, min_lr=cfg.min_lr,
                    lr_after_schedule=False, time_validation=True, desc="flow epochs")
    hist = fit(net, opt, sched, gen, FlowHistory(), spec, train_epoch, lambda: _mean_loss(net, thv, xv),
               checkpoint=Path(workdir) / "flow_checkpoint.pt" if workdir else None, what="flow checkpoint",
               progress=progress)
    return net, hist


def sample_posterior(net, x: np.ndarray, n_samples: int = 1000, seed: int = 0,
                     batch: int = 256) -> np.ndarray:
    """Posterior samples of log10 M, shape (n_samples, N, 10), for features ``x`` (N, 32)."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or not np.all(np.isfinite(x)):
        raise GalmassError("flow features must be a finite (N, n_features) array")
    out = []
    net.eval()
    # seeded without touching the caller's global torch random state
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for i in range(0, len(x), batch):
            s = net.sample((n_samples,), condition=torch.from_numpy(x[i:i + batch]))
            out.append(s.cpu().numpy())
    return np.concatenate(out, axis=1)


def flow_state(net) -> dict[str, Any]:
    """State dict of a trained flow (for saving in a model directory)."""
    return net.state_dict()
