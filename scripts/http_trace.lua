-- HTTP requests and responses, and WebSocket messages, as they happen.
--
-- node_pcap's http_trace, done right.
--
-- One block per message: a first line, then selected headers indented by
-- two spaces (and the body with --bodies). Times are capture times (UTC).
-- Responses carry the number of the request they answer (#1 is the first
-- request of its session), their body size and their latency (from the
-- request's first byte to the response's first byte). --json prints one
-- object per event in the format of docs/http.md ("http_trace --json").
--
-- Filters select requests: --method/--host/--url/--user-agent keep a request
-- that matches one of the values given for every option used, and the
-- -ignore variants drop a request that matches any of theirs. A response,
-- and the WebSocket traffic after an upgrade, is shown exactly when its
-- request was; a response whose request was never seen is shown only when
-- no filter is in use.
--
-- Text from the wire is printed with control characters as \xNN escapes,
-- so a hostile header cannot drive the terminal.

local opt = options {
  summary = "HTTP requests and responses, and WebSocket messages, as they happen " ..
            "(in the spirit of node_pcap's http_trace).",
  usage = "[--headers] [--bodies] [--json] [--method M] [--host H] [--url U] ...",
  { "--method", arg = "M", type = "list", help = "only requests with method M (exact, any case; repeatable)" },
  { "--method-ignore", arg = "M", type = "list", help = "drop requests with method M (repeatable)" },
  { "--host", arg = "H", type = "list", help = "only requests whose Host header contains H (any case; repeatable)" },
  { "--host-ignore", arg = "H", type = "list", help = "drop requests whose Host header contains H (repeatable)" },
  { "--url", arg = "U", type = "list", help = "only requests whose URI contains U (any case; repeatable)" },
  { "--url-ignore", arg = "U", type = "list", help = "drop requests whose URI contains U (repeatable)" },
  { "--user-agent", arg = "UA", type = "list", help = "only requests whose User-Agent contains UA (any case; repeatable)" },
  { "--user-agent-ignore", arg = "UA", type = "list", help = "drop requests whose User-Agent contains UA (repeatable)" },
  { "--headers", help = "print every header (with --json: a headers object)" },
  { "--show-header", arg = "PATTERN", type = "list",
    help = "also print headers whose name matches the Lua pattern PATTERN, any case (repeatable)" },
  { "--bodies", help = "print text bodies, content-decoded (binary content types are skipped)" },
  { "--tcp-verbose", help = "also print TCP start, end, reset and retransmission lines of sessions with HTTP shown" },
  { "--no-color", help = "never colour the output (colour is used only on a terminal)" },
  { "--json", help = "print one JSON object per event" },
  epilog = "Filters: a request is shown when, for every filter option given, it matches one of its\n" ..
           "values, and it matches no value of any -ignore option. Responses and WebSocket traffic\n" ..
           "follow their request.",
}

local usage_error = require("lunatap.options").usage_error

if opt.bodies then require("lunatap.http").want_bodies() end

------------------------------------------------------------------------
-- Filters

local lower = string.lower

local function lowered(list)
  local out = {}
  for i, v in ipairs(list) do out[i] = lower(v) end
  return out
end

local F = {
  method = lowered(opt.method), method_ignore = lowered(opt.method_ignore),
  host = lowered(opt.host), host_ignore = lowered(opt.host_ignore),
  url = lowered(opt.url), url_ignore = lowered(opt.url_ignore),
  user_agent = lowered(opt.user_agent), user_agent_ignore = lowered(opt.user_agent_ignore),
}

local filtering = false
for _, list in pairs(F) do
  if #list > 0 then filtering = true end
end

-- True when `value` (lower-cased) matches one of `list`: exactly, or as a
-- plain substring.
local function any_match(list, value, exact)
  if value == nil then return false end
  for _, want in ipairs(list) do
    if exact then
      if value == want then return true end
    elseif value:find(want, 1, true) then
      return true
    end
  end
  return false
