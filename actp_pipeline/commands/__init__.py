"""The `actp` command's subcommands, one module per area; actp_pipeline/cli.py loads each on first use."""
