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

-- Pairing state of a session: the queries waiting for a response, by id
-- (a list each: retransmissions share an id), and in arrival order (the
-- queue, for giving up the oldest past MAX_PENDING). A query is waiting
-- while it is in its id's list; the queue drops answered ones lazily.
-- Nothing is written into the messages, so json(msg) shows only DNS
-- fields.
local function new_state()
  return { byid = {}, queue = {}, first = 1, last = 0, count = 0, dropped = 0 }
end

local function report(session, fields)
  emit("dns.error", fields, session)
end

local function same_question(q, r)
  local a, b = q.questions[1], r.questions[1]
  if not a or not b then return true end
  return a.type_code == b.type_code and a.class_code == b.class_code
         and (a.name == b.name or a.name:lower() == b.name:lower())
end

local function is_waiting(state, q)
  local list = state.byid[q.id]
  if list then
    for i = 1, #list do
      if list[i] == q then return true end
    end
  end
  return false
end

-- Takes a waiting query out of its id's list.
local function forget(state, q)
  local list = state.byid[q.id]
  for i = #list, 1, -1 do
    if list[i] == q then table.remove(list, i) end
  end
  if #list == 0 then state.byid[q.id] = nil end
  state.count = state.count - 1
end

-- Keeps only waiting queries in the queue, once answered ones outnumber them.
local function compact(state)
  local queue, kept, n = state.queue, {}, 0
  for i = state.first, state.last do
    if is_waiting(state, queue[i]) then
      n = n + 1
      kept[n] = queue[i]
    end
  end
  state.queue, state.first, state.last = kept, 1, n
end

local function add_query(state, q, session, dir)
  local list = state.byid[q.id]
  if list then list[#list + 1] = q else state.byid[q.id] = { q } end
  state.last = state.last + 1
  state.queue[state.last] = q
  state.count = state.count + 1
  -- Past the cap (a client whose queries go unanswered) the oldest are
  -- given up: a late response to one pairs with nothing.
  while state.count > MAX_PENDING do
    local old = state.queue[state.first]
    state.queue[state.first] = nil
    state.first = state.first + 1
    if is_waiting(state, old) then
      forget(state, old)
      state.dropped = state.dropped + 1
      if state.dropped == 1 then
        report(session, { message = ("more than %d queries waiting for a response: the oldest are no longer paired")
                            :format(MAX_PENDING), limit = "pending_queries", direction = dir,
                          transport = q.transport, id = old.id, ts = q.ts })
      end
    end
  end
  if state.last - state.first > 2 * state.count + 64 then compact(state) end
end

-- The oldest waiting query with the response's id and question; other
-- waiting copies of it (retransmissions) are answered by it too.
local function pair(state, r)
  local list = state.byid[r.id]
  if not list then return end
  local found, retries, kept
  for i = 1, #list do
    local q = list[i]
    if not same_question(q, r) then
      kept = kept or {}
      kept[#kept + 1] = q
    elseif not found then
      found = q
    else
      retries = retries or {}
      retries[#retries + 1] = q
    end
  end
  if not found then return end
  state.byid[r.id] = kept -- the waiting queries with other questions, if any
  state.count = state.count - 1 - (retries and #retries or 0)
  if state.count == 0 then
    -- nothing waits: the answered queries leave the queue now rather than
    -- live on in it as long as the session
    for i = state.first, state.last do state.queue[i] = nil end
    state.first = state.last + 1
  end
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
