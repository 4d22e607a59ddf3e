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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from galmass import __version__
from galmass.constants import RADII_F
from galmass.errors import GalmassError, one_line
from galmass.files import atomic_write_json, load_torch, save_torch
from galmass.inference.cnn import CNNConfig, MassCNN, Preprocessor, predict_cnn
from galmass.inference.flow import FlowConfig, build_flow, sample_posterior, summarize_samples
from galmass.inference.maf import maf_skeleton
from galmass.inference.ood import InputDomain

__all__ = ["MassModel", "FORMAT_VERSION", "flow_shift", "flow_condition", "ResidualScale"]

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


def flow_condition(features: np.ndarray, n_stars: Any, flow_config) -> np.ndarray:
    """What the flow is conditioned on, float32 (N, n_features [+ 1]).

    The CNN's penultimate features; with ``flow_config.condition_on_n_stars`` also log10 of
    each projection's number of stars ``n_stars`` (N,) (the stars the inputs were made from:
    a dataset's ``n_stars``, a catalogue's stars after its membership cut). Training and
    sampling both use this.
    """
    f = np.asarray(features, dtype=np.float32)
    if not flow_config.condition_on_n_stars:
        return f
    if n_stars is None:
        raise GalmassError("this model's flow is conditioned on the number of stars: give n_stars")
    n = np.asarray(n_stars, dtype=float).reshape(-1)
    if n.shape != (len(f),) or not np.all(np.isfinite(n) & (n >= 1)):
        raise GalmassError(f"n_stars must be {len(f)} star counts >= 1 (one per projection)")
    return np.column_stack([f, np.log10(n)]).astype(np.float32)


