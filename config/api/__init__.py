"""The partner API's plumbing, shared by every app's `api.py`: key authentication, organisation access
and scopes, throttling, cursor pagination, idempotent POSTs and the OpenAPI schema."""
