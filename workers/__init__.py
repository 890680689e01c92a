"""RQ job functions: small, idempotent, safe to run twice; they call the core, never Flask."""
