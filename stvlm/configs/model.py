"""Configs of the ST-VLM model: one sub-config per part, composed in :class:`STVLMConfig`.

Every size of the model lives here, so the ``tiny`` presets build the real architecture on a CPU
in milliseconds. Names of registered components (image encodings, backbones) are validated
against their registries when the model is built (``stvlm.models.build``), which names the
allowed values.
"""

from __future__ import annotations

from typing import Literal

from stvlm.configs.base import Config, config_class, field
from stvlm.errors import ConfigError

FusionDepth = int | Literal["late", "all"]
Finetune = Literal["frozen", "layernorm", "pfa", "lora", "full"]


@config_class
class ImageConfig(Config):
    """Spatial-to-image encoding (the vision modality)."""

    encoding: str = field(
        "auto",
        help="image encoder name: grid_heatmap, spectral_grid, node_time, correlation, fft, "
        "learnable, flow; 'auto': grid_heatmap with coordinates, else spectral_grid with a "
        "graph, else node_time",
    )
    size: int | None = field(
        None, ge=8, help="image side S in pixels; default: the backbone's image size"
    )
    grid: int = field(16, ge=2, help="side G of the coordinate grid of grid_heatmap/spectral_grid")
    blur: float = field(1.0, ge=0.0, help="std (in cells) of the Gaussian that fills empty cells; 0: none")
    learnable_hidden: int = field(48, ge=3, help="channels of the learnable encoder (Time-VLM: 48)")
    max_nodes: int = field(
        2048, ge=1, identity=False,
        help="largest N taken by the encodings whose cost grows with N^2 (correlation: a "
        "B x 3 x N x N image, 48 MiB per window at N = 2,048; every other encoding is linear "
        "in N); a larger dataset is refused when the model is built (a limit: not part of the "
        "config's identity)",
    )
    lookback: bool = field(
        True,
        help="append the seasonal prior of the target steps (mean of the periodic lookback) to "
        "the window the image shows, so the image spans T_in + T_out steps",
    )


@config_class
class TextConfig(Config):
    """Text prompt of every window."""

    max_length: int = field(40, ge=4, help="max tokens of the prompt (ViLT: 40, CLIP: 77)")
    stat_decimals: int = field(1, ge=0, le=3, help="rounding of window statistics (cache buckets)")
    include_stats: bool = True
    include_time: bool = True
    include_side: bool = field(True, help="weather / POI sentences where the dataset has them")
    style: Literal["compact", "full"] = field(
        "compact",
        help="'compact': short window-specific sentences (time, statistics, side information, "
        "dataset name; no task sentence, the same for every window) that fit ViLT's 40 tokens "
        "whole on los-loop, nycbike-drop and nycbike1 (at most 38); sz-taxi's take 42, so its "
        "last two, the end of the dataset's name, are cut; 'full': the long sentences, cut at "
        "max_length (about 140 tokens in all: at ViLT's 40 the statistics survive, the time "
        "sentence is cut part-way)",
    )


@config_class
class SeriesConfig(Config):
    """Time-series tokens: one token per node (ST-LLM), optionally compressed to K latents."""

    dim: int = field(64, ge=4, help="width D of the value/node/time embeddings before fusion")
    num_latents: int | None = field(
        None, ge=1, help="compress N node tokens to K latent tokens (for large N); None: no"
    )
    max_tokens: int = field(
        4096, ge=1, identity=False,
        help="largest N sent to the backbone as one token per node (num_latents = None): its "
        "self-attention costs grow with (L + N)^2 (one float32 attention map of one head is "
        "64 MiB per window at N = 4,096); a larger dataset is refused unless num_latents is "
        "set (checked when the model is built, wherever the tokens enter the backbone: not under "
        "fusion.depth = 'late' or use_series = false; a limit, not part of the config's identity)",
    )
    instance_norm: bool = field(
        False, help="RevIN-style per-window normalisation (Time-VLM). Off by default: on the "
        "target pairs (five seeds) the mean validation MAE of both masks was worse with it on "
        "four, level on nycbike1 10% (results/fewshot_accuracy/validation-instance-norm.json)",
    )
    lookback: bool = field(
        True, help="each node token also embeds its periodic lookback (same time of day 1 and 7 "
        "days before every input and target step) when the data has one",
    )
    neighbours: bool = field(
        False, help="each node token (and the linear highway) also reads the closeness-weighted "
        "mean of its graph neighbours' window and lookback values, when the data has an "
        "adjacency (a sparse product: linear in the number of edges); without one: off. Off by "
        "default: validation MAE was worse with it on all four datasets at 10% (seeds 0/1, "
        "results/fewshot_accuracy/validation-neighbours.json), and again at the MLP head's "
        "settings on four of the five target pairs, level on the fifth "
        "(validation-neighbours-now.json)",
    )
    time_encoding: Literal["cyclic", "table", "none"] = field(
        "none",
        help="'cyclic': a linear map of sine/cosine time of day, day of week and a weekend flag "
        "(defined on days training never saw); 'table': learned rows per step of the day and "
        "day of the week (ST-LLM; rows unseen in training stay random); 'none': no calendar "
        "part in the node tokens (the prompt still states the time; the lookback carries the "
        "same time of day). Default 'none' with node_embedding = false: see node_embedding",
    )
    node_embedding: bool = field(
        False, help="a learned vector per node in its token (ST-LLM's spatial identity); false: "
        "the token carries the node's values and lookback only, so what the backbone path "
        "learns is shared by all nodes and times. Chosen on validation MAE (tiny preset, "
        "10% few-shot, seeds 0/1): with a node vector and cyclic calendar features the few "
        "training days are memorised and the best epoch comes early; without both, los-loop "
        "3.176 -> 3.084/3.150, sz-taxi 2.935 -> 2.931/2.925, nycbike-drop at 261 windows "
        "2.113/2.120 -> 2.100/2.114 (all entries 1.719/1.741 -> 1.708/1.711), nycbike1 5.469 -> "
        "5.473 (level); dropping either one alone changed los-loop by under 0.011",
    )


