-- POST /token, grant_type=refresh_token with rotation (RFC 6749 section 6): every refresh
-- token is used exactly once. Each thread keeps a FIFO pool seeded with its slice of the
-- pre-minted tokens in BENCH_TOKENS (each from its own grant); a request takes the
-- oldest token, and every 200 response puts the rotated refresh_token it carries at the
-- back. Chains thus spread over all seeds rather than growing one token family. A
-- thread whose pool is empty counts it (the run is then invalid) and sends an unknown
-- token.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

use_basic_form_post()

local pool
local head = 1
local tail = 0

function init(args)
  pool = my_tokens(id)
  tail = #pool
end

function request()
  local token
  if head <= tail then
    token = pool[head]
    pool[head] = nil
    head = head + 1
  else
    exhausted = exhausted + 1
    token = "exhausted"
  end
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. url_encode(token))
end

function response(status, headers, body)
  count_status(status)
  if status == 200 then
    local rotated = body:match('"refresh_token"%s*:%s*"([^"]+)"')
    if rotated then
      tail = tail + 1
      pool[tail] = rotated
    end
  end
end
