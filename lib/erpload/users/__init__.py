"""Role-user building blocks: the ErpUser base, the WebSocket user and the credential pools (imports locust)."""
