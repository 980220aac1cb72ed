-- DNS over UDP and TCP (RFC 1035, RFC 7766): one event per message,
-- responses paired with their queries by id and question within the
-- session. Decoding lives in lunatap.dns_wire; this file frames messages
-- (one per datagram; a 2-byte length before each over TCP, pipelined),
-- pairs them and emits. See docs/dns.md.

local wire = require("lunatap.dns_wire")

local MAX_PENDING = 1000   -- queries waiting for a response, per session

-- UDP has no per-session state from the framework: ours goes by session
-- (the same object for every datagram of a session) and leaves with it.
local udp_states = setmetatable({}, { __mode = "k" })

-- Queries still waiting, kept out of the messages themselves so that
-- json(msg) shows only DNS fields.
local waiting = setmetatable({}, { __mode = "k" })

local function new_state()
  return { byid = {}, queue = { first = 1, last = 0 }, count = 0, dropped = 0 }
end

local function report(session, fields)
  emit("dns.error", fields, session)
end

local function same_question(q, r)
  local a, b = q.questions[1], r.questions[1]
  if not a or not b then return true end
  return a.type_code == b.type_code and a.class_code == b.class_code and a.name:lower() == b.name:lower()
end

-- Takes a query out of those waiting.
local function forget(state, q)
  waiting[q] = nil
  state.count = state.count - 1
  local list = state.byid[q.id]
  for i = #list, 1, -1 do
    if list[i] == q then table.remove(list, i) end
  end
  if #list == 0 then state.byid[q.id] = nil end
end

local function add_query(state, q, session, dir)
  local queue = state.queue
  queue.last = queue.last + 1
  queue[queue.last] = q
  local list = state.byid[q.id] or {}
  state.byid[q.id] = list
  list[#list + 1] = q
  waiting[q] = true
  state.count = state.count + 1
  -- Past the cap (a client whose queries go unanswered) the oldest are
  -- given up: a late response to one pairs with nothing.
  while state.count > MAX_PENDING do
    local old = queue[queue.first]
    queue[queue.first] = nil
    queue.first = queue.first + 1
    if waiting[old] then
      forget(state, old)
      state.dropped = state.dropped + 1
      if state.dropped == 1 then
        report(session, { message = ("more than %d queries waiting for a response: the oldest are no longer paired")
                            :format(MAX_PENDING), limit = "pending_queries", direction = dir,
                          transport = q.transport, id = old.id, ts = q.ts })
      end
    end
  end
  -- answered queries leave the queue lazily; keep it from growing past them
  while queue.first <= queue.last and not waiting[queue[queue.first]] do
    queue[queue.first] = nil
    queue.first = queue.first + 1
  end
end

-- The oldest waiting query with the response's id and question; other
-- waiting copies of it (retransmissions) are answered by it too.
local function pair(state, r)
  local list = state.byid[r.id]
  if not list then return end
  local found, retries
  for _, q in ipairs(list) do
    if same_question(q, r) then
      if not found then found = q else
        retries = retries or {}
        retries[#retries + 1] = q
      end
    end
  end
  if not found then return end
  forget(state, found)
  for _, q in ipairs(retries or {}) do forget(state, q) end
  r.query = found
  r.latency = r.ts - found.ts
  r.retries = retries
end

local function handle(buf, session, dir, state, transport, ts)
  local msg, err = wire.parse(buf)
  if msg then
    msg.transport, msg.ts = transport, ts
    if msg.flags.qr then
      pair(state, msg)
      emit("dns.response", msg, session)
    else
      add_query(state, msg, session, dir)
      emit("dns.query", msg, session)
    end
  end
  if err then
    report(session, { message = err.message, limit = err.limit, offset = err.offset, direction = dir,
                      transport = transport, id = msg and msg.id, msg = msg, ts = ts })
  end
end

local function datagram(buf, session, dir, ts)
  local state = udp_states[session]
  if not state then
    state = new_state()
    udp_states[session] = state
  end
  handle(buf, session, dir, state, "udp", ts)
end

-- Whether the unread bytes look like the start of a length-prefixed DNS
-- message: a length that can hold a header, a known opcode, and a
-- question count a real message has.
local OPCODE_OK = { [0] = true, [1] = true, [2] = true, [4] = true, [5] = true, [6] = true }
local function plausible(p)
  if not p or #p < 14 then return false end
  local len = (p:byte(1) << 8) | p:byte(2)
  local opcode = (p:byte(5) >> 3) & 0x0F
  local qd = (p:byte(7) << 8) | p:byte(8)
  return len >= 12 and OPCODE_OK[opcode] == true and qd <= 16
end

local function stream(s, dir, state)
  if not state.pairing then state.pairing = new_state() end
  local session = s.session
  if s.resync and not plausible(s:peek(14)) then
    -- After a hole the framing is lost; lengths are two bytes that could
    -- be anything, so this direction is given up rather than guessed.
    if s:peek(1) then
      report(session, { message = "no DNS message boundary after a gap or mid-stream start: rest of the direction skipped",
                        direction = dir, transport = "tcp", offset = s.offset, ts = s:ts() })
      s:skip()
    end
    return
  end
  while true do
    if not s:peek(1) then return end
    local ts = s:ts()
    local prefix = s:read(2)
    if not prefix then
      report(session, { message = ("stream ended inside a length prefix at offset %d"):format(s.offset),
                        direction = dir, transport = "tcp", offset = s.offset, ts = ts })
      return
    end
    local len = (prefix:byte(1) << 8) | prefix:byte(2)
    local body = s:read(len)
    if not body then
      report(session, { message = ("stream %s inside a message of %d bytes at offset %d")
                          :format(s.hole and "has a gap" or "ended", len, s.offset),
                        direction = dir, transport = "tcp", offset = s.offset, ts = ts })
      s:skip()
      return
    end
    handle(buffer(body), session, dir, state.pairing, "tcp", ts)
  end
end

-- A TCP session on another port whose first bytes are a standard query
-- with one question, sized to its segment.
local function detect(buf, dir)
  if #buf < 19 then return false end
  local p = buf:bytes(0, 19)
  local len = (p:byte(1) << 8) | p:byte(2)
  local flags = (p:byte(5) << 8) | p:byte(6)
  local qdcount = (p:byte(7) << 8) | p:byte(8)
  local label = p:byte(15)
  local query = flags & 0xF840 == 0 -- QR 0, opcode QUERY, Z 0
  if not (query and len >= 17 and len + 2 >= #buf and qdcount == 1
          and p:sub(9, 12) == "\0\0\0\0" and label >= 1 and label <= 63) then
    return false
  end
  return dir == "client" or "swap"
end

dissector {
  name = "dns",
  udp_ports = { 53 },
  tcp_ports = { 53 },
  events = { "dns." },
  detect = detect,
  stream = stream,
  datagram = datagram,
}
