"""pyserial URL handlers for simulated instruments (``sim://<name>``)."""
