"""`python -m touchflow`: the same command line as the `touchflow` script."""

from touchflow.cli.entry import main

main()
