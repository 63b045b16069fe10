"""The Lilith Redis key schema implemented in Python from schema/ alone, one module per concern."""