@dataclass
class ResidualScale:
    """A width that follows the star count: ``s(N) = sqrt(a + b / N)`` [dex], per radius.

    The flow of a model with ``flow_config.scale_with_n_stars`` models
    ``(log10 M - flow_shift) / s(N)``: the error of a mass from N stars has a floor ``sqrt(a)``
    (what the maps cannot tell) plus a sampling part ``sqrt(b / N)`` (a dispersion from N
    stars is uncertain by ~1/sqrt(2N)). ``a``, ``b`` (10,) >= 0 [dex^2].
    """

    a: np.ndarray
    b: np.ndarray

    #: Smallest width [dex]; keeps the division finite.
    FLOOR = 1e-3

    def __call__(self, n_stars: Any) -> np.ndarray:
        """s(N) [dex], shape (len(n_stars), 10)."""
        n = np.asarray(n_stars, dtype=float).reshape(-1, 1)
        return np.maximum(np.sqrt(self.a[None] + self.b[None] / n), self.FLOOR)

    @classmethod
    def fit(cls, residuals: np.ndarray, n_stars: np.ndarray, n_bins: int = 12,
            min_per_bin: int = 50) -> "ResidualScale":
        """Fit a, b to residuals (N, 10) [dex] of projections with ``n_stars`` (N,) stars.

        The projections are split into equal-count bins of N; in each the variance is the
        squared half 16-84% width (robust to outliers); ``a + b / N_median`` is fitted to them
        by least squares with a, b >= 0.
        """
        r = np.asarray(residuals, dtype=float)
        n = np.asarray(n_stars, dtype=float).reshape(-1)
        if r.ndim != 2 or len(r) != len(n) or not np.all(np.isfinite(r)) or not np.all(n >= 1):
            raise GalmassError("ResidualScale.fit needs finite residuals (N, k) and N star counts >= 1")
        k = int(np.clip(len(n) // min_per_bin, 1, n_bins))
        order = np.argsort(n, kind="stable")
        x, v = [], []
        for idx in np.array_split(order, k):
            lo, hi = np.percentile(r[idx], [16, 84], axis=0)
            x.append(1.0 / np.median(n[idx]))
            v.append((0.5 * (hi - lo)) ** 2)
        x, v = np.asarray(x), np.asarray(v)  # (k,), (k, 10)
        a, b = np.empty(r.shape[1]), np.empty(r.shape[1])
        for j in range(r.shape[1]):
            a[j], b[j] = _nonnegative_line(x, v[:, j])
        return cls(a, b)

    def to_dict(self) -> dict[str, list[float]]:
        return {"a": list(map(float, self.a)), "b": list(map(float, self.b))}

    @classmethod
    def from_dict(cls, d: Any, n_out: int) -> "ResidualScale":
        if not isinstance(d, dict) or set(d) != {"a", "b"}:
            raise GalmassError("residual_scale must be an object with keys a and b")
        a, b = (np.asarray(d[k], dtype=float) for k in ("a", "b"))
        if a.shape != (n_out,) or b.shape != (n_out,) or not np.all(np.isfinite(a) & (a >= 0) & np.isfinite(b) & (b >= 0)):
            raise GalmassError(f"residual_scale a and b must be {n_out} finite numbers >= 0")
        return cls(a, b)


def _nonnegative_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares ``y = a + b x`` with a, b >= 0 (the two-parameter NNLS, by cases)."""
    if np.ptp(x) > 0:
        b, a = np.polyfit(x, y, 1)
        if a >= 0 and b >= 0:
            return float(a), float(b)
    cands = [(max(float(np.mean(y)), 0.0), 0.0)]
    if np.any(x > 0):
        cands.append((0.0, max(float(x @ y / (x @ x)), 0.0)))
    return min(cands, key=lambda ab: float(np.sum((ab[0] + ab[1] * x - y) ** 2)))


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
    domain: Any = None  # galmass.inference.ood.InputDomain of the training scalars (Appendix C)
    scale: ResidualScale | None = None  # with flow_config.scale_with_n_stars

    def features(self, map1, map2, scalars) -> tuple[np.ndarray, np.ndarray]:
        """CNN point predictions of log10 M and the 32 penultimate features."""
        self._check_maps(map1, map2)
        return predict_cnn(self.cnn, self.preprocessor, map1, map2, scalars)

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
        s = sample_posterior(self.flow, x, n_samples or self.flow_config.n_samples, seed=seed)
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
        for name, obj in (("cnn.pt", self.cnn.state_dict()), ("flow.pt", self.flow.state_dict())):
            save_torch(obj, d / name)
        if self.domain is not None:
            atomic_write_json(d / "domain.json", self.domain.to_dict(), indent=None)
        atomic_write_json(d / "model.json", meta)  # last: a directory with model.json is complete
        return d

    @classmethod
    def load(cls, directory: str | Path, map_size: int | None = None) -> "MassModel":
        """Load a model directory written by :meth:`save`.

        Any malformed file (missing or unknown ``model.json`` keys, not JSON or not UTF-8,
        truncated or foreign ``.pt`` weights, a broken ``domain.json``, an unreadable file)
        raises one :class:`GalmassError` line naming the file and the problem. Weights are
        loaded with ``weights_only=True``: a pickle with code in it is refused, never run.
        """
        d = Path(directory)
        mfile = d / "model.json"
        if not mfile.is_file():
            raise GalmassError(f"{d} is not a galmass model directory (no model.json)")
        meta = _read_json(mfile, f"model {d}")
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
            scale = None
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
        try:
            cnn = MassCNN(msize, cnn_cfg, n_outputs=n_out)
            n_x = n_feat + int(flow_cfg.condition_on_n_stars)  # what the flow is conditioned on (flow_condition)
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
        domain = None
        dfile = d / "domain.json"
        if dfile.exists():
            try:
                domain = InputDomain.from_dict(_read_json(dfile, f"model {d}"))
            except GalmassError as exc:
                raise GalmassError(f"{dfile} is corrupt: {exc}; rebuild the model") from None
        return cls(cnn, pre, flow, msize, cnn_cfg, flow_cfg, radii, info, domain, scale)


#: Keys every model.json has, and those it may have.
_MODEL_KEYS = {"format_version", "map_size", "radii_f", "n_features", "n_outputs", "preprocessor",
               "cnn_config", "flow_config"}
_OPTIONAL_KEYS = {"galmass_version", "info", "residual_scale"}


def _read_json(path: Path, what: str) -> Any:
    """JSON of a file; unreadable, non-UTF-8 or invalid JSON raises one line naming it."""
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise GalmassError(f"{what}: cannot read {path}: {one_line(exc)}") from None
    except UnicodeDecodeError:
        raise GalmassError(f"{path} is corrupt: not UTF-8 text; rebuild the model") from None
    except json.JSONDecodeError as exc:
        raise GalmassError(f"{path} is corrupt: not valid JSON ({exc}); rebuild the model") from None


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
