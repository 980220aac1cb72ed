-- Redis commands and their replies, one line per pair as replies come, in
-- the shape of node_pcap's redis_trace: "n/total CMD [args] -> reply
-- latency", where n counts the connection's commands and total all of
-- them. Pub/sub messages and replies no command asked for get lines of
-- their own; each connection ends with its duration, command count and
-- rate. --json prints one object per line (docs/redis.md).
--
-- Bytes from the wire are escaped (\xHH) and long values cut for display,
-- so nothing reaches the terminal raw.

local opt = options {
  summary = "Redis commands and replies, one line per pair, with latency; pushes; per-connection totals.",
  usage = "[--tcp-verbose] [--no-color] [--json]",
  { "--tcp-verbose", help = "also print TCP start, reset and retransmission lines of Redis connections" },
  { "--no-color", help = "never colour the output (colour is used only on a terminal)" },
  { "--json", help = "print one JSON object per line" },
}

local color = not opt.no_color and not opt.json and output_is_tty()

local function paint(code, s)
  if not color then return s end
  return "\27[" .. code .. "m" .. s .. "\27[0m"
end

local DIM, GREEN, YELLOW, RED, CYAN = "2", "32", "33", "31", "36"

local function clock(t)
  local sec = math.floor(t)
  return ("%s.%06d"):format(os.date("!%H:%M:%S", sec), math.floor((t - sec) * 1e6 + 0.5) % 1000000)
end

------------------------------------------------------------------------
-- Values for display

local MAX_TEXT, MAX_ITEMS = 64, 10

local function hex_escape(c) return ("\\x%02x"):format(c:byte()) end

