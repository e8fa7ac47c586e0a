// Intentionally empty: the shim is header-only (static constants and system headers).
