-- Compares lunatap's Redis client commands with tshark's on one capture.
--
-- tshark (its "resp" dissector, with TCP reassembly on) runs twice per
-- capture, on client->server messages only (tcp.dstport is a server port;
-- a port other than 6379 is given as decode-as):
--  * with -T fields (frame.number, resp.array.length, resp.bulk_string.value
--    as hex, _ws.expert.message, tcp.srcport, every occurrence): each
--    array's length takes that many bulk values, in order, as one command.
--    tshark shows a partly decoded array again, whole, in the frame that
--    completes it, so a frame's last array is dropped as partial when the
--    frame's expert message says "Array is partially decoded", or when the
--    values run out inside it (an array header alone at a segment's end
--    comes without that message). A frame whose lengths and values do not
--    add up otherwise gives one key for the frame that lunatap cannot match
--    (a difference to explain).
--  * with -T json -x: tshark does not decode inline commands (lines that
--    do not start with '*'); it shows each such line as a "Fragment" whose
--    raw bytes are resp.fragment_raw. Each line (without its CR LF) is split
--    into words with lunatap.resp.split_inline (redis's sdssplitargs rules;
--    tshark has no splitter), so for inline commands tshark checks the line
--    boundaries and that the line is inline, lunatap's events the rest; a
--    line that does not split (unbalanced quotes) becomes an "INLINE error"
--    key, matching lunatap's redis.error for it.
-- lunatap runs once with a small script printing one JSON line per
-- "redis.command" (args as hex, client port) and per client-side
-- "redis.error". Each command becomes a key "ARRAY|INLINE NAME arg1 arg2
-- ..." (arguments quoted with %q; NAME is tshark's first argument upper-
-- cased, lunatap's cmd.name, which must be the same) and the two multisets
-- of keys are compared over the whole capture (keyset.diff). Then, per
-- client port and per kind (ARRAY, INLINE: tshark's two runs cannot be
-- interleaved), a client whose commands are the same multiset on both sides
-- must send them in the same order. Results are cached per capture within
-- the run. Nothing here asserts: the spec decides which differences are
-- explained.
--
-- A limit of the fields output: a frame whose only bulk value is empty
-- cannot be told from one with none (it would show as a frame key).

local h = require("helper")
local decode = require("json_decode")
local keyset = require("keyset")

package.path = h.root .. "/lua/?.lua;" .. package.path
local resp = require("lunatap.resp")

local M = {}

local SEP = "\31"