end

local function passes(req)
  local fields = {
    method = req.method and lower(req.method),
    host = req.headers["host"] and lower(req.headers["host"]),
    url = req.uri and lower(req.uri),
    user_agent = req.headers["user-agent"] and lower(req.headers["user-agent"]),
  }
  for name, value in pairs(fields) do
    local exact = name == "method"
    if #F[name] > 0 and not any_match(F[name], value, exact) then return false end
    if any_match(F[name .. "_ignore"], value, exact) then return false end
  end
  return true
end

-- --show-header patterns: matched against the lower-cased header name, so
-- the pattern's letters are lower-cased too, except the class letters after
-- a "%" (%S, %A, ... keep their meaning).
local header_patterns = {}
for i, p in ipairs(opt.show_header) do
  local pat = p:gsub("(%%?)(%a)", function(pct, c)
    return pct == "" and c:lower() or pct .. c
  end)
  local ok, err = pcall(string.find, "", pat)
  if not ok then
    usage_error(("--show-header: bad pattern '%s': %s"):format(p, tostring(err):gsub("^.-: ", "")))
  end
  header_patterns[i] = pat
end

local function header_wanted(name, defaults)
  if opt.headers then return true end
  local key = lower(name)
  if defaults[key] then return true end
  for _, pat in ipairs(header_patterns) do
    if key:find(pat) then return true end
  end
  return false
end

local REQUEST_HEADERS = { host = true, ["user-agent"] = true }
local RESPONSE_HEADERS = { ["content-type"] = true }

------------------------------------------------------------------------
-- Bodies

local TEXT_TYPES = {
  ["application/json"] = true, ["application/xml"] = true,
  ["application/javascript"] = true, ["application/x-www-form-urlencoded"] = true,
}

local function media_type(msg)
  local ct = msg.headers["content-type"]
  if not ct then return nil end
  return (lower(ct):match("^%s*([^;%s]+)"))
end

-- Text content types are shown; without a Content-Type, a body that is
-- valid UTF-8 without NUL bytes is.
local function is_text(msg, body)
  local mt = media_type(msg)
  if not mt then
    return utf8.len(body) ~= nil and not body:find("\0", 1, true)
  end
  return mt:sub(1, 5) == "text/" or TEXT_TYPES[mt] or mt:match("%+json$") ~= nil
      or mt:match("%+xml$") ~= nil
end

-- The body to show, or nil and the reason it is not shown.
local function shown_body(msg)
  local body = msg.body
  if body == nil or body == "" then return nil end
  if not is_text(msg, body) then return nil, "binary" end
  return body
end

------------------------------------------------------------------------
-- Output

local color = not opt.no_color and not opt.json and output_is_tty()

local function paint(code, s)
  if not color then return s end
  return "\27[" .. code .. "m" .. s .. "\27[0m"
end

local BOLD, DIM, GREEN, CYAN, YELLOW, RED, MAGENTA, BLUE = "1", "2", "32", "36", "33", "31", "35", "34"

local function status_color(status)
  if status >= 500 then return RED
  elseif status >= 400 then return YELLOW
  elseif status >= 300 then return CYAN
  elseif status >= 200 then return GREEN
  end
  return BLUE
end

-- Control characters (and DEL) as \xNN; keep_lines keeps \n and \t.
local function clean(s, keep_lines)
  if s == nil then return "" end
  s = tostring(s)
  local pat = keep_lines and "[\0-\8\11-\31\127]" or "[\0-\31\127]"
  return (s:gsub(pat, function(c) return ("\\x%02x"):format(c:byte()) end))
end

local function clock(t)
  if not t then return "--:--:--.------" end
  local sec = math.floor(t)
  return ("%s.%06d"):format(os.date("!%H:%M:%S", sec), math.floor((t - sec) * 1e6 + 0.5) % 1000000)
