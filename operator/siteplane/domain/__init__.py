"""Value types: normalised DNS names and record sets with typed rdata (dnspython)."""
