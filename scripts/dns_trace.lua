-- DNS queries and their responses, one line per pair, as responses come;
-- queries never answered are listed at the end. Times are capture times
-- (UTC); the latency is from the query to its response. Malformed messages
-- get a line of their own. --json prints one object per line in the format
-- of docs/dns.md ("dns_trace --json").
--
-- Names and record data come from the dissector already escaped (docs/dns.md),
-- so nothing from the wire reaches the terminal raw.

local opt = options {
  summary = "DNS queries and responses, one line per pair, with latency; unanswered queries at the end.",
  usage = "[--json] [--no-color]",
  { "--json", help = "print one JSON object per line" },
  { "--no-color", help = "never colour the output (colour is used only on a terminal)" },
}

local color = not opt.no_color and not opt.json and output_is_tty()

local function paint(code, s)
  if not color then return s end
  return "\27[" .. code .. "m" .. s .. "\27[0m"
end

local BOLD, DIM, GREEN, YELLOW, RED = "1", "2", "32", "33", "31"

local function clock(t)
  local sec = math.floor(t)
  return ("%s.%06d"):format(os.date("!%H:%M:%S", sec), math.floor((t - sec) * 1e6 + 0.5) % 1000000)
end

local function rcode_color(rcode)
  if rcode == "NOERROR" then return GREEN end
  if rcode == "NXDOMAIN" then return YELLOW end
  return RED
end

-- The answers in a line: data alone for the question's type, "TYPE data"
-- for the others (a CNAME on the way to the address).
local function answers_text(msg)
  local t = {}
  for i, rr in ipairs(msg.answers) do
    t[i] = rr.type == msg.qtype and rr.data or (rr.type .. " " .. rr.data)
  end
  return #t > 0 and table.concat(t, ", ") or "-"
end

local RECORD = { "name", "type", "ttl", "data" }
local KEYS = {
  response = { "event", "ts", "session", "transport", "client", "server", "id", "qtype", "qname", "rcode",
               { "answers", RECORD }, "latency", "query_ts" },
  unanswered = { "event", "ts", "session", "transport", "client", "server", "id", "qtype", "qname" },
  error = { "event", "ts", "session", "transport", "client", "server", "id", "message", "limit" },
}
local OPTIONAL = { limit = true }

local function print_json_line(rec)
  print_json(rec, KEYS[rec.event], OPTIONAL)
end

local function common(event, msg_ts, msg, session)
  return { event = event, ts = msg_ts, session = session.id, transport = msg and msg.transport or session.proto,
           client = session.client, server = session.server, id = msg and msg.id }
end

-- Queries not yet answered, in order, so the end can list them: at most
-- MAX_UNANSWERED (the oldest beyond are only counted); `order` is
-- compacted as answered queries pile up in it.
local MAX_UNANSWERED = 100000
local pending, order, waiting, forgotten = {}, {}, 0, 0

local function compact()
  local kept = {}
  for _, q in ipairs(order) do
    if pending[q] then kept[#kept + 1] = q end
  end
  order = kept
end

local function answered(q)
  if pending[q] then
    pending[q] = nil
    waiting = waiting - 1
  end
end

on("dns.query", function(q, session)
  pending[q] = session
  order[#order + 1] = q
  waiting = waiting + 1
  if waiting > MAX_UNANSWERED then
    compact()
    pending[table.remove(order, 1)] = nil
    waiting, forgotten = waiting - 1, forgotten + 1
  elseif #order > 2 * waiting + 1000 then
    compact()
  end
end)

-- The response line's record, filled again for each (json reads it at
-- once): no table made per response.
local response = { event = "response" }

on("dns.response", function(r, session)
  local q = r.query
  if q then
    answered(q)
    if r.retries then
      for _, again in ipairs(r.retries) do answered(again) end
    end
  end
  if opt.json then
    local rec = response
    rec.ts, rec.session, rec.transport, rec.client, rec.server = r.ts, session.id, r.transport,
      session.client, session.server
    rec.id, rec.qtype, rec.qname, rec.rcode, rec.answers = r.id, r.qtype, r.qname, r.rcode, r.answers
    rec.latency, rec.query_ts = r.latency, q and q.ts
    print_json(rec, KEYS.response, OPTIONAL)
    return
  end
  local latency = r.latency and ("(%.1f ms)"):format(r.latency * 1000) or "(no query seen)"
  if r.flags.tc then latency = paint(YELLOW, "truncated") .. " " .. latency end
  print(("%s %s %s %s %s %s %s %s %s"):format(clock(q and q.ts or r.ts), session.client, paint(DIM, "->"),
    session.server, paint(BOLD, r.qtype or "-"), r.qname or "-", paint(DIM, "->"),
    paint(rcode_color(r.rcode), r.rcode), answers_text(r)) .. " " .. latency)
end)

on("dns.error", function(e, session)
  if opt.json then
    local rec = common("error", e.ts, e.msg, session)
    rec.transport, rec.id, rec.message, rec.limit = e.transport, e.id, e.message, e.limit
    print_json_line(rec)
    return
  end
  print(("%s %s %s %s %s %s"):format(clock(e.ts or session.last), session.client, paint(DIM, "->"),
    session.server, paint(RED, "malformed:"), e.message))
end)

on("done", function()
  local first = true
  for _, q in ipairs(order) do
    local session = pending[q]
    if session then
      if opt.json then
        local rec = common("unanswered", q.ts, q, session)
        rec.qtype, rec.qname = q.qtype, q.qname
        print_json_line(rec)
      else
        if first then print(paint(BOLD, "unanswered queries:")) end
        print(("%s %s %s %s %s %s"):format(clock(q.ts), session.client, paint(DIM, "->"), session.server,
          paint(BOLD, q.qtype or "-"), q.qname or "-"))
      end
      first = false
    end
  end
  if forgotten > 0 and not opt.json then
    print(("... and %d older unanswered queries not listed (more than %d)"):format(forgotten, MAX_UNANSWERED))
  end
end)
