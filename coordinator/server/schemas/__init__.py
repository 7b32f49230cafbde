"""Request and response schemas of the HTTP API (OpenAI's shapes), one module per endpoint family:
``speech`` (/v1/audio/speech, /tts), ``transcription`` (/v1/audio/transcriptions, /translations),
``text`` (/v1/chat/completions, /v1/completions), ``chat`` (the voice assistant's /chat),
``listings`` (/v1/models, /v1/audio/models, /v1/audio/voices), ``status`` (/v1/status) and
``common`` (the error shape every endpoint answers with).

They need only pydantic and the pure modules below them: no torch, no llama_cpp, no web framework
(the import contracts in pyproject.toml and tests/server/schemas/test_imports.py check it).
"""
