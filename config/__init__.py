"""Settings: defaults, environment parsing and validation."""

from config.settings import Settings, SettingsError

__all__ = ["Settings", "SettingsError"]
