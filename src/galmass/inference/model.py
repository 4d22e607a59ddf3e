"""A trained galmass model: CNN + flow + preprocessing, saved as one directory.

Layout of a model directory::

    model.json      galmass version, map settings, radii, preprocessing constants, configs
    cnn.pt          CNN weights (torch state dict)
    flow.pt         flow weights (torch state dict)
    weights.npz     the same weights as numpy arrays (:mod:`galmass.inference.numpy_net`)
    domain.json     the training scalars' input domain (:mod:`galmass.inference.ood`)

A model runs on one of two backends: ``"torch"`` (training, evaluation) or ``"numpy"``
(prediction, which then does not import torch; a ``"maf"`` flow only). Both give the same
networks to float32 round-off. Loading a directory written by an incompatible galmass version, or asking for other map
settings than it was trained with, fails with one clear :class:`GalmassError`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from galmass import __version__
from galmass.config import CNNConfig, FlowConfig
from galmass.constants import RADII_F
from galmass.errors import GalmassError, one_line
from galmass.files import atomic_path, atomic_write_json, load_torch, read_json, save_torch
from galmass.inference.numpy_net import WEIGHTS_FILE, NumpyCNN, NumpyMAF, weights_arrays
from galmass.inference.ood import InputDomain
from galmass.inference.preprocess import (Preprocessor, ResidualScale, flow_condition, flow_shift,
                                          summarize_samples)

__all__ = ["MassModel", "FORMAT_VERSION", "BACKENDS"]

#: Where a model's networks run: torch modules, or numpy (:mod:`galmass.inference.numpy_net`).
BACKENDS = ("torch", "numpy", "auto")

#: Bumped whenever the saved layout or the meaning of its contents changes.
FORMAT_VERSION = 1


@dataclass
class MassModel:
    """CNN + MAF posterior for log10 M(< f R_h).

    Attributes
    ----------
    cnn : MassCNN or NumpyCNN
    preprocessor : Preprocessor
    flow : sbi ConditionalDensityEstimator, its torch skeleton, or NumpyMAF
    map_size : int
        Side of the KDE maps [pixels].
    cnn_config, flow_config : CNNConfig, FlowConfig
    radii_f : ndarray
        Radii in units of R_h.
    info : dict
        Provenance (profile, training suites, metrics...).
    """

    cnn: Any
    preprocessor: Preprocessor
    flow: Any
    map_size: int
    cnn_config: CNNConfig
    flow_config: FlowConfig
    radii_f: np.ndarray
    info: dict
    domain: Any = None  # galmass.inference.ood.InputDomain of the training scalars (Appendix C)
    scale: ResidualScale | None = None  # with flow_config.scale_with_n_stars

    def features(self, map1, map2, scalars) -> tuple[np.ndarray, np.ndarray]:
        """CNN point predictions of log10 M and the 32 penultimate features."""
        self._check_maps(map1, map2)
        if isinstance(self.cnn, NumpyCNN):
            pre = self.preprocessor
            m1, m2 = pre.maps(map1, map2)
            z, feats = self.cnn.forward(m1, m2, pre.scalars(scalars))
            return pre.inverse_labels(z, scalars), feats
        from galmass.inference.cnn import predict_cnn

        return predict_cnn(self.cnn, self.preprocessor, map1, map2, scalars)

    @property
    def backend(self) -> str:
        """``"numpy"`` or ``"torch"``: where the networks run."""
        return "numpy" if isinstance(self.cnn, NumpyCNN) else "torch"

    def sample(self, map1, map2, scalars, n_samples: int | None = None, seed: int = 0,
               n_stars: Any = None) -> np.ndarray:
        """Posterior samples of log10 M [Msun], shape (n_samples, N, 10).

        The flow models log10 M minus a per-projection shift (:func:`flow_shift`), added back
        to every sample. ``n_stars`` (N,): the projections' star counts, needed by a model
        whose flow is conditioned on them (:func:`flow_condition`), ignored otherwise. With
        a :class:`ResidualScale`, the flow's samples are widths s(N) and are multiplied by it.
        """
        pred, feats = self.features(map1, map2, scalars)
        x = flow_condition(feats, n_stars, self.flow_config)
        n = n_samples or self.flow_config.n_samples
        if isinstance(self.flow, NumpyMAF):
            s = self.flow.sample(n, x, np.random.default_rng(seed))
        else:
            from galmass.inference.flow import sample_posterior

            s = sample_posterior(self.flow, x, n, seed=seed)
        if self.scale is not None:
            s = s * self.scale(n_stars)[None]
        return s + flow_shift(self.preprocessor, self.flow_config, pred, scalars)[None]

    def predict(self, map1, map2, scalars, n_samples: int | None = None, seed: int = 0,
                n_stars: Any = None) -> dict[str, np.ndarray]:
        """Posterior median and 16/84 percentiles of log10 M: keys p16, p50, p84 (N, 10)."""
        return summarize_samples(self.sample(map1, map2, scalars, n_samples, seed, n_stars=n_stars))

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
        if self.scale is not None:
            meta["residual_scale"] = self.scale.to_dict()
        if self.backend != "torch":
            raise GalmassError("a model loaded with the numpy backend cannot be saved; load it with backend='torch'")
        cnn_state, flow_state = self.cnn.state_dict(), self.flow.state_dict()
        for name, obj in (("cnn.pt", cnn_state), ("flow.pt", flow_state)):
            save_torch(obj, d / name)
        with atomic_path(d / WEIGHTS_FILE) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **weights_arrays(cnn_state, flow_state))
        if self.domain is not None:
            atomic_write_json(d / "domain.json", self.domain.to_dict(), indent=None)
        atomic_write_json(d / "model.json", meta)  # last: a directory with model.json is complete
        return d

    @classmethod
    def load(cls, directory: str | Path, map_size: int | None = None, backend: str = "torch") -> "MassModel":
        """Load a model directory written by :meth:`save`.

        ``backend``: ``"torch"``, ``"numpy"`` (from ``weights.npz``; a ``"maf"`` flow only) or
        ``"auto"`` (numpy when the directory has ``weights.npz`` and a ``"maf"`` flow, else torch).

        Any malformed file (missing or unknown ``model.json`` keys, not JSON or not UTF-8,
        truncated or foreign ``.pt`` weights, a broken ``domain.json``, an unreadable file)
        raises one :class:`GalmassError` line naming the file and the problem. Weights are
        loaded with ``weights_only=True``: a pickle with code in it is refused, never run.
        """
        d = Path(directory)
        mfile = d / "model.json"
        if not mfile.is_file():
            raise GalmassError(f"{d} is not a galmass model directory (no model.json)")
        meta = read_json(mfile, f"model {d}")
        if not isinstance(meta, dict):
            raise GalmassError(f"{mfile} is corrupt: a JSON object is expected, not {type(meta).__name__}")
        version = meta.get("format_version")
        if version != FORMAT_VERSION:
            raise GalmassError(
                f"model {d} was saved by galmass {meta.get('galmass_version', '?')} in format "
                f"{version}; this galmass ({__version__}) reads format {FORMAT_VERSION}"
            )
        missing, unknown = _MODEL_KEYS - set(meta), set(meta) - _MODEL_KEYS - _OPTIONAL_KEYS
        if missing or unknown:
            what = "; ".join(x for x in (f"missing key(s) {sorted(missing)}" if missing else "",
                                         f"unknown key(s) {sorted(unknown)}" if unknown else "") if x)
            raise GalmassError(f"{mfile} is corrupt or from another program: {what}; rebuild the model")
        try:
            msize, n_out, n_feat = (_count(meta[k], k) for k in ("map_size", "n_outputs", "n_features"))
            radii = np.asarray(meta["radii_f"], dtype=float)
            if radii.shape != (n_out,) or not np.all(np.isfinite(radii)):
                raise GalmassError(f"radii_f must be {n_out} finite numbers")
            cnn_cfg = CNNConfig(**{**_obj(meta["cnn_config"], "cnn_config"),
                                   "channels": tuple(meta["cnn_config"].get("channels", ()))})
            flow_cfg = FlowConfig(**_obj(meta["flow_config"], "flow_config"))
            pre = Preprocessor(**_obj(meta["preprocessor"], "preprocessor"))
            if pre.scale_free != cnn_cfg.scale_free:
                raise GalmassError("preprocessor and cnn_config disagree on scale_free")
            scale = None
            if flow_cfg.scale_with_n_stars and not flow_cfg.condition_on_n_stars:
                raise GalmassError("flow_config.scale_with_n_stars needs condition_on_n_stars")
            if flow_cfg.scale_with_n_stars:
                if "residual_scale" not in meta:
                    raise GalmassError("flow_config.scale_with_n_stars but no residual_scale")
                scale = ResidualScale.from_dict(meta["residual_scale"], n_out)
            info = meta.get("info") or {}
            if not isinstance(info, dict):
                raise GalmassError("info must be a JSON object")
        except (GalmassError, TypeError, ValueError) as exc:
            raise GalmassError(f"{mfile} is corrupt: {one_line(exc)}; rebuild the model") from None
        if map_size is not None and msize != map_size:
            raise GalmassError(f"model {d} was trained on {msize}x{msize} maps, not {map_size}x{map_size}")
        if backend not in BACKENDS:
            raise GalmassError(f"backend must be one of {BACKENDS}, got {backend!r}")
        n_x = n_feat + int(flow_cfg.condition_on_n_stars)  # what the flow is conditioned on (flow_condition)
        has_npz = (d / WEIGHTS_FILE).is_file()
        if backend == "auto":
            backend = "numpy" if has_npz and flow_cfg.estimator == "maf" else "torch"
        if backend == "numpy":
            cnn, flow = _numpy_networks(d, msize, cnn_cfg, flow_cfg, n_out, n_x)
        else:
            cnn, flow = _torch_networks(d, mfile, msize, cnn_cfg, flow_cfg, n_out, n_x)
        domain = None
        dfile = d / "domain.json"
        if dfile.exists():
            try:
                domain = InputDomain.from_dict(read_json(dfile, f"model {d}"))
            except GalmassError as exc:
                raise GalmassError(f"{dfile} is corrupt: {exc}; rebuild the model") from None
        return cls(cnn, pre, flow, msize, cnn_cfg, flow_cfg, radii, info, domain, scale)


def _numpy_networks(d: Path, msize: int, cnn_cfg, flow_cfg, n_out: int, n_x: int):
    """The model's CNN and MAF from ``weights.npz`` (:mod:`galmass.inference.numpy_net`)."""
    if flow_cfg.estimator != "maf":
        raise GalmassError(f"model {d}: the numpy backend samples a 'maf' flow only, not {flow_cfg.estimator!r}; "
                           f"use backend='torch'")
    path = d / WEIGHTS_FILE
    if not path.is_file():
        raise GalmassError(f"model {d} has no {WEIGHTS_FILE} (saved by an older galmass); use backend='torch', "
                           f"or load and save it again to write one")
    try:
        with np.load(path, allow_pickle=False) as npz:
            weights = {k: npz[k] for k in npz.files}
    except Exception as exc:  # zipfile, zlib and numpy raise many types for a damaged file
        raise GalmassError(f"model {d}: {WEIGHTS_FILE} is unreadable ({one_line(exc)[:120]}); rebuild the model") from None
    try:
        cnn = NumpyCNN(weights, msize, tuple(cnn_cfg.channels), cnn_cfg.kernel_size, cnn_cfg.hidden,
                       cnn_cfg.n_features, n_out, 1 if cnn_cfg.scale_free else 3)
        flow = NumpyMAF(weights, n_out, n_x, flow_cfg.hidden_features, flow_cfg.num_transforms)
    except GalmassError as exc:
        raise GalmassError(f"model {d}: {exc}; rebuild the model") from None
    return cnn, flow


