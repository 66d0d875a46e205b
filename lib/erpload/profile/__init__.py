"""Load profiles: the YAML schema checker, the Profile model and the stage plan maths.

Pure: imports only erpload.sla and erpload.core."""
