"""`retrain-platform`: the command line, one module per subcommand."""