def _torch_networks(d: Path, mfile: Path, msize: int, cnn_cfg, flow_cfg, n_out: int, n_x: int):
    """The model's CNN and flow as torch modules, from ``cnn.pt`` and ``flow.pt``."""
    import torch

    from galmass.inference.cnn import MassCNN
    from galmass.inference.flow import build_flow
    from galmass.inference.maf import maf_skeleton

    try:
        cnn = MassCNN(msize, cnn_cfg, n_outputs=n_out)
        if flow_cfg.estimator == "maf":  # plain torch: prediction never imports sbi (~4 s)
            flow = maf_skeleton(n_out, n_x, flow_cfg.hidden_features, flow_cfg.num_transforms)
        else:
            flow = build_flow(torch.randn(4, n_out), torch.randn(4, n_x), flow_cfg)
    except Exception as exc:  # torch/sbi raise many types for impossible settings
        raise GalmassError(f"{mfile}: its settings do not make a network ({one_line(exc)[:160]})") from None
    for name, net in (("cnn.pt", cnn), ("flow.pt", flow)):
        state = load_torch(d / name, f"model {d}: {name}")
        try:
            net.load_state_dict(state)
        except (RuntimeError, TypeError, ValueError, AttributeError, KeyError) as exc:
            raise GalmassError(f"model {d}: {name} does not match its model.json "
                               f"({one_line(exc)[:160]}); rebuild the model") from None
    cnn.eval(); flow.eval()
    return cnn, flow


#: Keys every model.json has, and those it may have.
_MODEL_KEYS = {"format_version", "map_size", "radii_f", "n_features", "n_outputs", "preprocessor",
               "cnn_config", "flow_config"}
_OPTIONAL_KEYS = {"galmass_version", "info", "residual_scale"}


def _obj(value: Any, key: str) -> dict:
    if not isinstance(value, dict):
        raise GalmassError(f"{key} must be a JSON object, not {type(value).__name__}")
    return value


def _count(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise GalmassError(f"{key} must be a positive integer, got {value!r}")
    return value


def default_radii() -> np.ndarray:
    """The paper's radii f = 0.6 ... 2.4 (units of R_h)."""
    return RADII_F.copy()
