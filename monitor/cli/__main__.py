"""`python -m monitor.cli`: the same as the `orm-monitor` command."""

import sys

from monitor.cli.app import main

sys.exit(main())
