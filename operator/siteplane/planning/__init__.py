"""Pure functions: desired records from CRs, diffs into change sets, ownership. No I/O here."""
