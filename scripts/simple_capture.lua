-- One line per packet, in the spirit of tcpdump -nn.
--
-- Times are UTC (HH:MM:SS.micro) unless --epoch. TCP flags use tcpdump's
-- letters with "." for ACK; sequence numbers are absolute (tcpdump -S).

local opt = options {
  summary = "One line per packet, in the spirit of tcpdump -nn.",
  { "--json", help = "print one JSON object per packet instead" },
  { "--epoch", help = "print times as seconds since the epoch (tcpdump -tt)" },
  { "--hex", help = "add the transport payload in hex (first 64 bytes)" },
}

local ICMP4 = {
  [0] = "echo reply", [3] = "unreachable", [4] = "source quench", [5] = "redirect",
  [8] = "echo request", [9] = "router advertisement", [10] = "router solicitation",
  [11] = "time exceeded", [12] = "parameter problem", [13] = "timestamp request",
  [14] = "timestamp reply",
}
local ICMP6 = {
  [1] = "destination unreachable", [2] = "packet too big", [3] = "time exceeded",
  [4] = "parameter problem", [128] = "echo request", [129] = "echo reply",
  [130] = "multicast listener query", [131] = "multicast listener report",
  [133] = "router solicitation", [134] = "router advertisement",
  [135] = "neighbor solicitation", [136] = "neighbor advertisement", [143] = "multicast listener report v2",
}

local function timestamp(pkt)
  if opt.epoch then
    return ("%d.%06d"):format(pkt.ts_sec, pkt.ts_nsec // 1000)
  end
  return ("%s.%06d"):format(os.date("!%H:%M:%S", pkt.ts_sec), pkt.ts_nsec // 1000)
end

local function endpoint(addr, port, v6)
  return port and ("%s.%d"):format(addr, port) or addr
end

local function tcp_text(tcp)
  local flags = tcp.flags:gsub("A", ".")
  if flags == "" then flags = "none" end
  local parts = { ("Flags [%s]"):format(flags), ("seq %d"):format(tcp.seq) }
  if tcp.ack then parts[#parts + 1] = ("ack %d"):format(tcp.ack) end
  parts[#parts + 1] = ("win %d"):format(tcp.win)
  parts[#parts + 1] = ("length %d"):format(tcp.len)
  return table.concat(parts, ", ")
end

local function icmp_text(icmp, payload_len)
  local names = icmp.version == 6 and ICMP6 or ICMP4
  local name = names[icmp.type] or ("type %d code %d"):format(icmp.type, icmp.code)
  local s = (icmp.version == 6 and "ICMP6 " or "ICMP ") .. name
  if icmp.id then s = s .. (", id %d, seq %d"):format(icmp.id, icmp.seq) end
  return s .. (", length %d"):format(payload_len)
end

local function arp_text(arp)
  if arp.op == 1 then
    return ("ARP, Request who-has %s tell %s"):format(arp.tpa, arp.spa)
  elseif arp.op == 2 then
    return ("ARP, Reply %s is-at %s"):format(arp.spa, arp.sha)
  elseif arp.op == 3 or arp.op == 4 then
    return ("RARP, %s %s"):format(arp.op == 3 and "Request who-is" or "Reply", arp.tha)
  end
  return ("ARP, op %d"):format(arp.op)
end

local function ip_text(pkt, ip)
  local family = ip.version == 6 and "IP6 " or "IP "
  local tcp, udp, icmp = pkt.tcp, pkt.udp, pkt.icmp
  local sport, dport = nil, nil
  if tcp then sport, dport = tcp.sport, tcp.dport
  elseif udp then sport, dport = udp.sport, udp.dport end
  local head = family .. endpoint(ip.src, sport) .. " > " .. endpoint(ip.dst, dport) .. ": "
  local body
  if tcp then
    body = tcp_text(tcp)
  elseif udp then
    body = ("UDP, length %d"):format(#pkt.payload)
  elseif icmp then
    body = icmp_text(icmp, #pkt.payload)
  else
    body = ("ip-proto-%d, length %d"):format(ip.proto, #pkt.payload)
  end
  if ip.fragment then
    body = body .. (" (frag id %d offset %d%s)"):format(ip.id or 0, ip.frag, ip.mf and "+" or "")
  end
  return head .. body
end

local function line_text(pkt)
  local ip, arp = pkt.ip, pkt.arp
  if ip then return ip_text(pkt, ip) end
  if arp then return arp_text(arp) .. (", length %d"):format(pkt.len) end
  local eth = pkt.eth
  if eth then
    return ("%s > %s, ethertype 0x%04x, length %d"):format(eth.src, eth.dst, eth.type, pkt.len)
  end
  return ("link type %d, length %d"):format(pkt.linktype, pkt.len)
end

local function markers(pkt)
  local s = ""
  if pkt.truncated then s = s .. " [truncated" .. (pkt.problem and (": " .. pkt.problem) or "") .. "]" end
  if pkt.invalid then s = s .. " [invalid" .. (pkt.problem and (": " .. pkt.problem) or "") .. "]" end
  return s
end

local function as_record(pkt)
  local r = { ts = pkt.ts, len = pkt.len, caplen = pkt.caplen, linktype = pkt.linktype,
              truncated = pkt.truncated, invalid = pkt.invalid, problem = pkt.problem }
  local ip = pkt.ip
  if ip then
    r.ip_version, r.src, r.dst, r.proto, r.ttl = ip.version, ip.src, ip.dst, ip.proto, ip.ttl
  end
  local tcp, udp, icmp, arp = pkt.tcp, pkt.udp, pkt.icmp, pkt.arp
  if tcp then
    r.transport, r.sport, r.dport, r.flags = "tcp", tcp.sport, tcp.dport, tcp.flags
    r.seq, r.ack, r.win = tcp.seq, tcp.ack or nil, tcp.win
  elseif udp then
    r.transport, r.sport, r.dport = "udp", udp.sport, udp.dport
  elseif icmp then
    r.transport, r.icmp_type, r.icmp_code = icmp.version == 6 and "icmp6" or "icmp", icmp.type, icmp.code
  elseif arp then
    r.arp_op, r.spa, r.tpa, r.sha = arp.op, arp.spa, arp.tpa, arp.sha
  end
  r.payload_len = #pkt.payload
  return r
end

on("packet", function(pkt)
  if opt.json then
    print(json(as_record(pkt)))
    return
  end
  local line = timestamp(pkt) .. " " .. line_text(pkt) .. markers(pkt)
  if opt.hex and #pkt.payload > 0 then
    local n = math.min(#pkt.payload, 64)
    line = line .. "\n\t" .. pkt.payload:hex(0, n)
  end
  print(line)
end)
