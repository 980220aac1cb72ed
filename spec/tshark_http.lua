-- Compares lunatap's HTTP and WebSocket events with tshark's on one capture.
--
-- tshark runs once per capture (`-T pdml`, protocols tcp, http and
-- websocket, `-o tcp.reassemble_out_of_order:TRUE`, plus `-d
-- tcp.port==N,http` for the ports given): PDML keeps each HTTP message and
-- each WebSocket frame in its own tree, so pipelined requests sharing a
-- frame, URIs with commas and responses without a paired request need no
-- field-splitting guesses. lunatap runs once, with a small script that
-- prints one JSON line per "http.request", "http.response" and
-- "websocket.frame" event.
--
-- Four multisets are compared, each per stream (lunatap's session id
-- follows tshark's tcp.stream numbering):
--   requests   (method, uri): every HTTP tree with a request method (tshark
--              sets http.request only for some methods: not SUBSCRIBE)
--   responses  (status)
--   pairs      (request index, status): the index of the request a
--              response answers, requests numbered from 1 per stream in the
--              order they complete; "-" for a response without one
--   websocket  (opcode)
-- Agreed conventions, applied before comparing:
--   - messages lunatap marks incomplete (the capture ends inside them) are
--     left out: tshark shows no message before its body is complete;
--   - an interim response (1xx but 101) pairs with no request: tshark
--     leaves it unpaired, lunatap gives it the request still waiting;
--   - streams where tshark's pairing cannot be trusted (see M.serial) are
--     left out of the pairs.
--
-- Results are cached per capture and ports within the run. Nothing here
-- asserts: the spec decides which differences are explained.

local h = require("helper")
local decode = require("json_decode")

local M = {}

-- Ports tshark decodes as HTTP without being told (`tshark -G decodes`);
-- other ports found by its heuristic dissector only when a message starts
-- a segment, so the spec passes them with -d.
M.TSHARK_HTTP_PORTS = {
  [80] = true, [631] = true, [1900] = true, [2710] = true, [2869] = true,
  [3128] = true, [3132] = true, [3689] = true, [5985] = true, [8080] = true,
  [8088] = true, [11371] = true,
}

local function unescape_xml(s)
  return (s:gsub("&(#?x?)(%w+);", function(kind, v)
    if kind == "#x" then return utf8.char(tonumber(v, 16)) end
    if kind == "#" then return utf8.char(tonumber(v)) end
    return ({ amp = "&", lt = "<", gt = ">", quot = '"', apos = "'" })[v]
  end))
end

local function unhex(s)
  return (s:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end

-- The value of a field: raw bytes from `value` (hex) when the field has it
-- (URIs with bytes tshark would escape in `show`), else `show`.
local function field_value(attrs, raw)
  if raw then
    local v = attrs:match(' value="(%x*)"')
    if v then return unhex(v) end
  end
  local show = attrs:match(' show="([^"]*)"')
  return show and unescape_xml(show)
end

local WANT = {
  ["http.request"] = false, ["http.response"] = false,
  ["http.request.method"] = true, ["http.request.uri"] = true,
  ["http.response.code"] = false, ["http.request_in"] = false,
  ["http.request_number"] = false, ["http.response_number"] = false,
  ["websocket.opcode"] = false, ["tcp.stream"] = false, ["num"] = false,
}

-- Splits one <packet> into its top-level protocols, each with the first
-- value of every wanted field (a top-level proto starts a line with two
-- spaces of indentation; `<` is always escaped inside attributes).
local function protos(packet)
  local list = {}
  local pos = 1
  while true do
    local s, e, name = packet:find('\n  <proto name="([^"]*)"', pos)
    local nexts = s and packet:find('\n  <proto name="', e + 1, true)
    if not s then break end
    local body = packet:sub(e + 1, (nexts or #packet + 1) - 1)
    local fields = {}
    for fname, attrs in body:gmatch('<field name="([^"]*)"([^>]*)') do
      local raw = WANT[fname]
      if raw ~= nil and fields[fname] == nil then
        fields[fname] = field_value(attrs, raw)
      end
    end
    list[#list + 1] = { name = name, f = fields }
    pos = nexts or #packet + 1
  end
  return list
end

-- An interim response (1xx but 101) answers no request in this
-- comparison: tshark leaves it unpaired, lunatap pairs it with the request
-- still waiting.
local function interim(code) return code >= 100 and code < 200 and code ~= 101 end
M.interim = interim

--- Whether tshark's pairing can be trusted on one stream: `requests` in
-- order, `responses` in order, each response with `after` (how many
-- requests were complete before it). tshark 4.0 keeps one request per
-- connection: a response pairs with the last request seen, if that one has
-- no response yet. That is right as long as every request is answered
-- before the next one is complete. When one is not (pipelining, several
-- requests in one segment, a response missing from the capture), tshark
-- pairs later responses with the wrong request or with none, and nothing
-- tells which request a response answers: the stream is left out of the
-- pairs comparison. Also clears the index of interim responses.
function M.serial(requests, responses)
  local outstanding, serial, r = 0, true, 1
  for i = 1, #requests do
    while r <= #responses and responses[r].after < i do
      if not interim(responses[r].code) then outstanding = 0 end
      r = r + 1
    end
    if outstanding > 0 then serial = false end
    outstanding = 1
  end
  for _, res in ipairs(responses) do
    if interim(res.code) then res.index = nil end
  end
  return serial
end

local tshark_cache = {}

--- tshark's view of `path`: { requests = { {stream, frame, method, uri,
-- number, index}... }, responses = { {stream, frame, code, request_in,
-- number, index}... }, websocket = { {stream, opcode}... }, unpaired =
-- { [stream] = true } for streams left out of the pairs } in capture
-- order. `ports`: extra TCP ports to decode as HTTP.
function M.tshark(path, ports)
  local key = path .. "\0" .. table.concat(ports or {}, ",")
  if tshark_cache[key] then return tshark_cache[key] end
  local cmd = { "tshark -n -r", h.quote(path), "-o tcp.reassemble_out_of_order:TRUE" }
  for _, p in ipairs(ports or {}) do
    if not M.TSHARK_HTTP_PORTS[tonumber(p)] then
      cmd[#cmd + 1] = ("-d tcp.port==%d,http"):format(p)
    end
  end
  cmd[#cmd + 1] = "-Y 'http || websocket' -T pdml -J 'tcp http websocket' 2>/dev/null"
  local pdml = h.capture(table.concat(cmd, " ")) or ""
  local r = { requests = {}, responses = {}, websocket = {} }
  local per_stream = {} -- stream -> list of its requests in order
  for packet in pdml:gmatch("<packet>(.-)</packet>") do
    local frame = tonumber(packet:match('<field name="num"[^>]- show="(%d+)"'))
    local stream
    for _, p in ipairs(protos(packet)) do
      local f = p.f
      if p.name == "tcp" then
        stream = tonumber(f["tcp.stream"])
      elseif p.name == "http" and stream and f["http.request.method"] then
        local list = per_stream[stream] or {}
        per_stream[stream] = list
        local req = { stream = stream, frame = frame, method = f["http.request.method"],
          uri = f["http.request.uri"] or "", number = tonumber(f["http.request_number"]),
          index = #list + 1 }
        list[#list + 1] = req
        r.requests[#r.requests + 1] = req
      elseif p.name == "http" and stream and f["http.response"] == "1" and f["http.response.code"] then
        local res = { stream = stream, frame = frame, code = tonumber(f["http.response.code"]),
          request_in = tonumber(f["http.request_in"]), number = tonumber(f["http.response_number"]) }
        -- The request answered: the one in frame request_in whose number is
        -- the response's (tshark numbers a pair once); failing that the
        -- last request of that frame, the one tshark pairs with.
        if res.request_in then
          for _, req in ipairs(per_stream[stream] or {}) do
            if req.frame == res.request_in then
              if req.number == res.number then res.index = req.index break end
              res.index = req.index
            end
          end
        end
        local list = per_stream[stream] or {}
        per_stream[stream] = list
        list.responses = list.responses or {}
        list.responses[#list.responses + 1] = res
        res.after = #list -- requests complete before this response
        r.responses[#r.responses + 1] = res
      elseif p.name == "websocket" and stream and f["websocket.opcode"] then
        r.websocket[#r.websocket + 1] = { stream = stream, opcode = tonumber(f["websocket.opcode"]) }
      end
    end
  end
  r.unpaired = {}
  for stream, list in pairs(per_stream) do
    if not M.serial(list, list.responses or {}) then r.unpaired[stream] = true end
  end
  tshark_cache[key] = r
  return r
end

-- One JSON line per event. Method and URI go as hex: json() writes a byte
-- that is not UTF-8 as \u00XX, which a decoder cannot tell from the
-- character U+00XX.
local SCRIPT = [[
local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end
on("http.request", function(r, s)
  print(json{ e = "req", stream = s.id, index = r.index, method = hex(r.method), uri = hex(r.uri),
              incomplete = r.incomplete })
end)
on("http.response", function(r, s)
  print(json{ e = "res", stream = s.id, status = r.status, index = r.request and r.request.index,
              incomplete = r.incomplete })
end)
on("websocket.frame", function(f, s)
  print(json{ e = "ws", stream = s.id, opcode = f.opcode })
end)
]]

local lunatap_cache = {}

--- lunatap's view of `path`, the same shape as tshark's (requests with
-- stream, method, uri, index; responses with stream, code, index;
-- websocket with stream, opcode), plus `errors`: lunatap's failures.
function M.lunatap(path)
  if lunatap_cache[path] then return lunatap_cache[path] end
  local r = { requests = {}, responses = {}, websocket = {}, errors = {}, incomplete = 0 }
  local script = h.tmpfile(SCRIPT, ".lua")
  local t = h.run_limited(120, { "-r", path, script })
  os.remove(script)
  if t.code ~= 0 then r.errors[#r.errors + 1] = ("lunatap exit %d: %s"):format(t.code, t.err) end
  for line in t.out:gmatch("[^\n]+") do
    local ok, ev = pcall(decode, line)
    if not ok or type(ev) ~= "table" then
      r.errors[#r.errors + 1] = "not JSON: " .. line
    elseif ev.incomplete then
      r.incomplete = r.incomplete + 1
    elseif ev.e == "req" then
      r.requests[#r.requests + 1] = { stream = ev.stream, method = unhex(ev.method),
        uri = unhex(ev.uri), index = ev.index }
    elseif ev.e == "res" then
      local idx = ev.index
      if idx == decode.null or interim(ev.status) then idx = nil end
      r.responses[#r.responses + 1] = { stream = ev.stream, code = ev.status, index = idx }
    elseif ev.e == "ws" then
      r.websocket[#r.websocket + 1] = { stream = ev.stream, opcode = ev.opcode }
    end
  end
  lunatap_cache[path] = r
  return r
end

-- What is compared, per stream: each kind's key without the stream.
local KEYS = {
  requests = function(v) return ("%s %s"):format(v.method, v.uri) end,
  responses = function(v) return tostring(v.code) end,
  pairs = function(v) return ("request %s -> %d"):format(v.index or "-", v.code) end,
  websocket = function(v) return ("opcode %d"):format(v.opcode) end,
}
local SOURCE = { requests = "requests", responses = "responses", pairs = "responses", websocket = "websocket" }
M.KINDS = { "requests", "responses", "pairs", "websocket" }

local function count(list, key, skip)
  local c = {}
  for _, v in ipairs(list) do
    if not (skip and skip[v.stream]) then
      local k = v.stream .. "\0" .. key(v)
      c[k] = (c[k] or 0) + 1
    end
  end
  return c
end

--- Compares lunatap with tshark on `path`: multisets of (stream, key) per
-- kind (requests, responses, pairs, websocket). Returns { diffs = list of
-- { kind, only = "tshark" | "lunatap", stream, key, n }, sorted; errors =
-- lunatap's failures; tshark, lunatap = the raw views }.
function M.compare(path, ports)
  local t, l = M.tshark(path, ports), M.lunatap(path)
  local out = { tshark = t, lunatap = l, errors = l.errors, diffs = {} }
  for ki, kind in ipairs(M.KINDS) do
    local ct = count(t[SOURCE[kind]], KEYS[kind], kind == "pairs" and t.unpaired)
    local cl = count(l[SOURCE[kind]], KEYS[kind], kind == "pairs" and t.unpaired)
    for _, side in ipairs({ { "tshark", ct, cl }, { "lunatap", cl, ct } }) do
      for k, n in pairs(side[2]) do
        local d = n - (side[3][k] or 0)
        if d > 0 then
          local stream, key = k:match("^(%d+)\0(.*)$")
          out.diffs[#out.diffs + 1] = { kind = kind, order = ki, only = side[1],
            stream = tonumber(stream), key = key, n = d }
        end
      end
    end
  end
  table.sort(out.diffs, function(x, y)
    if x.order ~= y.order then return x.order < y.order end
    if x.stream ~= y.stream then return x.stream < y.stream end
    if x.only ~= y.only then return x.only > y.only end
    return x.key < y.key
  end)
  return out
end

local function printable(s)
  s = s:gsub("[^\32-\126]", function(c) return ("\\x%02x"):format(c:byte()) end)
  if #s > 100 then s = s:sub(1, 97) .. "..." end
  return s
end

--- One readable line per difference in `diffs` (at most `max`, default 12).
function M.describe(diffs, max)
  max = max or 12
  local lines = {}
  for i, d in ipairs(diffs) do
    if i > max then
      lines[#lines + 1] = ("... %d more"):format(#diffs - max)
      break
    end
    lines[#lines + 1] = ("%s stream %d only in %s: %s x%d"):format(d.kind, d.stream, d.only,
      printable(d.key), d.n)
  end
  return lines
end

--- Captures to compare from the shared MANIFEST.tsv: category http or
-- websocket, or a note counting HTTP messages ("http N req/M resp", N+M >
-- 0). Returns a list of { path, name, ports } with the note's req_dport
-- ports and `extra_ports[name]`.
-- `wanted(category, nreq, nres)` replaces that rule when given.
function M.manifest_captures(dir, extra_ports, wanted)
  local list = {}
  local f = io.open(dir .. "/MANIFEST.tsv", "r")
  if not f then return list end
  wanted = wanted or function(category, nreq, nres)
    return category == "http" or category == "websocket" or (nreq or 0) + (nres or 0) > 0
  end
  for line in f:lines() do
    local file, category, note = line:match("^([^\t]+)\t([^\t]+)\t[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*\t(.*)$")
    if file and file ~= "file" then
      local nreq, nres = note:match("http (%d+) req/(%d+) resp")
      if wanted(category, tonumber(nreq), tonumber(nres)) then
        local name = file:match("([^/]+)$")
        local ports, seen = {}, {}
        local function add(p)
          p = tonumber(p)
          if p and not seen[p] then seen[p] = true; ports[#ports + 1] = p end
        end
        for p in (note:match("req_dport=([%d/]+)") or ""):gmatch("%d+") do add(p) end
        for _, p in ipairs((extra_ports or {})[name] or {}) do add(p) end
        list[#list + 1] = { path = dir .. "/" .. file, name = name, ports = ports }
      end
    end
  end
  f:close()
  table.sort(list, function(a, b) return a.name < b.name end)
  return list
end

return M
