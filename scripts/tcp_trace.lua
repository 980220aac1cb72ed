-- TCP sessions as they happen: setup with RTT, close with duration and bytes, and trouble.
--
-- In the spirit of node_pcap's --tcp-verbose: one line per session event.
-- Times are capture times (UTC). Bytes are payload bytes; "packets" counts
-- every segment.

local opt = options {
  summary = "TCP sessions as they happen: setup with RTT, close with duration and bytes, " ..
            "resets, SYN retries, retransmissions, gaps, zero windows.",
  { "--json", help = "print one JSON object per event" },
  { "--quiet", help = "only session start and end, no per-segment trouble" },
}

local function clock(t)
  local sec = math.floor(t)
  return ("%s.%06d"):format(os.date("!%H:%M:%S", sec), math.floor((t - sec) * 1e6 + 0.5))
end

local function ms(seconds)
  return ("%.3f ms"):format(seconds * 1000)
end

local function emit(s, event, text, fields)
  if opt.json then
    local r = fields or {}
    r.ts, r.event, r.session = s.last, event, s.id
    r.client, r.server = s.client, s.server
    print(json(r))
  else
    print(("%s %s -> %s %s"):format(clock(s.last), s.client, s.server, text))
  end
end

on("tcp.start", function(s)
  emit(s, "start", s.midstream and "picked up mid-stream" or "start")
end)

on("tcp.established", function(s)
  if s.rtt then
    emit(s, "established", "established, RTT " .. ms(s.rtt), { rtt = s.rtt })
  else
    emit(s, "established", "established (mid-stream, no RTT)")
  end
end)

on("tcp.reset", function(s, dir)
  emit(s, "reset", "reset by " .. dir, { by = dir })
end)

on("tcp.timeout", function(s)
  emit(s, "timeout", ("timed out after %.1f s idle"):format(s.last - s.start), {})
end)

on("tcp.end", function(s)
  emit(s, "end", ("end (%s): duration %s, client sent %d bytes in %d packets, server sent %d bytes in %d packets, history %s")
    :format(s.state, ms(s.duration), s.client_payload_bytes, s.client_packets,
            s.server_payload_bytes, s.server_packets, s.history),
    { state = s.state, duration = s.duration, history = s.history,
      client_bytes = s.client_payload_bytes, server_bytes = s.server_payload_bytes,
      client_packets = s.client_packets, server_packets = s.server_packets,
      retransmits = s.client_retransmits + s.server_retransmits,
      gaps = s.client_gaps + s.server_gaps })
end)

if not opt.quiet then
  on("tcp.syn_retry", function(s)
    emit(s, "syn_retry", ("SYN retry #%d"):format(s.syn_retries), { retries = s.syn_retries })
  end)
  on("tcp.retransmit", function(s, dir, seq)
    emit(s, "retransmit", ("retransmission from %s, seq %d"):format(dir, seq), { from = dir, seq = seq })
  end)
  on("tcp.out_of_order", function(s, dir, seq)
    emit(s, "out_of_order", ("out of order from %s, seq %d"):format(dir, seq), { from = dir, seq = seq })
  end)
  on("tcp.overlap", function(s, dir, seq)
    emit(s, "overlap", ("overlap with different bytes from %s, seq %d"):format(dir, seq), { from = dir, seq = seq })
  end)
  on("tcp.gap", function(s, dir, missing)
    emit(s, "gap", ("gap: %d bytes from %s never seen"):format(missing, dir), { from = dir, missing = missing })
  end)
  on("tcp.zero_window", function(s, dir)
    emit(s, "zero_window", ("zero window advertised by %s"):format(dir), { by = dir })
  end)
end
