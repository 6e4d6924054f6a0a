"""The few torch modules `microgradcn.interop` needs that torch itself lacks (imported only with torch)."""

from __future__ import annotations

import torch

__all__ = ["SqueezeLast"]


class SqueezeLast(torch.nn.Module):
    """Drop the last dimension (of size 1): a one-output microgradcn MLP or Neuron returns a single Value."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.squeeze(-1)
