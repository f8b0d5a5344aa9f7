"""``python -m itt.data check [task=NAME ...] [other overrides]``: see ``itt.data.check``."""

import sys

from itt.data.check import main

USAGE = "usage: python -m itt.data check [task=NAME ...] [overrides]"

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "check":
        print(USAGE, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[2:]))
