"""GPT-2: the LLM-only comparison (ST-LLM style), no vision tower.

Paper: Radford et al., "Language Models are Unsupervised Multitask Learners", 2019; used as the
backbone of ST-LLM (Liu et al., MDM 2024). Hub: ``openai-community/gpt2``.

The image modality is unavailable: ``build_model`` rejects ``use_image = true`` with this
backbone (feeding pixels through a new, untrained patch embedding would not be an "LLM-only"
comparison any more). The sequence is ``[text ; ST]``; ST tokens get GPT-2's learned absolute
position embeddings (``wpe``) after the text, as ST-LLM's ``inputs_embeds`` do.
"""

from __future__ import annotations

import torch
from transformers import GPT2Config, GPT2Model, PreTrainedModel

from stvlm.models.backbones.base import Backbone, BlockContext, Segments
from stvlm.models.backbones.decoder import compact_positions
from stvlm.models.backbones.registry import BACKBONES
from stvlm.models.backbones.tokenizer import CLS_ID, SEP_ID, VOCAB_SIZE

_IDS = dict(vocab_size=VOCAB_SIZE, bos_token_id=CLS_ID, eos_token_id=SEP_ID, pad_token_id=0)
PRESETS = {
    "tiny": dict(_IDS, n_embd=32, n_layer=2, n_head=4, n_inner=37, n_positions=512,
                 resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0),
    "small": dict(_IDS, n_embd=256, n_layer=4, n_head=4, n_positions=1024),
    "base": dict(bos_token_id=CLS_ID, eos_token_id=SEP_ID, pad_token_id=0),  # GPT-2 124M
}


@BACKBONES.register("gpt2")
class GPT2Backbone(Backbone):
    """GPT-2: ``[text ; ST]`` through ``h`` (causal over text, ST tokens see everything)."""

    family = "gpt2"
    lora_targets = ("c_attn",)
    lora_fan_in_fan_out = True
    attention_names = ("attn",)
    causal = True
    has_vision = False
    model_types = ("gpt2",)
    model_class = GPT2Model

    @classmethod
    def preset_model(cls, preset: str) -> GPT2Model:
        return GPT2Model(GPT2Config(**PRESETS[preset]))

    @classmethod
    def text_positions_of(cls, model: PreTrainedModel) -> int:
        return int(model.config.n_positions)

    def block_owner(self):
        return self.model, "h"

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.n_embd)

    @property
    def native_image_size(self) -> int:
        return 0

    @property
    def patch_size(self) -> int:
        return 0

    @property
    def patch_grid(self) -> tuple[int, int]:
        return 0, 0

    @property
    def max_positions(self) -> int | None:
        return int(self.model.config.n_positions)

    def embed(self, input_ids=None, attention_mask=None, pixel_values=None, *, batch_size=None):
        if pixel_values is not None:
            raise ValueError("gpt2 has no vision tower; pixel_values must be None")
        if input_ids is None:
            weight = self.model.wte.weight
            empty = weight.new_zeros(batch_size, 0, self.hidden_size)
            return empty, torch.ones(batch_size, 0, dtype=torch.bool, device=weight.device), Segments()
        mask = attention_mask.bool()
        tokens = self.model.wte(input_ids) + self.model.wpe(compact_positions(mask))  # [B, L_t, d]
        return self.model.drop(tokens), mask, Segments(text=slice(0, input_ids.shape[1]))

    def position_embed(self, st: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        start = mask.long().sum(dim=1, keepdim=True)  # [B, 1] real tokens before the ST tokens
        positions = start + torch.arange(st.shape[1], device=st.device)  # [B, M]
        return st + self.model.wpe(positions)

    def run_block(self, index: int, hidden: torch.Tensor, context: BlockContext) -> torch.Tensor:
        return self.blocks[index](hidden, attention_mask=context.attention_mask)

    def final_norm(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.model.ln_f(hidden)

