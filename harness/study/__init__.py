"""The study spec and its planning: axes, arms, the trial plan, preflight checks, resources,
config files, output paths and default storage locations. No Ray here."""
