-- Shared by the bench/run.sh wrk scripts: numbers each thread, counts response statuses
-- and single-use tokens that ran out, and prints one machine-readable result line.
--
-- Environment: BENCH_THREADS (wrk -t), BENCH_BASIC (base64 of "client_id:secret"),
-- BENCH_TOKENS (file of single-use codes or refresh tokens, one a line).

local threads = {}
local next_id = 0

-- Runs in the main Lua state once per thread, before that thread's init().
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

statuses = {}
exhausted = 0

function count_status(status)
  statuses[status] = (statuses[status] or 0) + 1
end

-- POST form bodies with HTTP Basic client authentication (RFC 6749 section 2.3.1).
function use_basic_form_post()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC")
end

-- This thread's slice of the token file: lines id+1, id+1+n, id+1+2n, ... (n threads),
-- so no two threads ever send the same single-use token.
function my_tokens(id)
  local n = tonumber(os.getenv("BENCH_THREADS"))
  local path = os.getenv("BENCH_TOKENS")
  local mine = {}
  local i = 0
  for line in io.lines(path) do
    if line ~= "" then
      if i % n == id then
        mine[#mine + 1] = line
      end
      i = i + 1
    end
  end
  return mine
end

function url_encode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

-- One line for bench/run.sh to parse.
function done(summary, latency, requests)
  local status_counts = {}
  local ran_out = 0
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    if s then
      for code, n in pairs(s) do
        status_counts[code] = (status_counts[code] or 0) + n
      end
    end
    ran_out = ran_out + (thread:get("exhausted") or 0)
  end
  local parts = {}
  for code, n in pairs(status_counts) do
    parts[#parts + 1] = code .. ":" .. n
  end
  table.sort(parts)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d non2xx3xx=%d "
      .. "socket_errors=%d exhausted=%d statuses=%s\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout, ran_out,
    #parts > 0 and table.concat(parts, ",") or "-"))
end
