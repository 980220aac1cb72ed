-- Compares lunatap's TCP sessions with tshark's tcp.stream on one capture:
-- the set of streams (endpoints, in tshark's numbering) and, per stream and
-- direction, the bytes delivered through "tcp.data" against tshark's
-- `-z follow,tcp,raw,N` with out-of-order reassembly enabled.

local h = require("helper")

local M = {}

local STREAM_SCRIPT = [[
local parts = setmetatable({}, { __mode = "k" })
local overlaps = setmetatable({}, { __mode = "k" })
on("tcp.overlap", function(s, dir) overlaps[s] = (overlaps[s] or 0) + 1 end)
on("tcp.data", function(s, dir, b)
  local t = parts[s]
  if not t then t = { client = {}, server = {} }; parts[s] = t end
  t[dir][#t[dir] + 1] = b:hex()
end)
local syn_retries = 0
on("tcp.syn_retry", function() syn_retries = syn_retries + 1 end)
on("done", function(st) print(("RETX %d"):format(st.tcp_retransmits + syn_retries)) end)
on("tcp.end", function(s)
  local t = parts[s] or { client = {}, server = {} }
  print(("STREAM %d %s %s %s %s %d"):format(s.id, s.client, s.server,
    table.concat(t.client), table.concat(t.server), overlaps[s] or 0))
end)
]]

local function norm(endpoint)
  return (endpoint:gsub("[%[%]]", ""))
end

--- lunatap's sessions: id -> { a = client, b = server, [client] = hex, [server] = hex }
function M.lunatap_streams(path)
  local r = h.script(STREAM_SCRIPT, path)
  local streams, n = {}, 0
  for id, c, s, ch, sh, ov in r.out:gmatch("STREAM (%d+) (%S+) (%S+) (%x*) (%x*) (%d+)") do
    c, s = norm(c), norm(s)
    streams[tonumber(id)] = { a = c, b = s, [c] = ch, [s] = sh, overlaps = tonumber(ov) }
    n = n + 1
  end
  return streams, n, tonumber(r.out:match("RETX (%d+)"))
end

--- tshark's streams, same shape, from one run with a follow per stream.
function M.tshark_streams(path)
  local q = h.quote(path)
  local ids = h.capture("tshark -r " .. q ..
    " -T fields -e tcp.stream -e tcp.analysis.retransmission 2>/dev/null") or ""
  local set, list, retx = {}, {}, 0
  for line in ids:gmatch("[^\n]+") do
    local stream_ids, flag = line:match("^([%d,]*)\t?(%d*)$")
    for id in (stream_ids or ""):gmatch("%d+") do
      if not set[id] then set[id] = true; list[#list + 1] = tonumber(id) end
    end
    if flag == "1" then retx = retx + 1 end
  end
  table.sort(list)
  local streams = {}
  if #list == 0 then return streams, 0, retx end
  local cmd = { "tshark -r", q, "-q -o tcp.reassemble_out_of_order:TRUE" }
  for _, id in ipairs(list) do cmd[#cmd + 1] = "-z follow,tcp,raw," .. id end
  local out = h.capture(table.concat(cmd, " ") .. " 2>/dev/null") or ""
  for block in out:gmatch("Filter: tcp.stream eq (%d+.-)\n====") do
    local id = tonumber(block:match("^(%d+)"))
    local n0 = norm(block:match("Node 0: (%S+)") or "?")
    local n1 = norm(block:match("Node 1: (%S+)") or "?")
    local d0, d1, holes = {}, {}, 0
    for line in block:gmatch("\n([^\n]*)") do
      local hex = line:match("^\t?(%x+)$")
      -- tshark writes "[N bytes missing in capture file]\0" into the stream
      -- at a hole the peer acknowledged; lunatap reports it as a gap event.
      local text = hex and hex:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)
      if text and text:match("^%[%d+ bytes? missing in capture file%]%z?$") then
        holes = holes + 1
      elseif hex and line:sub(1, 1) == "\t" then
        d1[#d1 + 1] = hex
      elseif hex then
        d0[#d0 + 1] = hex
      end
    end
    -- Node ":0" marks a TCP header tshark found inside another protocol
    -- (sFlow samples, ICMP errors): not a session on the wire.
    if n0 ~= ":0" then
      streams[id] = { a = n0, b = n1, [n0] = table.concat(d0), [n1] = table.concat(d1), holes = holes }
    end
  end
  local n = 0
  for _ in pairs(streams) do n = n + 1 end
  return streams, n, retx
end

--- Differences as a list of strings (empty when the captures agree), and
-- the retransmission counts: lunatap's (retransmitted segments and SYN
-- retries) and tshark's (frames flagged tcp.analysis.retransmission).
function M.compare(path)
  local ours, nours, retx_ours = M.lunatap_streams(path)
  local theirs, ntheirs, retx_tshark = M.tshark_streams(path)
  local diffs = {}
  if nours ~= ntheirs then
    diffs[#diffs + 1] = ("%d sessions, tshark has %d streams"):format(nours, ntheirs)
  end
  for id, t in pairs(theirs) do
    local o = ours[id]
    local same_ends = o and ((o.a == t.a and o.b == t.b) or (o.a == t.b and o.b == t.a))
    if not o then
      diffs[#diffs + 1] = ("stream %d (%s - %s) missing"):format(id, t.a, t.b)
    elseif not same_ends then
      diffs[#diffs + 1] = ("stream %d: ours %s - %s, tshark %s - %s"):format(id, o.a, o.b, t.a, t.b)
    else
      for _, ep in ipairs({ t.a, t.b }) do
        local mine, tsh = o[ep] or "", t[ep] or ""
        -- tshark's follow never goes past a hole nobody acknowledged;
        -- lunatap reports the hole as a gap and delivers what follows.
        local stops_at_hole = #tsh < #mine and mine:sub(1, #tsh) == tsh
        -- Overlapping segments with different bytes: lunatap keeps the bytes
        -- that came first (and says so with tcp.overlap); tshark does not.
        local overlap_policy = o.overlaps > 0 and #tsh == #mine
        -- Bytes the capture cut off (snapshot length): tshark's follow
        -- writes zeros for them; lunatap reports them as a gap.
        local zero_filled = #tsh > #mine and tsh:sub(1, #mine) == mine
          and not tsh:sub(#mine + 1):find("[^0]")
        if mine ~= tsh and not stops_at_hole and not overlap_policy and not zero_filled then
          diffs[#diffs + 1] = ("stream %d from %s: %d bytes delivered, tshark %d"):format(
            id, ep, #mine // 2, #tsh // 2)
        end
      end
    end
  end
  table.sort(diffs)
  return diffs, retx_ours, retx_tshark
end

return M
