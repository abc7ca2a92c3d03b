"""Qira's first-party skills. Written with the public SDK (``qira.sdk``) only and
registered through the ``qira.skills`` entry points, exactly as a third party would."""
