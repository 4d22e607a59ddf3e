"""The book's helpers: figures and the real-galaxy / Gaia Challenge chapter."""
