"""Orpheus token layout: vocabulary lookup, prompts and the token → SNAC code mapping.

Pure Python and numpy: nothing here imports torch or llama_cpp, so it is cheap to test.
"""
