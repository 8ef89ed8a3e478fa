"""Save a trained ST-VLM to one folder and load it back without the dataset files.

The Hugging Face way: ``model.save_pretrained(folder)`` writes everything inference needs, and
``STVLM.from_pretrained(folder)`` rebuilds the model from that folder alone (no dataset, no
download, no seed). The folder holds:

| file | what |
|---|---|
| ``config.json`` | format name and version, the model config, the dataset context (sizes, protocol lengths, the input scaler), the layout's shape facts |
| ``model.safetensors`` | every weight of the model, frozen backbone weights included (a random preset cannot be rebuilt otherwise) |
| ``inference.safetensors`` | the spatial layout tensors (coordinates, adjacency, spectral layout, Fiedler order) and the prompt token table |
| ``backbone/`` | the backbone's Hugging Face config, tokenizer and image statistics (``save_pretrained`` files): the architecture is rebuilt from here, never from the hub |
| ``adapter/`` | with LoRA only: the LoRA weights in peft's own format (``adapter_config.json`` + ``adapter_model.safetensors``), with the backbone's other trained weights (its norms) as ``modules_to_save``, loadable with ``peft.PeftModel.from_pretrained`` on the backbone |

``model.safetensors`` is what :func:`from_pretrained` loads; ``adapter/`` is an export for peft
users.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import load_file, load_model, save_file, save_model

from stvlm.errors import DataError
from stvlm.io import atomic_folder, atomic_write_json
from stvlm.modalities.layout import SpatialLayout
from stvlm.modalities.text import TokenTable
from stvlm.models.backbones import BACKBONES
from stvlm.models.build_budget import bounded_build, stored_values
from stvlm.configs import STVLMConfig
from stvlm.models.finetune import apply_finetune

if TYPE_CHECKING:
    from stvlm.models.stvlm import STVLM, DatasetContext

FORMAT = "stvlm"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
INFERENCE_FILE = "inference.safetensors"
BACKBONE_DIR = "backbone"
ADAPTER_DIR = "adapter"
#: Layout tensors stored in ``inference.safetensors`` (``layout.<name>``; absent ones are None).
LAYOUT_TENSORS = ("coords", "adjacency", "pseudo_coords", "order")
TOKEN_TENSORS = ("ids", "mask", "row_of_start")


def save_pretrained(model: STVLM, path: str | Path, *, extra_json: Mapping[str, Any] | None = None) -> Path:
    """Write ``model`` to the folder ``path`` (created; replaced as a whole if it exists), with
    ``extra_json`` (file name -> JSON content) beside its own files.

    The folder is written beside its final place and renamed, so a crash never leaves half a
    model (or a model without its extra files) where a whole one was.

    Returns:
        The folder.
    """
    with atomic_folder(path) as tmp:
        layout = model.layout
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model": model.cfg.to_dict(),
            "context": dataclasses.asdict(model.context),
            "layout": {"num_nodes": layout.num_nodes, "name": layout.name,
                       "grid_shape": list(layout.grid_shape) if layout.grid_shape else None},
        }
        atomic_write_json(tmp / CONFIG_FILE, meta)
        save_model(model, str(tmp / WEIGHTS_FILE))
        save_file(_inference_tensors(model), str(tmp / INFERENCE_FILE))
        model.backbone.save_parts(tmp / BACKBONE_DIR)
        if model.cfg.finetune.strategy == "lora":
            _save_peft_adapter(model, tmp / ADAPTER_DIR)
        for name, content in (extra_json or {}).items():
            atomic_write_json(tmp / name, content)
    return Path(path)


def _inference_tensors(model: STVLM) -> dict[str, torch.Tensor]:
    out = {}
    for name in LAYOUT_TENSORS:
        value = getattr(model.layout, name)
        if value is not None:
            out[f"layout.{name}"] = value.detach().cpu().contiguous()
    table = model.token_table
    if table is not None:
        for name in TOKEN_TENSORS:
            out[f"text.{name}"] = getattr(table, name).detach().cpu().contiguous()
    return out


def _save_peft_adapter(model: STVLM, folder: Path) -> None:
    """The backbone's LoRA weights in peft's format (keys as ``PeftModel.save_pretrained`` writes),
    with the other backbone weights that trained (the norms, ``finetune.train_layernorm``) as
    peft's ``modules_to_save``, so the adapter on the base model is the trained backbone."""
    import copy

    from peft import get_peft_model_state_dict

    inner = model.backbone.model
    config = next(iter(getattr(inner, "peft_config", {}).values()), None)
    if config is None:
        return
    state = dict(get_peft_model_state_dict(inner))
    trained = {n: p for n, p in inner.named_parameters() if p.requires_grad and "lora_" not in n}
    modules = sorted({n.rsplit(".", 1)[0] for n in trained})
    if modules:
        config = copy.copy(config)
        config.modules_to_save = [*(config.modules_to_save or []), *modules]
        state.update(trained)
    # PeftModel wraps the base model as base_model.model; its loader expects that prefix.
    state = {f"base_model.model.{k}": v.detach().cpu().contiguous() for k, v in state.items()}
    folder.mkdir(parents=True)
    config.save_pretrained(str(folder))
    save_file(state, str(folder / "adapter_model.safetensors"))


