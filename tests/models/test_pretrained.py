"""``STVLM.save_pretrained`` / ``from_pretrained``: one folder, no dataset, identical forecasts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from stvlm.errors import DataError
from stvlm.models import build_model
from stvlm.models.backbones import BACKBONES
from stvlm.configs import BackboneConfig, STVLMConfig
from stvlm.models.pretrained import FORMAT_VERSION
from stvlm.models.stvlm import STVLM
from tests.models.toy import N, toy_forecast



@pytest.fixture(scope="module")
def forecast():
    """One channel (speed) on 4 nodes with coordinates and a path graph: every layout tensor exists."""
    return toy_forecast(channels=1, seed=1)


def trained(cfg: STVLMConfig, forecast, steps: int = 2) -> STVLM:
    """A model whose trainable weights moved away from their start (so a reload must restore
    them, not rebuild them)."""
    torch.manual_seed(0)
    model = build_model(cfg, forecast)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05)
    for batch in list(forecast.batches("train", 4))[:steps]:
        opt.zero_grad()
        (model(batch) - batch.y).abs().mean().backward()
        opt.step()
    return model.eval()


def forecasts(model: STVLM, forecast) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(b) for b in forecast.batches("test", 8)])


@pytest.mark.parametrize("name", BACKBONES.names())
def test_every_backbone_round_trips_to_identical_forecasts(forecast, tmp_path: Path, name: str):
    cfg = STVLMConfig.tiny().replace(backbone=BackboneConfig(name=name), use_image=name != "gpt2")
    model = trained(cfg, forecast)
    folder = model.save_pretrained(tmp_path / "model")
    torch.manual_seed(123)  # a different seed: nothing may depend on it
    loaded = STVLM.from_pretrained(folder)
    assert not loaded.training  # as Hugging Face's loaders: dropout off, forecasts repeat
    assert torch.equal(forecasts(loaded, forecast), forecasts(model, forecast))
    assert loaded.context == model.context and loaded.cfg == cfg


def test_folder_holds_config_weights_layout_token_table_and_a_peft_adapter(forecast, tmp_path: Path):
    model = trained(STVLMConfig.tiny(), forecast)
    folder = model.save_pretrained(tmp_path / "model")
    assert sorted(p.name for p in folder.iterdir()) == [
        "adapter", "backbone", "config.json", "inference.safetensors", "model.safetensors"]
    meta = json.loads((folder / "config.json").read_text())
    assert meta["format"] == "stvlm" and meta["format_version"] == FORMAT_VERSION
    assert meta["context"]["num_nodes"] == N and meta["model"] == model.cfg.to_dict()
    assert meta["context"]["scaler_mean"] == pytest.approx(list(model.context.scaler_mean))
    from safetensors.torch import load_file

    extra = load_file(str(folder / "inference.safetensors"))
    assert sorted(extra) == ["layout.adjacency", "layout.coords", "layout.order", "layout.pseudo_coords",
                             "text.ids", "text.mask", "text.row_of_start"]
    assert torch.equal(extra["layout.adjacency"], model.layout.adjacency)
    assert torch.equal(extra["text.ids"], model.token_table.ids)


@pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")  # peft calls it
def test_lora_adapter_loads_with_peft_on_the_saved_backbone_config(forecast, tmp_path: Path):
    from peft import PeftModel
    from transformers import AutoConfig, ViltModel

    model = trained(STVLMConfig.tiny(), forecast)
    folder = model.save_pretrained(tmp_path / "model")
    base = ViltModel(AutoConfig.from_pretrained(folder / "backbone"))
    peft_model = PeftModel.from_pretrained(base, folder / "adapter")
    ours = {k: v for k, v in model.backbone.model.state_dict().items() if "lora_" in k}
    theirs = {k: v for k, v in peft_model.base_model.model.state_dict().items() if "lora_" in k}
    assert ours and sorted(ours) == sorted(theirs)
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert any(v.abs().sum() > 0 for k, v in ours.items() if "lora_B" in k)  # trained, not the zero start
    # the norms trained beside LoRA (train_layernorm) come back as peft's modules_to_save
    norms = {n: p for n, p in model.backbone.model.named_parameters() if p.requires_grad and "lora_" not in n}
    saved = dict(peft_model.base_model.model.named_parameters())

    def copy_of(name: str) -> str:  # encoder.x.norm.weight -> encoder.x.norm.modules_to_save.default.weight
        module, leaf = name.rsplit(".", 1)
        return f"{module}.modules_to_save.default.{leaf}"

    assert norms and all(torch.equal(v, saved[copy_of(n)]) for n, v in norms.items())
    assert any(not torch.equal(v, torch.ones_like(v)) for n, v in norms.items() if n.endswith("weight"))  # trained


def test_no_adapter_folder_without_lora(forecast, tmp_path: Path):
    cfg = STVLMConfig.tiny()
    model = trained(cfg.replace(finetune=cfg.finetune.replace(strategy="layernorm")), forecast)
    folder = model.save_pretrained(tmp_path / "model")
    assert not (folder / "adapter").exists()
    assert torch.equal(forecasts(STVLM.from_pretrained(folder).eval(), forecast), forecasts(model, forecast))


def test_saving_again_replaces_the_folder_as_a_whole(forecast, tmp_path: Path):
    model = trained(STVLMConfig.tiny(), forecast)
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    (folder / "stale.txt").write_text("from an older save")
    model.save_pretrained(folder)
    assert not (folder / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary folder left


def test_a_checkpoint_is_replaced_whole_or_not_at_all(forecast, tmp_path: Path, monkeypatch):
    """experiment.json is written inside the folder before it takes the old one's place: a crash
    while writing it leaves the earlier checkpoint complete, not a folder that cannot be loaded."""
    import stvlm.io
    from stvlm.configs import ExperimentConfig
    from stvlm.experiment import EXPERIMENT_FILE, save_checkpoint

    model = trained(STVLMConfig.tiny(), forecast)
    cfg = ExperimentConfig.tiny()
    folder = save_checkpoint(model, cfg, tmp_path / "checkpoint")
    before = sorted(p.name for p in folder.iterdir())
    assert EXPERIMENT_FILE in before and json.loads((folder / EXPERIMENT_FILE).read_text()) == cfg.to_dict()
    write = stvlm.io.atomic_write_json

    def crash(path, content, **kwargs):
        if Path(path).name == EXPERIMENT_FILE:
            raise KeyboardInterrupt
        return write(path, content, **kwargs)

    monkeypatch.setattr("stvlm.models.pretrained.atomic_write_json", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(model, cfg.replace(name="other"), folder)
    assert sorted(p.name for p in folder.iterdir()) == before
    assert json.loads((folder / EXPERIMENT_FILE).read_text())["name"] == cfg.name
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint"]  # no temporary folder left


def test_load_errors_name_the_folder_and_what_is_wrong(forecast, tmp_path: Path):
    with pytest.raises(DataError, match=r"nowhere does not exist; expected a folder written by STVLM.save_pretrained"):
        STVLM.from_pretrained(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty has no config.json"):
        STVLM.from_pretrained(tmp_path / "empty")
    model = trained(STVLMConfig.tiny(), forecast, steps=0)
    folder = model.save_pretrained(tmp_path / "model")
    meta = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(DataError, match=r"format_version = 99 is not supported; this version of stvlm reads 1"):
        STVLM.from_pretrained(folder)
    (folder / "config.json").write_text(json.dumps({**meta, "format": "peft"}))
    with pytest.raises(DataError, match=r"is not an ST-VLM model \(format = 'peft'; expected 'stvlm'\)"):
        STVLM.from_pretrained(folder)
    # A config that describes another model than the weights: a named mismatch, not a crash.
    other = {**meta, "model": {**meta["model"], "series": {**meta["model"]["series"], "dim": 8}}}
    (folder / "config.json").write_text(json.dumps(other))
    with pytest.raises(DataError, match=r"model.safetensors does not match the model its config.json describes"):
        STVLM.from_pretrained(folder)


def test_bfloat16_backbone_round_trips_in_its_dtype(forecast, tmp_path: Path):
    cfg = STVLMConfig.tiny()
    cfg = cfg.replace(finetune=cfg.finetune.replace(strategy="frozen"))  # a bfloat16 backbone does not train
    model = trained(cfg.replace(backbone=cfg.backbone.replace(dtype="bfloat16")), forecast)
    loaded = STVLM.from_pretrained(model.save_pretrained(tmp_path / "model")).eval()
    assert {p.dtype for p in loaded.backbone.model.parameters()} == {torch.bfloat16}
    assert torch.equal(forecasts(loaded, forecast), forecasts(model, forecast))


def test_neighbour_mean_is_rebuilt_from_the_saved_adjacency(forecast, tmp_path: Path):
    cfg = STVLMConfig.tiny().replace(series=STVLMConfig.tiny().series.replace(neighbours=True))
    model = trained(cfg, forecast)
    assert model.series.nb_index.shape == (2, 2 * (N - 1))  # the toy's path graph, both ways
    folder = model.save_pretrained(tmp_path / "model")
    loaded = STVLM.from_pretrained(folder).eval()
    assert torch.equal(loaded.series.nb_index, model.series.nb_index)
    assert torch.equal(forecasts(loaded, forecast), forecasts(model, forecast))


def test_a_frozen_highway_stays_frozen_after_loading(forecast, tmp_path: Path):
    tiny = STVLMConfig.tiny()
    cfg = tiny.replace(head=tiny.head.replace(highway_init="ridge", highway_trainable=False))
    model = trained(cfg, forecast)
    loaded = STVLM.from_pretrained(model.save_pretrained(tmp_path / "model"))
    assert loaded.fixed_modules == (loaded.highway,)
    assert not loaded.highway.weight.requires_grad and loaded.head.output_layer.weight.requires_grad
    assert torch.equal(loaded.highway.weight, model.highway.weight)


def test_a_large_graph_checkpoint_is_not_refused_by_the_build_budget(tmp_path: Path):
    """The correlation image keeps its normalised N x N graph as a buffer, which model.safetensors
    does not hold: at 1,500 nodes (the encoder takes up to 2,048) the budget refused an honest
    checkpoint, until it counted the layout that inference.safetensors stores."""
    from tests.models.toy import toy_forecast as forecast_of

    big = forecast_of(channels=1, seed=1, nodes=1500)
    tiny = STVLMConfig.tiny()
    model = trained(tiny.replace(image=tiny.image.replace(encoding="correlation")), big, steps=0)
    loaded = STVLM.from_pretrained(model.save_pretrained(tmp_path / "model"))
    assert torch.equal(loaded.image_encoder.adjacency, model.image_encoder.adjacency)


@pytest.mark.parametrize("part", ["backbone", "model"])
def test_configs_larger_than_the_weights_are_refused_before_their_memory_is_written(
        forecast, tmp_path: Path, part: str):
    """A 600-byte ``backbone/config.json`` with a 2e7-row vocabulary built 2.9 GB before the size
    mismatch was found; now the embedding is refused as it is registered, before its init."""
    folder = trained(STVLMConfig.tiny(), forecast, steps=0).save_pretrained(tmp_path / "model")
    if part == "backbone":
        file = folder / "backbone" / "config.json"
        meta = json.loads(file.read_text())
        meta["vocab_size"] = 20_000_000  # ViLT, the tiny preset's backbone
        wanted = r"Embedding.weight \[20000000, 32\] brings the model to"
    else:
        file = folder / "config.json"
        meta = json.loads(file.read_text())
        meta["model"]["series"]["dim"] = 200_000
        wanted = r"Linear.weight \[32, 200000\] brings the model to"
    file.write_text(json.dumps(meta))
    with pytest.raises(DataError, match=rf"model: the configs describe a larger model than the "
                                        rf"weights file holds \({wanted}"):
        STVLM.from_pretrained(folder)
