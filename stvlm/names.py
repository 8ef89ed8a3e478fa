"""The registered names an experiment config holds, checked in one place.

Every name a config can hold that a registry defines (protocol, image encoding, backbone,
fine-tuning strategy) is looked up here, by the model builder, the study planner and the study
axes alike, so an unknown name reads the same wherever it is caught:
``model.backbone.name = 'bert' is unknown; allowed: vilt, clip, ...``.

``image.encoding = "auto"`` is the one allowed name that is no registry entry: the encoder is
chosen per dataset layout (:func:`stvlm.modalities.image.build.resolve_encoding`).
"""

from __future__ import annotations

from typing import Any

from stvlm.registry import Registry, unknown_name

#: ``image.encoding`` value resolved per dataset layout (grid heat map with coordinates, else a
#: spectral grid with an adjacency, else node x time), not an image-encoder registry entry.
AUTO_ENCODING = "auto"


def _registry(field: str) -> Registry:
    """The registry behind a named field (imported at use: the model registries need torch)."""
    if field == "data.protocol":
        from stvlm.data.protocols import PROTOCOLS

        return PROTOCOLS
    if field == "image.encoding":  # the package's __init__ registers every encoder first
        from stvlm.modalities.image.base import IMAGE_ENCODERS

        return IMAGE_ENCODERS
    if field == "backbone.name":
        from stvlm.models.backbones import BACKBONES

        return BACKBONES
    if field == "finetune.strategy":
        from stvlm.models.finetune import FINETUNE_STRATEGIES

        return FINETUNE_STRATEGIES
    raise KeyError(f"{field} is not a registered-name field")


#: The fields checked by :func:`check_name`, relative to the model config where they live there.
NAMED_FIELDS = ("data.protocol", "image.encoding", "backbone.name", "finetune.strategy")


def check_name(path: str, value: Any) -> None:
    """Raise unless ``value`` is a registered name of the field at ``path``.

    Args:
        path: the field as the user wrote it: ``image.encoding`` in a model config,
            ``model.image.encoding`` in an experiment config; the message names it so.
        value: the value to check.

    Raises:
        UnknownNameError: ``"<path> = <value> is unknown; allowed: <names>"``.
    """
    field = path.removeprefix("model.")
    registry = _registry(field)
    extra = [AUTO_ENCODING] if field == "image.encoding" else []
    if value in extra or (isinstance(value, str) and value in registry):
        return
    raise unknown_name(path, value, extra + registry.names())
