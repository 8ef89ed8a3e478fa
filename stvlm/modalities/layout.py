"""Where the nodes of a dataset sit: coordinates, adjacency, a spectral layout and order.

A :class:`SpatialLayout` is built once per dataset (:meth:`SpatialLayout.from_data`) and read by
the image encoders (which pixel a node lands on) and the fusion (spatial attention bias);
:meth:`SpatialLayout.describe` says in one sentence what it holds (no prompt reads it: the
prompts name the image's content through the encoder's description).

Conventions (shared by every image encoder):

* positions are ``(x, y)`` in ``[0, 1]^2`` of the image, ``x`` to the right and ``y`` **down**
  (row 0 is the top of the image). Geographic coordinates are flipped so that north is up.
* the spectral quantities use the symmetrised adjacency ``W = max((A + A^T) / 2, 0)`` with a zero
  diagonal, and the eigenvectors ``u`` of the symmetric normalised Laplacian
  ``L = I - D^-1/2 W D^-1/2`` (``torch.linalg.eigh`` in float64), mapped back to the random-walk
  form ``v = D^-1/2 u`` (Laplacian eigenmaps). ``u`` itself is not monotone along a path graph
  (its entries carry ``sqrt(degree)``); ``v`` is.
* "non-trivial" eigenvectors are those with an eigenvalue above 1e-8: a graph with several
  connected components has one zero eigenvalue per component, whose eigenvectors only say which
  component a node is in, so all of them are skipped. Nodes without edges count as their own
  component of eigenvalue 1 (their row of ``L`` is the identity's) and are not skipped.
* sign convention: every eigenvector is flipped so that its first significant entry (in node
  index order) is negative, so node 0's end of a path comes first in :attr:`order`.

Cost in the number of nodes N: the adjacency is held dense (``[N, N]`` float32, as datasets
store it: O(N^2) memory, 296 MB at N = 8,600). Up to :data:`DENSE_EIGH_MAX_NODES` nodes the
spectral layout is a dense ``eigh`` (O(N^3) time, a few ``N x N`` float64 matrices: 1.3 s at
N = 2,048 on one core); above it, shift-inverted Lanczos on the sparse Laplacian
(:mod:`stvlm.modalities.sparse_spectral`, about O(E) per iteration for E edges), which gives
the same eigenvectors up to rounding (and up to the basis of a repeated eigenvalue).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from stvlm.data.series import SpatioTemporalData
from stvlm.errors import DataError
from stvlm.modalities.sparse_spectral import sparse_laplacian_eigenvectors

_REL_TOL = 1e-9  # entries below this fraction of the largest are "zero" (signs, ties)
_ZERO_EIGENVALUE = 1e-8  # Laplacian eigenvalues below this are trivial (component indicators)
#: Largest N whose spectral layout is a dense ``eigh`` (O(N^3)); larger graphs use the sparse
#: Lanczos path. Every built-in dataset (at most 883 nodes) stays on the dense path.
DENSE_EIGH_MAX_NODES = 2048


def _rank_unit(v: torch.Tensor) -> torch.Tensor:
    """Scale each column of ``v`` [N, k] to [0, 1] by rank: ``rank / (N - 1)``, ties averaged.

    Ranks keep the spectral order but spread the nodes evenly: with min-max scaling a few
    outlying nodes of a real road graph stretch the range and squeeze the rest into a handful of
    grid cells (14-35 of 256 on the shared graphs). Values equal to 1e-9 of the column's span
    count as ties (eigenvectors carry rounding noise); constant columns become 0.5.
    """
    n = v.shape[0]
    lo = v.amin(dim=0, keepdim=True)
    span = v.amax(dim=0, keepdim=True) - lo
    q = torch.round((v - lo) / torch.where(span > 0, span, torch.ones_like(span)) * 1e9)  # [N, k]
    out = torch.empty(v.shape, dtype=torch.float64)
    for j in range(v.shape[1]):
        values, inverse, counts = torch.unique(q[:, j], return_inverse=True, return_counts=True)
        first = torch.cumsum(counts, 0) - counts  # [U] first rank of each distinct value
        mean_rank = first.to(torch.float64) + (counts.to(torch.float64) - 1) / 2  # [U]
        out[:, j] = mean_rank[inverse] / max(n - 1, 1)
    return torch.where(span > 0, out, torch.full_like(out, 0.5)) if n > 1 else torch.full_like(out, 0.5)


def _fix_sign(v: torch.Tensor) -> torch.Tensor:
    """Flip each column of ``v`` [N, k] so that its first significant entry is negative."""
    big = v.abs() > _REL_TOL * v.abs().amax(dim=0, keepdim=True).clamp_min(1e-300)  # [N, k]
    first = big.to(torch.int64).argmax(dim=0)  # [k] first index with a significant entry
    sign = torch.sign(v.gather(0, first[None, :]))  # [1, k]
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    return -v * sign


def spectral_embedding(
    adjacency: torch.Tensor, k: int = 2, *, dense_max_nodes: int | None = None
) -> torch.Tensor:
    """The first ``k`` non-trivial random-walk Laplacian eigenvectors of a graph (see above).

    Args:
        adjacency: ``[N, N]`` weighted adjacency (any direction; it is symmetrised).
        k: number of eigenvectors after the trivial one.
        dense_max_nodes: largest N solved by a dense ``eigh``; default
            :data:`DENSE_EIGH_MAX_NODES`. Larger graphs take the sparse path.

    Returns:
        ``[N, k]`` float64 eigenvectors ``v = D^-1/2 u`` with the sign convention of the module
        docstring; columns beyond the last eigenvector are zero.
    """
    limit = DENSE_EIGH_MAX_NODES if dense_max_nodes is None else dense_max_nodes
    if adjacency.shape[0] > limit:
        return _fix_sign(sparse_laplacian_eigenvectors(adjacency, k))
    a = adjacency.to(torch.float64)
    w = ((a + a.T) / 2).clamp_min(0.0)  # [N, N] symmetric, non-negative
    w.fill_diagonal_(0.0)
    n = w.shape[0]
    deg = w.sum(dim=1)  # [N]
    inv_sqrt = torch.where(deg > 0, deg.clamp_min(1e-300).rsqrt(), torch.zeros_like(deg))
    lap = torch.eye(n, dtype=torch.float64) - inv_sqrt[:, None] * w * inv_sqrt[None, :]
    lam, vecs = torch.linalg.eigh(lap)  # [N], [N, N], eigenvalues ascending
    trivial = max(1, int((lam < _ZERO_EIGENVALUE).sum()))  # one per connected component
    take = vecs[:, trivial : trivial + k]  # [N, <=k]
    back = torch.where(deg > 0, inv_sqrt, torch.ones_like(deg))  # isolated nodes keep u
    v = take * back[:, None]  # [N, <=k]
    if v.shape[1] < k:
        v = torch.cat([v, v.new_zeros(n, k - v.shape[1])], dim=1)  # [N, k]
    return _fix_sign(v)


def fiedler_order(fiedler: torch.Tensor) -> torch.Tensor:
    """Nodes sorted by the Fiedler vector ``[N]``; ties (to 1e-9 relative) keep index order."""
    scale = fiedler.abs().max().clamp_min(1e-300)
    key = torch.round(fiedler / scale / _REL_TOL)  # integer-valued, so near-ties are exact ties
    return torch.sort(key, stable=True).indices.to(torch.int64)


def normalise_geo(coords: np.ndarray) -> np.ndarray:
    """(lon, lat) [N, 2] -> (x, y) [N, 2] in [0, 1]^2, north up (y = 0 is the northmost node).

    Each axis is min-max scaled on its own (the map fills the image); a constant axis gives 0.5.
    """
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    xy = np.where(hi > lo, (coords - lo) / span, 0.5)  # [N, 2]
    xy[:, 1] = np.where(hi[1] > lo[1], 1.0 - xy[:, 1], 0.5)
    return xy


def grid_coords(cols_rows: np.ndarray, grid_shape: tuple[int, int]) -> np.ndarray:
    """(col, row) [N, 2] -> cell centres ``((col + 0.5) / cols, (row + 0.5) / rows)`` [N, 2]."""
    rows, cols = grid_shape
    return (cols_rows + 0.5) / np.array([cols, rows], dtype=np.float64)


@dataclass(frozen=True, kw_only=True, eq=False)
class SpatialLayout:
    """The spatial layout of one dataset (CPU tensors; :meth:`to` moves them).

    Args:
        num_nodes: N.
        coords: ``[N, 2]`` float32 (x, y) in [0, 1]^2 (image convention, y down), or ``None``.
        grid_shape: ``(rows, cols)`` of a natively gridded dataset, else ``None``.
        adjacency: ``[N, N]`` float32 adjacency as given by the dataset, or ``None``.
        pseudo_coords: ``[N, 2]`` float32 spectral layout in [0, 1]^2 (``None`` without
            adjacency).
        order: ``[N]`` int64 nodes sorted by the Fiedler vector (identity without adjacency).
        name: the dataset's name, for messages and prompts.
    """

    num_nodes: int
    coords: torch.Tensor | None
    grid_shape: tuple[int, int] | None
    adjacency: torch.Tensor | None
    pseudo_coords: torch.Tensor | None
    order: torch.Tensor
    name: str = ""

    @classmethod
    def build(
        cls,
        *,
        num_nodes: int,
        coords: np.ndarray | torch.Tensor | None = None,
        grid_shape: tuple[int, int] | None = None,
        adjacency: np.ndarray | torch.Tensor | None = None,
        name: str = "",
    ) -> SpatialLayout:
        """A layout from already normalised coordinates (in [0, 1]^2) and an adjacency.

        Computes the pseudo coordinates and the Fiedler order from ``adjacency``.
        """
        where = f"dataset {name!r}" if name else "layout"
        if num_nodes < 1:
            raise DataError(f"{where}: num_nodes = {num_nodes} is not allowed; expected >= 1")
        xy = None if coords is None else torch.as_tensor(coords, dtype=torch.float32).clone()
        if xy is not None and (xy.shape != (num_nodes, 2) or not bool(torch.isfinite(xy).all())
                               or xy.min() < 0 or xy.max() > 1):
            raise DataError(
                f"{where}: coords must be finite [N={num_nodes}, 2] in [0, 1]; got shape "
                f"{tuple(xy.shape)}"
            )
        adj = None if adjacency is None else torch.as_tensor(adjacency, dtype=torch.float32).clone()
        if adj is not None and adj.shape != (num_nodes, num_nodes):
            raise DataError(
                f"{where}: adjacency must be [N={num_nodes}, N={num_nodes}], got {tuple(adj.shape)}"
            )
        pseudo = None
        order = torch.arange(num_nodes, dtype=torch.int64)
        if adj is not None:
            emb = spectral_embedding(adj, k=2)  # [N, 2] float64
            pseudo = _rank_unit(emb).to(torch.float32)  # [N, 2]
            order = fiedler_order(emb[:, 0])
        return cls(
            num_nodes=num_nodes,
            coords=xy,
            grid_shape=None if grid_shape is None else (int(grid_shape[0]), int(grid_shape[1])),
            adjacency=adj,
            pseudo_coords=pseudo,
            order=order,
            name=name,
        )

    @classmethod
    def from_data(cls, data: SpatioTemporalData) -> SpatialLayout:
        """The layout of a loaded dataset.

        Grid datasets place node ``n`` at the centre of cell ``(n // cols, n % cols)`` (or of
        the given (col, row) coordinates); geographic (lon, lat) coordinates are min-max scaled
        per axis with north up.
        """
        n = data.num_nodes
        xy = None
        if data.grid_shape is not None:
            rows, cols = data.grid_shape
            if rows * cols != n:
                raise DataError(
                    f"dataset {data.info.name!r}: grid_shape {data.grid_shape} has {rows * cols} "
                    f"cells for {n} nodes; expected rows x cols = N"
                )
            idx = np.arange(n)
            cr = np.stack([idx % cols, idx // cols], axis=1) if data.coords is None else data.coords
            xy = grid_coords(np.asarray(cr, dtype=np.float64), (rows, cols))
        elif data.coords is not None and data.info.coordinates == "grid":
            cr = np.asarray(data.coords, dtype=np.float64)
            shape = (int(cr[:, 1].max()) + 1, int(cr[:, 0].max()) + 1)
            xy = grid_coords(cr, shape)
        elif data.coords is not None:
            xy = normalise_geo(np.asarray(data.coords, dtype=np.float64))
        return cls.build(
            num_nodes=n,
            coords=xy,
            grid_shape=data.grid_shape,
            adjacency=data.adjacency,
            name=data.info.name,
        )

    @property
    def has_coordinates(self) -> bool:
        """Whether real (geographic or grid) coordinates are known."""
        return self.coords is not None

    @property
    def has_adjacency(self) -> bool:
        return self.adjacency is not None

    @property
    def num_edges(self) -> int:
        """Undirected edges of the symmetrised adjacency, self loops excluded (0 without one)."""
        if self.adjacency is None:
            return 0
        a = self.adjacency
        sym = ((a + a.T) > 0).fill_diagonal_(False)  # [N, N]
        return int(sym.sum().item()) // 2

    def describe(self) -> str:
        """One sentence on the layout (``"6 cells of a 2x3 grid and a graph of 15 edges."``)."""
        if self.grid_shape is not None:
            rows, cols = self.grid_shape
            text = f"{self.num_nodes} cells of a {rows}x{cols} grid"
        elif self.coords is not None:
            text = f"{self.num_nodes} nodes with map coordinates"
        else:
            text = f"{self.num_nodes} nodes without coordinates"
        if self.adjacency is not None:
            text += f" and a graph of {self.num_edges} edges"
        return text[0].upper() + text[1:] + "."

    def to(self, device: torch.device | str) -> SpatialLayout:
        """The same layout with every tensor on ``device``."""
        moved = {
            f.name: getattr(self, f.name).to(device)
            for f in dataclasses.fields(self)
            if isinstance(getattr(self, f.name), torch.Tensor)
        }
        return dataclasses.replace(self, **moved)
