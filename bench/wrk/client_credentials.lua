-- POST /token, grant_type=client_credentials, client_secret_basic: the same request
-- every time (RFC 6749 section 4.4).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

use_basic_form_post()
wrk.body = "grant_type=client_credentials"

function response(status, headers, body)
  count_status(status)
end
