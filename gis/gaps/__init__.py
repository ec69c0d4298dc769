"""Service gaps: the walking network, the analysis, catchments, siting and the store of runs."""
