"""The token sequence the backbone blocks run on: its index ranges and per-layout block inputs."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch


@dataclass(frozen=True)
class Segments:
    """Index ranges of the token sequence ``[text ; image ; ST]`` (empty slices when absent).

    Args:
        text: the text tokens (for CLIP/SigLIP: one pooled text-tower token).
        image: all image tokens (including a CLS token where the family has one).
        patches: the image tokens that are patches, in raster order over ``Backbone.patch_grid``.
        st: the spatial-temporal tokens appended by the fusion module.
    """

    text: slice = field(default_factory=lambda: slice(0, 0))
    image: slice = field(default_factory=lambda: slice(0, 0))
    patches: slice = field(default_factory=lambda: slice(0, 0))
    st: slice = field(default_factory=lambda: slice(0, 0))

    @property
    def length(self) -> int:
        """Total number of tokens."""
        return max(s.stop for s in (self.text, self.image, self.patches, self.st))

    def with_st(self, count: int) -> Segments:
        """The same layout with ``count`` ST tokens appended at the end."""
        start = max(s.stop for s in (self.text, self.image, self.patches))
        return replace(self, st=slice(start, start + count))


@dataclass
class BlockContext:
    """What every block call needs besides the hidden states, for one sequence layout.

    Args:
        attention_mask: ``[B, 1, 1 or L, L]``; bool (True = attend) for SDPA families, additive
            float for families with their own attention (ViLT).
        extras: family-specific keyword arguments of the block call (rotary ``position_embeddings``).
    """

    attention_mask: torch.Tensor
    extras: dict[str, Any] = field(default_factory=dict)
