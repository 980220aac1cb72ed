-- A tiny capture builder for specs: one TCP connection over Ethernet and
-- IPv4 (checksums zero: lunatap does not check them), the handshake, then
-- `parts` = { {"client"|"server", bytes}, ... } one segment each, then the
-- FINs. Timestamps start at 1700000000 and advance 1 ms per packet.

local M = {}

--- Returns the bytes of a pcap file. opts.port: server port (80);
-- opts.client_port (40000); opts.start: first packet's time in seconds
-- (1700000000); opts.no_fin: leave the connection open. A part longer
-- than 60,000 bytes goes in several segments.
function M.tcp_session(parts, opts)
  opts = opts or {}
  local out = { string.pack("<I4I2I2i4I4I4I4", 0xa1b2c3d4, 2, 4, 0, 0, 262144, 1) }
  local t = math.floor((opts.start or 1700000000) * 1000000)
  local ends = {
    client = { ip = "\10\0\0\1", port = opts.client_port or 40000, seq = 1000, mac = "\2\0\0\0\0\1" },
    server = { ip = "\10\0\0\2", port = opts.port or 80, seq = 5000, mac = "\2\0\0\0\0\2" },
  }
  local function seg(side, flags, data)
    data = data or ""
    local me = ends[side]
    local peer = ends[side == "client" and "server" or "client"]
    local tcp = string.pack(">I2I2I4I4BBI2I2I2", me.port, peer.port, me.seq, peer.seq, 0x50,
      flags, 65535, 0, 0) .. data
    local ip = string.pack(">BBI2I2I2BBI2", 0x45, 0, 20 + #tcp, 1, 0x4000, 64, 6, 0)
      .. me.ip .. peer.ip .. tcp
    local frame = peer.mac .. me.mac .. "\8\0" .. ip
    out[#out + 1] = string.pack("<I4I4I4I4", t // 1000000, t % 1000000, #frame, #frame) .. frame
    t = t + 1000
    me.seq = me.seq + #data + ((flags & 0x03) ~= 0 and 1 or 0)
  end
  local SYN, ACK, FIN, PSH = 0x02, 0x10, 0x01, 0x08
  seg("client", SYN)
  seg("server", SYN | ACK)
  seg("client", ACK)
  for _, p in ipairs(parts) do
    for i = 1, math.max(#p[2], 1), 60000 do seg(p[1], PSH | ACK, p[2]:sub(i, i + 59999)) end
  end
  if not opts.no_fin then
    seg("client", FIN | ACK)
    seg("server", FIN | ACK)
    seg("client", ACK)
  end
  return table.concat(out)
end

--- The packets of pcap files (from tcp_session) one after the other.
function M.join(...)
  local out = { (select(1, ...)):sub(1, 24) }
  for i = 1, select("#", ...) do out[#out + 1] = (select(i, ...)):sub(25) end
  return table.concat(out)
end

--- Returns the bytes of a pcap file of UDP datagrams 10.0.0.1:5000 ->
-- 10.0.0.2:6000 over Ethernet, one per time in `times` (seconds, may have
-- a fraction; microsecond precision). Each frame is 42 bytes of headers
-- plus opts.payload bytes (default 58: 100-byte frames).
function M.udp_at(times, opts)
  opts = opts or {}
  local payload = ("x"):rep(opts.payload or 58)
  local out = { string.pack("<I4I2I2i4I4I4I4", 0xa1b2c3d4, 2, 4, 0, 0, 262144, 1) }
  for i, ts in ipairs(times) do
    -- opts.flows: each datagram from its own source port (a flow each)
    local sport = opts.flows and 1024 + (i - 1) % 64000 or 5000
    local udp = string.pack(">I2I2I2I2", sport, 6000, 8 + #payload, 0) .. payload
    local ip = string.pack(">BBI2I2I2BBI2", 0x45, 0, 20 + #udp, 1, 0x4000, 64, 17, 0)
      .. "\10\0\0\1\10\0\0\2" .. udp
    local frame = "\2\0\0\0\0\2\2\0\0\0\0\1\8\0" .. ip
    local us = math.floor(ts * 1000000 + 0.5)
    out[#out + 1] = string.pack("<I4I4I4I4", us // 1000000, us % 1000000, #frame, #frame) .. frame
  end
  return table.concat(out)
end

return M
