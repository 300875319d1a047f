"""Custom actions (rasa_sdk), split by feature; they reach the knowledge base and the app store via small services."""
