"""The flow: poll → store → classify → route → outbox, and what watches it (floods, spikes,
source health, incidents). `pipeline.Pipeline` is the one place an item moves through it.
"""
