"""Spatial-to-image encoders (the vision modality), one per file, registered by name.

Import order fixes the order of ``IMAGE_ENCODERS.names()``: grid_heatmap (V1), spectral_grid
(V1'), node_time (V2), correlation (V3), fft (V4), learnable (V5), flow (V6).
"""

from stvlm.modalities.image import (  # noqa: F401  (imported to register the encoders)
    grid_heatmap,
    spectral_grid,
    node_time,
    correlation,
    fft,
    learnable,
    flow,
)
from stvlm.modalities.image.base import IMAGE_ENCODERS, ImageEncoder, ImageSpec
from stvlm.modalities.image.build import build_image_encoder

__all__ = ["IMAGE_ENCODERS", "ImageEncoder", "ImageSpec", "build_image_encoder"]
