"""deconflict: parties notify each other of 4D activity; every conflict is found and proven."""

__version__ = "0.1.0"
