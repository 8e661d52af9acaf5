"""Models: training, the evaluation gate, metrics and the MLflow records of a cycle."""
