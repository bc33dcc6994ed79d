"""Helpers of the relay tests: a throwaway redis-server, and worker processes."""
