-- lunatap.repl: the Lua half of `lunatap repl` (engine/repl.c and
-- engine/replctl.c call it), usable by scripts too.
--
--   format(v [, opts]) -> text   how a value shows at the prompt: nested and
--                                bounded (opts.depth 3, opts.items 40 a table,
--                                opts.lines 200); opts.env names functions.
--   summary(pkt)       -> line   one line per packet, as step(n) shows them.
--   complete(env, before, pos) -> sorted candidates for the word before the
--                                cursor (Tab).
--   help([v], env)     -> text   help() and help(fn) / help("name").
--
-- Nothing here raises for an engine object in any state: an expired packet
-- shows as <expired packet>, a field that cannot be read as <error: ...>.
-- Completion only reads fields (never calls a function other than
-- introspect.fields), each path under pcall.

local I = require("lunatap.introspect")
local TEXTS = require("lunatap.repl_help")

local M = {}

local DEFAULTS = { depth = 3, items = 40, lines = 200 }
local WIDTH = 78 -- an inline table longer than this is shown over several lines

local KEYWORDS = {
  "and", "break", "do", "else", "elseif", "end", "false", "for", "function",
  "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return", "then",
  "true", "until", "while",
}
local IS_KEYWORD = {}
for _, k in ipairs(KEYWORDS) do IS_KEYWORD[k] = true end

