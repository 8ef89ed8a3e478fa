"""The composed ST-VLM model: three modalities, a VLM backbone with first-layer fusion, a head.

Paper: Zhao et al., "ST-VLM: A Spatial-to-Image Multimodal Spatial-Temporal Prediction
Framework with Vision-Language Model", AAAI 2026 (no public code; reconstructed in
reference/method.md).

``forward(batch)``: window ``x [B, T_in, N, C]`` (scaled)
-> image ``[B, 3, S, S]`` (spatial-to-image encoder), text ids ``[B, L_t]`` (token table lookup),
series tokens ``[B, N, d]`` (one per node, with its periodic lookback; optionally K latents)
-> backbone with the ST tokens fused at ``fusion.depth``
-> per-node head (a correction to the seasonal prior, the mean of the lookback at each target
step, by default) -> ``[B, T_out, N, C_out]`` in the dataset's original units.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.profiler import record_function

from stvlm.data.batch import STBatch
from stvlm.modalities.image import build_image_encoder
from stvlm.modalities.layout import SpatialLayout
from stvlm.modalities.series import InstanceStats, LatentCompressor, SeriesTokenizer
from stvlm.modalities.text import TokenTable
from stvlm.models.backbones import Backbone
from stvlm.configs import STVLMConfig
from stvlm.models.fusion import Fusion, segment_mean
from stvlm.models.heads import PredictionHead
from stvlm.models.pretrained import from_pretrained, save_pretrained

STAGES = ("image", "text", "series", "backbone", "head")


@dataclass(frozen=True)
class DatasetContext:
    """What the model needs to know about the dataset and protocol.

    Args:
        name: dataset name (messages).
        num_nodes: N.
        input_len: T_in.
        output_len: T_out.
        in_channels: C of the inputs.
        target_channels: the input channels that are forecast (C_out of them).
        steps_per_day: rows of the time-of-day embedding.
        scaler_mean: ``[C]`` per-channel mean of the input scaler.
        scaler_std: ``[C]`` per-channel std of the input scaler.
        lookback_lags: P, the periodic lookback lags every batch carries (0: none).
    """

    name: str
    num_nodes: int
    input_len: int
    output_len: int
    in_channels: int
    target_channels: tuple[int, ...]
    steps_per_day: int
    scaler_mean: tuple[float, ...]
    scaler_std: tuple[float, ...]
    lookback_lags: int = 0

    @classmethod
    def from_forecast(cls, forecast) -> DatasetContext:
        """The context of a :class:`~stvlm.data.pipeline.ForecastData`."""
        data = forecast.data
        return cls(
            name=data.info.name,
            num_nodes=data.num_nodes,
            input_len=forecast.input_len,
            output_len=forecast.output_len,
            in_channels=data.num_channels,
            target_channels=tuple(int(c) for c in forecast.target_channels),
            steps_per_day=data.info.steps_per_day,
            scaler_mean=tuple(float(v) for v in np.asarray(forecast.scaler.mean)),
            scaler_std=tuple(float(v) for v in np.asarray(forecast.scaler.std)),
            lookback_lags=len(getattr(forecast, "lookback_lags", ())),
        )

    @classmethod
    def from_dict(cls, data: dict) -> DatasetContext:
        """The inverse of ``dataclasses.asdict`` (JSON lists back to tuples)."""
        tuples = {"target_channels", "scaler_mean", "scaler_std"}
        return cls(**{k: tuple(v) if k in tuples else v for k, v in data.items()})


class STVLM(nn.Module):
    """ST-VLM forecaster (build it with :func:`stvlm.models.build_model`).

    Args:
        cfg: the model config.
        backbone: the built backbone (image size already set).
        layout: the dataset's spatial layout.
        context: dataset and protocol facts.
        token_table: prompt token ids of every window start (needed when ``cfg.use_text``;
            may be installed later with :meth:`set_token_table`).
    """

    def __init__(
        self,
        cfg: STVLMConfig,
        backbone: Backbone,
        *,
        layout: SpatialLayout,
        context: DatasetContext,
        token_table: TokenTable | None = None,
    ) -> None:
        super().__init__()
        self.cfg, self.context, self.backbone, self.layout = cfg, context, backbone, layout
        d, n = backbone.hidden_size, context.num_nodes
        self.image_encoder = None
        # With a lookback the image shows the window followed by the seasonal prior of its targets.
        self.image_prior = bool(cfg.image.lookback and context.lookback_lags)
        image_len = context.input_len + (context.output_len if self.image_prior else 0)
        if cfg.use_image:
            self.image_encoder = build_image_encoder(
                cfg.image, layout, input_len=image_len, in_channels=context.in_channels,
                image_size=backbone.image_size, image_mean=backbone.image_mean,
                image_std=backbone.image_std, dataset=context.name,
            )
        if cfg.use_series:  # instance norm is applied here, for the image encoder too
            self.series = SeriesTokenizer(
                cfg.series.replace(instance_norm=False), num_nodes=n,
                input_len=context.input_len, in_channels=context.in_channels,
                steps_per_day=context.steps_per_day, out_dim=d,
                lookback_lags=context.lookback_lags, output_len=context.output_len,
                out_channels=len(context.target_channels), neighbours=layout.adjacency,
            )
        else:  # no values: each node is its learned embedding
            self.node_embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(n, d)))
        self.highway = None
        if cfg.head.highway and cfg.use_series:
            out = context.output_len * len(context.target_channels)
            self.highway = nn.Linear(self.series.feature_width, out)  # shared by all nodes
            nn.init.zeros_(self.highway.weight)
            nn.init.zeros_(self.highway.bias)
        k = cfg.series.num_latents
        self.compressor = LatentCompressor(k, d, cfg.fusion.heads) if k else None
        positions = None
        if self.image_encoder is not None and self.compressor is None:
            positions = self.image_encoder.node_positions()
        self.fusion = Fusion(cfg.fusion, backbone, positions)
        pooled = int(cfg.use_text) + int(cfg.use_image)
        self.head = PredictionHead(
            cfg.head, dim=d, context_dim=d * pooled if cfg.head.pooled_context else 0,
            output_len=context.output_len, out_channels=len(context.target_channels),
        )
        targets = list(context.target_channels)
        mean = torch.tensor(context.scaler_mean, dtype=torch.float32)[targets]  # [C_out]
        std = torch.tensor(context.scaler_std, dtype=torch.float32)[targets]  # [C_out]
        self.register_buffer("target_mean", mean, persistent=False)
        self.register_buffer("target_std", std, persistent=False)
        for name in ("text_ids", "text_mask", "text_row"):
            self.register_buffer(name, None, persistent=False)
        if token_table is not None:
            self.set_token_table(token_table)
        self._timings: dict[str, float] | None = None

    @property
    def fixed_modules(self) -> tuple[nn.Module, ...]:
        """Modules outside the backbone that never train: the highway under
        ``head.highway_trainable = false`` (it keeps its start)."""
        if self.highway is not None and not self.cfg.head.highway_trainable:
            return (self.highway,)
        return ()

    def save_pretrained(self, path: str | Path, *, extra_json: Mapping[str, Any] | None = None) -> Path:
        """Write the model to one folder that :meth:`from_pretrained` reads without the dataset
        (:mod:`stvlm.models.pretrained` lists the files); ``extra_json``: more JSON files
        (name -> content) written into the same folder before it takes its place."""
        return save_pretrained(self, path, extra_json=extra_json)

    @classmethod
    def from_pretrained(cls, path: str | Path, *, device: str | torch.device = "cpu") -> STVLM:
        """Rebuild a model written by :meth:`save_pretrained` from its folder alone, in
        evaluation mode (dropout off: forecasts repeat), as Hugging Face's loaders return it."""
        return from_pretrained(path, cls, DatasetContext, device=device)

    def set_token_table(self, table: TokenTable) -> None:
        """Install the prompt token ids of every window start (moved to the model's device)."""
        device = self.target_mean.device
        self.text_ids = table.ids.to(device)
        self.text_mask = table.mask.to(device)
        self.text_row = table.row_of_start.to(device)

    @property
    def token_table(self) -> TokenTable | None:
        """The prompt token table (on the model's device), or ``None`` if none is installed."""
        if self.text_ids is None:
            return None
        return TokenTable(ids=self.text_ids, mask=self.text_mask, row_of_start=self.text_row)

    def forward(self, batch: STBatch) -> torch.Tensor:
        """Forecast a batch of windows.

        Args:
            batch: ``x [B, T_in, N, C]`` scaled, time indices and window starts.

        Returns:
            ``[B, T_out, N, C_out]`` in the dataset's original units.
        """
        x, lookback, stats, prior = self.normalized_inputs(batch)
        with self._stage("image"):
            pixels = None
            if self.image_encoder is not None:
                pixels = self.image_encoder(self._image_window(x, prior))
        with self._stage("text"):
            ids, text_mask = None, None
            if self.cfg.use_text:
                if self.text_ids is None:
                    raise ValueError("use_text = true but no token table is installed")
                ids, text_mask = self.token_table.lookup(batch.start)  # [B, L_t] each
        with self._stage("series"):
            feats = None
            if self.cfg.use_series:  # the tokenizer's instance norm is off: x is normalised here
                feats = self.series.node_features(x, lookback)  # [B, N, F]
                nodes = self.series.tokens(feats, batch.x_tod, batch.x_dow, batch.y_tod, batch.y_dow)
            else:
                nodes = self.node_embedding.expand(x.shape[0], -1, -1)  # [B, N, d]
            st = self.compressor.compress(nodes) if self.compressor is not None else nodes
        with self._stage("backbone"):
            tokens, mask, segments = self.backbone.embed(ids, text_mask, pixels, batch_size=x.shape[0])
            out = self.fusion(self.backbone, tokens, mask, segments, st)
        with self._stage("head"):
            st_out = out.st.float()  # [B, M, d] back from the backbone's dtype
            if self.compressor is not None:
                st_out = self.compressor.expand(st_out, nodes.to(st_out.dtype))  # [B, N, d]
            context = None
            if self.head.context_dim:
                parts = [segment_mean(out.hidden, out.mask, s)
                         for s in (out.segments.text, out.segments.image)]
                context = torch.cat([p for p in parts if p is not None], dim=-1).float()  # [B, c]
            pred = self.head(st_out, context).float()  # [B, T_out, N, C_out] scaled
            pred = self.to_original_units(self.add_linear(pred, feats, prior), stats)
        return pred

    def add_linear(
        self, pred: torch.Tensor, feats: torch.Tensor | None, prior: torch.Tensor | None
    ) -> torch.Tensor:
        """``pred [B, T_out, N, C_out]`` (head's units) plus the linear part of the forecast:
        the highway's map of the node features ``feats [B, N, F]`` (when both exist), then, with
        ``head.residual = "lookback"``, the seasonal prior ``[B, T_out, N, C_out]``."""
        if self.highway is not None and feats is not None:
            lin = self.highway(feats.to(self.highway.weight.dtype)).float()  # [B, N, T_out*C_out]
            b, n = lin.shape[:2]
            pred = pred + lin.view(b, n, self.context.output_len, -1).permute(0, 2, 1, 3)
        if prior is not None and self.cfg.head.residual == "lookback":
            pred = pred + prior.float()  # the head predicts a correction to the seasonal prior
        return pred

    def to_original_units(self, pred: torch.Tensor, stats: InstanceStats | None) -> torch.Tensor:
        """``pred [B, T_out, N, C_out]`` in the head's units -> original units (the inverse of
        :meth:`to_model_units`)."""
        if stats is not None:
            pred = stats.denormalize(pred, self.context.target_channels)
        return pred * self.target_std + self.target_mean

    def normalized_inputs(
        self, batch: STBatch
    ) -> tuple[torch.Tensor, torch.Tensor | None, InstanceStats | None, torch.Tensor | None]:
        """The batch as the model's paths see it.

        Returns:
            ``x [B, T_in, N, C]`` and ``lookback [B, P, T_in + T_out, N, C_out]`` (instance
            normalised when ``series.instance_norm``), the instance statistics (or ``None``),
            and the seasonal prior ``[B, T_out, N, C_out]``: the mean of the lookback at each
            target step (``None`` without lookback lags).
        """
        x = batch.x
        lookback = batch.lookback if self.context.lookback_lags else None
        if self.context.lookback_lags and lookback is None:
            raise ValueError(
                f"the model was built for {self.context.lookback_lags} lookback lags but the "
                "batch has no lookback"
            )
        targets = list(self.context.target_channels)
        stats = InstanceStats.of(x) if self.cfg.series.instance_norm else None
        if stats is not None:
            x = stats.normalize(x)  # [B, T_in, N, C]
            if lookback is not None:
                lookback = (lookback - stats.mean[:, None][..., targets]) / stats.std[:, None][..., targets]
        prior = lookback[:, :, self.context.input_len:].mean(dim=1) if lookback is not None else None
        return x, lookback, stats, prior

    def to_model_units(self, y: torch.Tensor, stats: InstanceStats | None) -> torch.Tensor:
        """Targets ``y [B, T_out, N, C_out]`` in original units -> the units the head predicts
        (scaled, then instance normalised): the inverse of the forward pass's last steps."""
        y = (y - self.target_mean) / self.target_std
        if stats is not None:
            idx = list(self.context.target_channels)
            y = (y - stats.mean[..., idx]) / stats.std[..., idx]
        return y

    def _image_window(self, x: torch.Tensor, prior: torch.Tensor | None) -> torch.Tensor:
        """The window the image shows: ``x [B, T_in, N, C]``, followed by the seasonal prior of
        the targets (``[B, T_out, N, C]``: the prior in the target channels, the last input
        step in the others) when the image has a lookback."""
        if not self.image_prior:
            return x
        ahead = x[:, -1:].expand(-1, prior.shape[1], -1, -1).clone()  # [B, T_out, N, C]
        ahead[..., list(self.context.target_channels)] = prior.to(x.dtype)
        return torch.cat([x, ahead], dim=1)  # [B, T_in + T_out, N, C]

    @contextmanager
    def stage_timings(self) -> Iterator[dict[str, float]]:
        """Measure wall-clock seconds per stage of every forward pass inside the block.

        Yields:
            A dict ``stage -> seconds`` (stages: image, text, series, backbone, head), summed
            over the forward passes; on CUDA each stage is bracketed by synchronisations.
            Every stage is also a ``torch.profiler.record_function`` range ``stvlm.<stage>``.
        """
        timings = {name: 0.0 for name in STAGES}
        self._timings = timings
        try:
            yield timings
        finally:
            self._timings = None

    @contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        with record_function(f"stvlm.{name}"):
            timings = self._timings
            if timings is not None:
                self._sync()
                start = time.perf_counter()
            yield
            if timings is not None:
                self._sync()
                timings[name] += time.perf_counter() - start

    def _sync(self) -> None:
        if self.target_mean.device.type == "cuda":
            torch.cuda.synchronize(self.target_mean.device)