@config_class
class BackboneConfig(Config):
    """Which VLM (or LLM) and how much of it."""

    name: str = field("vilt", help="vilt, clip, siglip, smolvlm, qwen2-vl, qwen2.5-vl, gpt2")
    pretrained: str | None = field(
        None, help="hub id or local path for from_pretrained; None: random from_config preset"
    )
    preset: Literal["tiny", "small", "base"] = field(
        "tiny", help="size of the from_config model when pretrained is None"
    )
    layers: int | None = field(None, ge=1, help="vlm_layers: keep only the first L blocks")
    revision: str | None = field(None, help="hub revision (branch, tag or commit)")
    local_files_only: bool = field(False, help="never touch the network in from_pretrained")
    dtype: Literal["float32", "bfloat16", "float16"] = field(
        "float32", help="dtype of the backbone's weights (loaded in it from the hub, or cast to it); "
        "the encoders, fusion adapters and head stay float32 and meet the backbone in its dtype. "
        "bfloat16 and float16 need finetune.strategy = 'frozen' (no weight trains in them); "
        "train.amp computes in bfloat16 on CUDA with float32 weights",
    )


@config_class
class FusionConfig(Config):
    """Where and how ST tokens meet image and text tokens."""

    depth: FusionDepth = field(
        1,
        help="k = 0: ST tokens join at the embeddings; k >= 1: they enter layer k and a gated "
        "cross-attention adapter follows block k; 'late': pooled fusion after the VLM; "
        "'all': an adapter after every block",
    )
    heads: int = field(4, ge=1, help="attention heads of the cross-attention adapter")
    spatial_bias: bool = field(True, help="bias each node's attention towards its own image patch")
    bias_sigma: float = field(1.0, gt=0.0, help="std (in patches) of the spatial bias")

    def check(self) -> None:
        if isinstance(self.depth, int) and self.depth < 0:
            self.fail("depth", "is out of range; allowed: an integer >= 0, 'late' or 'all'")


@config_class
class FinetuneConfig(Config):
    """Adaptive fine-tuning of the backbone."""

    strategy: Finetune = field(
        "lora", help="frozen, layernorm, pfa (last U layers' attention), lora (peft), full"
    )
    lora_rank: int = field(8, ge=1)
    lora_alpha: float | None = field(None, gt=0.0, help="default: 2 x lora_rank")
    lora_dropout: float = field(0.0, ge=0.0, lt=1.0)
    lora_targets: tuple[str, ...] | None = field(
        None, help="module names to adapt; default: the backbone family's attention projections"
    )
    trainable_layers: int = field(2, ge=0, help="U: the last U layers train under 'pfa'")
    train_layernorm: bool = field(True, help="layer norms also train under lora/pfa (ST-LLM)")


