"""The only code that writes evidence: items (items.py), files (storage.py), stored quality scores
(refresh.py), automated collection (collection.py) and the daily expiry run (expiry.py)."""
