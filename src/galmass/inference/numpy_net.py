"""The trained CNN and MAF evaluated in plain numpy, so that prediction does not import torch.

Importing torch takes ~2 s, most of a one-catalogue ``galmass predict``; the forward pass of
the CNN and the inverse pass of the MAF are a few array operations. A model directory
stores its weights twice: ``cnn.pt`` / ``flow.pt`` (torch state dicts, for training and
evaluation) and ``weights.npz`` (the same arrays, for this module). The numpy networks
mirror :class:`galmass.inference.cnn.MassCNN` (eval mode: dropout off) and
:func:`galmass.inference.maf.maf_skeleton` (sbi's ``"maf"``) operation by operation;
``tests/test_numpy_net.py`` checks them against the torch modules to float32 round-off.
Samples are drawn from numpy's generator, so for the same seed they differ from torch's
draws, with the same distribution.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from galmass.errors import GalmassError

__all__ = ["NumpyCNN", "NumpyMAF", "WEIGHTS_FILE", "weights_arrays"]

#: The numpy copy of a model's weights in its directory.
WEIGHTS_FILE = "weights.npz"


def weights_arrays(cnn_state: Mapping[str, Any], flow_state: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The arrays of two torch state dicts, keyed ``cnn/<name>`` and ``flow/<name>`` (for ``weights.npz``)."""
    out = {}
    for prefix, state in (("cnn", cnn_state), ("flow", flow_state)):
        for k, v in state.items():
            out[f"{prefix}/{k}"] = v.detach().cpu().numpy()
    return out


def _take(weights: Mapping[str, np.ndarray], key: str, shape: tuple | None = None) -> np.ndarray:
    if key not in weights:
        raise GalmassError(f"{WEIGHTS_FILE} lacks {key}")
    a = np.asarray(weights[key])
    if shape is not None and a.shape != shape:
        raise GalmassError(f"{WEIGHTS_FILE}: {key} has shape {a.shape}, the model needs {shape}")
    return a.astype(np.float32) if a.dtype.kind == "f" else a


def _conv_same(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """2-D convolution (cross-correlation, as torch) with zero padding k // 2: (B, C, H, W) -> (B, O, H, W)."""
    k = w.shape[-1]
    p = k // 2
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))  # (B, C, H, W, k, k)
    bsz, c, h, wd = x.shape
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(bsz * h * wd, c * k * k)
    out = cols @ w.reshape(w.shape[0], -1).T + b
    return out.reshape(bsz, h, wd, -1).transpose(0, 3, 1, 2)


