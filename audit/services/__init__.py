"""Background work of the audit app (the live feed of the observer dashboard)."""
