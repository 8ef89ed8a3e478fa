"""Backbones: tiny presets, exact shapes, agreement with the Hugging Face forward, loading."""

from __future__ import annotations

import json

import pytest
import torch
import transformers
from transformers import AutoTokenizer

from stvlm.errors import ConfigError, UnknownNameError
from stvlm.models.backbones import BACKBONES, Backbone, Segments, build_backbone, word_tokenizer
from stvlm.models.backbones.tokenizer import CLS_ID, IMAGE_ID, PAD_ID, SEP_ID, UNK_ID, VOCAB_SIZE
from stvlm.configs import BackboneConfig

NAMES = ("vilt", "clip", "siglip", "smolvlm", "qwen2-vl", "qwen2.5-vl", "gpt2")
# family -> (image side, patch grid, image tokens, text tokens for L_t = 6, LoRA targets)
EXPECTED = {
    "vilt": (32, (4, 4), 17, 6, ("query", "value")),
    "clip": (32, (4, 4), 17, 1, ("q_proj", "v_proj")),
    "siglip": (32, (4, 4), 16, 1, ("q_proj", "v_proj")),
    "smolvlm": (32, (4, 4), 16, 6, ("q_proj", "v_proj")),
    "qwen2-vl": (64, (8, 8), 64, 6, ("q_proj", "v_proj")),
    "qwen2.5-vl": (64, (8, 8), 64, 6, ("q_proj", "v_proj")),
    "gpt2": (0, (0, 0), 0, 6, ("c_attn",)),
}


def tiny(name: str, **kw) -> Backbone:
    torch.manual_seed(0)
    return build_backbone(BackboneConfig(name=name, **kw)).eval()


def inputs(backbone: Backbone, batch: int = 2):
    """Two prompts padded to 6 tokens (the second has 2 padding tokens) and random pixels."""
    enc = backbone.tokenizer(["traffic speed on monday", "max speed"], padding="max_length",
                             max_length=6, truncation=True, return_tensors="pt")
    gen = torch.Generator().manual_seed(1)
    side = backbone.image_size
    pixels = torch.randn(batch, 3, side, side, generator=gen) if backbone.has_vision else None
    return enc["input_ids"], enc["attention_mask"], pixels


def run(backbone: Backbone, tokens, mask, segments):
    context = backbone.block_context(mask, segments, tokens.dtype)
    hidden = tokens
    for i in range(backbone.num_layers):
        hidden = backbone.run_block(i, hidden, context)
    return hidden


def test_registry_lists_every_family_with_vilt_first():
    assert tuple(BACKBONES.names()) == NAMES
    with pytest.raises(UnknownNameError, match="unknown backbone 'blip'; known: vilt, clip"):
        build_backbone(BackboneConfig(name="blip"))


@pytest.mark.parametrize("name", NAMES)
def test_tiny_preset_shapes(name):
    side, grid, image_tokens, text_tokens, targets = EXPECTED[name]
    bb = tiny(name)
    assert (bb.family, bb.hidden_size, bb.num_layers, len(bb.blocks)) == (name, 32, 2, 2)
    assert (bb.image_size, bb.patch_grid, bb.lora_targets) == (side, grid, targets)
    ids, mask, pixels = inputs(bb)
    tokens, keep, seg = bb.embed(ids, mask, pixels)
    length = text_tokens + image_tokens
    assert tokens.shape == (2, length, 32) and keep.shape == (2, length) and keep.dtype == torch.bool
    image = slice(text_tokens, length) if image_tokens else slice(0, 0)
    assert (seg.text, seg.image, seg.st) == (slice(0, text_tokens), image, slice(0, 0))
    assert seg.patches.stop - seg.patches.start == grid[0] * grid[1]
    st = bb.position_embed(torch.zeros(2, 3, 32), keep)
    full = seg.with_st(3)
    assert full.st == slice(length, length + 3) and full.length == length + 3
    fmask = torch.cat([keep, torch.ones(2, 3, dtype=torch.bool)], dim=1)
    context = bb.block_context(fmask, full, tokens.dtype)
    hidden = bb.run_block(0, torch.cat([tokens, st], dim=1), context)
    assert hidden.shape == (2, length + 3, 32)
    assert bb.final_norm(hidden).shape == (2, length + 3, 32)
    assert torch.isfinite(bb.final_norm(hidden)).all()
    empty, empty_mask, empty_seg = bb.embed(batch_size=2)
    assert empty.shape == (2, 0, 32) and empty_mask.shape == (2, 0) and empty_seg.length == 0


