-- POST /api/v1/transfers/batch: `size` transfers of 0.01 between random pairs of seeded
-- accounts, all-or-nothing, sent by a staff server credential (Api-Key).
-- Args: customers.tsv, Authorization value, size, nonce.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path
local bench = require("common")
bench.install()

function init(args)
  accounts = bench.rows(args[1])
  authorization = args[2]
  size = tonumber(args[3] or "1000")
  bench.init(args[4])
end

function request()
  local n, items = #accounts, {}
  for i = 1, size do
    local a = math.random(n)
    local b = math.random(n - 1)
    if b >= a then b = b + 1 end
    items[i] = string.format('{"from_account":"%s","to_account":"%s","amount":"0.01"}',
      accounts[a][1], accounts[b][1])
  end
  return wrk.format("POST", "/api/v1/transfers/batch", {
    ["Authorization"] = authorization,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = bench.key(),
  }, '{"transfers":[' .. table.concat(items, ",") .. ']}')
end
