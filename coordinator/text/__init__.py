"""Text handling shared by speech and chat: sentence splitting (pure, no torch or llama)."""
