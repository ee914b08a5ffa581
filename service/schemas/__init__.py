"""Marshmallow schemas: validation in, serialisation out, per audience."""
