"""Fine-tuning strategies: exact trainable counts, LoRA on every family, adapter checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from stvlm.data.pipeline import prepare_forecast
from stvlm.data.protocols import Protocol
from stvlm.data.series import DatasetInfo, SpatioTemporalData
from stvlm.errors import ConfigError, DataError, UnknownNameError
from stvlm.models import build_model
from stvlm.models.backbones import BACKBONES, build_backbone
from stvlm.configs import BackboneConfig, FinetuneConfig, STVLMConfig
from stvlm.models.finetune import (
    FINETUNE_STRATEGIES,
    apply_finetune,
    load_adapter,
    save_adapter,
    trainable_parameters,
)

D, LAYERS = 32, 2
HEAD = D * 3 + 3  # the stand-in head: Linear(32, 3)
LINEAR = D * D + D  # one 32 -> 32 linear layer with bias
NORMS = (1 + 2 * LAYERS + 1) * 2 * D  # ViLT: text-embedding LN, 2 per layer, final LN
ATTENTION = 4 * LINEAR  # query, key, value, output.dense of one ViLT layer
VILT_TOTAL = sum(p.numel() for p in build_backbone(BackboneConfig()).model.parameters())


def tiny_model(name: str = "vilt") -> nn.ModuleDict:
    torch.manual_seed(0)
    return nn.ModuleDict({"backbone": build_backbone(BackboneConfig(name=name)),
                          "head": nn.Linear(D, 3)})


def count(strategy: str, **kw) -> int:
    model = tiny_model()
    apply_finetune(model, model["backbone"], FinetuneConfig(strategy=strategy, **kw))
    return trainable_parameters(model)


@pytest.mark.parametrize("strategy,kw,expected", [
    ("frozen", {}, HEAD),
    ("layernorm", {}, HEAD + NORMS),
    ("pfa", {"trainable_layers": 1}, HEAD + ATTENTION + NORMS),
    ("pfa", {"trainable_layers": 2, "train_layernorm": False}, HEAD + 2 * ATTENTION),
    ("pfa", {"trainable_layers": 0}, HEAD + NORMS),
    ("lora", {"lora_rank": 4}, HEAD + NORMS + 2 * LAYERS * (4 * D + D * 4)),
    ("lora", {"lora_rank": 2, "lora_targets": ("query", "key", "value"),
              "train_layernorm": False}, HEAD + 3 * LAYERS * 2 * (2 * D)),
    ("full", {}, HEAD + VILT_TOTAL),
])
def test_trainable_parameter_table_for_tiny_vilt(strategy, kw, expected):
    assert count(strategy, **kw) == expected


def test_every_strategy_is_registered():
    assert FINETUNE_STRATEGIES.names() == ["frozen", "layernorm", "pfa", "lora", "full"]
    with pytest.raises(UnknownNameError, match="unknown finetune strategy 'adapter'"):
        FINETUNE_STRATEGIES.get("adapter")


def test_pfa_trains_exactly_the_last_blocks_attention():
    model = tiny_model()
    apply_finetune(model, model["backbone"], FinetuneConfig(strategy="pfa", trainable_layers=1,
                                                            train_layernorm=False))
    names = {n for n, p in model.named_parameters() if p.requires_grad and n.startswith("backbone")}
    assert names == {f"backbone.model.encoder.layer.1.attention.{m}.{w}"
                     for m in ("attention.query", "attention.key", "attention.value", "output.dense")
                     for w in ("weight", "bias")}


def test_lora_parameters_grow_linearly_with_rank():
    counts = [count("lora", lora_rank=r, train_layernorm=False) - HEAD for r in (1, 2, 4, 8)]
    assert counts == [2 * LAYERS * 2 * D * r for r in (1, 2, 4, 8)] == [256, 512, 1024, 2048]


@pytest.mark.parametrize("name", BACKBONES.names())
def test_lora_on_default_targets_keeps_outputs_at_init(name):
    model = tiny_model(name)
    bb = model["backbone"].eval()
    enc = bb.tokenizer(["traffic speed"], return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]

    def run():
        tokens, keep, seg = bb.embed(ids, mask, None)
        context = bb.block_context(keep, seg, tokens.dtype)
        return bb.final_norm(bb.run_block(1, bb.run_block(0, tokens, context), context))

    before = run()
    apply_finetune(model, bb, FinetuneConfig(strategy="lora", lora_rank=2, train_layernorm=False))
    lora = [n for n, p in model.named_parameters() if p.requires_grad and "lora_" in n]
    assert len(lora) > 0 and all(n.endswith(".default.weight") for n in lora)
    assert torch.equal(run(), before)  # LoRA B starts at zero


def test_lora_errors_name_the_targets_and_existing_modules():
    model = tiny_model()
    with pytest.raises(ConfigError) as err:
        apply_finetune(model, model["backbone"],
                       FinetuneConfig(strategy="lora", lora_targets=("query", "qkv")))
    message = str(err.value)
    assert message.startswith(
        "finetune.lora_targets = ('query', 'qkv') has ('qkv',), matching no module of the vilt "
        "backbone; existing module names include: ")
    assert "query" in message and "value" in message
    with pytest.raises(ConfigError, match="finetune.lora_rank = 0 is out of range"):
        FinetuneConfig.from_dict({"lora_rank": 0}, path="finetune")


def test_pfa_more_layers_than_the_backbone_is_rejected():
    with pytest.raises(ConfigError) as err:
        count("pfa", trainable_layers=3)
    assert str(err.value) == (
        "finetune.trainable_layers = 3 is larger than the backbone's 2 layers; allowed: 0..2"
    )


def toy_forecast():
    rng = np.random.default_rng(0)
    values = (rng.random((40, 4, 2)) * 50 + 1).astype(np.float32)
    info = DatasetInfo(name="toy", folder="TOY", title="toy", description="Hand-made speeds.",
                       nodes=4, steps=40, interval_minutes=15, channels=("speed", "flow"),
                       units=("mph", "veh"), coordinates="latlon", adjacency=True)
    data = SpatioTemporalData(info=info, values=values, tod=np.arange(40) % 96,
                              dow=np.zeros(40, dtype=np.int64), coords=rng.random((4, 2)),
                              adjacency=np.ones((4, 4), dtype=np.float32))
    proto = Protocol(name="standard", input_len=4, output_len=3, report_horizons=(1, 3),
                     pooling="step", overall="horizon_mean", split=(0.6, 0.2, 0.2))
    return prepare_forecast(data, proto)


def test_adapter_save_load_reproduces_outputs_exactly(tmp_path):
    forecast = toy_forecast()
    cfg = STVLMConfig.tiny().replace(image=STVLMConfig.tiny().image.replace(encoding="learnable"))
    batch = next(forecast.batches("val", 4))
    torch.manual_seed(1)
    trained = build_model(cfg, forecast).eval()
    with torch.no_grad():  # stand-in for training: move every trainable parameter
        for p in trained.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.1)
    expected = trained(batch)
    folder = save_adapter(trained, tmp_path / "adapter")
    assert sorted(f.name for f in folder.iterdir()) == ["trainable.json", "trainable.safetensors"]
    torch.manual_seed(1)  # same preset, same seed: the same frozen weights
    fresh = build_model(cfg, forecast).eval()
    assert not torch.equal(fresh(batch), expected)
    load_adapter(fresh, folder)
    assert torch.equal(fresh(batch), expected)

    torch.manual_seed(1)
    other = build_model(cfg.replace(finetune=cfg.finetune.replace(strategy="layernorm")), forecast)
    with pytest.raises(DataError, match=r"adapter file .*trainable.safetensors does not match the "
                                        r"model: \d+ missing keys .*, \d+ unexpected keys"):
        load_adapter(other, folder)
    with pytest.raises(DataError, match="does not exist; expected a folder written by save_adapter"):
        load_adapter(fresh, tmp_path / "nothing")
