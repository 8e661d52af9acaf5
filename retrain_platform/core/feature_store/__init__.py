"""The feature store: Feast objects from a contract and the online-store writers."""
