-- Reads of accounts with a long history (bench/run.py loads it with load_history).
-- Args: history.tsv (public_id, Authorization), kind, first epoch s, last epoch s, nonce.
--   kind "balance":   GET /accounts/{id}/balance
--   kind "asof":      GET /accounts/{id}/balance?at=<random instant of the history>
--   kind "statement": GET /accounts/{id}/entries?created_before=<random instant> (one page)
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path
local bench = require("common")
bench.install()

function init(args)
  accounts = bench.rows(args[1])
  kind = args[2] or "balance"
  first = tonumber(args[3] or "0")
  last = tonumber(args[4] or "0")
  bench.init(args[5])
end

local function instant()
  local t = first + math.random() * (last - first)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t))
end

function request()
  local account = accounts[math.random(#accounts)]
  local path = "/api/v1/accounts/" .. account[1]
  if kind == "balance" then
    path = path .. "/balance"
  elseif kind == "asof" then
    path = path .. "/balance?at=" .. instant()
  else
    path = path .. "/entries?created_before=" .. instant()
  end
  return wrk.format("GET", path, {["Authorization"] = account[2]})
end
