"""Redis values to and from storage records: key layout, expiry, reclamation, hot cache."""
