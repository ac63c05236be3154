"""The SMB journey's pages, one module per part of the journey."""
