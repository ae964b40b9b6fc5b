"""Triton kernels, each beside a plain-torch reference (imported as ``cramcog.kernels``)."""
