-- wrk script (docs/BENCHMARKS.md, issue 14): GET /orders/{id} of random orders of a store made by
-- `orderlog generate --orders N` (ids ORD-00000001 … ORD-N). Usage:
--   wrk -t2 -c100 -d30s --latency -s Benchmarks/HTTP/orders.lua http://127.0.0.1:8080 -- 1000000 /orders/
-- The second argument is the path prefix: /orders/ (the API) or /console/orders/ (the console's page).
local orders, prefix = 1000000, "/orders/"
function init(args)
  orders = tonumber(args[1] or orders)
  prefix = args[2] or prefix
  math.randomseed(os.time() + (tonumber(tostring({}):sub(8), 16) or 0))
end
function request()
  return wrk.format("GET", string.format("%s%s%08d", prefix, "ORD-", math.random(1, orders)))
end
