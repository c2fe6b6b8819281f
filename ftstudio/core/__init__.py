"""Pure-Python domain of ftstudio: projects, settings, datasets, planning.

Nothing in this package may import Qt, torch or the Hugging Face libraries, so it
imports in milliseconds and its tests need neither a display nor a GPU.
"""
