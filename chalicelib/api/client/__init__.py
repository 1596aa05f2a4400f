"""The end-user API, `/client/v1`: login, offered desktops, connect, release, logout."""
