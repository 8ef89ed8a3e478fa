"""Ridge regression: the next T_out values from the last T_in values and the periodic lookback."""

from __future__ import annotations

from typing import Any

import numpy as np

from stvlm.baselines.base import Baseline
from stvlm.configs import Config, TrainConfig, config_class, field
from stvlm.data.forecast import Forecast


@config_class
class RidgeConfig(Config):
    """Ridge settings.

    Defaults chosen on validation MAE only (10% few-shot on nycbike-drop, los-loop, sz-taxi and
    nycbike1; alpha in 1 .. 10,000, shared or per node): one regression shared by all nodes with
    alpha 3,000 had the lowest mean relative validation MAE; per-node fits were 4-60% worse.
    """

    alpha: float = field(3000.0, ge=0.0, help="L2 penalty on the weights (not on the bias)")
    lookback: bool = field(
        True, help="add the periodic lookback (same time of day 1 and 7 days before each input "
        "and target step) to the features, where the data has one"
    )
    shared: bool = field(
        True, help="one regression for all nodes (pooled windows) instead of one per node"
    )


def lookback_features(forecast: Forecast, scaled: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``[W, N, P * (T_in + T_out) * C_out]`` scaled lagged target values of every window.

    The same values :meth:`ForecastData.batches` puts in ``STBatch.lookback`` (empty when the
    forecast has no lookback lags), from the scaled series ``scaled [T, N, C]``.
    """
    p = forecast.protocol
    lags = np.asarray(forecast.lookback_lags, dtype=np.int64)  # [P]
    scaled = scaled[..., list(forecast.target_channels)]  # [T, N, C_out]
    span = np.arange(p.input_len + p.output_len, dtype=np.int64)  # [T_in + T_out]
    idx = starts[:, None, None] + span[None, None, :] - lags[None, :, None]  # [W, P, T_in+T_out]
    lag = scaled[idx]  # [W, P, T_in + T_out, N, C_out]
    w, n = starts.size, scaled.shape[1]
    return lag.transpose(0, 3, 1, 2, 4).reshape(w, n, -1)  # [W, N, P*(T_in+T_out)*C_out]


class RidgePerNode(Baseline):
    """Closed-form ridge regression per node (or shared by all nodes) and target channel.

    Features of node n: its ``T_in * C`` scaled input values, with ``lookback`` its
    ``P * (T_in + T_out) * C_out`` scaled lagged values, and a bias; targets: its ``T_out``
    values of each target channel, in original units. Per node, all nodes are solved in one
    batched ``np.linalg.solve``; ``shared`` pools the windows of every node into one system.
    """

    name = "ridge"
    trainable = True

    def __init__(self, cfg: RidgeConfig | None = None) -> None:
        self.cfg = cfg or RidgeConfig()
        self.weights: np.ndarray | None = None  # [N or 1, F + 1, T_out * C_out]

    def _features(self, forecast: Forecast, part: str) -> np.ndarray:
        p = forecast.protocol
        starts = np.asarray(getattr(forecast.splits, part), dtype=np.int64)
        scaled = forecast.scaler.transform(forecast.filled_values.astype(np.float64))  # [T, N, C]
        x = scaled[starts[:, None] + np.arange(p.input_len)[None, :]]  # [W, T_in, N, C]
        w, t, n, c = x.shape
        parts = [x.transpose(0, 2, 1, 3).reshape(w, n, t * c)]  # [W, N, T_in*C]
        if self.cfg.lookback and getattr(forecast, "lookback_lags", ()):
            parts.append(lookback_features(forecast, scaled, starts))  # [W, N, L]
        feats = np.concatenate(parts + [np.ones((w, n, 1))], axis=2)  # [W, N, F + 1]
        return feats.transpose(1, 0, 2)  # [N, W, F + 1]

    def fit(self, forecast: Forecast, train: TrainConfig) -> dict[str, Any]:
        feats = self._features(forecast, "train")  # [N, W, F+1]
        y = forecast.targets("train").astype(np.float64)  # [W, T_out, N, C_out]
        w, t, n, c = y.shape
        y = y.transpose(2, 0, 1, 3).reshape(n, w, t * c)  # [N, W, T_out*C_out]
        if self.cfg.shared:
            feats, y = feats.reshape(1, n * w, -1), y.reshape(1, n * w, -1)  # [1, N*W, .]
        ok = np.isfinite(y).all(axis=2, keepdims=True)  # [N', W', 1] windows with finite targets
        feats, y = np.where(ok, feats, 0.0), np.where(ok, y, 0.0)
        gram = np.einsum("nwf,nwg->nfg", feats, feats)  # [N', F+1, F+1]
        penalty = self.cfg.alpha * np.eye(feats.shape[2])
        penalty[-1, -1] = 0.0  # the bias is not penalised
        rhs = np.einsum("nwf,nwo->nfo", feats, y)  # [N', F+1, T_out*C_out]
        self.weights = np.linalg.solve(gram + penalty[None] + 1e-9 * np.eye(feats.shape[2]), rhs)
        return {"windows": int(w), "features": int(feats.shape[2])}

    def predict(self, forecast: Forecast, part: str) -> np.ndarray:
        if self.weights is None:
            raise RuntimeError("ridge: call fit() before predict()")
        feats = self._features(forecast, part)  # [N, W, F+1]
        weights = np.broadcast_to(self.weights, (feats.shape[0], *self.weights.shape[1:]))  # shared: N views
        out = np.einsum("nwf,nfo->nwo", feats, weights)  # [N, W, T_out*C_out]
        n, w, _ = out.shape
        p = forecast.protocol
        out = out.reshape(n, w, p.output_len, -1).transpose(1, 2, 0, 3)  # [W, T_out, N, C_out]
        return out.astype(np.float32)
