-- POST /api/v1/orders for a random seeded customer account, as its owner.
-- Args: customers.tsv, nonce. (bench/run.py lifts MAX_PENDING_ORDERS for the run.)
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path
local bench = require("common")
bench.install()

function init(args)
  accounts = bench.rows(args[1])
  bench.init(args[2])
end

function request()
  local account = accounts[math.random(#accounts)]
  return wrk.format("POST", "/api/v1/orders", {
    ["Authorization"] = account[2],
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = bench.key(),
  }, string.format('{"account":"%s","amount":"25.00"}', account[1]))
end
