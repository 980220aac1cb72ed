-- Grep TCP and UDP payloads for a pattern, packet by packet or across streams (like ngrep).
--
-- --stream matches across reassembled TCP streams, which ngrep cannot do:
-- a match split across segments is found.
--
-- The pattern is plain text by default, because a payload is bytes, not
-- lines: regex metacharacters in a search for "GET /a.b?c" are a trap.
-- -E makes it a Lua pattern, -X a string of hex bytes. See docs/netgrep.md
-- for the output formats and what --stream guarantees.
--
-- Memory: per TCP direction the stream mode keeps a tail of the last
-- pattern length - 1 (or --window, for -E) + --context bytes and, with
-- -v, the first --context bytes; both are capped below, and the state of a
-- session is dropped at its "tcp.end".

local usage_error = require("lunatap.options").usage_error

local MAX_PATTERN = 4096     -- bytes of pattern (the stream tail keeps up to this)
local MAX_CONTEXT = 4096     -- --context
local MAX_WINDOW = 65536     -- --window

local opt = options {
  summary = "Print TCP and UDP payloads that contain PATTERN (plain text by default), " ..
            "packet by packet or, with --stream, across reassembled TCP streams.",
  usage = "[-i] [-v] [-E | -X] [-x] [-n COUNT] [--stream] [--json] PATTERN",
  args = true,
  { "--ignore-case", short = "-i", help = "-i: ignore ASCII case (in the pattern and the payload)" },
  { "--invert", short = "-v", help = "-v: print what does not match (with --stream: TCP stream directions, at their end)" },
  { "--lua-pattern", short = "-E", help = "-E: PATTERN is a Lua pattern" },
  { "--hex-pattern", short = "-X", help = "-X: PATTERN is hex bytes (\"474554\", \"0x47 45 54\", \"47:45:54\")" },
  { "--hex", short = "-x", help = "-x: print a hexdump instead of printable text (JSON: add a hex field)" },
  { "--byline", help = "keep line breaks when printing payloads (ngrep -W byline)" },
  { "--max-matches", short = "-n", arg = "COUNT", type = "number",
    help = "-n: stop after COUNT records (matches, or non-matches with -v)" },
  { "--stream", help = "match across reassembled TCP streams (UDP: per datagram)" },
  { "--context", arg = "BYTES", type = "number", default = 32,
    help = "--stream: bytes shown before and after a match (at most " .. MAX_CONTEXT .. ")" },
  { "--window", arg = "BYTES", type = "number", default = 1024,
    help = "--stream -E: bytes of earlier data a Lua pattern match may start in (at most " .. MAX_WINDOW .. ")" },
  { "--no-color", help = "never highlight matches (only done on a terminal)" },
  { "--json", help = "print one JSON object per record" },
  epilog = "A BPF filter goes before the script: lunatap -r FILE -f 'tcp port 80' netgrep PATTERN.\n" ..
           "A pattern that starts with '-' can be given with -X, or with -E as '%-...'.",
}

------------------------------------------------------------------------
-- The pattern

local lower = string.lower

local function whole(n, name, lo, hi)
  if math.type(n) ~= "integer" or n < lo or (hi and n > hi) then
    usage_error(("%s: must be a whole number from %d%s, got %s"):format(name, lo,
      hi and (" to " .. hi) or " up", tostring(n)))
  end
  return n
end

if #opt.args == 0 then usage_error("a PATTERN is required (see 'lunatap netgrep --help')") end
if #opt.args > 1 then usage_error(("one PATTERN only; also got '%s'"):format(opt.args[2])) end
if opt.lua_pattern and opt.hex_pattern then usage_error("-E and -X cannot be used together") end
local max_matches = opt.max_matches and whole(opt.max_matches, "-n", 1)
local context = whole(opt.context, "--context", 0, MAX_CONTEXT)
local window = whole(opt.window, "--window", 0, MAX_WINDOW)

