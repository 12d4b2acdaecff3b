"""Sockets, tasks, the storage lane, clients and timers; no Redis semantics.

Imports everything below it and trio. `app.Server` implements the
`commands.context.ServerPort` that handlers use to reach the server.
"""
