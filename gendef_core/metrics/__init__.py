"""Evaluation metrics: FVD/FID (standard networks, loaded offline), motion-aware and tracking metrics."""
