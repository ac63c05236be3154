"""`python -m config.load`: see config/load/run.py."""

from config.load.run import main

main()
