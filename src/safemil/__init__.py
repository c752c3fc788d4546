"""safemil: learn safe control policies offline from weak safety signals."""

__version__ = "0.1.0"