local function unhex(s)
  return (s:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end

-- Every value of a field joined by SEP, empty values kept.
local function split(v)
  local t = {}
  if v == nil or v == "" then return t end
  for x in (v .. SEP):gmatch("([^" .. SEP .. "]*)" .. SEP) do t[#t + 1] = x end
  return t
end

--- A command's key: `inline` (boolean) and its arguments (Lua strings).
function M.key(inline, args)
  local q = { inline and "INLINE" or "ARRAY", (args[1] or ""):upper() }
  for _, a in ipairs(args) do q[#q + 1] = ("%q"):format(a):gsub("\\\n", "\\n") end
  return table.concat(q, " ")
end

--- The key of an inline line that does not split.
function M.inline_error(why)
  return "INLINE error: " .. why
end

-- `servers`: the servers' TCP ports (a list); tshark decodes RESP on 6379
-- only unless told.
local function tshark_cmd(path, servers, rest)
  local cmd = { "tshark -n -r", h.quote(path), "-o tcp.desegment_tcp_streams:TRUE",
                "-o tcp.reassemble_out_of_order:TRUE" }
  local dst = {}
  for _, port in ipairs(servers) do
    if port ~= 6379 then cmd[#cmd + 1] = "-d " .. h.quote(("tcp.port==%d,resp"):format(port)) end
    dst[#dst + 1] = ("tcp.dstport == %d"):format(port)
  end
  cmd[#cmd + 1] = "-Y " .. h.quote(("resp && (%s)"):format(table.concat(dst, " || ")))
  cmd[#cmd + 1] = rest
  cmd[#cmd + 1] = "2>/dev/null"
  return table.concat(cmd, " ")
end

-- Commands sent as RESP arrays, from -T fields. `clients[i]` is the client
-- port of keys[i].
local function tshark_arrays(path, servers, keys, clients)
  local out = h.capture(tshark_cmd(path, servers, "-T fields -E occurrence=a -E " .. h.quote("aggregator=" .. SEP)
    .. " -e frame.number -e resp.array.length -e resp.bulk_string.value -e _ws.expert.message -e tcp.srcport"))
    or ""
  for line in out:gmatch("[^\n]+") do
    local f = {}
    for v in (line .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = v end
    local lengths, values = split(f[2]), split(f[3])
    local need = 0
    for _, n in ipairs(lengths) do need = need + (tonumber(n) or 0) end
    local last = tonumber(lengths[#lengths]) or 0
    if (f[4] or ""):find("Array is partially decoded", 1, true)
       or (need > #values and need - last <= #values) then
      -- the last array is a partial one (tshark does not always say so: an
      -- array header alone at a segment's end comes without the message)
      lengths[#lengths] = nil
      need = need - last
    end
    if need > #values then
      keys[#keys + 1] = ("frame %s: arrays %s do not match %d bulk strings"):format(f[1], f[2], #values)
      clients[#keys] = f[5]
    else
      local i = 0
      for _, n in ipairs(lengths) do
        local args = {}
        for j = 1, tonumber(n) do args[j] = unhex(values[i + j]) end
        i = i + tonumber(n)
        if #args > 0 then
          keys[#keys + 1] = M.key(false, args)
          clients[#keys] = f[5]
        end
      end
    end
  end
end

-- Inline commands: the raw bytes of tshark's "Fragment" lines, from -T json -x.
local function tshark_inline(path, servers, keys, clients)
  local out = h.capture(tshark_cmd(path, servers, "-T json -x -j " .. h.quote("frame tcp resp"))) or ""
  local client, last_was_fragment
  for line in out:gmatch("[^\n]+") do
    local p = line:match('^%s*"tcp%.srcport": "(%d+)"')
    if p then client = p end
    local raw = line:match('^%s*"(%x*)",?$')
    if raw and last_was_fragment then
      local text = unhex(raw):gsub("\r?\n$", "")
      local args, why = resp.split_inline(text)
      if not args then
        keys[#keys + 1] = M.inline_error(why)
        clients[#keys] = client
      elseif #args > 0 then
        keys[#keys + 1] = M.key(true, args)
        clients[#keys] = client
      end
    end
    last_was_fragment = line:find('"resp.fragment_raw": [', 1, true) ~= nil
  end
end

local tshark_cache = {}

--- tshark's view: a list of command keys (arrays first, then inline
-- commands, each in frame order) and the list of their client ports.
-- `servers`: the servers' TCP ports (default { 6379 }).
function M.tshark(path, servers)
  servers = servers or { 6379 }
  local ck = path .. "\0" .. table.concat(servers, ",")
  if tshark_cache[ck] then return table.unpack(tshark_cache[ck]) end
  local keys, clients = {}, {}
  tshark_arrays(path, servers, keys, clients)
  tshark_inline(path, servers, keys, clients)
  tshark_cache[ck] = { keys, clients }
  return keys, clients
end

-- One JSON line per command and per inline error; arguments go as hex
-- (json() writes a byte that is not UTF-8 as \u00XX).
local SCRIPT = [[
local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end
on("redis.command", function(cmd, session)
  local args = {}
  for i, a in ipairs(cmd.args) do args[i] = hex(a) end
  print(json{ kind = "command", name = hex(cmd.name), inline = cmd.inline == true, args = args,
              truncated = cmd.truncated == true, client = session.client:match(":(%d+)$") })
end)
on("redis.error", function(e, session)
  if e.direction == "client" then
    print(json{ kind = "error", message = e.message, client = session.client:match(":(%d+)$") })
  end
end)
]]

local lunatap_cache = {}

--- lunatap's view: { keys = list of command keys in the order emitted,
-- ports = their client ports, errors = failures (also a cmd.name that is
-- not the first argument upper-cased, an argument cut at bulk_keep),
-- client_errors = other client-side redis.error messages }.
function M.lunatap(path)
  if lunatap_cache[path] then return lunatap_cache[path] end
  local r = { keys = {}, ports = {}, errors = {}, client_errors = {} }
  local script = h.tmpfile(SCRIPT, ".lua")
  local t = h.run_limited(120, { "-r", path, script })
  os.remove(script)
  if t.code ~= 0 then r.errors[#r.errors + 1] = ("lunatap exit %d: %s"):format(t.code, t.err) end
  for line in t.out:gmatch("[^\n]+") do
    local ok, m = pcall(decode, line)
    if not ok or type(m) ~= "table" then
      r.errors[#r.errors + 1] = "not JSON: " .. line
    elseif m.kind == "command" then
      local args = {}
      for i, a in ipairs(m.args) do args[i] = unhex(a) end
      if unhex(m.name) ~= args[1]:upper() then
        r.errors[#r.errors + 1] = ("cmd.name %q is not the first argument %q upper-cased"):format(unhex(m.name), args[1])
      end
      if m.truncated then
        r.errors[#r.errors + 1] = "a command's argument was cut at the bulk_keep limit: " .. M.key(m.inline, args):sub(1, 80)
      end
      r.keys[#r.keys + 1] = M.key(m.inline, args)
      r.ports[#r.keys] = m.client
    else
      local why = m.message:match("^inline command: (.*)$")
      if why then
        r.keys[#r.keys + 1] = M.inline_error(why)
        r.ports[#r.keys] = m.client
      else
        r.client_errors[#r.client_errors + 1] = m.message
      end
    end
  end
  lunatap_cache[path] = r
  return r
end

local function count(keys)
  local c = {}
  for _, k in ipairs(keys) do c[k] = (c[k] or 0) + 1 end
  return c
end

-- Per client port and kind (ARRAY or INLINE), the keys in order.
local function sequences(keys, ports)
  local seq = {}
  for i, k in ipairs(keys) do
    local id = ("client port %s, %s commands"):format(ports[i] or "?", k:match("^(%u+)") or "?")
    seq[id] = seq[id] or {}
    table.insert(seq[id], k)
  end
  return seq
end

-- Where two sequences holding the same keys differ in order.
local function order_differences(ts, ls)
  local out = {}
  for id, a in pairs(ts) do
    local b = ls[id]
    if b and #a == #b then
      local same = true
      local ca, cb = count(a), count(b)
      for k, n in pairs(ca) do if cb[k] ~= n then same = false end end
      if same then
        for i = 1, #a do
          if a[i] ~= b[i] then
            out[#out + 1] = ("%s: command %d is %s in tshark, %s in lunatap"):format(id, i, a[i]:sub(1, 60),
              b[i]:sub(1, 60))
            break
          end
        end
      end
    end
  end
  table.sort(out)
  return out
end

--- Compares lunatap with tshark on `path` (servers on the TCP ports in
-- the list `servers`, default { 6379 }). Returns { only = { tshark =
-- list, lunatap = list } of keys (with repeats, keyset.diff), order = lines saying where a client's commands (arrays and
-- inline ones apart) hold the same keys in another order, errors,
-- client_errors, tshark = number of tshark keys, lunatap = number of
-- lunatap keys, inline = number of lunatap's inline commands }.
function M.compare(path, servers)
  local t, tports = M.tshark(path, servers)
  local l = M.lunatap(path)
  local out = keyset.diff(t, l.keys)
  out.errors, out.client_errors = l.errors, l.client_errors
  out.tshark, out.lunatap, out.inline = #t, #l.keys, 0
  out.order = order_differences(sequences(t, tports), sequences(l.keys, l.ports))
  for _, k in ipairs(l.keys) do
    if k:find("^INLINE ") then out.inline = out.inline + 1 end
  end
  return out
end

M.describe = keyset.describe

--- The shared captures of category redis in MANIFEST.tsv. Returns { path,
-- name, decode_as } sorted by name.
function M.manifest_captures(dir)
  return keyset.manifest(dir, "resp", function(category) return category == "redis" end)
end

return M
