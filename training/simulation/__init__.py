"""The journey simulator: `dealnode simulate` (see data/README.md for every assumption)."""

from training.simulation.output import Simulation, simulate, write_simulation

__all__ = ["Simulation", "simulate", "write_simulation"]
