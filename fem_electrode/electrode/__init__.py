"""Electrode scale: a homogenized model through the thickness of the porous electrode."""
