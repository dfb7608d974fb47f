"""Orders: checkout, the order lifecycle, stock taken at placing, idempotent placing."""
