"""galmass."""
