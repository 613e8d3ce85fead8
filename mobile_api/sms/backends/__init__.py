"""SMS backends: console, file, locmem, http (see mobile_api.sms)."""