SMALL = {  # the small preset (the benchmarks' sweeps): image side and patch grid
    "vilt": (224, (7, 7)), "clip": (224, (7, 7)), "siglip": (224, (14, 14)), "smolvlm": (256, (8, 8)),
    "qwen2-vl": (224, (8, 8)), "qwen2.5-vl": (224, (8, 8)), "gpt2": (0, (0, 0)),
}


@pytest.mark.parametrize("name", NAMES)
def test_small_preset_builds_and_runs_a_block(name):
    """Every family's small preset (256 wide, 4 layers) embeds text and an image and runs a block."""
    bb = tiny(name, preset="small")
    assert (bb.hidden_size, bb.num_layers, bb.image_size, bb.patch_grid) == (256, 4, *SMALL[name])
    ids, mask, pixels = inputs(bb, batch=1)
    tokens, keep, seg = bb.embed(ids[:1], mask[:1], pixels)
    hidden = bb.run_block(0, tokens, bb.block_context(keep, seg, tokens.dtype))
    assert hidden.shape == tokens.shape and tokens.shape[-1] == 256 and torch.isfinite(hidden).all()


@pytest.mark.parametrize("name", ["vilt", "qwen2-vl", "gpt2"])
def test_truncation_keeps_the_first_blocks(name):
    full, cut = tiny(name), tiny(name, layers=1)
    assert cut.num_layers == 1
    assert torch.equal(full.blocks[0].state_dict()[next(iter(cut.blocks[0].state_dict()))],
                       cut.blocks[0].state_dict()[next(iter(cut.blocks[0].state_dict()))])
    with pytest.raises(ConfigError) as err:
        tiny(name, layers=3)
    assert str(err.value) == (
        f"backbone.layers = 3 is larger than the {name} model's 2 layers; allowed: 1..2 or null"
    )


def test_vilt_matches_hf_forward_on_text_and_cls_tokens():
    bb = tiny("vilt")
    ids, mask, pixels = inputs(bb)
    tokens, keep, seg = bb.embed(ids, mask, pixels)
    ours = bb.final_norm(run(bb, tokens, keep, seg))
    ref = bb.model(input_ids=ids, attention_mask=mask, pixel_values=pixels).last_hidden_state
    valid = mask.bool()  # HF shuffles the patch order, so compare text and CLS tokens
    torch.testing.assert_close(ours[:, :6][valid], ref[:, :6][valid], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours[:, 6], ref[:, 6], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["clip", "siglip"])
def test_dual_stream_vision_and_text_match_hf(name):
    bb = tiny(name)
    ids, mask, pixels = inputs(bb)
    tokens, keep, seg = bb.embed(None, None, pixels)
    hidden = run(bb, tokens, keep, seg)
    ref = bb.model.vision_model(pixel_values=pixels).last_hidden_state
    ours = hidden if name == "clip" else bb.final_norm(hidden)  # SigLIP's output is post-norm
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
    text, _, seg = bb.embed(ids, mask, None)
    pooled = bb.model.text_model(input_ids=ids, attention_mask=mask).pooler_output
    torch.testing.assert_close(text[:, 0], bb.text_to_vision(pooled))
    assert seg.text == slice(0, 1) and seg.image == slice(0, 0)


def test_smolvlm_text_and_image_features_match_hf():
    bb = tiny("smolvlm")
    ids, mask, pixels = inputs(bb)
    tokens, keep, seg = bb.embed(ids, mask, None)
    ours = bb.final_norm(run(bb, tokens, keep, seg))
    ref = bb.model.text_model(input_ids=ids, attention_mask=mask).last_hidden_state
    valid = mask.bool()
    torch.testing.assert_close(ours[valid], ref[valid], atol=1e-5, rtol=1e-5)
    feats = bb.model.get_image_features(pixel_values=pixels[:, None]).pooler_output
    torch.testing.assert_close(bb.image_features(pixels), torch.stack(feats), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["qwen2-vl", "qwen2.5-vl"])
