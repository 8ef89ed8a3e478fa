"""A synthetic bring-your-own dataset: any number of nodes, with coordinates and a k-NN graph.

:func:`write_synthetic` writes a folder in the format of :mod:`stvlm.data.datasets.custom`
(``dataset.toml``, ``values.npy [T, N, 1]``, ``coords.npy [N, 2]`` and, with
``neighbours > 0``, ``adjacency.npy [N, N]``), so ``prepare(DataConfig(dataset=name,
data_root=root))`` loads it like any user dataset. Used to measure how the model scales in N
(``benchmarks/node_scale.py``); the same seed gives the same bytes.

The series is a made-up road-speed field (km/h), hourly by default, starting on a Monday:

* nodes: ``(lon, lat)`` in a 0.6 x 0.4 degree box, 60% of them in Gaussian "districts"
  (one per 50 nodes) and the rest uniform;
* each node has a free-flow speed ``v_f ~ U(50, 70)``, a congestion depth ``d ~ U(0.15, 0.5)``
  and a clock shift ``s ~ U(-0.5, 0.5)`` hours; on weekdays speed dips at 08:00 (width 1 h) and
  17:30 (width 1.5 h), on weekends once at 13:00 (width 2.5 h, 60% as deep):
  ``v = v_f (1 - d profile(hour - s)) + noise``;
* noise (std ``noise x v_f x d`` per node): half from 4 regional AR(1) factors (rho 0.9) that
  nodes load on by distance to 4 anchors (nearby nodes move together), half per node AR(1)
  (rho 0.7); speeds are clipped at 0;
* adjacency: symmetrised k-nearest-neighbour graph with Gaussian closeness
  ``exp(-(dist / sigma)^2)`` (``sigma``: std of the k-NN distances), diagonal 1.

The adjacency is dense ``[N, N]`` float32 on disk, as the format requires (296 MB at
N = 8,600), though only about ``k N`` entries are non-zero.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from scipy.signal import lfilter
from scipy.spatial import cKDTree

from stvlm.configs import Config, config_class, field

logger = logging.getLogger(__name__)

_BOX = (8.3, 47.2, 0.6, 0.4)  # lon, lat of the south-west corner, width, height (degrees)
_NODES_PER_DISTRICT = 50
_CLUSTERED = 0.6  # share of the nodes placed in districts
_FACTORS = 4  # regional noise factors
_WEEKDAY_PEAKS = ((8.0, 1.0, 1.0), (17.5, 1.5, 1.0))  # (hour, width h, height)
_WEEKEND_PEAKS = ((13.0, 2.5, 0.6),)


@config_class
class SyntheticConfig(Config):
    """Size and randomness of a synthetic dataset (see the module docstring)."""

    nodes: int = field(250, ge=2, help="N, the number of nodes")
    days: int = field(21, ge=1, help="length in days (the standard protocol's weekly lookback "
                      "and 6:2:2 split need about 21)")
    interval_minutes: int = field(60, ge=1, le=1440, help="minutes per step; must divide 1440")
    neighbours: int = field(8, ge=0, help="k of the k-NN adjacency; 0: no adjacency file")
    noise: float = field(0.1, ge=0.0, help="noise std as a share of each node's dip depth "
                         "(v_f x d)")
    seed: int = field(0, ge=0, help="seed of every random draw")
    name: str = field("synthetic", help="dataset name (lower-case letters, digits, - and _)")

    def check(self) -> None:
        if 1440 % self.interval_minutes:
            self.fail("interval_minutes", "must divide 1440 (minutes per day)")
        if self.neighbours >= self.nodes:
            self.fail("neighbours", f"must be < nodes = {self.nodes} (or 0: no adjacency)")

    @property
    def steps(self) -> int:
        """T = days x steps per day."""
        return self.days * (1440 // self.interval_minutes)


def node_coords(cfg: SyntheticConfig, rng: np.random.Generator) -> np.ndarray:
    """``[N, 2]`` float64 (lon, lat): districts plus a uniform background, inside the box."""
    lon0, lat0, width, height = _BOX
    n = cfg.nodes
    districts = max(1, n // _NODES_PER_DISTRICT)
    centres = rng.uniform(0.1, 0.9, size=(districts, 2))  # [K, 2] in unit box
    clustered = int(round(_CLUSTERED * n))
    member = rng.integers(0, districts, size=clustered)  # [n_c]
    near = centres[member] + rng.normal(0.0, 0.04, size=(clustered, 2))  # [n_c, 2]
    spread = rng.uniform(0.0, 1.0, size=(n - clustered, 2))  # [n - n_c, 2]
    unit = np.clip(np.concatenate([near, spread]), 0.0, 1.0)  # [N, 2]
    return np.stack([lon0 + width * unit[:, 0], lat0 + height * unit[:, 1]], axis=1)


def knn_adjacency(coords: np.ndarray, k: int) -> np.ndarray:
    """``[N, N]`` float32 symmetric k-NN closeness ``exp(-(d / sigma)^2)``, diagonal 1.

    Distances are planar in degrees (the box is small); ``sigma`` is the std of the k-NN
    distances (their mean when all are equal). ``O(N log N)`` to find the neighbours, ``N^2``
    floats to hold the dense result.
    """
    n = coords.shape[0]
    dist, idx = cKDTree(coords).query(coords, k=k + 1)  # [N, k + 1]; column 0 is the node
    d, cols = dist[:, 1:], idx[:, 1:]  # [N, k]
    sigma = float(d.std()) or float(d.mean()) or 1.0
    adj = np.zeros((n, n), dtype=np.float32)
    adj[np.repeat(np.arange(n), k), cols.ravel()] = np.exp(-np.square(d / sigma)).ravel()
    adj = np.maximum(adj, adj.T)  # [N, N] symmetric
    np.fill_diagonal(adj, 1.0)
    return adj


def _daily_profile(cfg: SyntheticConfig, shift: np.ndarray) -> np.ndarray:
    """``[T, N]`` congestion profile in [0, ~1]: weekday rush hours or a weekend dip."""
    minutes = np.arange(cfg.steps) * cfg.interval_minutes  # [T]
    hour = (minutes % 1440) / 60.0  # [T]
    weekday = (minutes // 1440) % 7 < 5  # [T]; step 0 is a Monday
    h = hour[:, None] - shift[None, :]  # [T, N]
    bumps = {
        True: sum(a * np.exp(-0.5 * ((h - mu) / w) ** 2) for mu, w, a in _WEEKDAY_PEAKS),
        False: sum(a * np.exp(-0.5 * ((h - mu) / w) ** 2) for mu, w, a in _WEEKEND_PEAKS),
    }
    return np.where(weekday[:, None], bumps[True], bumps[False])  # [T, N]


def _noise(cfg: SyntheticConfig, coords: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``[T, N]`` unit-variance noise: regional AR(1) factors plus per-node AR(1)."""
    t, n = cfg.steps, cfg.nodes
    anchors = coords[rng.choice(n, size=min(_FACTORS, n), replace=False)]  # [R, 2]
    dist = np.linalg.norm(coords[:, None, :] - anchors[None, :, :], axis=-1)  # [N, R]
    load = np.exp(-dist / (dist.mean() + 1e-12))  # [N, R]
    load /= np.linalg.norm(load, axis=1, keepdims=True)  # unit row norm: unit factor variance
    rho_f, rho_n = 0.9, 0.7
    factors = lfilter([np.sqrt(1 - rho_f**2)], [1.0, -rho_f],
                      rng.standard_normal((t, anchors.shape[0])), axis=0)  # [T, R]
    own = lfilter([np.sqrt(1 - rho_n**2)], [1.0, -rho_n], rng.standard_normal((t, n)), axis=0)
    return np.sqrt(0.5) * (factors @ load.T) + np.sqrt(0.5) * own  # [T, N]


