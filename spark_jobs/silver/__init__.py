"""Silver layer: pure bronze -> silver transforms and the keyed MERGE that writes them."""
