"""The reason a single file was skipped; never escapes an ingest run."""


class ParseError(Exception):
    """A file could not be read into text; ``str(exc)`` is the reason shown to the user."""
