"""orm-monitor's core: it owns the database and moves every item from poll to alert.

One room (subpackage) per step of the flow; docs/architecture.md draws them and the import
contracts in pyproject.toml keep their dependencies pointing one way.
"""
