"""Features: point-in-time transforms declared by the contract's feature views."""
