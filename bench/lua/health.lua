-- GET /health: the framework's floor (no auth, no database). Args: nonce.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = here .. "?.lua;" .. package.path
local bench = require("common")
bench.install()

function init(args)
  bench.init(args[1])
end

function request()
  return wrk.format("GET", "/health")
end
