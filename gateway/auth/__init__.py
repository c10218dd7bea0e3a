"""Authentication primitives: password hashes, JWTs, signed requests. Pure code."""
