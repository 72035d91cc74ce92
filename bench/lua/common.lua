-- Shared by the wrk scripts of bench/: data files, unique Idempotency-Keys, status counts
-- and one parseable summary line printed by done():
--   BENCH_JSON {"requests":N,"duration_s":S,"rps":R,"p50_ms":..,"p90_ms":..,"p99_ms":..,
--               "max_ms":..,"status":{"201":N,...},"errors":{...},"sample_error":"..."}
-- wrk runs setup() and done() in its main Lua state and init/request/response in one state
-- per thread: counters live in each thread and done() collects them with thread:get().
local M = {}
local threads = {}

function M.setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

-- Tab-separated rows of a data file written by bench/run.py.
function M.rows(path)
  local rows = {}
  local file = assert(io.open(path, "r"), "cannot open " .. tostring(path))
  for line in file:lines() do
    if line ~= "" then
      local row = {}
      for field in string.gmatch(line, "[^\t]+") do
        table.insert(row, field)
      end
      table.insert(rows, row)
    end
  end
  file:close()
  assert(#rows > 0, "no rows in " .. path)
  return rows
end

-- Call from each script's init(args).
function M.init(nonce)
  counts = {}
  sample_error = nil
  sent = 0
  key_prefix = (nonce or "run") .. "-" .. tostring(tid or 0) .. "-"
  math.randomseed(os.time() + 7919 * (tid or 0))
end

-- A new Idempotency-Key for every request: run nonce, thread, sequence number.
function M.key()
  sent = sent + 1
  return key_prefix .. sent
end

function M.response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  if status >= 300 and sample_error == nil then
    sample_error = tostring(status) .. " " .. string.sub(body or "", 1, 300)
  end
end

local function json_string(s)
  s = string.gsub(s, '[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. s .. '"'
end

function M.done(summary, latency, requests)
  local status, sample = {}, nil
  for _, thread in ipairs(threads) do
    local thread_counts = thread:get("counts") or {}
    for code, n in pairs(thread_counts) do
      status[code] = (status[code] or 0) + n
    end
    sample = sample or thread:get("sample_error")
  end
  local parts = {}
  for code, n in pairs(status) do
    table.insert(parts, string.format('"%d":%d', code, n))
  end
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_s":%.3f,"rps":%.2f,"p50_ms":%.3f,"p90_ms":%.3f,'
      .. '"p99_ms":%.3f,"max_ms":%.3f,"status":{%s},"errors":{"connect":%d,"read":%d,'
      .. '"write":%d,"timeout":%d,"status":%d},"sample_error":%s}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    table.concat(parts, ","), e.connect, e.read, e.write, e.timeout, e.status,
    sample and json_string(sample) or "null"))
end

-- Export the wrk hooks every script shares.
function M.install()
  setup = M.setup
  response = M.response
  done = M.done
end

return M