def test_qwen_matches_hf_forward_with_image_tokens(name):
    bb = tiny(name)
    ids = bb.tokenizer(["traffic speed on monday"], return_tensors="pt")["input_ids"]  # [1, 6]
    pixels = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    tokens, keep, seg = bb.embed(ids, torch.ones_like(ids), pixels)
    ours = bb.final_norm(run(bb, tokens, keep, seg))
    # the same sequence through the HF model: 64 image placeholders after the text
    full_ids = torch.cat([ids, torch.full((1, 64), IMAGE_ID)], dim=1)
    types = torch.cat([torch.zeros_like(ids), torch.ones(1, 64, dtype=torch.long)], dim=1)
    vision = bb.model.config.vision_config
    p, m, tp = vision.patch_size, vision.spatial_merge_size, vision.temporal_patch_size
    flat = pixels.reshape(1, 3, 8, m, p, 8, m, p).permute(0, 2, 5, 3, 6, 1, 4, 7)
    flat = flat.unsqueeze(6).expand(-1, -1, -1, -1, -1, -1, tp, -1, -1).reshape(256, -1)
    grid = torch.tensor([[1, 16, 16]])
    ref = bb.model(input_ids=full_ids, mm_token_type_ids=types, pixel_values=flat,
                   image_grid_thw=grid).last_hidden_state
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
    positions, _ = bb.model.get_rope_index(full_ids, mm_token_type_ids=types, image_grid_thw=grid)
    assert torch.equal(bb.position_ids(keep, seg), positions)
    with_st = bb.position_ids(torch.ones(1, 72, dtype=torch.bool), seg.with_st(2))
    assert with_st[:, 0, 70:].tolist() == [[14, 15]] * 3  # after text (6) + max(8, 8)


def test_gpt2_matches_hf_forward_and_positions_st_after_the_text():
    bb = tiny("gpt2")
    ids, mask, _ = inputs(bb)
    tokens, keep, seg = bb.embed(ids, mask, None)
    ours = bb.final_norm(run(bb, tokens, keep, seg))
    ref = bb.model(input_ids=ids, attention_mask=mask).last_hidden_state
    valid = mask.bool()
    torch.testing.assert_close(ours[valid], ref[valid], atol=1e-5, rtol=1e-5)
    st = bb.position_embed(torch.zeros(2, 2, 32), keep)  # text lengths 6 and 4
    wpe = bb.model.wpe.weight
    assert torch.equal(st[0], wpe[6:8]) and torch.equal(st[1], wpe[4:6])


def test_decoder_mask_is_causal_over_text_and_open_for_st():
    bb = tiny("gpt2")
    mask = torch.tensor([[True, True, False, True, True]])  # 3 text tokens (1 pad) + 2 ST
    seg = Segments(text=slice(0, 3), st=slice(3, 5))
    keep = bb.attention_mask(mask, seg, torch.float32)[0, 0].int().tolist()
    assert keep == [
        [1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0],
        [1, 1, 1, 0, 0],  # the padding row sees itself only besides real tokens
        [1, 1, 0, 1, 1],
        [1, 1, 0, 1, 1],
    ]
    additive = tiny("vilt").attention_mask(mask, seg, torch.float32)
    assert additive.shape == (1, 1, 1, 5)
    assert additive[0, 0, 0].tolist() == [0.0, 0.0, torch.finfo(torch.float32).min, 0.0, 0.0]


@pytest.mark.parametrize("name", NAMES)
def test_from_pretrained_round_trip(name, tmp_path, monkeypatch):
    bb = tiny(name)
    bb.model.save_pretrained(tmp_path)
    bb.tokenizer.save_pretrained(tmp_path)
    stats = {"image_mean": [0.1, 0.2, 0.3], "image_std": [0.4, 0.5, 0.6]}
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(stats))
    calls = []
    real = type(bb).model_class

    class Spy:  # records the call, then loads for real
        @staticmethod
        def from_pretrained(path, **kwargs):
            calls.append((path, kwargs))
            return real.from_pretrained(path, **kwargs)

    monkeypatch.setattr(type(bb), "model_class", Spy)
    loaded = build_backbone(BackboneConfig(name=name, pretrained=str(tmp_path),
                                           local_files_only=True)).eval()
    path, kwargs = calls[0]
    assert path == str(tmp_path) and kwargs["local_files_only"] is True
    assert kwargs["revision"] is None and not kwargs.get("trust_remote_code", False)
    assert kwargs["dtype"] is torch.float32  # BackboneConfig.dtype reaches from_pretrained
    assert (loaded.image_mean, loaded.image_std) == ((0.1, 0.2, 0.3), (0.4, 0.5, 0.6))
    extra = {k: v for k, v in bb.state_dict().items() if not k.startswith("model.")}
    loaded.load_state_dict(extra, strict=False)  # parameters a family adds (not in the HF file)
    ids, mask, pixels = inputs(bb)
    assert torch.equal(inputs(loaded)[0], ids)
    a = bb.final_norm(run(bb, *bb.embed(ids, mask, pixels)))
    b = loaded.final_norm(run(loaded, *loaded.embed(ids, mask, pixels)))
    assert torch.equal(a, b)


