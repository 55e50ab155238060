"""OAuth2 for consumer systems: credentials, the token endpoint and access tokens."""
