"""What every service shares: message contracts, topics, settings, Kafka and PostgreSQL helpers.

Nothing here opens a connection at import time; connections are made by each service's composition
root (its ``app.py``) during start-up.
"""
