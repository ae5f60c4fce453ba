-- wrk script for bench/run_soak.sh: bench/query_wrk.lua's requests (k 5),
-- paced so that the connections together send about RATE requests per second
-- (each connection waits CONNECTIONS / RATE seconds between requests).
--   wrk -c C ... -s bench/soak_wrk.lua URL -- QUESTIONS_FILE MODE GENERATE COLLECTION RATE
K = 5
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "query_wrk.lua")

local query_init = init
local pause_ms = 0

function init(args)
  query_init(args)
  pause_ms = 1000 * tonumber(wrk.connections or 1) / tonumber(args[5] or "10")
end

function delay()
  return pause_ms
end
