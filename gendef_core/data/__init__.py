"""Media I/O and datasets: video files (PyAV), images, dataset preparation and torch datasets."""
