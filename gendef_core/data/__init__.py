"""Media I/O and datasets: video files (PyAV), images, dataset preparation and synthesis, frames in memory."""
