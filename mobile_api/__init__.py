"""Mobile API: the phone API: SMS one-time code, anonymous credential, cast, receipt."""
