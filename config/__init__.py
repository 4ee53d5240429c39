"""Shipped configuration: the default settings file (and, later, dialog flows).

This package holds data, not logic; the kernel reads it through
:func:`default_settings_path`.
"""

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent


def default_settings_path() -> Path:
    """Return the path of the shipped `settings.yaml`."""
    return CONFIG_DIR / "settings.yaml"
