"""What every spatial-to-image encoder shares: its spec, base class, registry and pixel helpers.

Pipeline of one encoder (all batched torch on the input's device, float all the way):

1. :meth:`ImageEncoder.render` turns a window ``x [B, T, N, C]`` into a raw 3-channel image
   ``[B, 3, S, S]`` (the encoder's own native image, fitted to ``S x S`` by :func:`fit_to_square`);
2. fixed encoders min-max each channel of each image to ``[0, 1]`` (:func:`minmax_per_channel`);
   learned encoders end in a sigmoid instead;
3. :meth:`ImageEncoder.forward` applies the backbone's ``(p - mean) / std``.

Cost in the number of nodes N: every encoder but ``correlation`` is linear in N (per-node
statistics scattered to a grid, an ``N x T`` matrix or per-node spectra, then pooled to
``S x S``); ``correlation`` builds ``N x N`` images (O(B T N^2) time, O(B N^2) memory), so it
sets :attr:`ImageEncoder.quadratic` and is refused above ``ImageConfig.max_nodes`` nodes
(:meth:`ImageEncoder.check_spec`, before any work).

Resizing rule (so that a node's cell maps to a known pixel block): axes longer than ``S`` are
average-pooled to ``S`` (``adaptive_avg_pool2d``), then every axis is upsampled with
``nearest-exact``, so cell ``i`` of an axis of length ``n <= S`` covers the pixels
``p`` with ``floor((p + 0.5) * n / S) == i``; blocks are equal when ``n`` divides ``S``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import torch
import torch.nn.functional as F
from torch import nn

from stvlm.errors import ConfigError
from stvlm.modalities.layout import SpatialLayout
from stvlm.registry import Registry
from stvlm.configs import ImageConfig

IMAGE_ENCODERS: Registry[type[ImageEncoder]] = Registry("image encoding")

_EPS = 1e-6  # floor of a channel's value range in the min-max step, and of std's

# What an encoder may require of the layout: requirement -> (wording in messages, test).
REQUIREMENTS: dict[str, tuple[str, Callable[[SpatialLayout], bool]]] = {
    "coordinates": ("node coordinates", lambda layout: layout.has_coordinates),
    "adjacency": ("an adjacency matrix", lambda layout: layout.has_adjacency),
}


@dataclass(frozen=True, kw_only=True, eq=False)
class ImageSpec:
    """Everything an encoder is built from (validated by ``build_image_encoder``).

    Args:
        cfg: the image config.
        layout: the dataset's spatial layout (CPU tensors are fine; buffers follow ``.to``).
        input_len: T_in.
        in_channels: C of ``x``; channel 0 is the value.
        image_size: S, the output side.
        image_mean: per-channel mean of the backbone's image normalisation.
        image_std: per-channel std of the backbone's image normalisation.
        dataset: the dataset's name, for messages.
    """

    cfg: ImageConfig
    layout: SpatialLayout
    input_len: int
    in_channels: int
    image_size: int
    image_mean: tuple[float, float, float]
    image_std: tuple[float, float, float]
    dataset: str = ""


def fit_to_square(img: torch.Tensor, size: int) -> torch.Tensor:
    """Fit a native image to ``size x size``: average-pool long axes, then nearest-exact.

    Args:
        img: ``[B, K, H, W]``.
        size: S.

    Returns:
        ``[B, K, S, S]``.
    """
    h, w = img.shape[-2:]
    if h > size or w > size:
        img = F.adaptive_avg_pool2d(img, (min(h, size), min(w, size)))  # [B, K, <=S, <=S]
    if tuple(img.shape[-2:]) != (size, size):
        img = F.interpolate(img, size=(size, size), mode="nearest-exact")  # [B, K, S, S]
    return img


def minmax_per_channel(img: torch.Tensor) -> torch.Tensor:
    """Scale each channel of each image to [0, 1]; a constant channel becomes 0.

    Args:
        img: ``[B, K, H, W]``.

    Returns:
        ``[B, K, H, W]`` in [0, 1].
    """
    flat = img.flatten(2)  # [B, K, H*W]
    lo = flat.amin(dim=-1)[..., None, None]  # [B, K, 1, 1]
    hi = flat.amax(dim=-1)[..., None, None]  # [B, K, 1, 1]
    return (img - lo) / (hi - lo).clamp_min(_EPS)


def zscore_time(values: torch.Tensor, dim: int) -> torch.Tensor:
    """Standardise along ``dim`` (population std, ``+1e-6``); the shape is unchanged."""
    mean = values.mean(dim=dim, keepdim=True)
    std = values.std(dim=dim, keepdim=True, unbiased=False)
    return (values - mean) / (std + _EPS)


def time_diff(values: torch.Tensor, dim: int) -> torch.Tensor:
    """First difference along ``dim`` with a zero at the first step (same shape)."""
    d = torch.diff(values, dim=dim)
    pad = torch.zeros_like(values.narrow(dim, 0, 1))
    return torch.cat([pad, d], dim=dim)


def rank_positions(order: torch.Tensor) -> torch.Tensor:
    """Centre ``(rank + 0.5) / N`` of each node's slot when nodes are laid out in ``order``.

    Args:
        order: ``[N]`` node indices in layout order.

    Returns:
        ``[N]`` float32, indexed by node.
    """
    n = order.numel()
    rank = torch.empty_like(order)
    rank[order] = torch.arange(n, device=order.device)
    return (rank.to(torch.float32) + 0.5) / n


class ImageEncoder(nn.Module):
    """Base of the spatial-to-image encoders: ``x [B, T, N, C] -> pixel_values [B, 3, S, S]``.

    Subclasses implement :meth:`render` and :meth:`node_positions`, set :attr:`description`,
    and may declare :attr:`requires` (a key of :data:`REQUIREMENTS`).

    Attributes:
        description: one sentence for the text prompt: what the image shows.
        requires: what the layout must have, or ``None``.
        min_input_len: the shortest window the encoder accepts.
        learned: whether the encoder has parameters (its pixels are not min-maxed).
        quadratic: whether its time or memory grows with N^2 (then at most
            ``ImageConfig.max_nodes`` nodes are allowed).
    """

    requires: str | None = None
    min_input_len: int = 1
    learned: bool = False
    quadratic: bool = False

    def __init__(self, spec: ImageSpec) -> None:
        self.check_spec(spec)
        super().__init__()
        self.size = spec.image_size
        self.input_len = spec.input_len
        self.num_nodes = spec.layout.num_nodes
        self.in_channels = spec.in_channels
        self.description = ""
        mean = torch.tensor(spec.image_mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(spec.image_std, dtype=torch.float32).view(1, 3, 1, 1)
        self.register_buffer("image_mean", mean, persistent=False)
        self.register_buffer("image_std", std, persistent=False)

    @classmethod
    def supports(cls, layout: SpatialLayout) -> bool:
        """Whether the layout has what :attr:`requires` names."""
        return cls.requires is None or REQUIREMENTS[cls.requires][1](layout)

    @classmethod
    def check_spec(cls, spec: ImageSpec) -> None:
        """Raise a one-line ``ConfigError`` when the spec lacks what the encoder needs."""
        names = IMAGE_ENCODERS.names()
        name = next((n for n in names if IMAGE_ENCODERS.get(n) is cls), cls.__name__)
        if spec.input_len < cls.min_input_len:
            raise ConfigError(
                f"image.encoding = {name!r} needs input_len >= {cls.min_input_len}; "
                f"got input_len = {spec.input_len}"
            )
        if cls.quadratic and spec.layout.num_nodes > spec.cfg.max_nodes:
            linear = [n for n in names if not IMAGE_ENCODERS.get(n).quadratic
                      and IMAGE_ENCODERS.get(n).supports(spec.layout)]
            raise ConfigError(
                f"image.encoding = {name!r} builds N x N images (cost grows with N^2) and takes "
                f"at most image.max_nodes = {spec.cfg.max_nodes} nodes; dataset "
                f"{spec.dataset or spec.layout.name or '(unnamed)'!r} has N = "
                f"{spec.layout.num_nodes}; use an encoding linear in N: {', '.join(linear)}"
            )
        if cls.supports(spec.layout):
            return
        allowed = [n for n in names if IMAGE_ENCODERS.get(n).supports(spec.layout)]
        dataset = spec.dataset or spec.layout.name or "(unnamed)"
        raise ConfigError(
            f"image.encoding = {name!r} needs {REQUIREMENTS[cls.requires][0]}, which dataset "
            f"{dataset!r} does not have; allowed for it: {', '.join(allowed)}"
        )

    @property
    def output_size(self) -> int:
        """S: the side of the output image."""
        return self.size

    def render(self, x: torch.Tensor) -> torch.Tensor:
        """Raw image of a window (before min-max and normalisation).

        Args:
            x: ``[B, T, N, C]`` window (any T >= 1 unless the encoder says otherwise).

        Returns:
            ``[B, 3, S, S]`` float.
        """
        raise NotImplementedError

    def node_positions(self) -> torch.Tensor | None:
        """``[N, 2]`` (x, y) in [0, 1]^2 of each node's pixel region, or ``None``."""
        raise NotImplementedError

    def pixels(self, x: torch.Tensor) -> torch.Tensor:
        """Un-normalised pixels in [0, 1]: ``x [B, T, N, C] -> [B, 3, S, S]``."""
        self._check_input(x)
        img = self.render(x.float())  # [B, 3, S, S]
        return img if self.learned else minmax_per_channel(img)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pixel values for the backbone: ``x [B, T, N, C] -> [B, 3, S, S]``, normalised."""
        return (self.pixels(x) - self.image_mean) / self.image_std

    def _check_input(self, x: torch.Tensor) -> None:
        expected = (self.input_len, self.num_nodes, self.in_channels)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ConfigError(
                f"image encoder input x has shape {tuple(x.shape)}; expected [B, T_in="
                f"{expected[0]}, N={expected[1]}, C={expected[2]}]"
            )
