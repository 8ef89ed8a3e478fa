"""V1' ``spectral_grid``: the V1 heat map on pseudo coordinates when there are no real ones.

The pseudo coordinates are the first two non-trivial Laplacian eigenvectors of the adjacency,
min-max scaled to [0, 1]^2 (``SpatialLayout.pseudo_coords``), so graph neighbours become pixel
neighbours. The grid is always ``G x G`` (``ImageConfig.grid``); everything else (cells,
channels, blur, resizing) is the ``grid_heatmap`` machinery.
"""

from __future__ import annotations

from stvlm.modalities.image.base import IMAGE_ENCODERS, ImageSpec
from stvlm.modalities.image.grid_heatmap import CoordinateGridEncoder


@IMAGE_ENCODERS.register("spectral_grid")
class SpectralGrid(CoordinateGridEncoder):
    """V1': a heat map of the nodes at their spectral-layout positions."""

    requires = "adjacency"

    def __init__(self, spec: ImageSpec) -> None:
        self.check_spec(spec)
        g = spec.cfg.grid
        positions = spec.layout.pseudo_coords
        super().__init__(spec, positions, (g, g), "by their graph's spectral layout")
