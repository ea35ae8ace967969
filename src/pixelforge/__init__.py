"""Pixelforge: a self-hosted image-generation studio (API, CLI and engines)."""

__version__ = "0.1.0"
