"""A trained galmass model: CNN + flow + preprocessing, saved as one directory.

Layout of a model directory::

    model.json      galmass version, map settings, radii, preprocessing constants, configs
    cnn.pt          CNN weights (state dict)
    flow.pt         flow weights (state dict)

Loading a directory written by an incompatible galmass version, or asking for other map
settings than it was trained with, fails with one clear :class:`GalmassError`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__
from .cnn import CNNConfig, MassCNN, Preprocessor, predict_cnn
from .constants import RADII_F
from .errors import GalmassError
from .flow import FlowConfig, build_flow, sample_posterior, summarize_samples

__all__ = ["MassModel", "FORMAT_VERSION", "flow_shift"]

#: Bumped whenever the saved layout or the meaning of its contents changes.
FORMAT_VERSION = 1


def flow_shift(preprocessor, flow_config, cnn_pred: np.ndarray, scalars: np.ndarray) -> np.ndarray:
    """What the flow's variable is relative to, log10 M [Msun], shape (N, 10).

    The CNN's point estimate of log10 M (``cnn_pred``) with ``flow_config.relative_to_cnn``;
    otherwise the network's own offset (the mass scale log10(R_h sigma_los^2 / G) with a
    residual target, zero without), broadcast to the ten radii. The flow models
    ``log10 M - flow_shift`` given the CNN features; training and sampling both use this.
    """
    pred = np.asarray(cnn_pred, dtype=float)
    if flow_config.relative_to_cnn:
        return pred
    return np.broadcast_to(preprocessor.offset(scalars), pred.shape).astype(float)


@dataclass
class MassModel:
    """CNN + MAF posterior for log10 M(< f R_h).

    Attributes
    ----------
    cnn : MassCNN
    preprocessor : Preprocessor
    flow : sbi ConditionalDensityEstimator
    map_size : int
        Side of the KDE maps [pixels].
    cnn_config, flow_config : CNNConfig, FlowConfig
    radii_f : ndarray
        Radii in units of R_h.
    info : dict
        Provenance (profile, training suites, metrics...).
    """

    cnn: MassCNN
    preprocessor: Preprocessor
    flow: Any
    map_size: int
    cnn_config: CNNConfig
    flow_config: FlowConfig
    radii_f: np.ndarray
    info: dict
    domain: Any = None  # galmass.ood.InputDomain of the training scalars (Appendix C)

    def features(self, map1, map2, scalars) -> tuple[np.ndarray, np.ndarray]:
        """CNN point predictions of log10 M and the 32 penultimate features."""
        self._check_maps(map1, map2)
        return predict_cnn(self.cnn, self.preprocessor, map1, map2, scalars)

    def sample(self, map1, map2, scalars, n_samples: int | None = None, seed: int = 0) -> np.ndarray:
        """Posterior samples of log10 M [Msun], shape (n_samples, N, 10).

        The flow models log10 M minus a per-projection shift (:func:`flow_shift`), added back
        to every sample.
        """
        pred, feats = self.features(map1, map2, scalars)
        s = sample_posterior(self.flow, feats, n_samples or self.flow_config.n_samples, seed=seed)
        return s + flow_shift(self.preprocessor, self.flow_config, pred, scalars)[None]

    def predict(self, map1, map2, scalars, n_samples: int | None = None, seed: int = 0) -> dict[str, np.ndarray]:
        """Posterior median and 16/84 percentiles of log10 M: keys p16, p50, p84 (N, 10)."""
        return summarize_samples(self.sample(map1, map2, scalars, n_samples, seed))

    def _check_maps(self, map1, map2) -> None:
        for name, m in (("map1", map1), ("map2", map2)):
            shape = np.shape(m)
            if len(shape) != 3 or shape[1:] != (self.map_size, self.map_size):
                raise GalmassError(f"{name} has shape {shape}; this model takes (N, {self.map_size}, {self.map_size}) maps")

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> Path:
        """Write the model directory (atomically per file)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        meta = {
            "format_version": FORMAT_VERSION, "galmass_version": __version__,
            "map_size": self.map_size, "radii_f": list(map(float, self.radii_f)),
            "n_features": self.cnn_config.n_features, "n_outputs": len(self.radii_f),
            "preprocessor": asdict(self.preprocessor),
            "cnn_config": asdict(self.cnn_config), "flow_config": asdict(self.flow_config),
            "info": self.info,
        }
        for name, obj in (("cnn.pt", self.cnn.state_dict()), ("flow.pt", self.flow.state_dict())):
            tmp = d / (name + ".partial")
            torch.save(obj, tmp)
            os.replace(tmp, d / name)
        if self.domain is not None:
            tmp = d / "domain.json.partial"
            tmp.write_text(json.dumps(self.domain.to_dict()))
            os.replace(tmp, d / "domain.json")
        tmp = d / "model.json.partial"
        tmp.write_text(json.dumps(meta, indent=1))
        os.replace(tmp, d / "model.json")
        return d

    @classmethod
    def load(cls, directory: str | Path, map_size: int | None = None) -> "MassModel":
        """Load a model directory written by :meth:`save`."""
        d = Path(directory)
        mfile = d / "model.json"
        if not mfile.is_file():
            raise GalmassError(f"{d} is not a galmass model directory (no model.json)")
        try:
            meta = json.loads(mfile.read_text())
        except json.JSONDecodeError as exc:
            raise GalmassError(f"{mfile} is corrupt: {exc}") from None
        if meta.get("format_version") != FORMAT_VERSION:
            raise GalmassError(
                f"model {d} was saved by galmass {meta.get('galmass_version', '?')} in format "
                f"{meta.get('format_version')}; this galmass ({__version__}) reads format {FORMAT_VERSION}"
            )
        if map_size is not None and meta["map_size"] != map_size:
            raise GalmassError(f"model {d} was trained on {meta['map_size']}x{meta['map_size']} maps, not {map_size}x{map_size}")
        cnn_cfg = CNNConfig(**{**meta["cnn_config"], "channels": tuple(meta["cnn_config"]["channels"])})
        flow_cfg = FlowConfig(**meta["flow_config"])
        cnn = MassCNN(meta["map_size"], cnn_cfg, n_outputs=meta["n_outputs"])
        try:
            cnn.load_state_dict(torch.load(d / "cnn.pt", weights_only=True))
            flow = build_flow(torch.randn(4, meta["n_outputs"]), torch.randn(4, meta["n_features"]), flow_cfg)
            flow.load_state_dict(torch.load(d / "flow.pt", weights_only=True))
        except (RuntimeError, OSError, FileNotFoundError) as exc:
            raise GalmassError(f"model {d}: weights do not match its model.json ({str(exc).splitlines()[0]})") from None
        cnn.eval(); flow.eval()
        domain = None
        if (d / "domain.json").is_file():
            from .ood import InputDomain

            domain = InputDomain.from_dict(json.loads((d / "domain.json").read_text()))
        return cls(cnn, Preprocessor(**meta["preprocessor"]), flow, meta["map_size"], cnn_cfg, flow_cfg,
                   np.asarray(meta["radii_f"]), meta.get("info", {}), domain)


def default_radii() -> np.ndarray:
    """The paper's radii f = 0.6 ... 2.4 (units of R_h)."""
    return RADII_F.copy()
