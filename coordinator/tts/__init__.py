"""Speech synthesis: Orpheus models that speak (``synthesis``) and the registry that picks one
for a voice (``registry``)."""
