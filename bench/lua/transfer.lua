-- POST /api/v1/transfers of 0.01 between seeded customer accounts, as the source's owner.
-- Args: customers.tsv (public_id, Authorization value per line), mode, nonce.
--   mode "random": a random source and a different random target per request;
--   mode "hot": every transfer debits the first account (one hot row lock) to a random one.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path
local bench = require("common")
bench.install()

function init(args)
  accounts = bench.rows(args[1])
  mode = args[2] or "random"
  bench.init(args[3])
end

function request()
  local n = #accounts
  local a = (mode == "hot") and 1 or math.random(n)
  local b = math.random(n - 1)
  if b >= a then b = b + 1 end
  local body = string.format('{"from_account":"%s","to_account":"%s","amount":"0.01"}',
    accounts[a][1], accounts[b][1])
  return wrk.format("POST", "/api/v1/transfers", {
    ["Authorization"] = accounts[a][2],
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = bench.key(),
  }, body)
end
