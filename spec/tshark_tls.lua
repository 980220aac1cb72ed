-- Compares lunatap's TLS hellos with tshark's on one capture.
--
-- tshark runs once per capture with -T fields (frame.number,
-- tls.handshake.type, tls.handshake.extensions_server_name,
-- tls.handshake.extensions_alpn_str, tls.handshake.ciphersuite,
-- tls.handshake.extensions.supported_version, tls.handshake.version; every
-- occurrence), keeping frames with a ClientHello (type 1) or ServerHello
-- (type 2). Each hello becomes a key:
--   CH | sni | alpn list | cipher suites | supported_versions
--   SH | cipher | chosen version | alpn
-- A frame with two hellos of one kind cannot be split into keys and gives
-- one key for the frame, which lunatap cannot match (a difference to
-- explain). lunatap runs once with a small script printing one JSON line
-- per "tls.client_hello" and "tls.server_hello". The two multisets of keys
-- are compared over the whole capture. Nothing here asserts: the spec
-- decides which differences are explained.

local h = require("helper")
local decode = require("json_decode")
local keyset = require("keyset")

local M = {}

local SEP = "\31"

local function split(v)
  local t = {}
  for x in (v or ""):gmatch("[^" .. SEP .. "]+") do t[#t + 1] = x end
  return t
end

local function ch_key(sni, alpn, ciphers, versions)
  return ("CH | %s | %s | %s | %s"):format(sni, alpn, ciphers, versions)
end

local function sh_key(cipher, version, alpn)
  return ("SH | %s | %s | %s"):format(cipher, version, alpn)
end

local tshark_cache = {}

--- tshark's view: a list of hello keys. `decode_as`: extra -d options.
function M.tshark(path, decode_as)
  local key = path .. "\0" .. table.concat(decode_as or {}, " ")
  if tshark_cache[key] then return tshark_cache[key] end
  local cmd = { "tshark -n -r", h.quote(path), "-o tcp.reassemble_out_of_order:TRUE" }
  for _, d in ipairs(decode_as or {}) do cmd[#cmd + 1] = "-d " .. h.quote(d) end
  cmd[#cmd + 1] = "-Y " .. h.quote("tls.handshake.type == 1 || tls.handshake.type == 2")
  cmd[#cmd + 1] = "-T fields -E occurrence=a -E " .. h.quote("aggregator=" .. SEP)
  for _, f in ipairs({ "frame.number", "tls.handshake.type", "tls.handshake.extensions_server_name",
                       "tls.handshake.extensions_alpn_str", "tls.handshake.ciphersuite",
                       "tls.handshake.extensions.supported_version", "tls.handshake.version" }) do
    cmd[#cmd + 1] = "-e " .. f
  end
  cmd[#cmd + 1] = "2>/dev/null"
  local out = h.capture(table.concat(cmd, " ")) or ""
  local keys = {}
  for line in out:gmatch("[^\n]+") do
    local f = {}
    for v in (line .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = v end
    local types, nch, nsh = split(f[2]), 0, 0
    for _, t in ipairs(types) do
      if t == "1" then nch = nch + 1 elseif t == "2" then nsh = nsh + 1 end
    end
    local function list(i) return table.concat(split(f[i]), ",") end
    if nch + nsh > 1 then
      keys[#keys + 1] = ("frame %s: %d hellos: %s"):format(f[1], nch + nsh, line:gsub(SEP, ","))
    elseif nch == 1 then
      keys[#keys + 1] = ch_key(f[3] ~= "" and f[3] or "-", list(4), list(5), list(6))
    elseif nsh == 1 then
      local versions = split(f[6])
      local version = versions[1] or split(f[7])[1] or "?"
      keys[#keys + 1] = sh_key(list(5), version, list(4))
    end
  end
  tshark_cache[key] = keys
  return keys
end

local SCRIPT = [[
local function hexes(t)
  local out = {}
  for i, v in ipairs(t or {}) do out[i] = ("0x%04x"):format(v) end
  return out
end
on("tls.client_hello", function(h)
  print(json({ kind = "CH", sni = h.sni, alpn = h.alpn or {}, ciphers = h.sslv2 and {} or hexes(h.ciphers),
               versions = hexes(h.supported_versions) }))
end)
on("tls.server_hello", function(h)
  print(json({ kind = "SH", cipher = ("0x%04x"):format(h.cipher), version = ("0x%04x"):format(h.version_code),
               alpn = h.alpn or {} }))
end)
]]

local function joined(t)
  if type(t) ~= "table" then return "" end
  return table.concat(t, ",")
end

local lunatap_cache = {}

--- lunatap's view: { keys = list of hello keys, errors = failures }.
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
    elseif m.kind == "CH" then
      r.keys[#r.keys + 1] = ch_key(type(m.sni) == "string" and m.sni or "-", joined(m.alpn), joined(m.ciphers),
                                   joined(m.versions))
    else
      r.keys[#r.keys + 1] = sh_key(m.cipher, m.version, joined(m.alpn))
    end
  end
  lunatap_cache[path] = r
  return r
end

--- Compares lunatap with tshark on `path`: { only = { tshark, lunatap }
-- (lists of keys, with repeats), errors, tshark = n, lunatap = n }.
function M.compare(path, decode_as)
  local t, l = M.tshark(path, decode_as), M.lunatap(path)
  local out = keyset.diff(t, l.keys)
  out.errors, out.tshark, out.lunatap = l.errors, #t, #l.keys
  return out
end

M.describe = keyset.describe

--- Captures from the shared MANIFEST.tsv with TLS: category tls, or a
-- note listing tls among its protocols or counting ClientHellos, or
-- naming a decode-as for tls. Returns { path, name, decode_as } by name.
function M.manifest_captures(dir)
  return keyset.manifest(dir, "tls", function(category, note, decode_as)
    local protos = note:match("protos: ([^;]*)") or ""
    return category == "tls" or ("," .. protos .. ","):find(",tls,", 1, true) ~= nil
        or note:find("tls_clienthello=", 1, true) ~= nil or #decode_as > 0
  end)
end

return M
