"""Base models for planning: the offline catalogue, local folders, hub ids, target modules."""

from ftstudio.core.models.catalogue import (
    CatalogueEntry,
    find_entry,
    load_catalogue,
    read_config_file,
    read_local_model,
    read_model_config,
    resolve_model_spec,
)
from ftstudio.core.models.spec import (
    PRESET_NAMES,
    LinearLayer,
    ModelError,
    ModelSpec,
    preset_of,
    spec_from_config,
    target_module_presets,
    unknown_target_modules,
)

__all__ = [
    "PRESET_NAMES",
    "CatalogueEntry",
    "LinearLayer",
    "ModelError",
    "ModelSpec",
    "find_entry",
    "load_catalogue",
    "preset_of",
    "read_config_file",
    "read_local_model",
    "read_model_config",
    "resolve_model_spec",
    "spec_from_config",
    "target_module_presets",
    "unknown_target_modules",
]
