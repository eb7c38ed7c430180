"""The API's routes, a module per subject; each exports ``router``."""