local function is_name(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil and not IS_KEYWORD[s]
end

-- Reads t[k] with metamethods, never raising: ok, value.
local function get(t, k)
  return pcall(function() return t[k] end)
end

local function safe_tostring(v)
  local ok, s = pcall(tostring, v)
  if ok and type(s) == "string" then return s end
  return "<" .. type(v) .. ">"
end

------------------------------------------------------------------------
-- strings

local ESCAPES = {
  ["\a"] = "\\a", ["\b"] = "\\b", ["\t"] = "\\t", ["\n"] = "\\n", ["\v"] = "\\v",
  ["\f"] = "\\f", ["\r"] = "\\r", ['"'] = '\\"', ["\\"] = "\\\\",
}

local function escape(c, digit)
  local e = ESCAPES[c]
  if e then return e .. digit end
  -- as %q: the shortest decimal escape, three digits before a digit
  if digit ~= "" then return ("\\%03d"):format(c:byte()) .. digit end
  return "\\" .. c:byte()
end

-- Lua's %q, except that control characters use \n, \t, \r ... and "\n" is
-- not a backslash-newline: the result is one line and reads back as Lua.
-- The string is cut into pieces so no pattern call sees a long subject (the
-- sandbox caps them); an escape at a piece's end takes three digits.
local PIECE = 4096
local function quote(s)
  local out = {}
  for i = 1, #s, PIECE do
    local piece = s:sub(i, i + PIECE - 1)
    local more = i + PIECE - 1 < #s
    out[#out + 1] = piece:gsub('([%c"\\])(%d?)', escape)
    if more and piece:find("%c$") then
      local c = piece:sub(-1)
      if not ESCAPES[c] then
        local n = #out[#out]
        out[#out] = out[#out]:sub(1, n - #tostring(c:byte()) - 1) .. ("\\%03d"):format(c:byte())
      end
    end
  end
  return '"' .. table.concat(out) .. '"'
end
M.quote = quote

------------------------------------------------------------------------
-- packet summary

local ORDER = { eth = 1, sll = 2, arp = 3, ip = 4, tcp = 5, udp = 6, icmp = 7 }

local date = os and os.date
-- HH:MM:SS.uuuuuu in local time (os.date), UTC when os.date is missing.
local function clock(sec, nsec)
  local usec = (nsec or 0) // 1000
  if date then return date("%H:%M:%S", sec) .. (".%06d"):format(usec) end
  local d = sec % 86400
  return ("%02d:%02d:%02d.%06d"):format(d // 3600, d // 60 % 60, d % 60, usec)
end

local function endpoint(ip, addr, port)
  addr = addr or "?"
  if port == nil then return addr end
  if ip.version == 6 then return ("[%s]:%s"):format(addr, port) end
  return ("%s:%s"):format(addr, port)
end

local function num(v)
  return v == nil and "?" or tostring(v)
end

local function arp_text(a, len)
  local op = a.op
  if op == 1 then return ("ARP who-has %s tell %s len %s"):format(num(a.tpa), num(a.spa), len) end
  if op == 2 then return ("ARP reply %s is-at %s len %s"):format(num(a.spa), num(a.sha), len) end
  if op == 3 then return ("RARP who-is %s tell %s len %s"):format(num(a.tha), num(a.sha), len) end
  if op == 4 then return ("RARP reply %s at %s len %s"):format(num(a.tha), num(a.tpa), len) end
  return ("ARP op %s %s > %s len %s"):format(num(op), num(a.spa), num(a.tpa), len)
end

local function transport_text(pkt, ip, len)
  local tcp, udp, icmp = pkt.tcp, pkt.udp, pkt.icmp
  local src, dst = ip.src, ip.dst
  if tcp then
    local t = { ("%s > %s TCP [%s] seq %s"):format(endpoint(ip, src, tcp.sport), endpoint(ip, dst, tcp.dport),
                                                   tcp.flags ~= "" and tcp.flags or "none", num(tcp.seq)) }
    if math.type(tcp.ack) == "integer" then t[#t + 1] = " ack " .. tcp.ack end
    t[#t + 1] = (" win %s len %s"):format(num(tcp.win), num(tcp.len))
    return table.concat(t)
  end
  if udp then
    local n = udp.len and udp.len >= 8 and udp.len - 8 or #pkt.payload
    return ("%s > %s UDP len %d"):format(endpoint(ip, src, udp.sport), endpoint(ip, dst, udp.dport), n)
  end
  local head = ("%s > %s"):format(num(src), num(dst))
  if icmp then
    local t = { ("%s %s type %s code %s"):format(head, icmp.version == 6 and "ICMPv6" or "ICMP",
                                                 num(icmp.type), num(icmp.code)) }
    if icmp.id then t[#t + 1] = (" id %s seq %s"):format(icmp.id, num(icmp.seq)) end
    local n = ip.len and ip.hlen and ip.len - ip.hlen
    t[#t + 1] = " len " .. (n and n >= 0 and n or len)
    return table.concat(t)
  end
  local t = { head }
  if ip.fragment then
    t[#t + 1] = (" frag id %s off %s%s"):format(num(ip.id), num(ip.frag), ip.mf and " MF" or "")
  end
  t[#t + 1] = (" proto %s len %s"):format(num(ip.proto), len)
  return table.concat(t)
end

local function summary_text(pkt)
  local parts = { clock(pkt.ts_sec, pkt.ts_nsec) }
  local len = num(pkt.len)
  local eth, ip, arp = pkt.eth, pkt.ip, pkt.arp
  if eth and eth.vlan then parts[#parts + 1] = "vlan " .. eth.vlan end
  if ip then
    parts[#parts + 1] = (ip.version == 6 and "IPv6 " or "IPv4 ") .. transport_text(pkt, ip, len)
  elseif arp then
    parts[#parts + 1] = arp_text(arp, len)
  elseif eth then
    parts[#parts + 1] = ("%s > %s ethertype 0x%04x len %s"):format(num(eth.src), num(eth.dst), eth.type or 0, len)
  elseif pkt.sll then
    parts[#parts + 1] = ("sll ethertype 0x%04x len %s"):format(pkt.sll.protocol or 0, len)
  else
    parts[#parts + 1] = ("linktype %s len %s"):format(num(pkt.linktype), len)
  end
  local line = table.concat(parts, " ")
  if pkt.problem then line = line .. " [" .. pkt.problem .. "]" end
  return line
end

--- One line for a packet, as tcpdump -nn would show it (see docs/repl.md).
function M.summary(pkt)
  if I.kind(pkt) ~= "packet" then
    return ("not a packet: %s"):format(safe_tostring(pkt))
  end
  if I.expired(pkt) then return "<expired packet>" end
  local ok, line = pcall(summary_text, pkt)
  if ok then return line end
  return ("<packet: %s>"):format(safe_tostring(line))
end

------------------------------------------------------------------------
-- format

local RANK = { number = 1, string = 2 }
local function key_less(a, b)
  local ra, rb = RANK[type(a)] or 3, RANK[type(b)] or 3
  if ra ~= rb then return ra < rb end
  if ra == 3 then
    local sa, sb = safe_tostring(a), safe_tostring(b)
    if sa ~= sb then return sa < sb end
    return type(a) < type(b)
  end
  return a < b
end

-- Sorting more keys than this would cost more than the view is worth: a
-- bigger table shows its first keys in table order.
local SORT_MAX = 10000

-- The entries of a table, array part first: { {key, value, in_array}, ...,
-- total = the table's entry count }, at most cap + 1 of them (one more than
-- shown, so the caller knows to say "... N more"). Keys are read raw (no
-- __pairs, no __index).
local function entries(t, cap)
  local list, n = {}, 0
  while rawget(t, n + 1) ~= nil do
    n = n + 1
    if n <= cap + 1 then list[n] = { n, rawget(t, n), true } end
  end
  local rest, nrest = {}, 0
  for k in next, t do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then
      nrest = nrest + 1
      if nrest <= SORT_MAX then rest[nrest] = k end
    end
  end
  if nrest <= SORT_MAX then table.sort(rest, key_less) end
  for i = 1, math.min(#rest, cap + 1 - #list) do list[#list + 1] = { rest[i], rawget(t, rest[i]), false } end
  list.total = n + nrest
  return list
end

-- The fields of an engine object as entries (never raises).
local function object_entries(v)
  local ok, names = pcall(I.fields, v)
  if not ok or type(names) ~= "table" then return nil end
  local list = {}
  for _, name in ipairs(names) do
    local okv, x = get(v, name)
    if not okv then x = "<error: " .. safe_tostring(x) .. ">" end
    list[#list + 1] = { name, x, false }
  end
  return list
end

local function key_text(k)
  if is_name(k) then return k end
  if type(k) == "string" then return "[" .. quote(k) .. "]" end
  return "[" .. safe_tostring(k) .. "]"
end

-- `_` is skipped: the REPL sets it to the value being shown.
local function function_name(f, env)
  if type(env) ~= "table" then return nil end
  local names = {}
  for k, v in next, env do
    if rawequal(v, f) and is_name(k) and k ~= "_" then names[#names + 1] = k end
  end
  if #names == 0 then
    for lib, t in next, env do
      if is_name(lib) and type(t) == "table" and lib ~= "_G" and lib ~= "_" then
        for k, v in next, t do
          if rawequal(v, f) and is_name(k) then names[#names + 1] = lib .. "." .. k end
        end
      end
    end
  end
  table.sort(names)
  return names[1]
end

-- A value that is not a table, in one line.
local function atom(v, o)
  local t = type(v)
  if t == "string" then return quote(v) end
  if t == "function" then
    local name = function_name(v, o.env)
    return name and ("function: " .. name) or safe_tostring(v)
  end
  local kind = I.kind(v)
  if kind then
    if I.expired(v) then return "<expired " .. (kind == "buffer" and "buffer" or kind) .. ">" end
    if kind == "packet" then return "<" .. M.summary(v) .. ">" end
    if kind == "buffer" or kind == "session" then return safe_tostring(v) end
  end
  return safe_tostring(v)
end

-- A table or engine layer's entries, or nil for a plain value.
local function entries_of(v, o)
  if type(v) == "table" then return entries(v, o.items) end
  local kind = I.kind(v)
  if kind and kind ~= "packet" and kind ~= "buffer" and kind ~= "session" and not I.expired(v) then
    return object_entries(v)
  end
  return nil
end

-- The text of one value on one line, or nil when it would be longer than
-- `room` (or cannot be one line).
local function inline(v, o, depth, seen, room)
  local list = entries_of(v, o)
  if not list then
    local s = atom(v, o)
    if #s > room then return nil end
    return s
  end
  if seen[v] then return "<cycle>" end
  if #list == 0 then return "{}" end
  if depth >= o.depth then return "{...}" end
  seen[v] = true
  local parts, used = {}, 2
  for i, e in ipairs(list) do
    if i > o.items then
      parts[#parts + 1] = ("... %d more"):format((list.total or #list) - o.items)
      break
    end
    local prefix = e[3] and "" or (key_text(e[1]) .. " = ")
    local s = inline(e[2], o, depth + 1, seen, room - used - #prefix)
    if not s then seen[v] = nil return nil end
    parts[i] = prefix .. s
    used = used + #parts[i] + 2
    if used > room then seen[v] = nil return nil end
  end
  seen[v] = nil
  return "{" .. table.concat(parts, ", ") .. "}"
end

local Full = {} -- raised (as an error value) when the line cap is reached

local function emit(o, line)
  if #o.out >= o.lines - 1 then -- the last line is kept for the mark
    o.cut = true
    error(Full, 0)
  end
  o.out[#o.out + 1] = line
end

-- Writes `lead .. value .. tail` as lines at `indent`.
local function block(v, o, depth, seen, indent, lead, tail)
  local s = inline(v, o, depth, seen, WIDTH - #indent - #lead - #tail)
  if s then
    emit(o, indent .. lead .. s .. tail)
    return
  end
  local list = entries_of(v, o)
  if not list then -- a long atom: on its line anyway
    emit(o, indent .. lead .. atom(v, o) .. tail)
    return
  end
  seen[v] = true
  emit(o, indent .. lead .. "{")
  local inner = indent .. "  "
  local row = nil -- array items that fit on one line go side by side
  local function flush()
    if row then emit(o, row) end
    row = nil
  end
  for i, e in ipairs(list) do
    if i > o.items then
      flush()
      emit(o, inner .. ("... %d more"):format((list.total or #list) - o.items))
      break
    end
    local s = e[3] and inline(e[2], o, depth + 1, seen, WIDTH - #inner - 1)
    if s and row and #row + 2 + #s + 1 <= WIDTH then
      row = row .. " " .. s .. ","
    elseif s then
      flush()
      row = inner .. s .. ","
    else
      flush()
      block(e[2], o, depth + 1, seen, inner, e[3] and "" or (key_text(e[1]) .. " = "), ",")
    end
  end
  flush()
  seen[v] = nil
  emit(o, indent .. "}" .. tail)
end

local function hexdump(buf, o)
  local ok, data = pcall(function() return buf:bytes() end)
  if not ok then emit(o, "<expired buffer>") return end
  emit(o, ("buffer (%d bytes)"):format(#data))
  for off = 0, #data - 1, 16 do
    if #o.out >= o.lines - 1 then
      o.out[#o.out + 1] = ("... %d more bytes"):format(#data - off)
      return
    end
    local row = data:sub(off + 1, off + 16)
    local hex = {}
    for i = 1, 16 do
      hex[i] = i <= #row and ("%02x"):format(row:byte(i)) or "  "
    end
    local ascii = row:gsub("[^\32-\126]", ".")
    emit(o, ("%08x  %s  %s  |%s|"):format(off, table.concat(hex, " ", 1, 8), table.concat(hex, " ", 9, 16), ascii))
  end
  if #data % 16 ~= 0 or #data == 0 then emit(o, ("%08x"):format(#data)) end
end

-- "name = value, ..." of an object's fields on one line (nested objects
-- and tables inline, bounded by depth and items).
local function field_line(v, o, seen)
  local list = object_entries(v) or {}
  local parts = {}
  for i, e in ipairs(list) do
    if i > o.items then
      parts[#parts + 1] = ("... %d more"):format((list.total or #list) - o.items)
      break
    end
    parts[#parts + 1] = e[1] .. " = " .. (inline(e[2], o, 1, seen, math.huge) or "?")
  end
  return table.concat(parts, ", ")
end

local function show_packet(pkt, o)
  emit(o, M.summary(pkt))
  if I.expired(pkt) then return end
  local ok, names = pcall(I.fields, pkt)
  if not ok then return end
  local layers, scalars = {}, {}
  for _, name in ipairs(names) do
    local okv, x = get(pkt, name)
    local kind = okv and I.kind(x)
    if kind and kind ~= "buffer" then layers[#layers + 1] = { name, x } else scalars[#scalars + 1] = name end
  end
  table.sort(layers, function(a, b)
    local ra, rb = ORDER[a[1]] or 99, ORDER[b[1]] or 99
    if ra ~= rb then return ra < rb end
    return a[1] < b[1]
  end)
  local parts = {}
  for _, name in ipairs(scalars) do
    local okv, x = get(pkt, name)
    parts[#parts + 1] = name .. " = " .. (okv and atom(x, o) or ("<error: " .. safe_tostring(x) .. ">"))
  end
  emit(o, "  packet: " .. table.concat(parts, ", "))
  for _, l in ipairs(layers) do
    emit(o, "  " .. l[1] .. ": " .. field_line(l[2], o, {}))
  end
end

local function show_session(s, o)
  emit(o, safe_tostring(s))
  for _, e in ipairs(object_entries(s) or {}) do
    block(e[2], o, 1, {}, "  ", e[1] .. " = ", "")
  end
end

local function show(v, o)
  local kind = I.kind(v)
  if kind and I.expired(v) then
    emit(o, "<expired " .. kind .. ">")
  elseif kind == "packet" then
    show_packet(v, o)
  elseif kind == "session" then
    show_session(v, o)
  elseif kind == "buffer" then
    hexdump(v, o)
  else
    block(v, o, 0, {}, "", "", "")
  end
end

local function options_of(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error(("format: options must be a table, got %s"):format(type(opts)), 3)
  end
  local o = { out = {}, env = opts and opts.env }
  for k, default in pairs(DEFAULTS) do
    local x = opts and opts[k]
    if x == nil then
      x = default
    elseif math.type(x) ~= "integer" or x < 1 then
      error(("format: opts.%s must be an integer of 1 or more, got %s"):format(k, safe_tostring(x)), 3)
    end
    o[k] = x
  end
  return o
end

--- The text a value shows at the prompt (several lines for tables that do
-- not fit one, packets, sessions and buffers).
function M.format(v, opts)
  local o = options_of(opts)
  local ok, err = pcall(show, v, o)
  if not ok and err ~= Full then error(err, 0) end
  if o.cut then o.out[#o.out + 1] = ("... (cut at %d lines)"):format(o.lines) end
  return table.concat(o.out, "\n")
end

------------------------------------------------------------------------
-- completion

-- Names a value answers to after "." (or ":" when methods), as a set.
local function names_of(v, methods)
  local set = {}
  local function add(k, x)
    if is_name(k) and (not methods or type(x) == "function") then set[k] = true end
  end
  if type(v) == "string" then
    for k, x in next, string do add(k, x) end
    return set
  end
  local kind = I.kind(v)
  if kind then
    if methods and kind ~= "buffer" then return set end
    local ok, fields = pcall(I.fields, v)
    if ok and type(fields) == "table" then
      for _, k in ipairs(fields) do set[k] = true end
    end
    return set
  end
  local seen, t = {}, v
  while t ~= nil and not seen[t] do
    seen[t] = true
    if type(t) == "table" then
      for k, x in next, t do add(k, x) end
    end
    local mt = getmetatable(t)
    t = type(mt) == "table" and rawget(mt, "__index") or nil
    if type(t) ~= "table" then break end
  end
  return set
end

-- The value a dotted path names in env: reads with metamethods, under pcall.
local function resolve(env, path)
  return pcall(function()
    local v = env
    for _, name in ipairs(path) do
      if v == nil then return nil end
      v = v[name]
    end
    return v
  end)
end

--- Candidates (full words, sorted) for the word that ends `before`.
function M.complete(env, before, pos)
  if type(before) ~= "string" then return {} end
  if math.type(pos) == "integer" and pos >= 0 then before = before:sub(1, pos) end
  local word = before:match("[%w_.:]*$")
  if word == "" or word:match("^[%d.:]") then return {} end
  local head, sep, prefix = word:match("^(.-)([.:]?)([%w_]*)$")
  local set = {}
  if sep == "" then
    if type(env) == "table" then
      for k in next, env do
        if is_name(k) then set[k] = true end
      end
      local ok, p = get(env, "pkt")
      if ok and p ~= nil then set.pkt = true end
    end
    for _, k in ipairs(KEYWORDS) do set[k] = true end
  else
    local path = {}
    for part in head:gmatch("[^.]+") do path[#path + 1] = part end
    -- "a:b.c" is not a path; neither is an empty step ("a..b")
    if head:find(":", 1, true) or head:find("..", 1, true) or head:sub(-1) == "." then return {} end
    for _, part in ipairs(path) do
      if not part:match("^[%a_][%w_]*$") then return {} end
    end
    local ok, v = resolve(env, path)
    if not ok or v == nil then return {} end
    local okn, names = pcall(names_of, v, sep == ":")
    if not okn then return {} end
    set = names
  end
  local out = {}
  for k in next, set do
    if k:sub(1, #prefix) == prefix then out[#out + 1] = head .. sep .. k end
  end
  table.sort(out)
  return out
end

------------------------------------------------------------------------
-- help

local GROUPS = {
  { "capture control", { "pause", "resume", "run", "step", "filter" } },
  { "looking", { "pkt", "last", "sessions", "stats" } },
  { "events and timers", { "on", "off", "emit", "wants", "every", "after", "stop", "dissector" } },
  { "output and data", { "print", "json", "print_json", "buffer", "output_is_tty", "open_file" } },
  { "scripts", { "require", "options", "arg" } },
  { "the session", { "load", "help", "exit" } },
}
M.groups = GROUPS

local function first_line(text)
  return text:match("^[^\n]*")
end

local function overview()
  local lines = { "The REPL's functions (help(on) or help(\"filter\") shows one):" }
  for _, g in ipairs(GROUPS) do
    lines[#lines + 1] = ""
    lines[#lines + 1] = g[1] .. ":"
    for _, name in ipairs(g[2]) do
      lines[#lines + 1] = "  " .. first_line(TEXTS[name])
    end
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Also Lua's own: string, table, math, utf8, coroutine, os.time/clock/date, pairs, pcall, ..."
  return table.concat(lines, "\n")
end

local function unknown(what)
  return ("no help for %s; help() lists the functions"):format(what)
end

--- help() lists the functions; help(fn) or help("name") shows one's text.
function M.help(v, env)
  if v == nil then return overview() end
  local name
  if type(v) == "string" then
    name = v
  elseif type(v) == "function" then
    if type(env) == "table" then
      local names = {}
      for k, x in next, env do
        if rawequal(x, v) and type(k) == "string" then names[#names + 1] = k end
      end
      table.sort(names, function(a, b)
        if (TEXTS[a] ~= nil) ~= (TEXTS[b] ~= nil) then return TEXTS[a] ~= nil end
        return a < b
      end)
      name = names[1]
    end
    if not name then
      local lib = function_name(v, env)
      if lib then
        return ("%s: from Lua's standard library (see the Lua 5.4 reference manual)"):format(lib)
      end
      return unknown(safe_tostring(v))
    end
  else
    return unknown(type(v) == "table" and "a table" or safe_tostring(v))
  end
  local text = TEXTS[name]
  if not text then return unknown(name) end
  return text
end

return M
