"""Bundled human memory data sets (CSV + JSON metadata); read them with :mod:`cramcog.psych`."""
