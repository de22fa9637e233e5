"""Case files: schema (the one documented list of keys), validation, resolved output."""

from fem_electrode.config.loader import Case, ConfigError, dumps_case, load_case, validate, write_case
from fem_electrode.config.schema import SCHEMA

__all__ = ["SCHEMA", "Case", "ConfigError", "dumps_case", "load_case", "validate", "write_case"]
