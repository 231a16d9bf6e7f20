"""The daemon: scheduler wiring, how jobs run and stop, systemd's notify protocol, `status`."""
