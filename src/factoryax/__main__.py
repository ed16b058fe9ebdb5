"""`python -m factoryax` runs the same command line as `factoryax`."""

from factoryax.cli import main

main()
