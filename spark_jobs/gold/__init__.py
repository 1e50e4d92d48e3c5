"""Gold layer: pure aggregations of silver (hourly, risk, daily) and their keyed MERGE."""
