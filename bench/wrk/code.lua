-- POST /token, grant_type=authorization_code with PKCE (RFC 6749 section 4.1.3, RFC 7636
-- section 4.5): every request redeems the next pre-minted code of this thread's slice of
-- BENCH_TOKENS. All codes were minted with the S256 challenge of BENCH_CODE_VERIFIER for
-- BENCH_REDIRECT_URI. A thread that runs out counts it (the run is then invalid) and
-- sends an unknown code.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

use_basic_form_post()

local codes
local next_code = 1
local suffix

function init(args)
  codes = my_tokens(id)
  suffix = "&redirect_uri=" .. url_encode(os.getenv("BENCH_REDIRECT_URI"))
    .. "&code_verifier=" .. url_encode(os.getenv("BENCH_CODE_VERIFIER"))
end

function request()
  local code = codes[next_code]
  if code then
    next_code = next_code + 1
  else
    exhausted = exhausted + 1
    code = "exhausted"
  end
  return wrk.format(nil, nil, nil, "grant_type=authorization_code&code=" .. url_encode(code) .. suffix)
end

function response(status, headers, body)
  count_status(status)
end
