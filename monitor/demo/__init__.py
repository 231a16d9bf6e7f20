"""The embedded demo: its config, bundled feeds and a fake Mastodon instance (`--demo`)."""
