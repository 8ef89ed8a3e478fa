"""The spectral layout of a large graph without a dense eigendecomposition.

:func:`stvlm.modalities.layout.spectral_embedding` needs the few smallest non-trivial
eigenpairs of the symmetric normalised Laplacian ``L = I - D^-1/2 W D^-1/2``. A dense
``eigh`` finds all N of them: O(N^3) time and several ``N x N`` float64 matrices (about
100 s and 2.4 GB at N = 8,600 on one core). Above ``DENSE_EIGH_MAX_NODES`` nodes the layout
uses :func:`sparse_laplacian_eigenvectors` instead: the graph as a sparse matrix (memory
O(N + E) for E edges), the trivial eigenvectors (one per connected component with an edge,
``D^1/2 1_component``, eigenvalue 0) written down and projected out, and the smallest others
found by Lanczos (ARPACK ``eigsh``) on the shift-inverted operator ``(L + shift I)^-1`` through
one sparse LU factorisation: about O(E) per iteration for road-like graphs (2 s at N = 8,600
with 8 neighbours). Reading the dense ``[N, N]`` adjacency the dataset format stores is
still O(N^2) (elementwise only).

Same contract as the dense path: eigenvalues below ``1e-8`` count as trivial and are skipped,
isolated nodes keep eigenvalue 1, the columns are mapped back to ``v = D^-1/2 u``. Where an
eigenvalue is repeated (symmetric graphs) any basis of its eigenspace is a valid answer and
the two paths may pick different ones; the start vector is fixed, so each path is
deterministic.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import LinearOperator, eigsh, splu

_ZERO_EIGENVALUE = 1e-8  # as in layout.py: eigenvalues below this are trivial
_SHIFT = 1e-6  # L + shift I is positive definite; small, so the wanted eigenvalues stand out


def symmetric_graph(adjacency: torch.Tensor) -> sp.csr_matrix:
    """``W = max((A + A^T) / 2, 0)`` with a zero diagonal, as a sparse float64 ``[N, N]``."""
    a = adjacency.detach().cpu()
    rows, cols = torch.nonzero(a, as_tuple=True)  # [E'] each
    vals = a[rows, cols].to(torch.float64).numpy()
    n = a.shape[0]
    m = sp.csr_matrix((vals, (rows.numpy(), cols.numpy())), shape=(n, n))
    w = ((m + m.T) / 2).tocsr()
    w.setdiag(0.0)
    w.data = np.maximum(w.data, 0.0)
    w.eliminate_zeros()
    return w


def _null_space(w: sp.csr_matrix, deg: np.ndarray) -> np.ndarray:
    """``[N, c]`` orthonormal eigenvectors of eigenvalue 0: ``sqrt(deg)`` on each component."""
    _, label = connected_components(w, directed=False)
    sizes = np.bincount(label)
    comps = np.flatnonzero(sizes > 1)  # components with an edge (isolated nodes: eigenvalue 1)
    basis = np.zeros((w.shape[0], comps.size))
    for j, c in enumerate(comps):
        on = label == c
        basis[on, j] = np.sqrt(deg[on])
    return basis / np.linalg.norm(basis, axis=0, keepdims=True).clip(1e-300)


def _smallest(lap: sp.csc_matrix, null: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``count`` smallest eigenpairs of ``lap`` off ``null``, ascending."""
    n = lap.shape[0]
    lu = splu((lap + _SHIFT * sp.identity(n, format="csc")).tocsc())

    def project(v: np.ndarray) -> np.ndarray:
        return v - null @ (null.T @ v)

    op = LinearOperator((n, n), matvec=lambda v: project(lu.solve(project(v.ravel()))),
                        dtype=np.float64)
    start = project(np.random.default_rng(0).standard_normal(n))  # fixed: deterministic
    theta, vecs = eigsh(op, k=count, which="LA", v0=start, tol=0.0)  # theta = 1/(lam + shift)
    lam = 1.0 / theta - _SHIFT
    order = np.argsort(lam, kind="stable")
    return lam[order], vecs[:, order]


def sparse_laplacian_eigenvectors(adjacency: torch.Tensor, k: int) -> torch.Tensor:
    """The first ``k`` non-trivial random-walk Laplacian eigenvectors (see the module docstring).

    Args:
        adjacency: ``[N, N]`` weighted adjacency (any direction; it is symmetrised).
        k: number of eigenvectors after the trivial ones.

    Returns:
        ``[N, k]`` float64 ``v = D^-1/2 u`` before the sign convention; columns beyond the
        last eigenvector are zero.
    """
    w = symmetric_graph(adjacency)
    n = w.shape[0]
    deg = np.asarray(w.sum(axis=1)).ravel()  # [N]
    inv_sqrt = np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1e-300)), 0.0)
    scale = sp.diags(inv_sqrt)
    lap = (sp.identity(n) - scale @ w @ scale).tocsc()  # [N, N] sparse
    null = _null_space(w, deg)  # [N, c]
    out = np.zeros((n, k))
    if null.shape[1] == 0:  # no edge at all: L = I, eigenvectors e_i in index order (as eigh)
        skip = 1
        out[np.arange(skip, min(n, skip + k)), np.arange(min(n - skip, k))] = 1.0
        return torch.from_numpy(out)
    free = n - null.shape[1]  # eigenpairs left off the null space
    count = min(free - 1, k + 2) if free > 1 else 0
    while count > 0:
        lam, vecs = _smallest(lap, null, count)
        keep = vecs[:, lam >= _ZERO_EIGENVALUE][:, :k]  # [N, <=k]
        if keep.shape[1] == k or count >= free - 1:
            break
        count = min(free - 1, 2 * count)
    if count <= 0:
        return torch.from_numpy(out)
    back = np.where(deg > 0, inv_sqrt, 1.0)  # isolated nodes keep u
    out[:, : keep.shape[1]] = keep * back[:, None]
    return torch.from_numpy(out)
