"""The engine: energies, the optimiser, schedules, presets, distances, seeds, memory and input policy."""
