"""The siteplane benchmark: ``make bench`` (``python -m bench.run``). See README, Performance."""