end

local function ms(seconds)
  return ("%.1f ms"):format(seconds * 1000)
end

-- JSON with the keys in the order given; nil values are written as null
-- unless the key is listed in `optional`.
local function json_line(keys, rec, optional)
  return json(rec, keys, optional)
end

local function header_object(msg)
  local t = {}
  for k, v in pairs(msg.headers) do t[k] = v end
  return t
end

------------------------------------------------------------------------
-- TCP lines for sessions with HTTP shown (--tcp-verbose)

local MAX_HELD = 64
local shown = setmetatable({}, { __mode = "k" })   -- session -> true once HTTP was shown
local held = setmetatable({}, { __mode = "k" })    -- session -> lines waiting for that

local function tcp_line(s, event, text, fields)
  local line
  if opt.json then
    local r = fields or {}
    r.event, r.session, r.ts, r.client, r.server = "tcp." .. event, s.id, s.last, s.client, s.server
    line = json_line({ "event", "session", "ts", "client", "server", "by", "from", "seq",
                       "state", "duration", "client_bytes", "server_bytes", "history" },
                     r, { by = true, from = true, seq = true, state = true, duration = true,
                          client_bytes = true, server_bytes = true, history = true })
  else
    line = paint(DIM, ("%s %s -> %s tcp %s"):format(clock(s.last), s.client, s.server, text))
  end
  if shown[s] then
    print(line)
  else
    local h = held[s]
    if not h then h = { n = 0 } held[s] = h end
    h.n = h.n + 1
    if h.n <= MAX_HELD then h[#h + 1] = line end
  end
end

-- Marks the session as carrying HTTP that was shown, printing its held
-- TCP lines first.
local function show_session(s)
  if shown[s] then return end
  shown[s] = true
  local h = held[s]
  if h then
    held[s] = nil
    for _, line in ipairs(h) do print(line) end
    if h.n > MAX_HELD and not opt.json then
      print(paint(DIM, ("  (%d earlier tcp lines not shown)"):format(h.n - MAX_HELD)))
    end
  end
end

if opt.tcp_verbose then
  on("tcp.start", function(s)
    tcp_line(s, "start", s.midstream and "start (picked up mid-stream)" or "start")
  end)
  on("tcp.reset", function(s, dir)
    tcp_line(s, "reset", "reset by " .. dir, { by = dir })
  end)
  on("tcp.retransmit", function(s, dir, seq)
    tcp_line(s, "retransmit", ("retransmission from %s, seq %d"):format(dir, seq), { from = dir, seq = seq })
  end)
  on("tcp.end", function(s)
    if shown[s] then
      tcp_line(s, "end", ("end (%s) after %s, client sent %d bytes, server sent %d bytes, history %s")
        :format(s.state, ms(s.duration), s.client_payload_bytes, s.server_payload_bytes, s.history),
        { state = s.state, duration = s.duration, client_bytes = s.client_payload_bytes,
          server_bytes = s.server_payload_bytes, history = s.history })
    end
    held[s] = nil
  end)
end

------------------------------------------------------------------------
-- HTTP

-- request -> whether it passed the filters. A response can come before its
-- request's event (a 100 Continue, or an early error while the request body
-- is still on its way): the request's head is there already, so it is
-- judged then.
local passed = setmetatable({}, { __mode = "k" })

local function request_passes(req)
  local p = passed[req]
  if p == nil then
    p = passes(req)
    passed[req] = p
  end
  return p
end
local ws_shown = setmetatable({}, { __mode = "k" }) -- session -> true when its WebSocket is shown

local function print_headers(msg, defaults)
  for _, pair in ipairs(msg:header_list()) do
    local name, value = pair[1], pair[2]
    if header_wanted(name, defaults) then
      print(("  %s: %s"):format(paint(BOLD, clean(name)), clean(value)))
    end
  end
end

