"""Home Assistant's Wyoming protocol: speech (and, once it exists, transcription) on TCP ports."""
