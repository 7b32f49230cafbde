"""Orpheus Coordinator: a self-hosted Orpheus TTS + Gemma voice server."""

__version__ = "0.1.0"
