-- Redis (RESP2 and RESP3) on TCP 6379, or found by its first bytes:
-- commands from the client (RESP arrays or inline lines), replies and
-- pushes from the server, paired in order within the session. Reading is
-- lunatap.resp's; this file frames, pairs and emits. See docs/redis.md.

local resp = require("lunatap.resp")
local scan = require("lunatap.resp_scan")

local LIMITS = resp.defaults
local MAX_PENDING = 10000    -- commands waiting for a reply (Zeek's figure)

local function report(s, dir, message, limit, offset)
  emit("redis.error", { message = message, limit = limit, direction = dir, offset = offset },
       s.session)
end

-- Commands whose replies come one per channel argument.
local PER_CHANNEL = { SUBSCRIBE = true, PSUBSCRIBE = true, SSUBSCRIBE = true,
                      UNSUBSCRIBE = true, PUNSUBSCRIBE = true, SUNSUBSCRIBE = true }
-- Pushes a subscribed RESP2 connection gets without asking.
local PUSH_KIND = { message = true, pmessage = true, smessage = true }
-- Commands whose handling is this file's, not resp_scan.messages's: the
-- subscriptions, CLIENT (REPLY OFF|SKIP|ON) and RESET (which ends them).
local OWN_COMMANDS = { CLIENT = true, RESET = true }
for name in pairs(PER_CHANNEL) do OWN_COMMANDS[name] = true end

local function new_state()
  return { first = 1, last = 0, dropped = 0, total = 0 }
end

local function upper(a)
  return type(a) == "string" and a:upper() or ""
end

-- CLIENT REPLY OFF|SKIP|ON: whether the server will answer this command.
local function expects_reply(state, cmd)
  if cmd.name == "CLIENT" and upper(cmd.args[2]) == "REPLY" then
    local mode = upper(cmd.args[3])
    if mode == "OFF" then state.reply_off = true return false end
    if mode == "SKIP" then state.skip_next = true return false end
    if mode == "ON" then state.reply_off = false return true end
  end
  if state.reply_off then return false end
  if state.skip_next then state.skip_next = false return false end
  return true
end

local function queue_command(s, state, cmd)
  state.total = state.total + 1
  cmd.index = state.total
  if not expects_reply(state, cmd) then
    cmd.no_reply = true
    return
  end
  if PER_CHANNEL[cmd.name] then
    cmd.replies_left = math.max(1, #cmd.args - 1)
  end
  state.last = state.last + 1
  state[state.last] = cmd
  if state.last - state.first + 1 > MAX_PENDING then
    state[state.first] = nil
    state.first = state.first + 1
    state.dropped = state.dropped + 1
    if state.dropped == 1 then
      report(s, "client", ("over %d commands waiting for replies: the oldest are no longer paired")
             :format(MAX_PENDING), "pending_commands", s.offset)
    end
  end
end

local function take_command(state)
  local cmd = state[state.first]
  if not cmd then return nil end
  if cmd.replies_left and cmd.replies_left > 1 then
    cmd.replies_left = cmd.replies_left - 1
    return cmd
  end
  state[state.first] = nil
  state.first = state.first + 1
  return cmd
end

-- A message's time is its first byte's: known once that byte is there.
-- at.offset keeps where it starts, for an error raised while reading it.
local function start_of(s, at)
  if not s:peek(1) then return nil end
  at.offset = s.offset
  return s:ts(), at.offset
end

-- The command at the stream's position and its time; or a step ("next",
-- "end") when there is none to queue. The common commands are read in C
-- (lunatap.resp_scan); the rest, from the same byte, by lunatap.resp.
local function read_command(s, dir, at)
  local cmd, ts = scan.command_record(s, LIMITS.line_length, LIMITS.bulk_keep, LIMITS.elements)
  if cmd then return cmd end
  local offset
  ts, offset = start_of(s, at)
  if not ts then return "end" end
  local line = s:line(LIMITS.line_length)
  if not line then return "end" end
  local cmd
  if line:byte(1) == 42 then
    local args, truncated, limit = resp.read_command(s, LIMITS, line)
    if not args then return "end" end
    if #args == 0 then return "next" end -- "*0": redis ignores it
    if limit then
      report(s, dir, ("command of over %d arguments: the rest were read but not kept"):format(LIMITS.elements),
             limit, offset)
    end
    cmd = { args = args, truncated = (truncated or limit) and true or nil }
  else
    if line == "" then return "next" end -- redis ignores empty inline lines
    local args, why = resp.split_inline(line)
    if not args then
      report(s, dir, ("inline command: %s"):format(why), nil, offset)
      return "next"
    end
    if #args == 0 then return "next" end
    cmd = { args = args, inline = true }
  end
  cmd.name = cmd.args[1]:upper()
  cmd.ts = ts
  return cmd
end

local function client_message(s, state, dir, session, at)
  local cmd = read_command(s, dir, at)
  if type(cmd) == "string" then return cmd end
  queue_command(s, state, cmd)
  emit("redis.command", cmd, session)
  return "next"
end

local function as_push(v, ty, state)
  if ty == "push" then return true end
  -- RESP2: a subscribed connection's messages are plain arrays
  return ty == "array" and state.subscribing and PUSH_KIND[v[1]] == true
end

local function push_record(v, ts)
  local kind = type(v[1]) == "string" and v[1] or nil
  local p = { kind = kind, value = v, ts = ts }
  if kind == "pmessage" then
    p.pattern, p.channel, p.payload = v[2], v[3], v[4]
  elseif kind == "message" or kind == "smessage" then
    p.channel, p.payload = v[2], v[3]
  else
    p.channel, p.count = v[2], v[3]
  end
  return p
end

-- A subscribe or unsubscribe confirmation ({kind, channel, count}) says
-- how many subscriptions remain; with none left (or after RESET) a RESP2
-- connection's arrays are replies again.
local function track_subscriptions(state, v, cmd)
  if type(v) == "table" and type(v[1]) == "string" and PER_CHANNEL[v[1]:upper()]
      and math.type(v[3]) == "integer" then
    state.subscribing = v[3] > 0
  elseif cmd and cmd.name == "RESET" then
    state.subscribing = false
  end
end

local function server_message(s, state, dir, session, at)
  local ty, v, ts, offset = scan.reply(s, LIMITS.line_length, LIMITS.bulk_keep, LIMITS.elements)
  local info = resp.NOINFO -- a reply read in C: nothing truncated, no attributes
  if not ty then
    ts, offset = start_of(s, at)
    if not ts then return "end" end
    v, ty, info = resp.read(s, LIMITS)
    if ty == nil then return "end" end
  end
  if as_push(v, ty, state) then
    local p = push_record(v, ts)
    -- a RESP3 subscribe confirmation is a push that answers the command
    if ty == "push" and p.kind and PER_CHANNEL[p.kind:upper()] then
      local head = state[state.first]
      if head and head.name == p.kind:upper() then p.command = take_command(state) end
    end
    track_subscriptions(state, v)
    emit("redis.push", p, session)
    return "next"
  end
  local cmd = take_command(state)
  if ty == "array" or ty == "simple" then track_subscriptions(state, v, cmd) end
  local reply = { type = ty, value = v, ts = ts, command = cmd, truncated = info.truncated,
                  attributes = info.attributes, format = info.format }
  if cmd then reply.latency = ts - cmd.ts end
  emit("redis.reply", reply, session)
  if info.limit then
    report(s, dir, ("reply of over %d elements: the rest was read but not kept"):format(LIMITS.elements),
           info.limit, offset)
  end
  return "next"
end

-- After a hole or a mid-stream start: the next line that starts a command
-- array (client) or a typed line (server) is taken as a boundary.
local function resync(s, dir)
  while true do
    local p = s:peek(1)
    if not p then return false end
    if (dir == "client" and p == "*") or (dir == "server" and p:find("^[-+:$*_#,(!=%%~>|]")) then
      return true
    end
    if not s:skip_line() then return false end
  end
end

local FATAL = { depth = true, bulk_length = true }

-- Reads messages until the stream ends: one protected call for all of
-- them rather than one each (an error ends it, and stream goes on). The
-- common ones go from bytes to events in C (resp_scan.messages, which
-- makes the records the functions above make); it stops at each message
-- these functions must handle, and at the end.
local function messages(s, pending, dir, message, at)
  local session = s.session
  repeat
    scan.messages(s, pending, LIMITS.line_length, LIMITS.bulk_keep, LIMITS.elements, MAX_PENDING, OWN_COMMANDS)
  until message(s, pending, dir, session, at) == "end"
end

local function stream(s, dir, state)
  state.pending = state.pending or new_state()
  local pending = state.pending
  local message = dir == "client" and client_message or server_message
  if s.resync then
    if dir == "server" and s.offset > 0 then
      -- after a hole: replies to commands whose bytes were lost would pair
      -- wrongly, so what waits is given up (in place: the client's
      -- coroutine holds the same table)
      for i = pending.first, pending.last do pending[i] = nil end
      pending.first = pending.last + 1
    end
    if not resync(s, dir) then return end
  end
  local at = {}
  while true do
    local ok, problem = pcall(messages, s, pending, dir, message, at)
    if ok then return end
    local err = type(problem) == "table" and problem or { message = tostring(problem), limit = s.limit_hit }
    local limit = err.limit or s.limit_hit
    report(s, dir, err.message, limit, at.offset)
    if FATAL[limit] or not limit then
      s:skip()
      return
    end
    -- a line over the limit: skip it and go on at the next line
    if not s:skip_line() then return end
  end
end

-- A session on another port whose client starts with a RESP array of bulk
-- strings ("*N\r\n$M\r\n").
local function detect(buf, dir)
  if #buf < 8 then return false end
  local p = buf:bytes(0, math.min(#buf, 32))
  if not p:find("^%*%d%d?%d?\r\n%$%d+\r\n") then return false end
  return dir == "client" or "swap"
end

dissector {
  name = "redis",
  tcp_ports = { 6379 },
  events = { "redis." },
  detect = detect,
  stream = stream,
}
