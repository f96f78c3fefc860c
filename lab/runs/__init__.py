"""The ways the lab runs: host mode (LocalStack from the venv), Docker mode (the
compose stack), the tools container, the saved state, the offline bundle."""
