"""Generation engine: llama.cpp contexts driven by one worker thread each, many sequences per batch."""