def synthetic_arrays(cfg: SyntheticConfig) -> dict[str, np.ndarray]:
    """The arrays of the dataset: ``values [T, N, 1]`` float32 (km/h), ``coords [N, 2]``
    float64 (lon, lat) and, with ``neighbours > 0``, ``adjacency [N, N]`` float32."""
    rng = np.random.default_rng(cfg.seed)
    coords = node_coords(cfg, rng)
    free = rng.uniform(50.0, 70.0, size=cfg.nodes)  # [N] free-flow speed
    depth = rng.uniform(0.15, 0.5, size=cfg.nodes)  # [N] share of v_f lost at the peak
    shift = rng.uniform(-0.5, 0.5, size=cfg.nodes)  # [N] hours
    dip = free * depth  # [N] km/h lost at the peak
    speed = free - dip * _daily_profile(cfg, shift) + cfg.noise * dip * _noise(cfg, coords, rng)
    out = {"values": np.clip(speed, 0.0, None).astype(np.float32)[..., None], "coords": coords}
    if cfg.neighbours:
        out["adjacency"] = knn_adjacency(coords, cfg.neighbours)
    return out


def _toml(cfg: SyntheticConfig) -> str:
    graph = f"a {cfg.neighbours}-nearest-neighbour graph" if cfg.neighbours else "no graph"
    return "\n".join([
        f'name = "{cfg.name}"',
        f'title = "Synthetic speeds ({cfg.nodes} nodes)"',
        f'description = "Made-up road speeds at {cfg.nodes} nodes with map coordinates and '
        f'{graph}: weekday rush hours, weekend dips and spatially correlated noise."',
        f"interval_minutes = {cfg.interval_minutes}",
        'channels = ["speed"]',
        'units = ["km/h"]',
        'coordinates = "latlon"',
        "start = 2024-01-01T00:00:00",
        f'source = "stvlm.data.synthetic (seed {cfg.seed}, noise {cfg.noise:g})"',
        "",
    ])


def write_synthetic(root: str | Path, cfg: SyntheticConfig, folder: str | None = None) -> Path:
    """Write the dataset of ``cfg`` as a bring-your-own folder ``<root>/<folder>``.

    Args:
        root: the data root (created if missing).
        cfg: the dataset's size and seed.
        folder: the sub-folder's name (default: ``cfg.name``); an existing one is overwritten.

    Returns:
        The dataset folder.
    """
    path = Path(root) / (folder or cfg.name)
    path.mkdir(parents=True, exist_ok=True)
    for key, array in synthetic_arrays(cfg).items():
        np.save(path / f"{key}.npy", array)
    if not cfg.neighbours:
        (path / "adjacency.npy").unlink(missing_ok=True)
    (path / "dataset.toml").write_text(_toml(cfg))
    logger.info("wrote synthetic dataset %r: %d nodes x %d steps to %s",
                cfg.name, cfg.nodes, cfg.steps, path)
    return path
