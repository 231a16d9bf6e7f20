"""Delivery: the durable outbox, the dispatcher and its sent journal, and what an alert says.

The only room that hands messages to alerts/ channels; it knows nothing of reply windows.
"""
