"""Run-time subcommands (worker, up, simulate, lifecycle), registered into the CLI on import."""
