"""Simulation, for demos and tests only (production never imports it): a seeded market simulator that writes
poe.ninja-format dumps, live markets (simulated or replayed) and the local POE Watch HTTP server on 127.0.0.1."""