local function from_hex(text)
  local digits = text:gsub("^0[xX]", ""):gsub("[%s:]", "")
  if digits:find("%X") then usage_error(("-X: not hex: '%s'"):format(text)) end
  if #digits % 2 == 1 then usage_error(("-X: odd number of hex digits in '%s'"):format(text)) end
  return (digits:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end

-- Lower-cases a Lua pattern's literal letters; the letter after a "%" is a
-- class (%S, %A) or an escape and keeps its meaning.
local function lower_pattern(p)
  local out, i = {}, 1
  while i <= #p do
    if p:sub(i, i) == "%" then
      out[#out + 1] = p:sub(i, i + 1)
      i = i + 2
    else
      out[#out + 1] = lower(p:sub(i, i))
      i = i + 1
    end
  end
  return table.concat(out)
end

local pattern = opt.args[1]
if opt.hex_pattern then pattern = from_hex(pattern) end
if pattern == "" then usage_error("empty PATTERN: it would match everything") end
if #pattern > MAX_PATTERN then
  usage_error(("PATTERN is %d bytes; at most %d"):format(#pattern, MAX_PATTERN))
end
local plain = not opt.lua_pattern
if opt.ignore_case then pattern = plain and lower(pattern) or lower_pattern(pattern) end
if not plain then
  local ok, err = pcall(string.find, "", pattern)
  if not ok then usage_error(("-E: bad Lua pattern '%s': %s"):format(opt.args[1], tostring(err):gsub("^.-: ", ""))) end
  if err then usage_error(("-E: '%s' matches the empty string, so everything"):format(opt.args[1])) end
  if opt.stream and pattern:sub(1, 1) == "^" then
    usage_error("--stream: a pattern anchored with '^' has no meaning inside a stream")
  end
end

-- find(text, init) -> first, last (1-based) of the first match at or after init.
local find
if plain then
  find = function(text, init) return text:find(pattern, init, true) end
else
  find = function(text, init) return text:find(pattern, init) end
end

-- Payload buffers searched in place when no copy is needed.
local in_place = plain and not opt.ignore_case

local function buffer_matches(buf)
  if in_place then return buf:find(pattern) ~= nil end
  local text = buf:bytes()
  if opt.ignore_case then text = lower(text) end
  return find(text, 1) ~= nil
end

------------------------------------------------------------------------
-- Output

local color = output_is_tty() and not opt.no_color
local HI, OFF = "\27[1;31m", "\27[0m"

local function clock(sec, usec)
  return ("%s.%06d"):format(os.date("!%H:%M:%S", sec), usec)
end

local function clock_of(t)
  local sec = math.floor(t)
  return clock(sec, math.floor((t - sec) * 1e6 + 0.5) % 1000000)
end

local function endpoint(ip, port)
  return (ip:find(":", 1, true) and "[%s]:%d" or "%s:%d"):format(ip, port)
end

-- Printable bytes as they are, every other byte as ".", as ngrep does;
-- --byline keeps line ends (a CR before an LF is dropped).
local function printable(s)
  if opt.byline then
    s = s:gsub("\r\n", "\n"):gsub("[^\n\32-\126]", "."):gsub("\n", "\n  ")
    return s
  end
  return (s:gsub("[^\32-\126]", "."))
end

-- Lines of 16 bytes: offset (from `base`), hex in two groups of 8, text.
local function hexdump(s, base)
  local out = {}
  for i = 1, #s, 16 do
    local row = s:sub(i, i + 15)
    local hex = row:gsub(".", function(c) return ("%02x "):format(c:byte()) end)
    hex = hex:sub(1, 24) .. " " .. hex:sub(25)
    out[#out + 1] = ("  %04x  %-49s %s"):format(base + i - 1, hex, (row:gsub("[^\32-\126]", ".")))
  end
  return table.concat(out, "\n")
end

local function hex_of(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

------------------------------------------------------------------------
-- Counting and stopping

local handles = {}
local printed = 0
local finished = false

-- Counts one record; at -n COUNT stops reading and removes every handler
-- (the packet being handled and the sessions ended by the stop must not
-- print more).
local function counted()
  printed = printed + 1
  if max_matches and printed >= max_matches then
    finished = true
    for _, h in ipairs(handles) do off(h) end
    stop()
  end
end

local function listen(event, fn)
  handles[#handles + 1] = on(event, fn)
end

------------------------------------------------------------------------
-- One record per packet (or UDP datagram in --stream mode)

local PACKET_KEYS = { "ts", "frame", "proto", "src", "sport", "dst", "dport", "flags", "len", "payload", "hex" }
local PACKET_OPTIONAL = { flags = true, hex = true }

-- p: { ts, sec, usec, proto, src, sport, dst, dport, flags }
local function report_packet(p, buf)
  if finished then return end
  local bytes = buf:bytes()
  local frame = stats().packets
  if opt.json then
    print(json({ ts = p.ts, frame = frame, proto = p.proto, src = p.src, sport = p.sport,
                 dst = p.dst, dport = p.dport, flags = p.flags, len = #bytes, payload = bytes,
                 hex = opt.hex and hex_of(bytes) or nil }, PACKET_KEYS, PACKET_OPTIONAL))
  else
    print(("%s %s %s -> %s%s #%d %d bytes"):format(clock(p.sec, p.usec), p.proto:upper(),
      endpoint(p.src, p.sport), endpoint(p.dst, p.dport), p.flags and (" [" .. p.flags .. "]") or "",
      frame, #bytes))
    print(opt.hex and hexdump(bytes, 0) or "  " .. printable(bytes))
  end
  counted()
end

-- Whether a payload is to be printed; an empty one has nothing to grep.
local function wanted(buf)
  return #buf > 0 and buffer_matches(buf) ~= opt.invert
end

local function sides(session, dir)
  if dir == "client" then
    return session.client_ip, session.client_port, session.server_ip, session.server_port
  end
  return session.server_ip, session.server_port, session.client_ip, session.client_port
end

if not opt.stream then
  listen("packet", function(pkt)
    local t = pkt.tcp or pkt.udp
    if not t or not wanted(pkt.payload) then return end
    local ip = pkt.ip
    report_packet({ ts = pkt.ts, sec = pkt.ts_sec, usec = pkt.ts_nsec // 1000,
                    proto = pkt.tcp and "tcp" or "udp", src = ip.src, sport = t.sport,
                    dst = ip.dst, dport = t.dport, flags = pkt.tcp and t.flags or nil }, pkt.payload)
  end)
  return
end

-- The time of the packet being tracked: session.last is brought up to date
-- only after the packet's session events.
local now_sec, now_usec = 0, 0
listen("packet", function(pkt)
  now_sec, now_usec = pkt.ts_sec, pkt.ts_nsec // 1000
end)

local function now() return now_sec + now_usec / 1e6 end

listen("udp.datagram", function(session, dir, buf)
  if not wanted(buf) then return end
  local src, sport, dst, dport = sides(session, dir)
  report_packet({ ts = now(), sec = now_sec, usec = now_usec, proto = "udp",
                  src = src, sport = sport, dst = dst, dport = dport }, buf)
end)

------------------------------------------------------------------------
-- TCP streams

-- Bytes before a chunk that a match ending in it may start in, and the
-- context before such a match.
local keep = (plain and #pattern - 1 or window) + context

-- streams[session][dir] = { offset = stream offset of the current chunk
--   (bytes lost in gaps count), seen = bytes searched, tail = the last
--   `keep` bytes before the chunk, next = the first offset a new match may
--   start at (matches do not overlap), matched, head = the first bytes (-v) }
local streams = {}

local function stream_of(session, dir)
  local per = streams[session]
  if not per then
    per = {}
    streams[session] = per
  end
  local st = per[dir]
  if not st then
    st = { offset = 0, seen = 0, tail = "", next = 0, matched = false, head = "" }
    per[dir] = st
  end
  return st
end

-- The stream bytes [from, to) that are still at hand: the tail before the
-- chunk and the chunk itself.
local function region(st, buf, from, to)
  local tail_start = st.offset - #st.tail
  from = math.max(from, tail_start)
  to = math.min(to, st.offset + #buf)
  if from >= to then return "" end
  local parts = {}
  if from < st.offset then
    parts[1] = st.tail:sub(from - tail_start + 1, math.min(to, st.offset) - tail_start)
  end
  if to > st.offset then
    local a = math.max(from, st.offset) - st.offset
    parts[#parts + 1] = buf:bytes(a, to - st.offset - a)
  end
  return table.concat(parts)
end

local STREAM_KEYS = { "ts", "frame", "proto", "session", "direction", "src", "sport", "dst", "dport",
                      "offset", "len", "match", "before", "after", "hex" }
local NOMATCH_KEYS = { "ts", "proto", "session", "direction", "src", "sport", "dst", "dport", "bytes", "head" }

local function stream_header(session, dir, when)
  local src, sport, dst, dport = sides(session, dir)
  return ("%s TCP %s -> %s session %d %s"):format(when, endpoint(src, sport),
    endpoint(dst, dport), session.id, dir)
end

-- A match at stream offset `at`, `len` bytes long, inside the chunk `buf`.
local function report_match(session, dir, st, buf, at, len)
  st.matched = true
  st.next = at + len
  if opt.invert or finished then return end
  local before = region(st, buf, at - context, at)
  local match = region(st, buf, at, at + len)
  local after = region(st, buf, at + len, at + len + context)
  if opt.json then
    local src, sport, dst, dport = sides(session, dir)
    print(json({ ts = now(), frame = stats().packets, proto = "tcp", session = session.id,
                 direction = dir, src = src, sport = sport, dst = dst, dport = dport, offset = at,
                 len = len, match = match, before = before, after = after,
                 hex = opt.hex and hex_of(match) or nil }, STREAM_KEYS, PACKET_OPTIONAL))
  else
    print(("%s offset %d len %d"):format(stream_header(session, dir, clock(now_sec, now_usec)), at, len))
    if opt.hex then
      print(hexdump(before .. match .. after, at - #before))
    else
      local m = printable(match)
      if color then m = HI .. m .. OFF end
      print("  " .. printable(before) .. m .. printable(after))
    end
  end
  counted()
end

-- Plain, case-sensitive: the chunk is searched in place; only the seam
-- (the tail's last #pattern - 1 bytes and as many of the chunk's) is copied.
local function scan_in_place(session, dir, st, buf)
  local m, base = #pattern, st.offset
  if m > 1 and #st.tail > 0 then
    local k = math.min(#st.tail, m - 1)
    local seam = st.tail:sub(-k) .. buf:bytes(0, math.min(#buf, m - 1))
    local init = 1
    while not finished do
      local s = seam:find(pattern, init, true)
      if not s or s > k then break end   -- starting in the chunk: found below
      local at = base - k + s - 1
      if at >= st.next then report_match(session, dir, st, buf, at, m) end
      init = s + 1
    end
  end
  local off = buf:find(pattern, math.max(0, st.next - base))
  while off and not finished do
    report_match(session, dir, st, buf, base + off, m)
    off = buf:find(pattern, off + m)
  end
end

-- Anything else: the tail and the chunk as one string; a match must end in
-- the chunk (one that ended before was seen with the chunk before).
local function scan_copy(session, dir, st, buf)
  local text = st.tail .. buf:bytes()
  if opt.ignore_case then text = lower(text) end
  local t, base = #st.tail, st.offset
  local init = 1
  while not finished do
    local s, e = find(text, init)
    if not s then return end
    local at = base - t + s - 1
    if e > t and e >= s and at >= st.next then
      report_match(session, dir, st, buf, at, e - s + 1)
      init = e + 1
    else
      init = s + 1
    end
  end
end

local scan = in_place and scan_in_place or scan_copy

listen("tcp.data", function(session, dir, buf)
  local st = stream_of(session, dir)
  local n = #buf
  if opt.invert and #st.head < context then
    st.head = st.head .. buf:bytes(0, math.min(n, context - #st.head))
  end
  if not (opt.invert and st.matched) then scan(session, dir, st, buf) end
  if keep > 0 then
    if n >= keep then
      st.tail = buf:bytes(n - keep, keep)
    else
      st.tail = (st.tail .. buf:bytes()):sub(-keep)
    end
  end
  st.offset = st.offset + n
  st.seen = st.seen + n
end)

-- No match spans a hole: the bytes before it are forgotten.
listen("tcp.gap", function(session, dir, missing)
  local st = stream_of(session, dir)
  st.tail = ""
  st.offset = st.offset + missing
end)

listen("tcp.end", function(session)
  local per = streams[session]
  streams[session] = nil
  if not (per and opt.invert) then return end
  for _, dir in ipairs({ "client", "server" }) do
    local st = per[dir]
    if st and not st.matched and st.seen > 0 and not finished then
      if opt.json then
        local src, sport, dst, dport = sides(session, dir)
        print(json({ ts = session.last, proto = "tcp", session = session.id, direction = dir,
                     src = src, sport = sport, dst = dst, dport = dport, bytes = st.seen,
                     head = st.head }, NOMATCH_KEYS))
      else
        print(("%s: no match in %d bytes"):format(stream_header(session, dir, clock_of(session.last)), st.seen))
        print(opt.hex and hexdump(st.head, 0) or "  " .. printable(st.head))
      end
      counted()
    end
  end
end)
