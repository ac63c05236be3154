"""Evidence pages: the register (register.py), adding and looking after items (items.py), and
automated collection (connections.py)."""
