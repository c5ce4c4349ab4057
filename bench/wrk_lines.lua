-- wrk script: each thread replays its own file of request lines, one per request.
-- Line format: METHOD<TAB>PATH<TAB>TOKEN<TAB>BODY (BODY may be empty), so the
-- load can come from many accounts. Environment:
--   WRK_LINES  file prefix; thread N reads "<prefix>.<N>"
-- Prints one JSON line with counts and latency percentiles (microseconds).
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  lines = {}
  local file = assert(io.open(os.getenv("WRK_LINES") .. "." .. id, "r"))
  for line in file:lines() do
    local method, path, token, body = line:match("^(%u+)\t([^\t]+)\t([^\t]+)\t(.*)$")
    table.insert(lines, { method = method, path = path, token = token, body = body })
  end
  file:close()
  position = 0
end

function request()
  position = position % #lines + 1
  local line = lines[position]
  local body = nil
  if line.body ~= "" then body = line.body end
  local headers = {
    ["Authorization"] = "Bearer " .. line.token,
    ["Content-Type"] = "application/json",
  }
  return wrk.format(line.method, line.path, headers, body)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "socket_errors": %d, "non2xx": %d, ' ..
    '"p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration,
    errors.connect + errors.read + errors.write + errors.timeout, errors.status,
    latency:percentile(50), latency:percentile(99)))
end
