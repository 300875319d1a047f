"""The assistant's runtime: settings, process launcher, training fingerprint and shared services (the app store)."""
