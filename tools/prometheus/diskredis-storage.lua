-- diskredis's own figures (INFO storage) for Debian's prometheus-redis-exporter:
--   prometheus-redis-exporter --redis.addr=redis://127.0.0.1:6379 \
--       --script /path/to/diskredis-storage.lua
-- Each number becomes redis_script_values{key="<field>"} (docs/operations.md).
local out = {}
for line in string.gmatch(redis.call('INFO', 'storage'), '[^\r\n]+') do
    local name, value = string.match(line, '^([%w_]+):(-?[%d.]+)$')
    if name then
        out[#out + 1] = name
        out[#out + 1] = value
    end
end
return out
