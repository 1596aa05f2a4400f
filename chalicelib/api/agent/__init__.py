"""The desktop agent API, /agent/v1 (docs/agent-protocol.md)."""
