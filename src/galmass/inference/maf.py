"""The trained MAF sampled in plain torch, so that prediction imports neither sbi nor nflows.

``sbi`` takes ~4 s to import, and ``nflows`` (its backend) imports ``matplotlib.pyplot`` at
module level (~0.3 s), both more than everything else ``galmass predict`` does. A stored
flow is a state dict; to sample it only the inverse pass is needed. :func:`maf_skeleton`
builds the module tree of ``sbi.neural_nets.posterior_nn(model="maf", ...)`` (sbi 0.2x
``build_maf`` on nflows: a z-scoring affine transform, then ``num_transforms`` x [masked
affine autoregressive transform (MADE, 2 blocks, tanh, softplus scale + 1e-3), permutation];
standard-normal base; the condition z-scored by a ``Standardize`` layer) with nflows'
parameter and buffer names, and samples it with nflows' operations in nflows' order (same
random draws: the same samples for the same seed). ``tests/test_maf_skeleton.py`` checks it
against sbi bit for bit. Training and the other estimators (``maf_rqs``, ``nsf``) use sbi.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["maf_skeleton", "NFlowsSampler"]


class _Standardize(nn.Module):
    """sbi's ``Standardize`` layer: ``(x - mean) / std`` with buffers ``_mean``, ``_std``."""

    def __init__(self, n: int):
        super().__init__()
        self.register_buffer("_mean", torch.zeros(n))
        self.register_buffer("_std", torch.ones(n))

    def forward(self, tensor: torch.Tensor) -> torch.Tensor:
        return (tensor - self._mean) / self._std


class _MaskedLinear(nn.Linear):
    """nflows ``MaskedLinear``: ``linear(x, weight * mask, bias)`` (mask and degrees are loaded)."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__(n_in, n_out)
        self.register_buffer("mask", torch.zeros(n_out, n_in))
        self.register_buffer("degrees", torch.zeros(n_out, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class _Block(nn.Module):
    """nflows ``MaskedFeedforwardBlock`` without batch norm or dropout: ``tanh(linear(x))``."""

    def __init__(self, n: int):
        super().__init__()
        self.linear = _MaskedLinear(n, n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.linear(x))


class _MADE(nn.Module):
    """nflows ``transforms.made.MADE`` (feed-forward blocks, tanh): parameters (batch, 2 n_theta)."""

    def __init__(self, n_theta: int, hidden: int, n_context: int, n_blocks: int = 2):
        super().__init__()
        self.initial_layer = _MaskedLinear(n_theta, hidden)
        self.context_layer = nn.Linear(n_context, hidden)
        self.blocks = nn.ModuleList(_Block(hidden) for _ in range(n_blocks))
        self.final_layer = _MaskedLinear(hidden, 2 * n_theta)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        temps = self.initial_layer(x)
        temps += torch.tanh(self.context_layer(context))
        temps = torch.tanh(temps)
        for block in self.blocks:
            temps = block(temps)
        return self.final_layer(temps)


class _AffineAutoregressive(nn.Module):
    """nflows ``MaskedAffineAutoregressiveTransform``: x = (z - shift) / (softplus(s) + 1e-3)."""

    def __init__(self, n_theta: int, hidden: int, n_context: int):
        super().__init__()
        self.n_theta = n_theta
        self.autoregressive_net = _MADE(n_theta, hidden, n_context)

    def inverse(self, z: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        out = torch.zeros_like(z)
        for _ in range(self.n_theta):  # one pass per dimension, as nflows
            params = self.autoregressive_net(out, context).view(-1, self.n_theta, 2)
            scale = F.softplus(params[..., 0]) + 1e-3
            out = (z - params[..., 1]) / scale
        return out


class _PointwiseAffine(nn.Module):
    """nflows ``PointwiseAffineTransform`` (sbi's z-scoring of theta): x = (z - shift) / scale."""

    def __init__(self, n: int):
        super().__init__()
        self.register_buffer("_shift", torch.zeros(n))
        self.register_buffer("_scale", torch.ones(n))

    def inverse(self, z: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        return (z - self._shift) / self._scale


class _Permutation(nn.Module):
    """nflows ``RandomPermutation`` (its permutation is loaded); the inverse reorders columns."""

    def __init__(self, n: int):
        super().__init__()
        self.register_buffer("_permutation", torch.arange(n))

    def inverse(self, z: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        return torch.index_select(z, 1, torch.argsort(self._permutation))


class _Composite(nn.Module):
    def __init__(self, transforms: list[nn.Module]):
        super().__init__()
        self._transforms = nn.ModuleList(transforms)

    def inverse(self, z: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        for t in reversed(self._transforms):
            z = t.inverse(z, context)
        return z


class _Flow(nn.Module):
    """nflows ``Flow`` with a standard-normal base, sampled as ``Flow._sample``."""

    def __init__(self, transform: _Composite, embedding: nn.Module, n_theta: int):
        super().__init__()
        self._transform = transform
        self._embedding_net = embedding
        self.n_theta = n_theta

    def sample(self, num_samples: int, context: torch.Tensor) -> torch.Tensor:
        """Samples (batch, num_samples, n_theta) for conditions (batch, n_x)."""
        ctx = self._embedding_net(context)
        batch = ctx.shape[0]
        noise = torch.randn(batch * num_samples, self.n_theta, device=ctx.device)
        ctx = ctx.unsqueeze(1).expand(batch, num_samples, ctx.shape[1]).reshape(batch * num_samples, -1)
        return self._transform.inverse(noise, ctx).reshape(batch, num_samples, self.n_theta)


class NFlowsSampler(nn.Module):
    """A flow under the attribute ``net`` (as sbi's ``NFlowsFlow``), sampled as sbi samples it."""

    def __init__(self, net: nn.Module, n_theta: int):
        super().__init__()
        self.net = net
        self.n_theta = int(n_theta)

    def sample(self, sample_shape, condition: torch.Tensor) -> torch.Tensor:
        """Samples (*sample_shape, batch, n_theta) given conditions (batch, n_x)."""
        batch = condition.shape[0]
        num_samples = torch.Size(sample_shape).numel()
        samples = self.net.sample(num_samples, context=condition).transpose(0, 1)
        return samples.reshape((*sample_shape, batch, self.n_theta))


def maf_skeleton(n_theta: int, n_x: int, hidden_features: int, num_transforms: int) -> NFlowsSampler:
    """The untrained module tree of sbi's ``"maf"`` posterior network (load a state dict into it)."""
    n_theta, n_x, hidden = int(n_theta), int(n_x), int(hidden_features)
    layers: list[nn.Module] = [_PointwiseAffine(n_theta)]
    for _ in range(int(num_transforms)):
        layers += [_AffineAutoregressive(n_theta, hidden, n_x), _Permutation(n_theta)]
    embedding = nn.Sequential(_Standardize(n_x), nn.Identity())
    return NFlowsSampler(_Flow(_Composite(layers), embedding, n_theta), n_theta)
