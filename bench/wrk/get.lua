-- GET of a static document (discovery, JWKS): wrk's own request; only the result line.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
