"""Adapters from foldrag to other frameworks, imported only by those who use them."""
