"""Local diffusion models: a models folder scanned without torch, run through ``diffusers``.

``safety`` and ``catalog`` need only the standard library (listing and importing models works on
the base install); ``runtime`` and ``engine`` import torch and diffusers (the ``local`` extra).
"""
