-- TLS connections, one line each when the connection ends: client and
-- server, SNI, the ALPN protocols offered and chosen, the highest version
-- offered and the one chosen, the cipher suite chosen; a HelloRetryRequest
-- and a missing ServerHello are flagged, alerts and errors listed. --json
-- prints one object per connection in the format of docs/tls.md
-- ("tls_trace --json").
--
-- SNI and ALPN are bytes from the wire: the text form shows bytes outside
-- printable ASCII as \xHH, so nothing reaches the terminal raw.

local opt = options {
  summary = "TLS connections, one line each: SNI, ALPN offered/chosen, versions, cipher; alerts and missing ServerHellos flagged.",
  usage = "[--json] [--no-color]",
  { "--json", help = "print one JSON object per connection" },
  { "--no-color", help = "never colour the output (colour is used only on a terminal)" },
}

local color = not opt.no_color and not opt.json and output_is_tty()

local function paint(code, s)
  if not color then return s end
  return "\27[" .. code .. "m" .. s .. "\27[0m"
end

local BOLD, DIM, YELLOW, RED = "1", "2", "33", "31"

local function clock(t)
  local sec = math.floor(t)
  return ("%s.%06d"):format(os.date("!%H:%M:%S", sec), math.floor((t - sec) * 1e6 + 0.5) % 1000000)
end

local function safe(s)
  return (s:gsub("[^\32-\126]", function(c) return ("\\x%02x"):format(c:byte()) end))
end

local function list_text(t)
  if not t or #t == 0 then return "-" end
  local out = {}
  for i, v in ipairs(t) do out[i] = safe(v) end
  return table.concat(out, ",")
end

local conns = setmetatable({}, { __mode = "k" })

local function conn(session)
  local c = conns[session]
  if not c then
    c = { alerts = {}, errors = {}, app_bytes = { client = 0, server = 0 } }
    conns[session] = c
  end
  return c
end

on("tls.client_hello", function(h, session)
  local c = conn(session)
  c.ts = c.ts or h.ts
  c.sni, c.alpn_offered, c.version_offered, c.sslv2 = h.sni, h.alpn, h.version, h.sslv2
end)

on("tls.server_hello", function(h, session)
  local c = conn(session)
  c.ts = c.ts or h.ts
  if h.hello_retry_request then
    c.hrr = true
    return
  end
  c.server_hello = true
  c.version_chosen, c.cipher, c.cipher_code, c.alpn_chosen = h.version, h.cipher_name, h.cipher, h.alpn
end)

on("tls.alert", function(a, session)
  local c = conn(session)
  c.alerts[#c.alerts + 1] = a.encrypted and (a.direction .. " encrypted")
    or ("%s %s %s"):format(a.direction, a.level_name, a.description_name)
end)

on("tls.error", function(e, session)
  local c = conn(session)
  c.ts = c.ts or e.ts
  c.errors[#c.errors + 1] = e.direction .. ": " .. e.message
end)

on("tls.stream_end", function(e, session)
  conn(session).app_bytes[e.direction] = e.app_bytes
end)

local KEYS = { "event", "ts", "session", "client", "server", "sni", "alpn_offered", "alpn_chosen",
               "version_offered", "version_chosen", "cipher", "cipher_code", "hello_retry_request",
               "server_hello", "sslv2", "alerts", "errors", "client_app_bytes", "server_app_bytes" }

local function json_line(c, session)
  return json({ event = "connection", ts = c.ts, session = session.id, client = session.client,
                server = session.server, sni = c.sni, alpn_offered = c.alpn_offered,
                alpn_chosen = c.alpn_chosen, version_offered = c.version_offered,
                version_chosen = c.version_chosen, cipher = c.cipher, cipher_code = c.cipher_code,
                hello_retry_request = c.hrr or false, server_hello = c.server_hello or false,
                sslv2 = c.sslv2 or false, alerts = #c.alerts > 0 and c.alerts or nil,
                errors = #c.errors > 0 and c.errors or nil,
                client_app_bytes = c.app_bytes.client, server_app_bytes = c.app_bytes.server }, KEYS)
end

local function text_line(c, session)
  local parts = {
    clock(c.ts or session.start), session.client, paint(DIM, "->"), session.server,
    "sni=" .. paint(BOLD, c.sni and safe(c.sni) or "-"),
    "alpn=" .. list_text(c.alpn_offered), paint(DIM, "->"), list_text(c.alpn_chosen),
    "version=" .. (c.version_offered or "-"), paint(DIM, "->"), c.version_chosen or "-",
    "cipher=" .. (c.cipher or "-"),
  }
  if c.sslv2 then parts[#parts + 1] = paint(YELLOW, "[sslv2 hello]") end
  if c.hrr then parts[#parts + 1] = paint(YELLOW, "[hello retry]") end
  if not c.server_hello then parts[#parts + 1] = paint(RED, "[no ServerHello]") end
  if #c.alerts > 0 then parts[#parts + 1] = paint(RED, "alerts: " .. table.concat(c.alerts, ", ")) end
  for _, e in ipairs(c.errors) do parts[#parts + 1] = paint(RED, "error: " .. safe(e)) end
  return table.concat(parts, " ")
end

local function flush(session)
  local c = conns[session]
  if not c then return end
  conns[session] = nil
  print(opt.json and json_line(c, session) or text_line(c, session))
end

on("tcp.end", flush)
