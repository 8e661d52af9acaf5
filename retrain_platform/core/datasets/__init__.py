"""Datasets: versioned point-in-time training sets and references to them."""
