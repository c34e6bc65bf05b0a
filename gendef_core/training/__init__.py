"""Training: losses, EMA, the Accelerate loop, snapshots."""
