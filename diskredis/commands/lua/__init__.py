"""The Lua interpreter scripts and functions run in: Lua 5.1 (lupa), sandboxed as Redis
7.0 does it.

Room: the package map. Imports: this package. `state` holds the Lua state, its sandbox
and the `redis` library (its Lua half is `bootstrap.lua`); `base` what the libraries
share; one module per library Redis ships to scripts: `bitop` (bit), `cjson`,
`structpack` (struct), `cmsgpack`. `commands.scripting` and `commands.functions` use
what this package exports.
"""

from diskredis.commands.lua.base import CallRefused, LuaError, Raise, lua_number_text, sha1hex
from diskredis.commands.lua.state import (
    SCRIPT_FLAGS,
    LuaState,
    Registered,
    valid_function_name,
)

__all__ = [
    "SCRIPT_FLAGS",
    "CallRefused",
    "LuaError",
    "LuaState",
    "Raise",
    "Registered",
    "lua_number_text",
    "sha1hex",
    "valid_function_name",
]
