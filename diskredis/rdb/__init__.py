"""Redis's RDB format (files and DUMP payloads), with no storage attached.

Room: bytes <-> `model` values. Imports: the standard library only, so the server's
DUMP/RESTORE and the offline tools share one codec.

    crc64   the checksum (CRC-64/Jones)
    lzf     LZF compression of long strings
    packed  listpack, ziplist, intset and zipmap
    model   values as the format carries them
    codec   records, values, files and DUMP payloads
"""