local function print_body(msg)
  if not opt.bodies then return end
  local body, why = shown_body(msg)
  if body then
    local note = msg.body_truncated and " (truncated)" or ""
    print(paint(DIM, ("  body, %d bytes%s:"):format(#body, note)))
    body = clean(body:gsub("\r\n", "\n"), true)
    for line in (body:sub(-1) == "\n" and body or body .. "\n"):gmatch("([^\n]*)\n") do
      print("  | " .. line)
    end
  elseif why then
    print(paint(DIM, ("  body, %d bytes of %s not shown"):format(#msg.body, media_type(msg) or "binary data")))
  end
end

local function text_body(msg)
  if not opt.bodies then return nil end
  return (shown_body(msg))
end

local REQUEST_KEYS = { "event", "session", "ts", "client", "server", "index", "method", "uri",
                       "version", "host", "user_agent", "body_len", "headers", "body",
                       "body_truncated", "incomplete" }
local RESPONSE_KEYS = { "event", "session", "ts", "client", "server", "index", "method", "uri",
                        "status", "reason", "version", "body_len", "latency", "content_type",
                        "headers", "body", "body_truncated", "incomplete" }
local MESSAGE_OPTIONAL = { headers = true, body = true, body_truncated = true, incomplete = true }

on("http.request", function(req, s)
  if not request_passes(req) then return end
  show_session(s)
  if opt.json then
    print(json_line(REQUEST_KEYS, {
      event = "request", session = s.id, ts = req.ts, client = s.client, server = s.server,
      index = req.index, method = req.method, uri = req.uri, version = req.version,
      host = req.headers["host"], user_agent = req.headers["user-agent"], body_len = req.body_len,
      headers = opt.headers and header_object(req) or nil, body = text_body(req),
      body_truncated = opt.bodies and req.body_truncated or nil,
      incomplete = req.incomplete or nil,
    }, MESSAGE_OPTIONAL))
    return
  end
  local line = ("%s %s -> %s %s %s %s %s"):format(clock(req.ts), s.client, s.server,
    paint(DIM, "#" .. req.index), paint(BOLD .. ";" .. GREEN, clean(req.method)), clean(req.uri),
    clean(req.version or "HTTP/0.9"))
  if req.body_len > 0 then line = line .. (" %d bytes"):format(req.body_len) end
  if req.incomplete then line = line .. " " .. paint(RED, "(incomplete)") end
  print(line)
  print_headers(req, REQUEST_HEADERS)
  print_body(req)
end)

on("http.response", function(res, s)
  local req = res.request
  if req then
    if not request_passes(req) then return end
  elseif filtering then
    return
  end
  show_session(s)
  if opt.json then
    print(json_line(RESPONSE_KEYS, {
      event = "response", session = s.id, ts = res.ts, client = s.client, server = s.server,
      index = req and req.index, method = req and req.method, uri = req and req.uri,
      status = res.status, reason = res.reason, version = res.version, body_len = res.body_len,
      latency = res.latency, content_type = res.headers["content-type"],
      headers = opt.headers and header_object(res) or nil, body = text_body(res),
      body_truncated = opt.bodies and res.body_truncated or nil,
      incomplete = res.incomplete or nil,
    }, MESSAGE_OPTIONAL))
    return
  end
  local line = ("%s %s <- %s %s %s %s %d bytes"):format(clock(res.ts), s.client, s.server,
    paint(DIM, req and "#" .. req.index or "#?"),
    paint(BOLD .. ";" .. status_color(res.status), tostring(res.status)), clean(res.reason),
    res.body_len)
  if res.latency then line = line .. " " .. ms(res.latency) end
  if res.incomplete then line = line .. " " .. paint(RED, "(incomplete)") end
  print(line)
  print_headers(res, RESPONSE_HEADERS)
  print_body(res)
end)

------------------------------------------------------------------------
-- WebSocket

local OPCODES = { [0] = "continuation", [1] = "text", [2] = "binary", [8] = "close",
                  [9] = "ping", [10] = "pong" }

on("websocket.open", function(ws, s)
  local req = ws.request
  if req then
    if not request_passes(req) then return end
  elseif filtering then
    return
  end
  ws_shown[s] = true
  show_session(s)
  local ts = ws.response and ws.response.ts or s.last
  if opt.json then
    print(json_line({ "event", "session", "ts", "client", "server", "index", "uri", "protocol",
                      "extensions" },
      { event = "websocket.open", session = s.id, ts = ts, client = s.client, server = s.server,
        index = req and req.index, uri = req and req.uri, protocol = ws.protocol,
        extensions = ws.extensions }, { protocol = true, extensions = true }))
    return
  end
  local line = ("%s %s <> %s %s %s"):format(clock(ts), s.client, s.server,
    paint(DIM, req and "#" .. req.index or "#?"), paint(BOLD .. ";" .. MAGENTA, "websocket open"))
  if req then line = line .. " " .. clean(req.uri) end
  if ws.protocol then line = line .. " protocol " .. clean(ws.protocol) end
  print(line)
end)

-- Close frames are printed from "websocket.close" (they are messages too).
on("websocket.message", function(msg, s)
  if not ws_shown[s] or msg.opcode == 8 then return end
  local text = msg.opcode == 1 and msg.data or nil
  if opt.json then
    print(json_line({ "event", "session", "ts", "client", "server", "from", "opcode", "len",
                      "data", "truncated" },
      { event = "websocket.message", session = s.id, ts = msg.ts, client = s.client,
        server = s.server, from = msg.from, opcode = msg.opcode, len = msg.len,
        data = opt.bodies and text or nil, truncated = msg.truncated or nil },
      { data = true, truncated = true }))
    return
  end
  local arrow = msg.from == "client" and "->" or "<-"
  local line = ("%s %s %s %s websocket %s %d bytes"):format(clock(msg.ts), s.client, arrow,
    s.server, OPCODES[msg.opcode] or ("opcode " .. msg.opcode), msg.len)
  if msg.truncated then line = line .. " (truncated)" end
  print(line)
  if opt.bodies and text then
    for l in (clean(text, true) .. "\n"):gmatch("([^\n]*)\n") do print("  | " .. l) end
  end
end)

on("websocket.close", function(close, s)
  if not ws_shown[s] then return end
  if opt.json then
    print(json_line({ "event", "session", "ts", "client", "server", "from", "code", "reason" },
      { event = "websocket.close", session = s.id, ts = s.last, client = s.client,
        server = s.server, from = close.from, code = close.code, reason = close.reason or "" }))
    return
  end
  local arrow = close.from == "client" and "->" or "<-"
  local line = ("%s %s %s %s %s"):format(clock(s.last), s.client, arrow, s.server,
    paint(MAGENTA, "websocket close"))
  if close.code then line = line .. " " .. close.code end
  if close.reason and close.reason ~= "" then line = line .. " " .. clean(close.reason) end
  print(line)
end)

------------------------------------------------------------------------
-- Errors in sessions whose HTTP is shown (or in any, without filters)

on("http.error", function(info, s)
  if filtering and not shown[s] then return end
  local limit = type(info.limit) == "string" and info.limit or nil
  local what = limit and ("limit " .. limit .. ": ") or ""
  if opt.json then
    print(json_line({ "event", "session", "ts", "client", "server", "direction", "limit", "message" },
      { event = "http.error", session = s.id, ts = s.last, client = s.client, server = s.server,
        direction = info.direction, limit = limit, message = info.message }, { limit = true }))
    return
  end
  print(("%s %s %s %s %s"):format(clock(s.last), s.client, info.direction == "client" and "->" or "<-",
    s.server, paint(RED, "http error from " .. tostring(info.direction) .. ": " .. what .. clean(info.message))))
end)
