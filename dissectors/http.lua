-- HTTP/1.0 and 1.1 (RFC 9112), and WebSocket after an accepted upgrade.
--
-- Each direction is read by straight-line code: a message head, then its
-- body (skipped in C unless a script asked for bodies), and so on. Requests
-- wait in the session's queue from their head on, so responses pair with
-- them in order (pipelining) even when the server answers before the
-- request body is complete (100-continue, early errors). See docs/http.md.

local config = require("lunatap.config")
local settings = require("lunatap.http")
local websocket = require("lunatap.websocket")

local MAX_HEAD = 18000          -- request/status line plus headers, bytes
local MAX_HEADERS = 1024
local MAX_CHUNK_LINE = 1024
local MAX_CHUNK_HEX = 13        -- hex digits: sizes below 2^52
local PIECE = 64 * 1024         -- body bytes handed to Lua at a time
local MAX_PENDING = 10000       -- requests waiting for a response, per session

local METHODS = {}
for m in ([[GET HEAD POST PUT DELETE CONNECT OPTIONS TRACE PATCH PROPFIND PROPPATCH
            MKCOL COPY MOVE LOCK UNLOCK SEARCH REPORT MKACTIVITY CHECKOUT MERGE
            M-SEARCH NOTIFY SUBSCRIBE UNSUBSCRIBE PURGE LINK UNLINK]]):gmatch("%S+") do
  METHODS[m] = true
end

local byte, concat = string.byte, table.concat

-- Headers: values by lower-case name; lookups with any case.
local Headers = {
  __index = function(t, k)
    if type(k) == "string" then return rawget(t, k:lower()) end
  end,
}

-- Messages keep their ordered header list out of their fields (json(req)
-- stays clean).
local lists = setmetatable({}, { __mode = "k" })
local Message = {
  __index = {
    header_list = function(self)
      local out = {}
      for i, pair in ipairs(lists[self] or {}) do out[i] = { pair[1], pair[2] } end
      return out
    end,
  },
}

local function trim(v)
  local i, j = 1, #v
  while i <= j and (byte(v, i) == 32 or byte(v, i) == 9) do i = i + 1 end
  while j >= i and (byte(v, j) == 32 or byte(v, j) == 9) do j = j - 1 end
  return v:sub(i, j)
end

local function looks_like_request(p)
  local m = p:match("^([%a%-_]+)[ \r\n]")
  if not m and #p < 16 then m = p:match("^([%a%-_]+)$") end
  return m ~= nil and METHODS[m:upper()] == true
end

local function looks_like_response(p)
  return p:sub(1, 7) == "HTTP/1."
end

