load constant 40000
