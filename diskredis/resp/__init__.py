"""RESP2/RESP3 framing with no I/O (in the manner of h11).

`reader.RequestReader`: bytes in, requests out. `writer.encode`: reply values
(`values`) in, bytes out. Nothing here touches a socket, a thread or a clock.
"""
