-- wrk script for bench/run_query.sh: POSTs ragline query requests, cycling
-- through the benchmark's question file.
--   wrk ... -s bench/query_wrk.lua URL -- QUESTIONS_FILE MODE GENERATE(true|false) COLLECTION
local questions = {}
local mode, generate, collection = "hybrid", "false", "chunks"
local k = K or 10  -- hits per query; a script that dofile()s this one may set K first
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
  counter = math.random(#questions)
end

function request()
  counter = counter % #questions + 1
  local body = '{"query": "' .. questions[counter] .. '", "k": ' .. k .. ', "mode": "' .. mode ..
               '", "generate": ' .. generate .. '}'
  return wrk.format("POST", "/v1/collections/" .. collection .. "/query",
                    {["Content-Type"] = "application/json"}, body)
end