local function text(s)
  local cut = #s > MAX_TEXT
  local t = (cut and s:sub(1, MAX_TEXT) or s):gsub("[^\32-\126]", hex_escape)
  if cut then t = t .. ("...(%d bytes)"):format(#s) end
  return t
end

local show

local function show_list(v, depth)
  local parts, n = {}, #v
  for i = 1, math.min(n, MAX_ITEMS) do parts[i] = show(v[i], depth + 1) end
  if n > MAX_ITEMS then parts[#parts + 1] = ("... %d more"):format(n - MAX_ITEMS) end
  return "[" .. table.concat(parts, ", ") .. "]"
end

local function show_map(v, depth)
  local parts, n = {}, 0
  for k, x in pairs(v) do
    n = n + 1
    if n <= MAX_ITEMS then parts[n] = show(k, depth + 1) .. ": " .. show(x, depth + 1) end
  end
  table.sort(parts)
  if n > MAX_ITEMS then parts[#parts + 1] = ("... %d more"):format(n - MAX_ITEMS) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

-- false inside an aggregate is a null (docs/redis.md)
function show(v, depth)
  local t = type(v)
  if t == "string" then return text(v) end
  if t == "table" then
    if depth > 3 then return "[...]" end
    if #v > 0 or next(v) == nil then return show_list(v, depth) end
    return show_map(v, depth)
  end
  if v == nil or v == false then return "(nil)" end
  return tostring(v)
end

local function reply_text(r)
  if r.type == "error" or r.type == "bulk_error" then return paint(RED, "(error) " .. text(r.value)) end
  if r.type == "null" then return "(nil)" end
  if r.type == "boolean" then return tostring(r.value) end
  local s = show(r.value, 0)
  if r.truncated then s = s .. " (truncated)" end
  return s
end

local function args_text(args)
  local parts = {}
  for i = 2, math.min(#args, MAX_ITEMS + 1) do parts[#parts + 1] = text(args[i]) end
  if #args > MAX_ITEMS + 1 then parts[#parts + 1] = ("... %d more"):format(#args - 1 - MAX_ITEMS) end
  return "[" .. table.concat(parts, ", ") .. "]"
end

local function ms(seconds)
  return seconds and ("%.3fms"):format(seconds * 1000) or "-"
end

------------------------------------------------------------------------
-- Connections

local conns = setmetatable({}, { __mode = "k" })
local total = 0

local function tcp_line(session, ts, what, extra)
  if opt.json then
    local rec = { event = "tcp." .. what, ts = ts, session = session.id, client = session.client,
                  server = session.server }
    local keys = { "event", "ts", "session", "client", "server" }
    for k, v in pairs(extra or {}) do rec[k] = v; keys[#keys + 1] = k end
    print_json(rec, keys)
  else
    print(("%s %s -> %s %s"):format(paint(DIM, clock(ts)), session.client, session.server,
                                    paint(CYAN, "TCP " .. what .. (extra and extra.text or ""))))
  end
end

-- A connection's counts, and its endpoints made into text once.
local function conn_of(session)
  local c = conns[session]
  if not c then
    c = { commands = 0, id = session.id, client = session.client, server = session.server }
    conns[session] = c
    if opt.tcp_verbose then tcp_line(session, session.start, "start") end
  end
  return c
end

------------------------------------------------------------------------
-- Records

-- args and reply come last: they can be long.
local PAIR_KEYS = { "event", "ts", "session", "client", "server", "index", "total", "name", "inline",
                    "reply_type", "latency", "reply_ts", "args", "reply" }
local PAIR_OPT = { inline = true }

-- One record, filled again for every line (json reads it at once): no
-- table to make and fill key by key per command.
local pair = {}

local function print_pair_json(cmd, reply, c)
  pair.event, pair.ts, pair.session, pair.client, pair.server = "command", cmd.ts, c.id, c.client, c.server
  pair.index, pair.total, pair.name, pair.inline = cmd.n, cmd.total, cmd.name, cmd.inline or nil
  pair.reply_type = reply and reply.type
  pair.latency = reply and reply.latency
  pair.reply_ts = reply and reply.ts
  pair.args = cmd.args
  pair.reply = reply and reply.value
  print_json(pair, PAIR_KEYS, PAIR_OPT)
end

local function splice(line, key, value)
  return (line:gsub('"' .. key .. '":null', function() return '"' .. key .. '":' .. value end, 1))
end

local function print_pair(cmd, reply, session)
  if opt.json then print_pair_json(cmd, reply, conn_of(session)) return end
  local ts = reply and reply.ts or cmd.ts
  local result = reply and reply_text(reply) or paint(DIM, "(no reply expected)")
  print(("%s %s -> %s %d/%d %s %s -> %s %s"):format(paint(DIM, clock(ts)), session.server, session.client,
        cmd.n, cmd.total, paint(GREEN, text(cmd.name:lower())), args_text(cmd.args), result,
        paint(YELLOW, ms(reply and reply.latency))))
end

-- Numbers each command as it comes (per connection and overall).
on("redis.command", function(cmd, session)
  local c = conn_of(session)
  c.commands = c.commands + 1
  total = total + 1
  cmd.n, cmd.total = c.commands, total
  if cmd.no_reply then print_pair(cmd, nil, session) end
end)

on("redis.reply", function(reply, session)
  conn_of(session)
  local cmd = reply.command
  if cmd and cmd.n then print_pair(cmd, reply, session) return end
  if opt.json then
    local rec = { event = "reply", ts = reply.ts, session = session.id, client = session.client,
                  server = session.server, reply_type = reply.type }
    local line = json(rec, { "event", "ts", "session", "client", "server", "reply_type", "reply" })
    print(reply.value ~= nil and splice(line, "reply", json(reply.value)) or line)
  else
    print(("%s %s -> %s %s -> %s"):format(paint(DIM, clock(reply.ts)), session.server, session.client,
          paint(RED, "(reply with no command)"), reply_text(reply)))
  end
end)

on("redis.push", function(p, session)
  conn_of(session)
  local cmd = p.command
  if cmd and cmd.n then
    -- a RESP3 subscribe confirmation answers its command
    print_pair(cmd, { type = "push", value = p.value, ts = p.ts, latency = p.ts - cmd.ts }, session)
    return
  end
  if opt.json then
    local rec = { event = "push", ts = p.ts, session = session.id, client = session.client,
                  server = session.server, kind = p.kind, channel = p.channel, pattern = p.pattern,
                  payload = p.payload, count = p.count }
    print(json(rec, { "event", "ts", "session", "client", "server", "kind", "channel", "pattern", "payload",
                      "count" }, { pattern = true, payload = true, count = true }))
    return
  end
  local what = p.pattern and ("%s %s (pattern %s)"):format(p.kind, show(p.channel, 1), show(p.pattern, 1))
               or ("%s %s"):format(show(p.kind, 1), show(p.channel, 1))
  local tail = p.payload ~= nil and (" " .. show(p.payload, 1)) or (p.count and (" " .. show(p.count, 1)) or "")
  print(("%s %s -> %s %s%s"):format(paint(DIM, clock(p.ts)), session.server, session.client,
        paint(CYAN, "push " .. what), tail))
end)

on("redis.error", function(e, session)
  conn_of(session)
  if opt.json then
    local rec = { event = "error", ts = session.last, session = session.id, client = session.client,
                  server = session.server, direction = e.direction, message = e.message, limit = e.limit }
    print(json(rec, { "event", "ts", "session", "client", "server", "direction", "message", "limit" },
               { limit = true }))
  else
    print(("%s %s -> %s %s"):format(paint(DIM, clock(session.last)), session.client, session.server,
          paint(RED, "redis error (" .. e.direction .. "): " .. text(e.message))))
  end
end)

on("tcp.end", function(session)
  local c = conns[session]
  if not c then return end
  conns[session] = nil
  local rate = session.duration > 0 and c.commands / session.duration or nil
  if opt.json then
    local rec = { event = "end", ts = session.last, session = session.id, client = session.client,
                  server = session.server, duration = session.duration, commands = c.commands, rate = rate }
    print(json(rec, { "event", "ts", "session", "client", "server", "duration", "commands", "rate" }))
  else
    print(("%s %s -> %s %s"):format(paint(DIM, clock(session.last)), session.client, session.server,
          paint(CYAN, ("TCP end %.3fs %d commands %s req/sec"):format(session.duration, c.commands,
                rate and ("%.2f"):format(rate) or "-"))))
  end
end)

if opt.tcp_verbose then
  on("tcp.reset", function(session, dir)
    if conns[session] then tcp_line(session, session.last, "reset", { by = dir, text = " by " .. dir }) end
  end)
  on("tcp.retransmit", function(session, dir, seq)
    if conns[session] then
      tcp_line(session, session.last, "retransmit", { from = dir, seq = seq,
               text = (" from %s, seq %d"):format(dir, seq) })
    end
  end)
end
