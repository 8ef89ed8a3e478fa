"""Ridge regression per node: the next T_out values from the last T_in values of that node."""

from __future__ import annotations

from typing import Any

import numpy as np

from stvlm.baselines.base import Baseline
from stvlm.config import Config, TrainConfig, config_class, field


@config_class
class RidgeConfig(Config):
    """Ridge settings."""

    alpha: float = field(1.0, ge=0.0, help="L2 penalty on the weights (not on the bias)")


class RidgePerNode(Baseline):
    """One closed-form ridge regression per node and target channel, on scaled inputs.

    Features of node n: its ``T_in * C`` scaled input values and a bias; targets: its
    ``T_out`` values of each target channel, in original units. All nodes are solved in one
    batched ``np.linalg.solve``.
    """

    name = "ridge"
    trainable = True

    def __init__(self, cfg: RidgeConfig | None = None) -> None:
        self.cfg = cfg or RidgeConfig()
        self.weights: np.ndarray | None = None  # [N, F + 1, T_out * C_out]

    @staticmethod
    def _features(forecast: Any, part: str) -> np.ndarray:
        p = forecast.protocol
        starts = np.asarray(getattr(forecast.splits, part), dtype=np.int64)
        scaled = forecast.scaler.transform(forecast.data.values.astype(np.float64))  # [T, N, C]
        x = scaled[starts[:, None] + np.arange(p.input_len)[None, :]]  # [W, T_in, N, C]
        w, t, n, c = x.shape
        x = x.transpose(2, 0, 1, 3).reshape(n, w, t * c)  # [N, W, T_in*C]
        return np.concatenate([x, np.ones((n, w, 1))], axis=2)  # [N, W, F + 1]

    def fit(self, forecast: Any, train: TrainConfig) -> dict[str, Any]:
        feats = self._features(forecast, "train")  # [N, W, F+1]
        y = forecast.targets("train").astype(np.float64)  # [W, T_out, N, C_out]
        w, t, n, c = y.shape
        y = y.transpose(2, 0, 1, 3).reshape(n, w, t * c)  # [N, W, T_out*C_out]
        gram = np.einsum("nwf,nwg->nfg", feats, feats)  # [N, F+1, F+1]
        penalty = self.cfg.alpha * np.eye(feats.shape[2])
        penalty[-1, -1] = 0.0  # the bias is not penalised
        rhs = np.einsum("nwf,nwo->nfo", feats, y)  # [N, F+1, T_out*C_out]
        self.weights = np.linalg.solve(gram + penalty[None] + 1e-9 * np.eye(feats.shape[2]), rhs)
        return {"windows": int(w)}

    def predict(self, forecast: Any, part: str) -> np.ndarray:
        if self.weights is None:
            raise RuntimeError("ridge: call fit() before predict()")
        feats = self._features(forecast, part)  # [N, W, F+1]
        out = np.einsum("nwf,nfo->nwo", feats, self.weights)  # [N, W, T_out*C_out]
        n, w, _ = out.shape
        p = forecast.protocol
        out = out.reshape(n, w, p.output_len, -1).transpose(1, 2, 0, 3)  # [W, T_out, N, C_out]
        return out.astype(np.float32)
