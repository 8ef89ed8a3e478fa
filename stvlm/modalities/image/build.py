"""``build_image_encoder``: validate the arguments and build the configured encoder."""

from __future__ import annotations

import math
from stvlm.errors import ConfigError
from stvlm.modalities.image.base import IMAGE_ENCODERS, ImageEncoder, ImageSpec
from stvlm.modalities.layout import SpatialLayout
from stvlm.names import AUTO_ENCODING, check_name
from stvlm.configs import ImageConfig


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} = {value!r} is not allowed; expected a positive integer")
    return value


def _triple(name: str, value: object, *, positive: bool) -> tuple[float, float, float]:
    ok = isinstance(value, (tuple, list)) and len(value) == 3
    ok = ok and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ok = ok and all(math.isfinite(v) and (v > 0 or not positive) for v in value)
    if not ok:
        kind = "positive finite numbers" if positive else "finite numbers"
        raise ConfigError(f"{name} = {value!r} is not allowed; expected 3 {kind} (R, G, B)")
    return (float(value[0]), float(value[1]), float(value[2]))


def resolve_encoding(name: str, layout: SpatialLayout) -> str:
    """``"auto"`` -> ``grid_heatmap`` with coordinates (or a native grid), else ``spectral_grid``
    with an adjacency, else ``node_time``; any other name is returned unchanged."""
    if name != AUTO_ENCODING:
        return name
    if layout.coords is not None:
        return "grid_heatmap"
    return "spectral_grid" if layout.adjacency is not None else "node_time"


def build_image_encoder(
    cfg: ImageConfig,
    layout: SpatialLayout,
    *,
    input_len: int,
    in_channels: int,
    image_size: int,
    image_mean: tuple[float, float, float],
    image_std: tuple[float, float, float],
    dataset: str = "",
) -> ImageEncoder:
    """The spatial-to-image encoder named by ``cfg.encoding`` (``"auto"``: see :func:`resolve_encoding`).

    Args:
        cfg: image config (encoding, grid, blur, learnable width).
        layout: the dataset's layout.
        input_len: T_in of the windows.
        in_channels: C of the windows (channel 0 is the value).
        image_size: S, the backbone's image side.
        image_mean: the backbone's per-channel pixel mean.
        image_std: the backbone's per-channel pixel std.
        dataset: the dataset's name for messages (default: ``layout.name``).

    Returns:
        an ``nn.Module`` mapping ``x [B, T_in, N, C]`` to ``pixel_values [B, 3, S, S]``.

    Raises:
        UnknownNameError: unknown ``cfg.encoding``.
        ConfigError: a size that is not a positive integer, a bad mean/std, or an encoding the
            dataset's layout cannot support (the message lists those it can).
    """
    check_name("image.encoding", cfg.encoding)
    cls = IMAGE_ENCODERS.get(resolve_encoding(cfg.encoding, layout))
    spec = ImageSpec(
        cfg=cfg,
        layout=layout,
        input_len=_positive_int("input_len", input_len),
        in_channels=_positive_int("in_channels", in_channels),
        image_size=_positive_int("image_size", image_size),
        image_mean=_triple("image_mean", image_mean, positive=False),
        image_std=_triple("image_std", image_std, positive=True),
        dataset=dataset or layout.name,
    )
    return cls(spec)
