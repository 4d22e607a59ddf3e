"""The trained MAF rebuilt from nflows alone, so that prediction never imports sbi.

``sbi`` takes ~4 s to import (its package imports the whole inference machinery), more
than everything else ``galmass predict`` does. A stored flow is a state dict; to sample it,
only the network's skeleton is needed. :func:`maf_skeleton` builds, from ``nflows`` (sbi's
own backend for ``"maf"``), exactly the module tree of ``sbi.neural_nets.posterior_nn(
model="maf", ...)`` (sbi 0.2x ``build_maf``: a z-scoring affine transform, then
``num_transforms`` x [masked affine autoregressive transform (2 blocks, tanh), random
permutation]; standard-normal base; the condition z-scored by a ``Standardize`` layer), with
the same parameter and buffer names, and samples it as sbi's ``NFlowsFlow.sample`` does
(same random draws, so the same samples for the same seed). A test checks both against sbi
bit for bit. Other estimators (``maf_rqs``, ``nsf``) are still built by sbi.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["maf_skeleton", "NFlowsSampler"]


class _Standardize(nn.Module):
    """sbi's ``Standardize`` layer: ``(x - mean) / std`` with buffers ``_mean``, ``_std``."""

    def __init__(self, n: int):
        super().__init__()
        self.register_buffer("_mean", torch.zeros(n))
        self.register_buffer("_std", torch.ones(n))

    def forward(self, tensor: torch.Tensor) -> torch.Tensor:
        return (tensor - self._mean) / self._std


class NFlowsSampler(nn.Module):
    """A nflows ``Flow`` under the attribute ``net`` (as sbi's ``NFlowsFlow``), sampled as sbi samples it."""

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
    from nflows import distributions, flows, transforms

    layers = [transforms.PointwiseAffineTransform(shift=torch.zeros(n_theta), scale=torch.ones(n_theta))]
    for _ in range(int(num_transforms)):
        layers += [transforms.MaskedAffineAutoregressiveTransform(
                       features=n_theta, hidden_features=hidden_features, context_features=n_x, num_blocks=2,
                       use_residual_blocks=False, random_mask=False, activation=torch.tanh,
                       dropout_probability=0.0, use_batch_norm=False),
                   transforms.RandomPermutation(features=n_theta)]
    embedding = nn.Sequential(_Standardize(n_x), nn.Identity())
    net = flows.Flow(transforms.CompositeTransform(layers), distributions.StandardNormal((n_theta,)), embedding)
    return NFlowsSampler(net, n_theta)
