"""Locust adapters: shape, worker -> master exchange, recorder, arrival, health, resources, correctness, faults, samplers."""
