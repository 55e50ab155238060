"""Configuration, database, security, errors and i18n shared by every domain."""