def read_config(path: str | Path) -> dict[str, Any]:
    """``config.json`` of a folder written by :func:`save_pretrained`, its format checked.

    Raises:
        DataError: no such folder or file, or another format or version.
    """
    folder = Path(path)
    file = folder / CONFIG_FILE
    if not file.is_file():
        what = "does not exist" if not folder.exists() else f"has no {CONFIG_FILE}"
        raise DataError(f"{folder} {what}; expected a folder written by STVLM.save_pretrained")
    meta = json.loads(file.read_text())
    if meta.get("format") != FORMAT:
        raise DataError(
            f"{file} is not an ST-VLM model (format = {meta.get('format')!r}; expected {FORMAT!r}); "
            "expected a folder written by STVLM.save_pretrained"
        )
    if meta.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"{file}: format_version = {meta.get('format_version')!r} is not supported; this "
            f"version of stvlm reads {FORMAT_VERSION}"
        )
    return meta


def from_pretrained(
    path: str | Path, model_class: type[STVLM], context_class: type[DatasetContext], *,
    device: str | torch.device = "cpu",
) -> STVLM:
    """Rebuild a model written by :func:`save_pretrained` from its folder alone.

    Args:
        path: the folder.
        model_class: :class:`~stvlm.models.stvlm.STVLM` (passed in: that module calls this one).
        context_class: its :class:`~stvlm.models.stvlm.DatasetContext`.
        device: where to put the model.

    Raises:
        DataError: not such a folder, or its files do not match each other (a config that
            describes a model much larger than the weights file is refused while it is built,
            before its memory is written: :mod:`stvlm.models.build_budget`).
    """
    folder = Path(path)
    meta = read_config(folder)
    cfg = STVLMConfig.from_dict(meta["model"], path="model")
    context = context_class.from_dict(meta["context"])
    tensors = load_file(str(folder / INFERENCE_FILE))
    shape = meta["layout"]
    layout = SpatialLayout(
        num_nodes=int(shape["num_nodes"]), name=shape["name"],
        grid_shape=tuple(shape["grid_shape"]) if shape["grid_shape"] else None,
        **{n: tensors.get(f"layout.{n}") for n in LAYOUT_TENSORS},
    )
    table = None
    if "text.ids" in tensors:
        table = TokenTable(**{n: tensors[f"text.{n}"] for n in TOKEN_TENSORS})
    # the layout-derived buffers (a correlation image's N x N graph) come from the inference file
    stored = stored_values(folder / WEIGHTS_FILE) + stored_values(folder / INFERENCE_FILE)
    with bounded_build(stored, what=f"{folder}"):  # refused before the memory is written
        backbone = BACKBONES.get(cfg.backbone.name).from_saved(folder / BACKBONE_DIR, cfg.backbone)
        if cfg.use_image:
            backbone.use_image_size(cfg.image.size)
        model = model_class(cfg, backbone, layout=layout, context=context, token_table=table)
        apply_finetune(model, backbone, cfg.finetune, fixed=model.fixed_modules)
    where = f"{folder / WEIGHTS_FILE} does not match the model its config.json describes"
    try:
        missing, unexpected = load_model(model, str(folder / WEIGHTS_FILE), strict=False)
    except RuntimeError as err:  # torch's size mismatch report: keep its first mismatch
        lines = [ln.strip() for ln in str(err).splitlines() if "size mismatch" in ln]
        raise DataError(f"{where}: {lines[0] if lines else str(err).splitlines()[0]}") from None
    if missing or unexpected:
        raise DataError(
            f"{where}: {len(missing)} missing weights {sorted(missing)[:3]}, {len(unexpected)} "
            f"unexpected {sorted(unexpected)[:3]}"
        )
    return model.to(device).eval()
