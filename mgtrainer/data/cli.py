"""Verbs of this layer (placeholder until the layer's owner fills it in)."""


def register(sub) -> None:
    pass
