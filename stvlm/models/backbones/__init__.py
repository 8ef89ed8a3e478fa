"""VLM / LLM backbones by name, behind one adapter (:class:`Backbone`).

``build_backbone(cfg)`` loads ``cfg.pretrained`` (a hub id or a local folder, passed to
``from_pretrained`` unchanged, never with ``trust_remote_code``) or builds the random
``cfg.preset`` (tiny / small / base) with the offline word-level tokenizer, then keeps the
first ``cfg.layers`` blocks.

| name | family | blocks the ST tokens go through |
|---|---|---|
| ``vilt`` (default) | single stream | ``encoder.layer`` |
| ``clip``, ``siglip`` | dual stream | the vision tower's ``encoder.layers`` |
| ``smolvlm`` | Idefics3 decoder VLM | ``text_model.layers`` |
| ``qwen2-vl``, ``qwen2.5-vl`` | decoder VLMs (M-RoPE) | ``language_model.layers`` |
| ``gpt2`` | LLM only (no image) | ``h`` |
"""

from __future__ import annotations

# isort: off  (registration order = the order names are listed in errors; vilt is the default)
from stvlm.models.backbones import vilt, clip, siglip, smolvlm, qwen_vl, gpt2  # noqa: F401
# isort: on
from stvlm.models.backbones.base import Backbone, BlockContext, Segments
from stvlm.models.backbones.registry import BACKBONES
from stvlm.models.backbones.tokenizer import word_tokenizer
from stvlm.configs import BackboneConfig

def build_backbone(cfg: BackboneConfig) -> Backbone:
    """The backbone named ``cfg.name``; unknown names raise ``UnknownNameError`` listing the known."""
    return BACKBONES.get(cfg.name).build(cfg)


__all__ = ["BACKBONES", "Backbone", "BlockContext", "Segments", "build_backbone", "word_tokenizer"]
