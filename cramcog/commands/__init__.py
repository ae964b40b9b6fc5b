"""Sub-commands of the ``cramcog`` CLI: one module each, each with ``register(subparsers)``.

A module here must import only the standard library and cramcog's light modules at import time;
heavy imports go inside the handler.
"""
