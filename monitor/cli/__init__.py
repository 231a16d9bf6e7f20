"""The `orm-monitor` command: one module per command group, each adding its own sub-parser."""
