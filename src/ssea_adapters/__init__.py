"""ssea."""
