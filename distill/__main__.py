"""`python -m distill <subcommand>`: distillation's own entry point (distill/cli.py lists the subcommands).

python -m distill validate countdown-distill
"""

import sys

from distill.cli import main

sys.exit(main(sys.argv[1:]))