def _maxpool2(x: np.ndarray) -> np.ndarray:
    b, c, h, w = x.shape
    return x.reshape(b, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


class NumpyCNN:
    """:class:`galmass.inference.cnn.MassCNN` in eval mode, from ``weights.npz`` arrays.

    Parameters
    ----------
    weights : mapping of str to ndarray
        ``cnn/<state-dict name>`` arrays.
    map_size, channels, kernel_size, hidden, n_features, n_outputs, n_scalars : int
        The network's shape (``model.json``).
    """

    def __init__(self, weights: Mapping[str, np.ndarray], map_size: int, channels: tuple[int, int],
                 kernel_size: int, hidden: int, n_features: int, n_outputs: int, n_scalars: int = 3) -> None:
        c1, c2 = channels
        k = kernel_size
        self.branches = []
        for name in ("branch1", "branch2"):
            self.branches.append((
                _take(weights, f"cnn/{name}.0.weight", (c1, 1, k, k)), _take(weights, f"cnn/{name}.0.bias", (c1,)),
                _take(weights, f"cnn/{name}.3.weight", (c2, c1, k, k)), _take(weights, f"cnn/{name}.3.bias", (c2,))))
        n_flat = 2 * c2 * (map_size // 4) ** 2
        self.w1 = _take(weights, "cnn/features.0.weight", (hidden, n_flat + n_scalars))
        self.b1 = _take(weights, "cnn/features.0.bias", (hidden,))
        self.w2 = _take(weights, "cnn/features.3.weight", (n_features, hidden))
        self.b2 = _take(weights, "cnn/features.3.bias", (n_features,))
        self.wh = _take(weights, "cnn/head.weight", (n_outputs, n_features))
        self.bh = _take(weights, "cnn/head.bias", (n_outputs,))

    @staticmethod
    def _branch(x: np.ndarray, params: tuple) -> np.ndarray:
        w1, b1, w2, b2 = params
        h = _maxpool2(np.maximum(_conv_same(x, w1, b1), 0))
        h = _maxpool2(np.maximum(_conv_same(h, w2, b2), 0))
        return h.reshape(len(h), -1)

    def forward(self, map1: np.ndarray, map2: np.ndarray, scalars: np.ndarray,
                batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """Standardised outputs (B, n_outputs) and penultimate features (B, n_features) of
        preprocessed maps (B, S, S) and scalars (B, n_scalars) (float32)."""
        outs, feats = [], []
        for i in range(0, len(scalars), batch):
            m1 = np.asarray(map1[i:i + batch], np.float32)[:, None]
            m2 = np.asarray(map2[i:i + batch], np.float32)[:, None]
            h = np.concatenate([self._branch(m1, self.branches[0]), self._branch(m2, self.branches[1]),
                                np.asarray(scalars[i:i + batch], np.float32)], axis=1)
            f = np.maximum(np.maximum(h @ self.w1.T + self.b1, 0) @ self.w2.T + self.b2, 0)
            feats.append(f)
            outs.append(f @ self.wh.T + self.bh)
        n_out, n_feat = len(self.bh), len(self.b2)
        return (np.concatenate(outs) if outs else np.zeros((0, n_out), np.float32),
                np.concatenate(feats) if feats else np.zeros((0, n_feat), np.float32))


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(np.float32(0), x)


class NumpyMAF:
    """sbi's ``"maf"`` posterior network (:func:`galmass.inference.maf.maf_skeleton`) sampled in numpy.

    Parameters
    ----------
    weights : mapping of str to ndarray
        ``flow/<state-dict name>`` arrays.
    n_theta, n_x, hidden_features, num_transforms : int
        Its shape (``model.json``): outputs, condition size, MADE width, MADE transforms.
    """

    def __init__(self, weights: Mapping[str, np.ndarray], n_theta: int, n_x: int, hidden_features: int,
                 num_transforms: int) -> None:
        self.n_theta = int(n_theta)
        n, h = self.n_theta, int(hidden_features)
        pre = "flow/net._transform._transforms"
        self.shift = _take(weights, f"{pre}.0._shift", (n,))
        self.scale = _take(weights, f"{pre}.0._scale", (n,))
        self.mean = _take(weights, "flow/net._embedding_net.0._mean", (n_x,))
        self.std = _take(weights, "flow/net._embedding_net.0._std", (n_x,))
        self.layers = []  # (MADE params, inverse permutation) in forward order
        for t in range(int(num_transforms)):
            made = f"{pre}.{1 + 2 * t}.autoregressive_net"

            def masked(name: str, shape: tuple) -> tuple[np.ndarray, np.ndarray]:
                w = _take(weights, f"{made}.{name}.weight", shape)
                m = _take(weights, f"{made}.{name}.mask", shape)
                return (w * m).T.copy(), _take(weights, f"{made}.{name}.bias", (shape[0],))

            params = {"initial": masked("initial_layer", (h, n)),
                      "context": (_take(weights, f"{made}.context_layer.weight", (h, n_x)).T.copy(),
                                  _take(weights, f"{made}.context_layer.bias", (h,))),
                      "blocks": [masked(f"blocks.{j}.linear", (h, h)) for j in range(2)],
                      "final": masked("final_layer", (2 * n, h))}
            perm = _take(weights, f"{pre}.{2 + 2 * t}._permutation", (n,)).astype(np.int64)
            if sorted(perm.tolist()) != list(range(n)):
                raise GalmassError(f"{WEIGHTS_FILE}: transform {t}'s permutation is not a permutation")
            self.layers.append((params, np.argsort(perm)))

    def _made(self, p: dict, x: np.ndarray, ctx_term: np.ndarray) -> np.ndarray:
        w, b = p["initial"]
        t = np.tanh(x @ w + b + ctx_term)
        for w, b in p["blocks"]:
            t = np.tanh(t @ w + b)
        w, b = p["final"]
        return t @ w + b

    def sample(self, n_samples: int, condition: np.ndarray, rng: np.random.Generator,
               batch: int = 64) -> np.ndarray:
        """Samples (n_samples, B, n_theta) given conditions (B, n_x), float32."""
        cond = (np.asarray(condition, np.float32) - self.mean) / self.std
        out = np.empty((n_samples, len(cond), self.n_theta), np.float32)
        for i in range(0, len(cond), batch):
            c = cond[i:i + batch]
            nb = len(c)
            z = rng.standard_normal((nb * n_samples, self.n_theta), dtype=np.float32)
            ctx = np.repeat(c, n_samples, axis=0)  # condition-major, as nflows expands it
            out[:, i:i + nb] = self.inverse(z, ctx).reshape(nb, n_samples, self.n_theta).transpose(1, 0, 2)
        return out

    def inverse(self, z: np.ndarray, context: np.ndarray) -> np.ndarray:
        """The flow's inverse pass: base-space points z (n, n_theta) -> theta, given
        standardised conditions (n, n_x) (one per point)."""
        z = np.asarray(z, np.float32)
        for params, inv_perm in reversed(self.layers):
            z = z[:, inv_perm]  # the permutation's inverse
            w, b = params["context"]
            ctx_term = np.tanh(context @ w + b)
            x = np.zeros_like(z)
            for _ in range(self.n_theta):  # one pass per dimension, as nflows
                p = self._made(params, x, ctx_term).reshape(-1, self.n_theta, 2)
                x = (z - p[..., 1]) / (_softplus(p[..., 0]) + np.float32(1e-3))
            z = x
        return (z - self.shift) / self.scale
