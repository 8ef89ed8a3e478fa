"""The uniform adapter every VLM / LLM backbone family implements.

ST-VLM never calls a Hugging Face model's own ``forward``. It asks the backbone for the token
sequence entering the first block (:meth:`Backbone.embed`), appends its spatial-temporal (ST)
tokens, and runs the blocks one by one (:meth:`Backbone.run_block`), so the fusion module can
act between blocks. Each family (one file each) says how its embeddings, masks, positions and
block calls work in transformers 5.x.

Sequence layout: ``[text ; image ; ST]`` with the index ranges named by :class:`Segments`.
Bidirectional families (ViLT, the CLIP/SigLIP vision tower) let every token see every valid
token. Decoder families (GPT-2, Idefics3/SmolVLM, Qwen-VL) keep their causal mask over
``[text ; image]``; ST tokens come last and see the whole sequence, including each other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from transformers import AutoConfig, AutoTokenizer, PreTrainedModel

from stvlm.errors import ConfigError
from stvlm.models.backbones.loading import HALF, image_stats, load_pretrained
from stvlm.models.backbones.sequence import BlockContext, Segments
from stvlm.models.backbones.tokenizer import word_tokenizer
from stvlm.configs import BackboneConfig

__all__ = ["Backbone", "BlockContext", "Segments"]


class Backbone(nn.Module):
    """A VLM (or LLM) seen as: embeddings -> blocks -> final norm.

    Subclasses set the class attributes and implement the abstract methods below. Every
    parameter of the pretrained network lives under ``self.model``; anything else a family adds
    (e.g. the text-to-vision projection of CLIP/SigLIP) is new and always trains.

    Args:
        model: the Hugging Face model.
        tokenizer: its tokenizer (a word-level one for random presets).
        image_mean: per-channel mean of the pixel normalisation.
        image_std: per-channel std of the pixel normalisation.
    """

    family: ClassVar[str] = ""
    lora_targets: ClassVar[tuple[str, ...]] = ()
    lora_fan_in_fan_out: ClassVar[bool] = False  # GPT-2's Conv1D stores weights transposed
    attention_names: ClassVar[tuple[str, ...]] = ()  # a block's attention sub-modules (pfa)
    default_mean: ClassVar[tuple[float, ...]] = HALF
    default_std: ClassVar[tuple[float, ...]] = HALF
    causal: ClassVar[bool] = False
    has_vision: ClassVar[bool] = True
    mask_kind: ClassVar[str] = "bool"  # "bool" (SDPA) or "additive"
    model_class: ClassVar[type[PreTrainedModel]]
    model_types: ClassVar[tuple[str, ...]] = ()  # config.model_type values of the family

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: Any,
        *,
        image_mean: tuple[float, ...],
        image_std: tuple[float, ...],
    ) -> None:
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.image_mean = tuple(float(v) for v in image_mean)
        self.image_std = tuple(float(v) for v in image_std)
        self.image_size = self.native_image_size if self.has_vision else 0

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def preset_model(cls, preset: str) -> PreTrainedModel:
        """A randomly initialised model of the named size (tiny, small or base)."""
        raise NotImplementedError

    @classmethod
    def build(cls, cfg: BackboneConfig) -> Backbone:
        """Load ``cfg.pretrained`` or build the random ``cfg.preset``; keep ``cfg.layers`` blocks."""
        if cfg.pretrained is None:
            model = cls.preset_model(cfg.preset)
            tokenizer = word_tokenizer(cls.text_positions_of(model))
            backbone = cls(model, tokenizer, image_mean=cls.default_mean, image_std=cls.default_std)
        else:
            backbone = cls.from_hub(cfg)
        backbone.truncate(cfg.layers)
        backbone.to(getattr(torch, cfg.dtype))  # the model (no-op when loaded so) and its own layers
        return backbone

    @classmethod
    def from_hub(cls, cfg: BackboneConfig) -> Backbone:
        """``from_pretrained`` with the hub id or folder passed through unchanged.

        Raises:
            ConfigError: nothing loadable there, or a model of another family.
        """
        model, tokenizer, mean, std = load_pretrained(cfg, cls.model_class, cls.model_types,
                                                      cls.load_kwargs(), cls.default_mean,
                                                      cls.default_std)
        return cls(model, tokenizer, image_mean=mean, image_std=std)

    def save_parts(self, folder: Path) -> None:
        """Write what rebuilds this backbone's architecture without a download: the Hugging Face
        config, the tokenizer and the image statistics (``save_pretrained`` files, no weights)."""
        folder.mkdir(parents=True, exist_ok=True)
        self.model.config.save_pretrained(str(folder))
        self.tokenizer.save_pretrained(str(folder))
        stats = {"image_mean": list(self.image_mean), "image_std": list(self.image_std)}
        (folder / "preprocessor_config.json").write_text(json.dumps(stats, indent=2) + "\n")

    @classmethod
    def from_saved(cls, folder: Path, cfg: BackboneConfig) -> Backbone:
        """The architecture of a backbone written by :meth:`save_parts`, with untrained weights
        (the caller loads the trained ones); ``cfg.layers`` blocks are kept."""
        config = AutoConfig.from_pretrained(str(folder), local_files_only=True)
        factory = getattr(cls.model_class, "from_config", None) or cls.model_class._from_config
        model = factory(config, **cls.load_kwargs())
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        mean, std = image_stats(str(folder), cls.default_mean, cls.default_std, local_files_only=True)
        backbone = cls(model, tokenizer, image_mean=mean, image_std=std)
        backbone.truncate(cfg.layers)
        backbone.to(getattr(torch, cfg.dtype))
        return backbone

    @classmethod
    def load_kwargs(cls) -> dict[str, Any]:
        """Extra ``from_pretrained`` arguments (never ``trust_remote_code``)."""
        return {"attn_implementation": "sdpa"} if cls.mask_kind == "bool" else {}

    @classmethod
    def text_positions_of(cls, model: PreTrainedModel) -> int:
        """Longest text the model takes (text position embeddings)."""
        raise NotImplementedError

    def truncate(self, layers: int | None) -> None:
        """Keep only the first ``layers`` blocks (``vlm_layers``); ``None`` keeps all."""
        if layers is None:
            return
        owner, name = self.block_owner()
        blocks = getattr(owner, name)
        if layers > len(blocks):
            raise ConfigError(
                f"backbone.layers = {layers} is larger than the {self.family} model's "
                f"{len(blocks)} layers; allowed: 1..{len(blocks)} or null"
            )
        setattr(owner, name, nn.ModuleList(list(blocks)[:layers]))
        config = getattr(owner, "config", None)
        if config is not None and hasattr(config, "num_hidden_layers"):
            config.num_hidden_layers = layers
            if getattr(config, "layer_types", None):
                config.layer_types = list(config.layer_types)[:layers]

    # -- geometry -------------------------------------------------------------------------

    def block_owner(self) -> tuple[nn.Module, str]:
        """The module holding the block list and the attribute name of the list."""
        raise NotImplementedError

    @property
    def blocks(self) -> nn.ModuleList:
        """The transformer blocks that the fused tokens go through."""
        owner, name = self.block_owner()
        return getattr(owner, name)

    @property
    def num_layers(self) -> int:
        return len(self.blocks)

    @property
    def hidden_size(self) -> int:
        raise NotImplementedError

    @property
    def native_image_size(self) -> int:
        """Image side of the model's config (its position embeddings)."""
        raise NotImplementedError

    @property
    def patch_size(self) -> int:
        """Pixels per side of one vision patch."""
        raise NotImplementedError

    @property
    def token_stride(self) -> int:
        """Pixels per side of one image token (patch x merge factor of the connector)."""
        return self.patch_size

    @property
    def patch_grid(self) -> tuple[int, int]:
        """Rows and columns of image tokens for the current ``image_size``."""
        side = self.image_size // self.token_stride
        return side, side

    @property
    def max_text_length(self) -> int:
        return self.text_positions_of(self.model)

    @property
    def max_positions(self) -> int | None:
        """Longest whole sequence the blocks take (absolute positions), ``None``: no limit."""
        return None

    def use_image_size(self, size: int | None) -> None:
        """Set the image side fed to the backbone; sizes it cannot take raise ``ConfigError``.

        Every family interpolates its position embeddings (ViLT bilinearly, CLIP/SigLIP with
        ``interpolate_pos_encoding``, Idefics3 by bucketing, Qwen natively), so any square
        image whose side is a multiple of the image-token stride works.
        """
        if not self.has_vision:
            return
        size = self.native_image_size if size is None else size
        step = self.token_stride
        if size % step or size < step:
            raise ConfigError(
                f"image.size = {size} does not fit backbone {self.family!r}; allowed: multiples "
                f"of {step} (e.g. {self.native_image_size})"
            )
        self.image_size = size

    # -- forward pieces -------------------------------------------------------------------

    def embed(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        *,
        batch_size: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, Segments]:
        """Tokens entering the first block.

        Args:
            input_ids: ``[B, L_t]`` token ids, or ``None`` (no text).
            attention_mask: ``[B, L_t]`` 1 for real tokens, 0 for padding.
            pixel_values: ``[B, 3, S, S]`` normalised pixels, or ``None`` (no image).
            batch_size: B when there is neither text nor image.

        Returns:
            ``tokens [B, L, d]``, ``mask [B, L]`` (bool, True = real token) and the segments.
        """
        raise NotImplementedError

    def position_embed(self, st: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Add absolute position embeddings to ST tokens appended after ``mask [B, L]``.

        Families with rotary or no positions for appended tokens return ``st`` unchanged.
        """
        return st

    def block_context(
        self, mask: torch.Tensor, segments: Segments, dtype: torch.dtype
    ) -> BlockContext:
        """Attention mask (and positions) for a sequence with key mask ``mask [B, L]``."""
        return BlockContext(self.attention_mask(mask, segments, dtype))

    def attention_mask(
        self, mask: torch.Tensor, segments: Segments, dtype: torch.dtype
    ) -> torch.Tensor:
        """``[B, 1, 1 or L, L]`` mask: padding keys hidden; causal over text+image if the family is."""
        keep = mask.bool()[:, None, None, :]  # [B, 1, 1, L]
        if self.causal:
            length = mask.shape[1]
            rule = torch.ones(length, length, dtype=torch.bool, device=mask.device).tril()
            rule[segments.st] = True  # ST tokens see the whole sequence
            # every token sees itself, so no row is fully masked (SDPA would give NaN)
            keep = (keep & rule) | torch.eye(length, dtype=torch.bool, device=mask.device)
        if self.mask_kind == "bool":
            return keep
        return torch.zeros(keep.shape, dtype=dtype, device=mask.device).masked_fill(
            ~keep, torch.finfo(dtype).min
        )

    def run_block(self, index: int, hidden: torch.Tensor, context: BlockContext) -> torch.Tensor:
        """Run block ``index`` on ``hidden [B, L, d]`` and return ``[B, L, d]``."""
        raise NotImplementedError

    def final_norm(self, hidden: torch.Tensor) -> torch.Tensor:
        """The model's final normalisation of ``hidden [B, L, d]``."""
        raise NotImplementedError
