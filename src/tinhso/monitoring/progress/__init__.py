"""Plan progress: achievement and trajectory of targets, per unit."""
