-- wrk script for bench/run_soak.sh: bench/query_wrk.lua's requests, paced so
-- that the connections together send about RATE requests per second (each
-- connection waits CONNECTIONS / RATE seconds between requests).
--   wrk -c C ... -s bench/soak_wrk.lua URL -- QUESTIONS_FILE MODE GENERATE COLLECTION RATE
local questions, mode, generate, collection, pause_ms = {}, "hybrid", "false", "docs", 0
local counter = 0

local function escape(s)
  return (s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' elseif c == "\\" then return "\\\\" end
    return string.format("\\u%04x", string.byte(c))
  end))
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then questions[#questions + 1] = escape(line) end
  end
  mode, generate, collection = args[2] or mode, args[3] or generate, args[4] or collection
  local rate = tonumber(args[5] or "10")
  pause_ms = 1000 * tonumber(wrk.connections or 1) / rate
  counter = math.random(#questions)
end

function delay()
  return pause_ms
end

function request()
  counter = counter % #questions + 1
  local body = '{"query": "' .. questions[counter] .. '", "k": 5, "mode": "' .. mode ..
               '", "generate": ' .. generate .. '}'
  return wrk.format("POST", "/v1/collections/" .. collection .. "/query",
                    {["Content-Type"] = "application/json"}, body)
end
