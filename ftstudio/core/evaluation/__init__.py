"""Evaluation: answer metrics, saved reports, per-example losses and the forgetting check.

Pure Python; the engine (``ftstudio.engine.evaluate``) produces what is stored here.
"""