def test_hub_ids_and_paths_reach_from_pretrained_unchanged(tmp_path):
    with pytest.raises(ConfigError) as err:
        build_backbone(BackboneConfig(name="vilt", pretrained="dandelin/vilt-b32-mlm",
                                      revision="main", local_files_only=True))
    message = str(err.value)
    assert message.startswith(
        "backbone.pretrained = 'dandelin/vilt-b32-mlm' could not be loaded for backbone 'vilt' "
        "(revision='main', local_files_only=True): "
    )
    assert "\n" not in message and message.endswith("written by save_pretrained")
    missing = tmp_path / "no-model"
    with pytest.raises(ConfigError, match=f"backbone.pretrained = '{missing}' could not be"):
        build_backbone(BackboneConfig(name="gpt2", pretrained=str(missing), local_files_only=True))


@pytest.mark.parametrize("name", NAMES)
def test_a_folder_without_tokenizer_files_is_refused(name, tmp_path):
    """transformers builds a tokenizer of special tokens only there: every prompt would read as
    one unknown token and the text modality would carry nothing, silently."""
    tiny(name).model.save_pretrained(tmp_path)
    with pytest.raises(ConfigError) as err:
        build_backbone(BackboneConfig(name=name, pretrained=str(tmp_path), local_files_only=True))
    message = str(err.value)
    assert message.startswith(f"backbone.pretrained = '{tmp_path}' ") and "\n" not in message
    # most families build a tokenizer of special tokens only; some fail to build one at all
    assert "has a tokenizer without words (" in message or (
        "could not be loaded" in message and "tokenizer" in message.lower())


def test_folders_that_hold_no_model_are_one_line_errors(tmp_path):
    bb = tiny("vilt")
    bb.model.save_pretrained(tmp_path / "model")
    only_weights = tmp_path / "only-weights"
    only_weights.mkdir()
    (only_weights / "model.safetensors").write_bytes((tmp_path / "model" / "model.safetensors").read_bytes())
    for path in (tmp_path / "empty", only_weights, tmp_path / "model" / "config.json"):
        if path.name == "empty":
            path.mkdir()
        with pytest.raises(ConfigError) as err:
            build_backbone(BackboneConfig(name="vilt", pretrained=str(path), local_files_only=True))
        assert str(err.value).startswith(f"backbone.pretrained = '{path}' could not be loaded for backbone 'vilt'")
        assert "\n" not in str(err.value)


@pytest.mark.parametrize("name,size,grid", [("vilt", 48, (6, 6)), ("clip", 16, (2, 2)),
                                            ("smolvlm", 48, (6, 6)), ("qwen2-vl", 32, (4, 4))])
def test_other_image_sizes_interpolate(name, size, grid):
    bb = tiny(name)
    bb.use_image_size(size)
    assert (bb.image_size, bb.patch_grid) == (size, grid)
    pixels = torch.randn(1, 3, size, size)
    tokens, keep, seg = bb.embed(None, None, pixels)
    assert seg.patches.stop - seg.patches.start == grid[0] * grid[1]
    assert torch.isfinite(bb.final_norm(run(bb, tokens, keep, seg))).all()


