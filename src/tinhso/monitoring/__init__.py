"""The operations-centre side: indicators, plan targets, values, progress, rankings, index."""
