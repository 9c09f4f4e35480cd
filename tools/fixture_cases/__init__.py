"""Case definitions and helpers for tools/gen_fixtures.py (fixture generator).

Nothing here imports TensorFlow/Keras at module import time except the worker
modules, which are only imported inside a worker subprocess.
"""