@pytest.mark.parametrize("name,size,step", [("vilt", 30, 8), ("siglip", 4, 8), ("qwen2.5-vl", 36, 8)])
def test_image_size_that_does_not_fit_is_rejected(name, size, step):
    bb = tiny(name)
    with pytest.raises(ConfigError) as err:
        bb.use_image_size(size)
    assert str(err.value) == (
        f"image.size = {size} does not fit backbone {name!r}; allowed: multiples of {step} "
        f"(e.g. {EXPECTED[name][0]})"
    )


def test_word_tokenizer_vocabulary_and_round_trip(tmp_path):
    tok = word_tokenizer(40)
    assert VOCAB_SIZE == len(tok) == 384
    assert (PAD_ID, UNK_ID, CLS_ID, SEP_ID, IMAGE_ID) == (0, 1, 2, 3, 4)
    out = tok("Speed 35.5 MPH, Monday zzz")["input_ids"]
    assert tok.convert_ids_to_tokens(out) == [
        "[CLS]", "speed", "3", "5", ".", "5", "mph", ",", "monday", "[UNK]", "[SEP]"]
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again("Speed 35.5 MPH, Monday zzz")["input_ids"] == out
    assert (again.pad_token_id, again.padding_side, again.model_max_length) == (0, "right", 40)


@pytest.mark.parametrize("name,head_class", [
    ("vilt", "ViltForMaskedLM"), ("smolvlm", "Idefics3ForConditionalGeneration"),
    ("qwen2-vl", "Qwen2VLForConditionalGeneration"),
    ("qwen2.5-vl", "Qwen2_5_VLForConditionalGeneration"), ("gpt2", "GPT2LMHeadModel"),
])
def test_hub_checkpoints_with_a_head_load_into_the_base_model(name, head_class, tmp_path):
    """Hub checkpoints of these families are saved with a head (MLM, LM): the blocks must load."""
    bb = tiny(name)
    torch.manual_seed(5)
    with_head = getattr(transformers, head_class)(bb.model.config)
    with_head.save_pretrained(tmp_path)
    bb.tokenizer.save_pretrained(tmp_path)
    loaded = build_backbone(BackboneConfig(name=name, pretrained=str(tmp_path), local_files_only=True))
    source = {n: p for n, p in with_head.named_parameters()}
    for key, value in loaded.blocks[1].state_dict().items():
        matches = [n for n in source if n.endswith(f".1.{key}") and source[n].shape == value.shape
                   and torch.equal(source[n], value)]
        assert matches, f"{name}: block 1 {key} was not loaded from the checkpoint"


def test_a_checkpoint_of_another_family_is_rejected(tmp_path):
    bb = tiny("gpt2")
    bb.model.save_pretrained(tmp_path)
    bb.tokenizer.save_pretrained(tmp_path)
    with pytest.raises(ConfigError) as err:
        build_backbone(BackboneConfig(name="smolvlm", pretrained=str(tmp_path), local_files_only=True))
    assert str(err.value) == (
        f"backbone.pretrained = '{tmp_path}' holds a 'gpt2' model; backbone.name = 'smolvlm' takes "
        "model types: idefics3, smolvlm"
    )


def test_a_tokenizer_without_pad_token_pads_with_eos(tmp_path):
    bb = tiny("gpt2")
    bb.model.save_pretrained(tmp_path)
    tok = word_tokenizer(64)
    tok.pad_token = None  # like GPT-2's own tokenizer
    tok.save_pretrained(tmp_path)
    assert AutoTokenizer.from_pretrained(tmp_path).pad_token is None
    loaded = build_backbone(BackboneConfig(name="gpt2", pretrained=str(tmp_path), local_files_only=True))
    assert (loaded.tokenizer.pad_token, loaded.tokenizer.pad_token_id) == ("[SEP]", SEP_ID)


@pytest.mark.parametrize("name", NAMES)
def test_bfloat16_backbone_loads_in_its_dtype(name, tmp_path):
    bb = tiny(name)
    bb.model.save_pretrained(tmp_path)
    bb.tokenizer.save_pretrained(tmp_path)
    loaded = build_backbone(BackboneConfig(name=name, pretrained=str(tmp_path), local_files_only=True,
                                           dtype="bfloat16"))
    assert {p.dtype for p in loaded.parameters()} == {torch.bfloat16}
    random = build_backbone(BackboneConfig(name=name, preset="tiny", dtype="bfloat16"))
    assert {p.dtype for p in random.parameters()} == {torch.bfloat16}
