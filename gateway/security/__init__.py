"""Passwords, the verified-credential cache and JWTs."""
