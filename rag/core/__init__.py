"""The ground layer: types, errors, settings, tokenization and the contracts between parts.

Everything may import it; it imports nothing else of foldrag (an import-linter contract checks).
"""