-- Reads header lines up to the empty line, within `budget` bytes. Returns
-- the headers table and the ordered list, or nil at the end of the stream.
local function read_headers(s, budget)
  local headers, list = setmetatable({}, Headers), {}
  while true do
    if budget < 2 then s:limit("header_bytes", MAX_HEAD) end
    local line = s:line(budget - 2)
    if not line then return nil end
    budget = budget - #line - 2
    if line == "" then return headers, list end
    local first = byte(line)
    if (first == 32 or first == 9) and #list > 0 then
      -- obsolete line folding: the value goes on
      local last = list[#list]
      last[2] = last[2] .. " " .. trim(line)
      headers[last[1]:lower()] = last[2]
    else
      if #list >= MAX_HEADERS then s:limit("headers", MAX_HEADERS) end
      local colon = line:find(":", 1, true)
      if not colon or colon == 1 then
        error(("malformed header line %q"):format(line:sub(1, 80)), 0)
      end
      local name, value = trim(line:sub(1, colon - 1)), trim(line:sub(colon + 1))
      list[#list + 1] = { name, value }
      local key = name:lower()
      local had = rawget(headers, key)
      headers[key] = had and (had .. ", " .. value) or value
    end
  end
end

-- Reads a start line (skipping empty lines before it, RFC 9112 2.2),
-- checks it with `parse` (which returns its parts, or nil) before reading
-- the headers, so a bad line costs one line. Returns the parts, then the
-- headers and the ordered list; nil at the end of the stream.
local function read_head(s, parse, what)
  local budget = MAX_HEAD
  local first
  repeat
    first = s:line(budget)
    if not first then return nil end
    budget = budget - #first - 2
  until first ~= ""
  local a, b, c = parse(first)
  if not a then error(("not an HTTP %s line: %q"):format(what, first:sub(1, 80)), 0) end
  local headers, list = read_headers(s, budget)
  if not headers then return nil end
  return { a, b, c }, headers, list
end

-- Requests waiting for their responses, oldest first. Past MAX_PENDING
-- (a client that never gets answers) the oldest are given up: their
-- responses, if they ever come, pair with nothing rather than wrongly.
local function new_queue()
  return { first = 1, last = 0 }
end

local function push_request(q, req)
  q.last = q.last + 1
  q[q.last] = req
  if q.last - q.first + 1 > MAX_PENDING then
    q[q.first] = nil
    q.first = q.first + 1
    q.dropped = (q.dropped or 0) + 1
  end
end

local function oldest_request(q)
  return q[q.first]
end

local function pop_request(q)
  q[q.first] = nil
  if q.first <= q.last then q.first = q.first + 1 end
end

local function new_message(fields, headers, list)
  fields.headers = headers
  fields.body_len = 0
  local msg = setmetatable(fields, Message)
  lists[msg] = list
  return msg
end

-- Body bytes go to a sink: counted always, streamed to "http.body" and
-- kept up to --max-body when someone asked.
local function new_sink(msg, session)
  local stream = wants("http.body")
  local keep = settings.bodies and config.max_body > 0
  return { msg = msg, session = session, stream = stream, keep = keep,
           parts = {}, kept = 0, cap = config.max_body }
end

local function sink_wants_bytes(sink)
  return sink.stream or (sink.keep and sink.kept < sink.cap)
end

local function sink_add(sink, data)
  local msg = sink.msg
  msg.body_len = msg.body_len + #data
  if sink.stream then emit("http.body", msg, sink.session, data) end
  if sink.keep then
    local room = sink.cap - sink.kept
    if #data > room then
      data = data:sub(1, room)
      msg.body_truncated = true
    end
    if #data > 0 then
      sink.parts[#sink.parts + 1] = data
      sink.kept = sink.kept + #data
    end
  end
end

-- Takes up to n body bytes (nil: to the end of the stream); returns true
-- when all n arrived.
local function take(s, n, sink)
  local got = 0
  while (n == nil or got < n) and sink_wants_bytes(sink) do
    local d = s:chunk(n and math.min(n - got, PIECE) or PIECE)
    if not d then return false end
    sink_add(sink, d)
    got = got + #d
  end
  if n ~= nil and got >= n then return true end
  if sink.keep and not sink.stream then sink.msg.body_truncated = true end
  local want = n and n - got
  local skipped = s:skip(want)
  sink.msg.body_len = sink.msg.body_len + skipped
  return want ~= nil and skipped == want
end

local function chunked(s, sink)
  while true do
    local line = s:line(MAX_CHUNK_LINE)
    if not line then return false end
    local hex = line:match("^%s*(%x+)")
    if not hex then error(("bad chunk size line %q"):format(line:sub(1, 80)), 0) end
    hex = hex:gsub("^0+(.)", "%1")
    if #hex > MAX_CHUNK_HEX then s:limit("chunk_size", 1 << (4 * MAX_CHUNK_HEX)) end
    local size = tonumber(hex, 16)
    if size == 0 then
      local trailers, list = read_headers(s, MAX_HEAD)
      if not trailers then return false end
      if #list > 0 then sink.msg.trailers = trailers end
      return true
    end
    if not take(s, size, sink) then return false end
    local crlf = s:line(MAX_CHUNK_LINE)
    if not crlf then return false end
    if crlf ~= "" then error("chunk data not followed by CRLF", 0) end
  end
end

local function content_length(headers)
  local v = headers["content-length"]
  if not v then return nil end
  local n
  for part in v:gmatch("[^,]+") do
    local d = trim(part)
    if not d:match("^%d+$") or #d > 15 then error(("bad Content-Length %q"):format(v), 0) end
    local x = tonumber(d)
    if n and x ~= n then error(("conflicting Content-Length %q"):format(v), 0) end
    n = x
  end
  return n
end

local function is_chunked(headers)
  local te = headers["transfer-encoding"]
  return te ~= nil and te:lower():match("chunked%s*$") ~= nil
end

local DECODERS = { gzip = "gzip", ["x-gzip"] = "gzip", deflate = "deflate" }

-- Undoes the content codings, last applied first (RFC 9110 8.4.1);
-- identity is nothing to undo. A coding it cannot undo stops there with
-- body_error; what could be decoded stays.
local function decode_body(msg, sink)
  if not sink.keep then return end
  local body = concat(sink.parts)
  local codings = {}
  for c in (msg.headers["content-encoding"] or ""):lower():gmatch("[^,%s]+") do
    if c ~= "identity" then codings[#codings + 1] = c end
  end
  local codec = require("lunatap.codec")
  for i = #codings, 1, -1 do
    if body == "" then break end
    local kind = DECODERS[codings[i]]
    if not kind then
      msg.body_error = "content coding " .. codings[i] .. " is not decoded"
      break
    end
    local out, truncated, err = codec.inflate(body, kind, sink.cap)
    if out == nil then
      msg.body_error = truncated -- inflate returned nil, message
      break
    end
    body = out
    if truncated then msg.body_truncated = true end
    if err then
      msg.body_error = err
      break
    end
  end
  msg.body = body
end

-- Reads the body framed as `how` ("length", "chunked", "close" or nil).
local function read_body(s, msg, how, n, session)
  local sink = new_sink(msg, session)
  local complete = true
  if how == "length" then
    complete = n == 0 or take(s, n, sink)
  elseif how == "chunked" then
    msg.chunked = true
    complete = chunked(s, sink)
  elseif how == "close" then
    take(s, nil, sink)
  end
  if not complete then msg.incomplete = true end
  decode_body(msg, sink)
  msg.end_ts = s:ts()
  return complete
end

-- A request's Transfer-Encoding that does not end in chunked is an error
-- for a server (RFC 9112 6.3); a passive reader, like tshark, goes on with
-- Content-Length or no body.
local function request_framing(headers)
  if is_chunked(headers) then return "chunked" end
  local n = content_length(headers)
  if n then return "length", n end
  return nil
end

local function response_framing(res, req)
  local status = res.status
  if (req and req.method == "HEAD") or (status >= 100 and status < 200) or status == 204
      or status == 304 or (req and req.method == "CONNECT" and status < 300 and status >= 200) then
    return nil
  end
  if is_chunked(res.headers) then return "chunked" end
  local n = content_length(res.headers)
  if n then return "length", n end
  return "close"
end

-- "METHOD URI HTTP/1.1"; like tshark, also a known method without the
-- version (HTTP/0.9, or a broken client) or alone. An unknown method needs
-- the version: binary garbage must not pass for a request.
local function parse_request_line(line)
  local method, uri, version = line:match("^([!#-'*+%-.^-z|~%w]+) +(%S*) *(%S*)$")
  if not method then
    method = line:match("^[%a%-_]+$")
    if not method or not METHODS[method:upper()] then return nil end
    return method, "", nil
  end
  if not METHODS[method:upper()] and not version:match("^HTTP/%d") then return nil end
  return method, uri, version ~= "" and version or nil
end

-- One request; returns what the client side does next.
local function client_message(s, state)
  local ts = s:peek(1) and s:ts()
  local parts, headers, list = read_head(s, parse_request_line, "request")
  if not parts then return "end" end
  local method, uri, version = parts[1], parts[2], parts[3]
  state.nreq = state.nreq + 1
  local req = new_message({ method = method, uri = uri, version = version, ts = ts,
                            index = state.nreq, from = "client" }, headers, list)
  push_request(state.pending, req)
  local how, n = request_framing(headers)
  read_body(s, req, how, n, s.session)
  emit("http.request", req, s.session)
  if req.incomplete then return "end" end
  if method == "CONNECT" or headers["upgrade"] then return "upgrade?" end
  return "next"
end

local function open_websocket(state, req, res, session)
  local ws = { request = req, response = res, session = session,
               protocol = res.headers["sec-websocket-protocol"],
               extensions = res.headers["sec-websocket-extensions"] }
  state.websocket = ws
  emit("websocket.open", ws, session)
end

local function parse_status_line(line)
  return line:match("^(HTTP/%d%.%d) (%d%d%d) ?(.*)$")
end

-- One response; returns what the server side does next.
local function server_message(s, state)
  local ts = s:peek(1) and s:ts()
  local parts, headers, list = read_head(s, parse_status_line, "status")
  if not parts then return "end" end
  local version, code, reason = parts[1], parts[2], parts[3]
  local status = tonumber(code)
  local interim = status >= 100 and status < 200 and status ~= 101
  local req = oldest_request(state.pending)
  if req and not interim then pop_request(state.pending) end
  local res = new_message({ status = status, reason = reason, version = version, ts = ts,
                            request = req, latency = req and ts - req.ts, from = "server",
                            interim = interim or nil }, headers, list)
  local how, n = response_framing(res, req)
  read_body(s, res, how, n, s.session)
  emit("http.response", res, s.session)
  if res.incomplete then return "end" end
  if status == 101 then
    local upgrade = (headers["upgrade"] or ""):lower()
    if upgrade:find("websocket", 1, true) then
      open_websocket(state, req, res, s.session)
      return "websocket"
    end
    state.tunnel = true
    return "tunnel"
  end
  if req and req.method == "CONNECT" and status >= 200 and status < 300 then
    state.tunnel = true
    return "tunnel"
  end
  return "next"
end

-- After a request that asked to switch protocols: what follows from the
-- client is HTTP again unless the server accepted (or the bytes are not
-- HTTP, which means it did, as far as the client was concerned).
local function after_upgrade(s, state)
  if not s:peek(1) then return "end" end
  if state.websocket then return "websocket" end
  if state.tunnel then return "tunnel" end
  local p = s:peek(16)
  if looks_like_request(p) then return "next" end
  return "tunnel"
end

local RESYNC_WINDOW = 64 * 1024

-- Offset of the request line that ends `head` (the bytes before a
-- " HTTP/1." found in the stream): back over the URI and the method.
local function request_start(head)
  local i = #head
  while i > 0 and byte(head, i) > 32 do i = i - 1 end      -- the URI
  if i == 0 or byte(head, i) ~= 32 then return nil end
  local uri_start = i
  i = i - 1
  while i > 0 and (byte(head, i) == 45 or (byte(head, i) >= 65 and byte(head, i) <= 90)) do
    i = i - 1                                               -- the method: A-Z and '-'
  end
  local method = head:sub(i + 1, uri_start - 1)
  if METHODS[method] then return i end
  return nil
end

-- Discards bytes up to the next message of this side, wherever it starts
-- (not only at a line start: a body without a final newline, or a stray
-- byte, may come right before it). False at the end of the stream.
local function resync(s, dir)
  local needle = dir == "client" and " HTTP/1." or "HTTP/1."
  while true do
    local off = s:find(needle, RESYNC_WINDOW)
    if not off then
      if s.eof or s.hole then return false end
      s:skip(RESYNC_WINDOW - #needle)
    elseif dir == "server" then
      s:skip(off)
      return true
    else
      local head = s:peek(off)
      local start = request_start(head:sub(-4096))
      if start then
        s:skip(off - math.min(#head, 4096) + start)
        return true
      end
      s:skip(off + 1)
    end
  end
end

-- Limits after which nothing that follows can be trusted to be framed.
local FATAL = { chunk_size = true, ws_frame = true }

local function report_error(s, dir, err, fatal)
  emit("http.error", { limit = s.limit_hit, message = tostring(err), direction = dir,
                       fatal = fatal or nil }, s.session)
end

local function stream(s, dir, state)
  state.pending = state.pending or new_queue()
  state.nreq = state.nreq or 0
  local message = dir == "client" and client_message or server_message
  if s.resync then
    -- After a hole (bytes before this point) or when bytes were skipped,
    -- the queue may hold requests whose responses are lost, or miss
    -- requests: pairing starts afresh. A session merely picked up
    -- mid-stream at a message boundary keeps what the other side queued.
    local at = s.offset
    if not resync(s, dir) then return end
    if at > 0 or s.offset > at then state.pending = new_queue() end
  end
  while true do
    local ok, step = pcall(message, s, state)
    if not ok then
      local limit = s.limit_hit
      report_error(s, dir, step, FATAL[limit])
      if FATAL[limit] then s:skip() return end
      state.pending = new_queue()
      if not resync(s, dir) then return end
      step = "next"
    end
    if step == "upgrade?" then step = after_upgrade(s, state) end
    if step == "end" then return end -- (after a hole the framework starts us again)
    if step == "tunnel" then s:skip() return end
    if step == "websocket" then
      local ok2, err = pcall(websocket.run, s, dir, s.session)
      if not ok2 then
        report_error(s, dir, err, true)
        s:skip()
      end
      return
    end
  end
end

local function detect(buf, dir)
  local head = buf:bytes(0, math.min(#buf, 16))
  local request, response = looks_like_request(head), looks_like_response(head)
  if dir == "client" then
    return request or (response and "swap")
  end
  return response or (request and "swap")
end

dissector {
  name = "http",
  tcp_ports = { 80, 3128, 8000, 8008, 8080, 8088, 8888 },
  events = { "http.", "websocket." },
  detect = detect,
  stream = stream,
}
