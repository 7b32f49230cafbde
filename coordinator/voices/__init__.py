"""Custom (cloned) voices: the recordings' preparation, their SNAC reference codes, and the store
that keeps them on disk (VOICES_DIR)."""
