load constant 5
