"""How the hub moves bytes between processes; only an in-memory backend exists so far."""
