"""The auth service's rules: pure, synchronous code with no I/O and no framework imports."""
