-- Compares lunatap's DNS messages with tshark's on one capture.
--
-- tshark runs once per capture with -T fields (frame.number, dns.id,
-- dns.flags.response, dns.qry.name, dns.qry.type, dns.a, dns.aaaa,
-- dns.cname, every occurrence, joined by a control character that no
-- field shows), restricted to what tshark calls dns (not mdns, llmnr).
-- A frame with several messages (pipelined over TCP) gives one key per
-- message when each has one question and none has A/AAAA/CNAME data (the
-- fields cannot be split otherwise), else one key for the frame that
-- lunatap cannot match (a difference to explain). lunatap runs once with
-- a small script printing one JSON line per "dns.query" and
-- "dns.response". Each message becomes a key "id qr | names | types | A |
-- AAAA | CNAME" and the two multisets of keys are compared over the whole
-- capture (lunatap's events carry no frame number).
--
-- Agreed conventions, applied before comparing: the root name is
-- "<Root>" as tshark writes it; names are compared as tshark shows them
-- (see M.tshark_name). Results are cached per capture within the run.
-- Nothing here asserts: the spec decides which differences are explained.

local h = require("helper")
local decode = require("json_decode")
local keyset = require("keyset")

local M = {}

local SEP = "\31"

local tshark_cache = {}

local function split(v)
  local t = {}
  for x in (v or ""):gmatch("[^" .. SEP .. "]+") do t[#t + 1] = x end
  return t
end

--- tshark's view: a list of message keys. `decode_as`: extra -d options.
function M.tshark(path, decode_as)
  local key = path .. "\0" .. table.concat(decode_as or {}, " ")
  if tshark_cache[key] then return tshark_cache[key] end
  local cmd = { "tshark -n -r", h.quote(path), "-o tcp.reassemble_out_of_order:TRUE" }
  for _, d in ipairs(decode_as or {}) do cmd[#cmd + 1] = "-d " .. h.quote(d) end
  cmd[#cmd + 1] = "-Y " .. h.quote("dns && !mdns && !llmnr")
  cmd[#cmd + 1] = "-T fields -E occurrence=a -E " .. h.quote("aggregator=" .. SEP)
  for _, f in ipairs({ "frame.number", "dns.id", "dns.flags.response", "dns.qry.name", "dns.qry.type",
                       "dns.a", "dns.aaaa", "dns.cname" }) do
    cmd[#cmd + 1] = "-e " .. f
  end
  cmd[#cmd + 1] = "2>/dev/null"
  local out = h.capture(table.concat(cmd, " ")) or ""
  local keys = {}
  for line in out:gmatch("[^\n]+") do
    local f = {}
    for v in (line .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = v end
    local function list(i) return ((f[i] or ""):gsub(SEP, ",")) end
    local ids, qrs, names, types = split(f[2]), split(f[3]), split(f[4]), split(f[5])
    if #ids == 1 then
      keys[#keys + 1] = M.key(tonumber(ids[1]), qrs[1] == "1", list(4), list(5), list(6), list(7), list(8))
    elseif #ids > 1 and #names == #ids and #types == #ids and (f[6] or "") .. (f[7] or "") .. (f[8] or "") == "" then
      -- several messages of one question each and no A/AAAA/CNAME data in
      -- one frame (pipelined queries): one key each
      for i = 1, #ids do
        keys[#keys + 1] = M.key(tonumber(ids[i]), qrs[i] == "1", names[i], types[i], "", "", "")
      end
    elseif #ids > 1 then
      -- the values cannot be told apart per message: one key for the frame
      keys[#keys + 1] = "frame " .. f[1] .. ": " .. table.concat({ list(2), list(4), list(5), list(6), list(7), list(8) }, " | ")
    end
  end
  tshark_cache[key] = keys
  return keys
end

function M.key(id, qr, names, types, a, aaaa, cname)
  return ("%d %s | %s | %s | %s | %s | %s"):format(id, qr and "R" or "Q", names, types, a, aaaa, cname)
end

-- tshark's escapes for control characters in a field (format_text).
local C_ESCAPES = { [7] = "\\a", [8] = "\\b", [9] = "\\t", [10] = "\\n", [11] = "\\v",
                    [12] = "\\f", [13] = "\\r" }

--- A name as tshark shows it in fields: "<Root>" for the root; the bytes
-- of lunatap's master-file escapes (\DDD, \., \\) as tshark writes them:
-- a dot or a backslash as itself, control characters as C escapes or
-- \ooo (octal), a byte that is not part of valid UTF-8 as U+FFFD.
function M.tshark_name(name)
  if name == "." then return "<Root>" end
  local raw = name:gsub("\\(%d%d%d)", function(d) return string.char(tonumber(d)) end)
                  :gsub("\\(.)", "%1")
  local out, i = {}, 1
  while i <= #raw do
    local b = raw:byte(i)
    if b < 32 or b == 127 then
      out[#out + 1] = C_ESCAPES[b] or ("\\%03o"):format(b)
      i = i + 1
    elseif b < 128 then
      out[#out + 1] = string.char(b)
      i = i + 1
    else
      local seq = raw:match("^" .. utf8.charpattern, i)
      if seq and #seq > 1 and utf8.len(seq) == 1 then
        out[#out + 1] = seq
        i = i + #seq
      else
        out[#out + 1] = "\239\191\189" -- U+FFFD
        i = i + 1
      end
    end
  end
  return table.concat(out)
end

-- One JSON line per message; names go as hex (json() writes a byte that is
-- not UTF-8 as \u00XX, which a decoder cannot tell from U+00XX).
local SCRIPT = [[
local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end
local function show(m)
  local names, types, a, aaaa, cname = {}, {}, {}, {}, {}
  for _, q in ipairs(m.questions) do
    names[#names + 1] = hex(q.name)
    types[#types + 1] = q.type_code
  end
  for _, sec in ipairs({ m.answers, m.authority, m.additional }) do
    for _, r in ipairs(sec) do
      if r.type == "A" then a[#a + 1] = r.data
      elseif r.type == "AAAA" then aaaa[#aaaa + 1] = r.data
      elseif r.type == "CNAME" then cname[#cname + 1] = hex(r.data) end
    end
  end
  print(json{ id = m.id, qr = m.flags.qr, names = names, types = types, a = a, aaaa = aaaa,
              cname = cname })
end
on("dns.query", show)
on("dns.response", show)
]]

local function unhex(s)
  return (s:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end

local function names(list)
  local t = {}
  for i, v in ipairs(list) do t[i] = M.tshark_name(unhex(v)) end
  return table.concat(t, ",")
end

local function plain(list)
  local t = {}
  for i, v in ipairs(list) do t[i] = tostring(v) end
  return table.concat(t, ",")
end

local lunatap_cache = {}

--- lunatap's view: { keys = list of message keys, errors = failures }.
function M.lunatap(path)
  if lunatap_cache[path] then return lunatap_cache[path] end
  local r = { keys = {}, errors = {} }
  local script = h.tmpfile(SCRIPT, ".lua")
  local t = h.run_limited(120, { "-r", path, script })
  os.remove(script)
  if t.code ~= 0 then r.errors[#r.errors + 1] = ("lunatap exit %d: %s"):format(t.code, t.err) end
  for line in t.out:gmatch("[^\n]+") do
    local ok, m = pcall(decode, line)
    if not ok or type(m) ~= "table" then
      r.errors[#r.errors + 1] = "not JSON: " .. line
    else
      r.keys[#r.keys + 1] = M.key(m.id, m.qr, names(m.names), plain(m.types), plain(m.a),
                                  plain(m.aaaa), names(m.cname))
    end
  end
  lunatap_cache[path] = r
  return r
end

--- Compares lunatap with tshark on `path`. Returns { only = { tshark =
-- list, lunatap = list } of keys (with repeats), errors, tshark = number
-- of tshark messages, lunatap = number of lunatap messages }.
function M.compare(path, decode_as)
  local t, l = M.tshark(path, decode_as), M.lunatap(path)
  local out = keyset.diff(t, l.keys)
  out.errors, out.tshark, out.lunatap = l.errors, #t, #l.keys
  return out
end

M.describe = keyset.describe

--- Captures from the shared MANIFEST.tsv with DNS: category dns, or a
-- note counting DNS messages (dns_msgs=N, N > 0), or a note naming a
-- decode-as for dns. Returns { path, name, decode_as } sorted by name.
function M.manifest_captures(dir)
  return keyset.manifest(dir, "dns", function(category, note, decode_as)
    return category == "dns" or tonumber(note:match("dns_msgs=(%d+)") or "0") > 0 or #decode_as > 0
  end)
end

return M
