"""The service layer: speaking, conversation and transcription, independent of any transport.

Every door (the HTTP routes, both WebSockets, Wyoming) parses its input, calls this layer and
frames what it returns. Nothing here imports a web framework.
"""
