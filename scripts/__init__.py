"""Commands run from the checkout: `run.sh` (make run) and `diagram` (make diagram)."""
