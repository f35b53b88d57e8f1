"""The `asb` command and the glue that runs the system (dev server, worker, simulator)."""
