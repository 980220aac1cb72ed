-- One record per connection when it ends, like Zeek's conn.log.
--
-- Fields follow Zeek's names: ts (start), uid (lunatap session id with the
-- protocol), id.orig_h/p and id.resp_h/p (client and server), proto,
-- duration, orig_bytes/resp_bytes (payload), conn_state, missed_bytes
-- (gaps), history, orig_pkts, orig_ip_bytes, resp_pkts, resp_ip_bytes, and
-- retransmits. conn_state uses Zeek's codes (S0 S1 SF REJ RSTO RSTR SH SHR OTH).

local opt = options {
  summary = "One record per connection when it ends, like Zeek's conn.log.",
  { "--json", help = "print one JSON object per connection instead of tab-separated lines" },
}

local FIELDS = {
  "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "duration",
  "orig_bytes", "resp_bytes", "conn_state", "missed_bytes", "history", "orig_pkts",
  "orig_ip_bytes", "resp_pkts", "resp_ip_bytes", "retransmits",
}

local reset_by = setmetatable({}, { __mode = "k" })

on("tcp.reset", function(s, dir) reset_by[s] = reset_by[s] or dir end)

-- Zeek's connection states, from what the session saw.
local function tcp_state(s)
  local h = s.history
  local syn, synack = h:find("S", 1, true), h:find("h", 1, true)
  local fin_c, fin_s = h:find("F", 1, true), h:find("f", 1, true)
  local reset = reset_by[s]
  if s.midstream then
    return "OTH"
  elseif reset and syn and not synack then
    return reset == "server" and "REJ" or "RSTOS0"
  elseif reset then
    return reset == "client" and "RSTO" or "RSTR"
  elseif syn and not synack then
    return fin_c and "SH" or "S0"
  elseif fin_c and fin_s then
    return "SF"
  elseif fin_c or fin_s then
    return fin_c and "S2" or "S3"
  end
  return "S1"
end

local function record(s)
  local tcp = s.proto == "tcp"
  return {
    ts = s.start,
    uid = ("%s%d"):format(tcp and "T" or "U", s.id),
    ["id.orig_h"] = s.client_ip, ["id.orig_p"] = s.client_port,
    ["id.resp_h"] = s.server_ip, ["id.resp_p"] = s.server_port,
    proto = s.proto,
    duration = s.duration,
    orig_bytes = s.client_payload_bytes, resp_bytes = s.server_payload_bytes,
    conn_state = tcp and tcp_state(s) or (s.server_packets > 0 and "SF" or "S0"),
    missed_bytes = s.client_gap_bytes + s.server_gap_bytes,
    history = s.history,
    orig_pkts = s.client_packets, orig_ip_bytes = s.client_bytes,
    resp_pkts = s.server_packets, resp_ip_bytes = s.server_bytes,
    retransmits = s.client_retransmits + s.server_retransmits,
  }
end

local function tsv(r)
  local out = {}
  for i, k in ipairs(FIELDS) do
    local v = r[k]
    if k == "ts" then v = ("%.6f"):format(v)
    elseif k == "duration" then v = ("%.6f"):format(v)
    elseif v == "" then v = "-" end
    out[i] = tostring(v)
  end
  return table.concat(out, "\t")
end

if not opt.json then
  on("start", function()
    print("#fields\t" .. table.concat(FIELDS, "\t"))
  end)
end

local function log(s)
  local r = record(s)
  print(opt.json and json(r) or tsv(r))
end

on("tcp.end", log)
on("udp.end", log)