@config_class
class HeadConfig(Config):
    """Prediction head on the ST-token outputs."""

    hidden: int = field(
        64, ge=0, help="hidden width of an MLP head (one GELU layer); 0: a linear head. Chosen on "
        "validation MAE (tiny preset, seeds 0-3, results/fewshot_accuracy/validation-capacity.json): "
        "64 against linear lowered los-loop 10% (3.106 -> 3.074, seed mean) and nycbike-drop 10% "
        "on all entries (1.726 -> 1.721, masked level at 2.029); where the start is kept "
        "(nycbike-drop at 261 windows, sz-taxi and nycbike1 10%) it is kept with either",
    )
    pooled_context: bool = field(
        True, help="concatenate pooled image/text outputs to every node's token"
    )
    dropout: float = field(0.1, ge=0.0, lt=1.0)
    residual: Literal["none", "lookback"] = field(
        "lookback",
        help="'lookback': the head predicts a correction to the seasonal prior (the mean of the "
        "periodic lookback at each target step); 'none': the head predicts the values",
    )
    zero_init: bool = field(
        True, help="start the head's output layer at zero, so training starts from the prior "
        "(and the highway) and the backbone path learns a correction (ReZero style); chosen on "
        "validation MAE: on los-loop 10% it avoided a run that ended worse than its prior",
    )
    highway: bool = field(
        True,
        help="add a linear map, shared by all nodes, of each node's window and lookback values "
        "to the forecast (an autoregressive highway, LSTNet style)",
    )
    highway_init: Literal["zero", "ridge", "auto"] = field(
        "auto",
        help="'zero': the highway starts at zero; 'ridge': it starts at the closed-form ridge "
        "regression of the training windows' targets (minus the prior) on its inputs, so "
        "training starts from a fitted linear forecast; 'auto': the ridge start is kept only if "
        "the starting forecast (prior + highway) has a lower validation MAE than the prior "
        "alone. Ridge vs zero on validation MAE (tiny preset, one seed): los-loop 10% 3.97 -> "
        "3.18, sz-taxi 10% 3.42 -> 2.93, nycbike-drop at 261 windows 2.170 -> 2.113, but "
        "nycbike1 10% (44 windows) 5.46 -> 6.79, where the ridge start is worse than the prior: "
        "hence 'auto'",
    )
    highway_alpha: float = field(
        300.0, ge=0.0, help="L2 penalty of the 'ridge' highway start, in training rows "
        "(windows x nodes; the bias is not penalised); chosen on validation MAE among 3, 30, "
        "300 and 3,000 (los-loop: 3.175 / 3.175 / 3.177 / 3.313; nycbike-drop: 300 and 3,000 "
        "within 0.003)",
    )
    highway_trainable: bool = field(
        True, help="train the highway with the rest of the model; false: it keeps its start "
        "(the ridge fit or zero, see highway_init) and only the backbone path and head learn. "
        "Frozen: validation MAE -0.07 on nycbike1 10%, +0.01 on sz-taxi, mixed on los-loop and "
        "nycbike-drop (validation-highway.json); at today's settings, los-loop 10% 3.052 -> "
        "3.082 and nycbike-drop 10% worse (validation-highway-now.json, 5 seeds), hence true",
    )
    highway_targets: Literal["observed", "all"] = field(
        "all",
        help="training entries the 'ridge' start is fitted to: 'observed': the dataset's "
        "observations (a '0 = missing' zero left out); 'all': every finite target, as the ridge "
        "baseline fits. Only datasets with missing zeros differ. On sz-taxi 10% (25% missing "
        "zeros, also in the inputs) 'all' starts far better (validation MAE 2.924 vs 3.412); "
        "training, whose loss skips missing entries, moves away from it (best epochs 2.979/2.977 "
        "vs 2.931/2.925 from 'observed', seeds 0/1), but with the start a checkpoint candidate "
        "(TrainConfig.start_candidate) 'all' keeps its start: 2.9245 against 2.9310/2.9299 "
        "(validation-highway-targets.json), hence 'all'",
    )

    def check(self) -> None:
        if self.highway_init != "zero" and not self.highway:
            self.fail("highway_init", "needs highway = true; allowed with highway = false: 'zero'")


@config_class
class STVLMConfig(Config):
    """The whole model. Modality drop-out (``use_*``) exists for ablations."""

    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    image: ImageConfig = field(default_factory=ImageConfig)
    text: TextConfig = field(default_factory=TextConfig)
    series: SeriesConfig = field(default_factory=SeriesConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    use_image: bool = True
    use_text: bool = True
    use_series: bool = True

    def check(self) -> None:
        if not self.use_series:
            # Predictions come from the ST-token outputs, so without series tokens the
            # nodes are represented by their node embeddings only (no values).
            pass
        if not (self.use_image or self.use_text or self.use_series):
            self.fail("use_series", "leaves no modality; at least one of use_image, use_text, "
                      "use_series must be true")
        dtype, strategy = self.backbone.dtype, self.finetune.strategy
        if dtype != "float32" and strategy != "frozen":
            raise ConfigError(
                f"backbone.dtype = {dtype!r} with finetune.strategy = {strategy!r} trains backbone "
                f"weights in {dtype}, where AdamW loses small updates (bfloat16: a norm's gain near "
                "1 never moves at lr 1e-3) or overflows (float16); allowed: 'float32' (train.amp "
                "computes in bfloat16 on CUDA), or finetune.strategy = 'frozen'"
            )

    @classmethod
    def tiny(cls) -> STVLMConfig:
        """The tiny preset used by tests and smoke runs (random ViLT, hidden 32, 2 layers)."""
        return cls(
            backbone=BackboneConfig(name="vilt", preset="tiny"),
            image=ImageConfig(grid=8, learnable_hidden=6),
            series=SeriesConfig(dim=16),
            fusion=FusionConfig(heads=2),
            finetune=FinetuneConfig(lora_rank=4),
        )
