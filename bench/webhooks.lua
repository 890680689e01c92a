-- Replays pre-built requests (one per line: METHOD<TAB>PATH<TAB>BODY<TAB>HEADER-NAME<TAB>HEADER-VALUE<TAB>CONTENT-TYPE),
-- round robin, so every request is signed for its own URL and body.
local requests = {}
local n = 0

init = function(args)
  for line in io.lines(os.getenv("REQUESTS_FILE")) do
    local method, path, body, hname, hvalue, ctype = line:match("([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)")
    local headers = {}
    headers[hname] = hvalue
    headers["Content-Type"] = ctype
    requests[#requests + 1] = wrk.format(method, path, headers, body)
  end
end

request = function()
  n = n % #requests + 1
  return requests[n]
end
