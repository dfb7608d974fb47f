"""Cross-cutting HTTP: privacy middleware, access log, page cache, templates, static files, TLS."""
