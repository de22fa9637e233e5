"""Outputs: derived fields for ParaView and scalar metrics reduced over MPI."""
