"""The chat model (Gemma, GGUF through llama-cpp-python): prompts, streamed replies."""
