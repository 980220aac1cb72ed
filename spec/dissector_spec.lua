-- The dissector framework (docs/dissectors.md), end to end: dissectors are
-- written into a temporary -L directory, a separate script prints what
-- they emit, and lunatap runs them over samples/ or over small captures
-- this spec builds itself (so that segment boundaries, timestamps and
-- missing segments are exactly known).

local h = require("helper")

local HTTP = h.samples .. "/http-loopback.pcap"
local UDP = h.samples .. "/udp-echo.pcap"
local has, hasnt = h.has, h.hasnt

local count = h.count

local function sh(cmd) assert(os.execute(cmd), cmd) end

-- A fresh directory holding `files` ({ ["name.lua"] = source }).
local function dir_with(files)
  local d = os.tmpname()
  os.remove(d)
  sh("mkdir " .. h.quote(d))
  for name, src in pairs(files) do
    local f = assert(io.open(d .. "/" .. name, "wb"))
    f:write(src)
    f:close()
  end
  return d
end

-- Runs lunatap with the dissector files `files` in one -L directory and
-- the script text `script` (kept elsewhere) over `pcap`. `before`: more
-- lunatap options. A hang shows as status 137.
local function run(files, script, pcap, before)
  local d = dir_with(files)
  local sp = h.tmpfile(script, ".lua")
  local args = { "-L", d }
  for _, a in ipairs(before or {}) do args[#args + 1] = a end
  args[#args + 1] = "-r"
  args[#args + 1] = pcap
  args[#args + 1] = sp
  local r = h.run_limited(30, args)
  os.remove(sp)
  os.remove(sp:sub(1, -5)) -- the name h.tmpfile made it from
  sh("rm -rf " .. h.quote(d))
  assert.are_not.equal(137, r.code, "lunatap hung and was killed:\n" .. r.err)
  hasnt(r.err, "Sanitizer")
  hasnt(r.err, "runtime error")
  return r
end

-- The script every test uses: prints the records dissector "t" emits (one
-- string each), the framework's events and the counters at the end.
local SHOW = [[
on("t.out", function(line) print(line) end)
on("dissector.error", function(i, ses)
  print(("error|%s|%s|%s|%s|%s"):format(i.dissector, i.direction, tostring(i.limit), i.message, ses.id))
end)
on("dissector.gap", function(i, ses)
  print(("gap|%s|%s|%s|%s|%s"):format(i.dissector, i.direction, tostring(i.missing), i.message, ses.id))
end)
on("tcp.gap", function(ses, dir, missing) print(("tcp.gap|%s|%d"):format(dir, missing)) end)
local packets = 0
on("packet", function() packets = packets + 1 end)
on("done", function(st)
  print(("stats|sessions=%d|errors=%d|limits=%d|gaps=%d|lua_errors=%d|packets=%d"):format(
    st.dissector_sessions, st.dissector_errors, st.dissector_limits, st.dissector_gaps,
    st.lua_errors, packets))
end)
]]

-- A dissector "t" on `port` whose stream function runs `body` with s, dir
-- and state in scope and out(...) to emit one "|"-joined record.
local function t_dissector(body, port)
  return ([[
local function out(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) end
  emit("t.out", table.concat(t, "|"))
end
dissector {
  name = "t",
  tcp_ports = { %d },
  stream = function(s, dir, state)
%s
  end,
}
]]):format(port or 18080, body)
end

local function stats_of(out)
  local t = {}
  local line = assert(out:match("stats|([^\n]*)"), "no stats line in:\n" .. out)
  for k, v in line:gmatch("([%w_]+)=(%d+)") do t[k] = tonumber(v) end
  return t
end

-- Records of the output starting with `prefix`, split on "|".
local function records(out, prefix)
  local t = {}
  for _, line in ipairs(h.lines(out)) do
    if line:sub(1, #prefix) == prefix then
      local f = {}
      for x in (line .. "|"):gmatch("([^|]*)|") do f[#f + 1] = x end
      t[#t + 1] = f
    end
  end
  return t
end

------------------------------------------------------------------------
-- Captures built here: one TCP session per entry, 10.0.0.1:4000N ->
-- 10.0.0.2:PORT, handshake, then the segments given ({ "c" or "s", bytes,
-- drop = true to leave the segment out: its bytes never arrive), then a
-- FIN each way (midstream = true: no handshake). Packet k of the file is stamped 1 + k/1000 seconds
-- (a dropped segment takes no time), so s:ts() can be checked exactly.

local function csum(s)
  if #s % 2 == 1 then s = s .. "\0" end
  local sum = 0
  for i = 1, #s, 2 do sum = sum + (s:byte(i) << 8) + s:byte(i + 1) end
  while sum > 0xffff do sum = (sum & 0xffff) + (sum >> 16) end
  return (~sum) & 0xffff
end

local function ip4(a)
  return (a:gsub("(%d+)%.?", function(n) return string.char(tonumber(n)) end))
end

local function frame(src, dst, sp, dp, seq, ack, flags, payload)
  local tcp = string.pack(">I2I2I4I4BBI2I2I2", sp, dp, seq, ack, 5 << 4, flags, 65535, 0, 0)
  local pseudo = ip4(src) .. ip4(dst) .. string.pack(">BBI2", 0, 6, #tcp + #payload)
  tcp = tcp:sub(1, 16) .. string.pack(">I2", csum(pseudo .. tcp .. payload)) .. tcp:sub(19)
  local ip = string.pack(">BBI2I2I2BBI2", 0x45, 0, 20 + #tcp + #payload, 1, 0x4000, 64, 6, 0)
    .. ip4(src) .. ip4(dst)
  ip = ip:sub(1, 10) .. string.pack(">I2", csum(ip)) .. ip:sub(13)
  return string.rep("\0", 12) .. "\8\0" .. ip .. tcp .. payload
end

local made = {}

local function make_pcap(sessions)
  local out = { string.pack("<I4I2I2i4I4I4I4", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1) }
  local ms = 1000
  local function pkt(f)
    ms = ms + 1
    out[#out + 1] = string.pack("<I4I4I4I4", ms // 1000, (ms % 1000) * 1000, #f, #f) .. f
  end
  for i, segs in ipairs(sessions) do
    local C, S, cp, sp = "10.0.0.1", "10.0.0.2", 40000 + i, segs.port or 7000
    local cs, ss = 1000, 5000
    if not segs.midstream then
      pkt(frame(C, S, cp, sp, cs, 0, 0x02, ""))
      pkt(frame(S, C, sp, cp, ss, cs + 1, 0x12, ""))
      pkt(frame(C, S, cp, sp, cs + 1, ss + 1, 0x10, ""))
    end
    cs, ss = cs + 1, ss + 1
    for _, g in ipairs(segs) do
      if g[1] == "c" then
        if not g.drop then pkt(frame(C, S, cp, sp, cs, ss, 0x18, g[2])) end
        cs = cs + #g[2]
      else
        if not g.drop then pkt(frame(S, C, sp, cp, ss, cs, 0x18, g[2])) end
        ss = ss + #g[2]
      end
    end
    pkt(frame(C, S, cp, sp, cs, ss, 0x11, ""))
    cs = cs + 1
    pkt(frame(S, C, sp, cp, ss, cs, 0x11, ""))
    ss = ss + 1
    pkt(frame(C, S, cp, sp, cs, ss, 0x10, ""))
  end
  local path = h.tmpfile(table.concat(out), ".pcap")
  made[#made + 1] = path
  made[#made + 1] = path:sub(1, -6)
  return path
end

-- Runs the stream body `body` (dissector "t" on port 7000) over a capture
-- of one session made of `segs`.
local function over(segs, body, before, script)
  return run({ ["t.lua"] = t_dissector(body, 7000) }, script or SHOW, make_pcap({ segs }), before)
end

teardown(function()
  for _, p in ipairs(made) do os.remove(p) end
end)

------------------------------------------------------------------------

describe("dissector registration", function()
  local function load_error(src)
    local r = run({ ["bad.lua"] = src }, [[on("packet", function() print("read a packet") end)]], HTTP)
    assert.are.equal(2, r.code, r.err)
    hasnt(r.out, "read a packet") -- nothing was read
    has(r.err, "lunatap: ")
    has(r.err, "bad.lua")
    return r.err
  end

  it("validates the name", function()
    has(load_error([[dissector { name = "Http", tcp_ports = { 1 }, stream = function() end }]]),
      "dissector: name 'Http' may hold only a-z, 0-9, '_' and '-'")
    has(load_error([[dissector { name = "a b", stream = function() end }]]),
      "dissector: name 'a b' may hold only")
    has(load_error([[dissector { name = 7, stream = function() end }]]),
      "dissector: field 'name' must be a string")
    has(load_error([[dissector { stream = function() end }]]),
      "dissector: field 'name' must be a string")
    has(load_error([[dissector { name = "", stream = function() end }]]),
      "dissector: name must have 1 to 31 characters")
    has(load_error([[dissector { name = string.rep("a", 32), stream = function() end }]]),
      "dissector: name must have 1 to 31 characters")
    has(load_error([[dissector "http"]]), "bad argument #1 to 'dissector' (table expected, got string)")
  end)

  it("accepts a 31-character name of a-z, 0-9, '_' and '-'", function()
    local name = "a-b_9" .. string.rep("z", 26)
    local r = run({ ["ok.lua"] = ([[
dissector { name = %q, tcp_ports = { 18080 }, stream = function(s, dir)
  emit(%q, dir) end }]]):format(name, name .. ".x") },
      ([[on(%q, function(dir) print("got " .. dir) end)]]):format(name .. ".x"), HTTP)
    assert.are.equal(0, r.code, r.err)
    assert.are.equal(4, count(r.out, "got client\n"))
    assert.are.equal(4, count(r.out, "got server\n"))
  end)

  it("needs a stream or a datagram function, each with what it serves", function()
    has(load_error([[dissector { name = "x", tcp_ports = { 80 } }]]),
      "dissector 'x' needs a stream function (TCP) or a datagram function (UDP)")
    has(load_error([[dissector { name = "x", tcp_ports = { 80 }, udp_ports = { 53 }, datagram = function() end }]]),
      "dissector 'x' has tcp_ports or detect but no stream function")
    has(load_error([[dissector { name = "x", detect = function() end, udp_ports = { 53 }, datagram = function() end }]]),
      "dissector 'x' has tcp_ports or detect but no stream function")
    has(load_error([[dissector { name = "x", udp_ports = { 53 }, stream = function() end }]]),
      "dissector 'x' has udp_ports but no datagram function")
    has(load_error([[dissector { name = "x", datagram = function() end }]]),
      "dissector 'x' has a datagram function but no udp_ports")
    has(load_error([[dissector { name = "x", stream = 5 }]]),
      "dissector: field 'stream' must be a function (got number)")
    has(load_error([[dissector { name = "x", stream = function() end, detect = "GET" }]]),
      "dissector: field 'detect' must be a function (got string)")
    has(load_error([[dissector { name = "x", udp_ports = { 53 }, datagram = {} }]]),
      "dissector: field 'datagram' must be a function (got table)")
  end)

  it("rejects bad port values, naming the field and the index", function()
    for _, case in ipairs({
      { "tcp_ports = { 0 }", "dissector: tcp_ports[1] is not a port number (1-65535)" },
      { "tcp_ports = { 80, 65536 }", "dissector: tcp_ports[2] is not a port number (1-65535)" },
      { "tcp_ports = { -1 }", "dissector: tcp_ports[1] is not a port number (1-65535)" },
      { "tcp_ports = { 80.5 }", "dissector: tcp_ports[1] is not a port number (1-65535)" },
      { "tcp_ports = { true }", "dissector: tcp_ports[1] is not a port number (1-65535)" },
      { "tcp_ports = 80", "dissector: field 'tcp_ports' must be a list of port numbers" },
      { "tcp_ports = '80'", "dissector: field 'tcp_ports' must be a list of port numbers" },
    }) do
      has(load_error(("dissector { name = 'x', %s, stream = function() end }"):format(case[1])), case[2])
    end
    has(load_error([[dissector { name = "x", udp_ports = { 53, 70000 }, datagram = function() end }]]),
      "dissector: udp_ports[2] is not a port number (1-65535)")
    has(load_error([[dissector { name = "x", udp_ports = 53, datagram = function() end }]]),
      "dissector: field 'udp_ports' must be a list of port numbers")
  end)

  it("rejects a bad events list", function()
    has(load_error([[dissector { name = "x", stream = function() end, events = "x." }]]),
      "dissector: field 'events' must be a list of event names")
    has(load_error([[dissector { name = "x", stream = function() end, events = { "x.", 5 } }]]),
      "dissector: events[2] must be an event name")
    has(load_error([[dissector { name = "x", stream = function() end, events = { {} } }]]),
      "dissector: events[1] must be an event name")
    has(load_error([[
local e = {}
for i = 1, 33 do e[i] = "x.e" .. i end
dissector { name = "x", stream = function() end, events = e }]]),
      "dissector: too many event names (limit 32)")
  end)

  it("a registration error in a script is a usage error too; a caught one leaves the registry as it was", function()
    local r = run({}, [[dissector { name = "x", tcp_ports = { 0 }, stream = function() end }]], HTTP)
    assert.are.equal(2, r.code)
    has(r.err, "tcp_ports[1] is not a port number")
    r = run({}, [[
dissector { name = "dup", tcp_ports = { 18080 }, stream = function(s, dir) emit("dup.x", "first " .. dir) end }
print(pcall(dissector, { name = "dup", tcp_ports = { 9 }, stream = function(s, dir) emit("dup.x", "second") end,
  events = { "dup.", 1 } }))
on("dup.x", function(v) print(v) end)]], HTTP)
    assert.are.equal(0, r.code, r.err)
    has(r.out, "false\t")
    has(r.out, "events[2] must be an event name")
    assert.are.equal(4, count(r.out, "first client\n"))
    hasnt(r.out, "second")
  end)

  it("a later dissector with the same name replaces the earlier, ports and all", function()
    local function d(tag, ports)
      return ([[dissector { name = "dup", tcp_ports = { %s }, stream = function(s, dir)
  emit("dup.x", %q .. " " .. s.session.id .. " " .. dir) end }]]):format(ports, tag)
    end
    local show = [[on("dup.x", function(v) print(v) end)
on("done", function(st) print("sessions " .. st.dissector_sessions) end)]]
    -- alphabetical within a directory: b.lua comes after a.lua
    local r = run({ ["a.lua"] = d("A", "18080"), ["b.lua"] = d("B", "18080") }, show, HTTP)
    assert.are.equal(0, r.code, r.err)
    assert.are.equal(8, count(r.out, "B "))
    hasnt(r.out, "A ")
    has(r.out, "B 3 server\n")
    -- the replacement's ports replace the earlier ones
    r = run({ ["a.lua"] = d("A", "18080"), ["b.lua"] = d("B", "9") }, show, HTTP)
    assert.are.equal(0, r.code, r.err)
    hasnt(r.out, "A ")
    hasnt(r.out, "B ")
    has(r.out, "sessions 0\n")
    -- a script's registration comes after every -L directory
    r = run({ ["a.lua"] = d("A", "18080") }, d("S", "18080") .. "\n" .. show, HTTP)
    assert.are.equal(8, count(r.out, "S "))
    hasnt(r.out, "A ")
  end)

  it("an -L dissector named http replaces the bundled dissectors/http.lua", function()
    local show = [[on("http.request", function(req, ses) print("request " .. type(req) .. " " .. tostring(ses and ses.id)) end)]]
    -- the bundled one emits a table per request
    local r = run({}, show, HTTP)
    assert.are.equal(0, r.code, r.err)
    assert.are.equal(4, count(r.out, "request table "))
    r = run({ ["myhttp.lua"] = [[
dissector { name = "http", tcp_ports = { 18080 }, stream = function(s, dir)
  if dir == "client" then emit("http.request", s:line(100), s.session) end
end }]] }, show, HTTP)
    assert.are.equal(0, r.code, r.err)
    hasnt(r.out, "request table")
    assert.are.equal(4, count(r.out, "request string "))
    has(r.out, "request string 0\n")
    has(r.out, "request string 3\n")
  end)
end)

describe("dissector activation", function()
  local NOISY = [[
dissector { name = "noisy", tcp_ports = { 18080 },
  detect = function(buf, dir) print("detect ran") return true end,
  stream = function(s, dir) print("stream ran " .. dir) emit("noisy.line", s:line(100)) end }
dissector { name = "sniff", events = { "sniffed." },
  detect = function(buf, dir) print("sniff detect ran") return false end,
  stream = function(s, dir) print("sniff stream ran") end }
]]

  it("a dissector whose events nobody handles is never run", function()
    local r = run({ ["noisy.lua"] = NOISY }, [[
on("noisy", function() end)          -- not an event under "noisy."
on("noisyx.line", function() end)
on("dissector.error", function() end)
on("done", function(st) print("sessions " .. st.dissector_sessions) end)]], HTTP)
    assert.are.equal(0, r.code, r.err)
    hasnt(r.out, "ran")
    has(r.out, "sessions 0\n")
  end)

  it("runs once a script handles an event under its default prefix name..'.'", function()
    local r = run({ ["noisy.lua"] = NOISY }, [[
on("noisy.line", function(l) print("line " .. l) end)
on("done", function(st) print("sessions " .. st.dissector_sessions) end)]], HTTP)
    assert.are.equal(0, r.code, r.err)
    assert.are.equal(4, count(r.out, "stream ran client\n"))
    assert.are.equal(4, count(r.out, "stream ran server\n"))
    assert.are.equal(4, count(r.out, "line HTTP/1.0 "))
    has(r.out, "sessions 4\n")
    hasnt(r.out, "detect ran") -- the port claimed every session
    -- "sniff" lists its own events: handling "sniff.x" does not wake it
    r = run({ ["noisy.lua"] = NOISY }, [[on("sniff.x", function() end)]], HTTP)
    hasnt(r.out, "ran")
    r = run({ ["noisy.lua"] = NOISY }, [[on("sniffed.x", function() end)]], HTTP)
    assert.are.equal(8, count(r.out, "sniff detect ran\n"))
    hasnt(r.out, "sniff stream ran")
  end)

  it("a handler added later (in \"start\") activates it; removing it with off() deactivates it", function()
    local r = run({ ["noisy.lua"] = NOISY }, [[
local hd
on("start", function() hd = on("noisy.line", function(l) print("line " .. l) end) end)
on("tcp.end", function(s) if s.id == 1 then print("off", off(hd)) end end)
on("done", function(st) print("sessions " .. st.dissector_sessions) end)]], HTTP)
    assert.are.equal(0, r.code, r.err)
    has(r.out, "off\ttrue\n")
    assert.are.equal(2, count(r.out, "line HTTP/1.0 "))
    has(r.out, "sessions 2\n")
  end)
end)

describe("dissector selection: ports and detect", function()
  local SHOW_D = [[on("d.x", function(...) print(table.concat({ ... }, "|")) end)
on("done", function(st) print("sessions " .. st.dissector_sessions) end)]]

  it("detect sees a side's first bytes and its direction; false leaves the session alone", function()
    local r = run({ ["d.lua"] = [[
dissector { name = "d",
  detect = function(buf, dir) print("detect|" .. dir .. "|" .. #buf .. "|" .. buf:bytes(0, 5)) return false end,
  stream = function(s, dir) print("stream ran") end }]] }, SHOW_D, HTTP)
    assert.are.equal(0, r.code, r.err)
    hasnt(r.out, "stream ran")
    has(r.out, "sessions 0\n")
    -- once per side per session, the client's first, with the whole first payload
    local want = {
      "detect|client|89|GET /", "detect|server|185|HTTP/",
      "detect|client|86|GET /", "detect|server|189|HTTP/",
      "detect|client|86|GET /", "detect|server|185|HTTP/",
      "detect|client|85|GET /", "detect|server|185|HTTP/",
    }
    local got = {}
    for _, l in ipairs(h.lines(r.out)) do if l:match("^detect") then got[#got + 1] = l end end
    assert.are.same(want, got)
  end)

  it("detect true takes the session from that side on; \"swap\" turns the sides round", function()
    local r = run({ ["d.lua"] = [[
dissector { name = "d",
  detect = function(buf, dir) return buf:bytes(0, 5) == "HTTP/" end,
  stream = function(s, dir) emit("d.x", s.session.id, dir, tostring(s.resync), s:line(100)) end }]] }, SHOW_D, HTTP)
    assert.are.equal(0, r.code, r.err)
    has(r.out, "sessions 4\n")
    has(r.out, "0|server|false|HTTP/1.0 200 OK\n")
    has(r.out, "2|server|false|HTTP/1.0 404 File not found\n")
    hasnt(r.out, "|client|") -- the client sent nothing after its first bytes
    r = run({ ["d.lua"] = [[
dissector { name = "d",
  detect = function(buf, dir) return buf:bytes(0, 4) == "GET " and "swap" end,
  stream = function(s, dir) emit("d.x", s.session.id, dir, s:line(100)) end }]] }, SHOW_D, HTTP)
    assert.are.equal(0, r.code, r.err)
    has(r.out, "1|server|GET /big.txt HTTP/1.1\n")
    has(r.out, "1|client|HTTP/1.0 200 OK\n")
    hasnt(r.out, "|client|GET")
  end)

  it("a port claims a session before any detect runs", function()
    local r = run({ ["d.lua"] = [[
dissector { name = "d", detect = function(buf, dir) print("detect ran") return true end,
  stream = function(s, dir) emit("d.x", "detected", dir) end }
dissector { name = "p", events = { "d." }, tcp_ports = { 18080 },
  stream = function(s, dir) emit("d.x", "port", dir) end }]] }, SHOW_D, HTTP)
    assert.are.equal(0, r.code, r.err)
    hasnt(r.out, "detect ran")
    hasnt(r.out, "detected")
    assert.are.equal(8, count(r.out, "port|"))
  end)

  it("a port shared with a dissector nobody wants still goes to the wanted one", function()
    -- "bb" (loaded after "aa") also lists port 18080, but no script
    -- handles "bb.*": the sessions on 18080 are still aa's
    local function d(name)
      return ([[dissector { name = %q, tcp_ports = { 18080 }, stream = function(s, dir)
  print(%q .. " ran " .. dir) emit(%q, dir) end }]]):format(name, name, name .. ".x")
    end
    local r = run({ ["a.lua"] = d("aa"), ["b.lua"] = d("bb") },
      [[on("aa.x", function() end) on("done", function(st) print("sessions " .. st.dissector_sessions) end)]], HTTP)
    assert.are.equal(0, r.code, r.err)
    hasnt(r.out, "bb ran")
    assert.are.equal(4, count(r.out, "aa ran client\n"))
    has(r.out, "sessions 4\n")
  end)

  it("a port match on the client's side swaps the sides", function()
    -- the generated session runs from port 40001 to 7000: claim 40001
    local pcap = make_pcap({ { { "c", "from client\n" }, { "s", "from server\n" } } })
    local r = run({ ["d.lua"] = [[
dissector { name = "d", tcp_ports = { 40001 },
  stream = function(s, dir) emit("d.x", dir, s.dir, s:line(100)) end }]] }, SHOW_D, pcap)
    assert.are.equal(0, r.code, r.err)
    has(r.out, "server|server|from client\n")
    has(r.out, "client|client|from server\n")
  end)
end)

describe("the stream reader", function()
  it("s:line strips CRLF and LF, returns nil at the end; s.offset, s.dir, s.eof, s.resync", function()
    local r = over({ { "c", "one\r\ntw" }, { "c", "o\n\r\nthree" }, { "c", "\nlast" } }, [[
      if dir == "server" then return end
      out("start", s.dir, s.offset, s.resync, s.eof)
      while true do
        local l = s:line(100)
        if l == nil then break end
        out("line", "[" .. l .. "]", s.offset)
      end
      out("end", s.offset, s.eof, s:line(100))]])
    assert.are.equal(0, r.code, r.err)
    local want = table.concat({
      "start|client|0|false|false",
      "line|[one]|5", "line|[two]|9", "line|[]|11", "line|[three]|17",
      "end|17|false|nil", -- "last" has no newline: line() gives nil and leaves it unread
    }, "\n") .. "\n"
    has(r.out, want)
  end)

  it("s:line raises a limit error naming 'line' when no newline comes within max", function()
    local r = over({ { "c", "abcdefgh\nok\nlonger\n" } }, [[
      if dir == "server" then return end
      local ok, err = pcall(s.line, s, 4)
      out("caught", ok, err, s.offset)
      local lim = s.limit_hit
      out("s.limit", type(lim), type(lim) == "string" and lim or "")
      s:skip_line()
      out("exact", s:line(2)) -- 2 bytes and the \n: within the limit
      s:line(1)               -- not caught: stops the dissector for this session]])
    assert.are.equal(1, r.code, r.err)
    has(r.out, "caught|false|line: no end of line within 4 bytes|0\n")
    has(r.out, "exact|ok\n")
    assert.is_truthy(r.out:find("error|t|client|line|[^|\n]*line: no end of line within 1 bytes|0\n"), r.out)
    local st = stats_of(r.out)
    assert.are.equal(1, st.limits)
    assert.are.equal(0, st.errors)
    has(r.out, "s.limit|string|line\n")
  end)

  it("s:line with a CRLF line of exactly max bytes; longer is a limit", function()
    local r = over({ { "c", "abcd\r\nabcde\r\n" } }, [[
      if dir == "server" then return end
      out("a", s:line(4))
      out("b", pcall(s.line, s, 4))]])
    has(r.out, "a|abcd\n")
    has(r.out, "b|false|line: ")
  end)

  it("s:read(n) gives exactly n bytes, across segments, and nil when the stream ends first", function()
    local r = over({ { "c", "0123" }, { "c", "4567" }, { "c", "89" } }, [[
      if dir == "server" then return end
      out("r", s:read(3), s.offset)
      out("r", s:read(6), s.offset)
      out("r", s:read(0), s.offset)
      out("r", s:read(5), s.offset)
      out("r", s:read(1), s.eof)]])
    assert.are.equal(0, r.code, r.err)
    has(r.out, "r|012|3\nr|345678|9\nr||9\nr|nil|9\nr|9|true\n")
  end)

  it("s:read_until finds a delimiter split across segments; limit error past max", function()
    local r = over({ { "c", "key: va" }, { "c", "lue\r" }, { "c", "\n\r\nrest" }, { "c", "XXXXXXXXXX;" } }, [[
      if dir == "server" then return end
      out("u", s:read_until("\r\n", 100), s.offset)
      out("u", s:read_until("\r\n", 0), s.offset)
      out("u", pcall(s.read_until, s, ";", 5))
      out("u", s:read_until("XX;", 100), s.offset)
      out("u", s:read_until(";", 100))]])
    assert.are.equal(0, r.code, r.err)
    has(r.out, "u|key: value|12\nu||14\n")
    has(r.out, "u|false|read_until: delimiter not found within 5 bytes\n")
    has(r.out, "u|restXXXXXXXX|29\nu|nil\n")
  end)

  it("a read after a caught limit finds what the failed read had already scanned", function()
    -- line(3) waits on "ab", then fails on "abcdefgh"; the 'b' at offset 1
    -- must still be found by the next read
    local r = over({ { "c", "ab" }, { "c", "cdefgh\nXbY\n" } }, [[
      if dir == "server" then return end
      out("line", pcall(s.line, s, 3))
      out("until", s:read_until("b", 20))]])
    assert.are.equal(0, r.code, r.err)
    has(r.out, "line|false|line: no end of line within 3 bytes\n")
    has(r.out, "until|a\n")
  end)

  it("s:peek(n) waits for n bytes without consuming them", function()
    local r = over({ { "c", "hel" }, { "c", "lo\nwor" }, { "c", "ld" } }, [[
      if dir == "server" then return end
      out("p", s:peek(5), s.offset)
      out("p", s:peek(2), s.offset)
      out("l", s:line(10), s.offset)
      out("p", s:peek(100), s.offset) -- the stream ends first: what is left
      out("r", s:read(5), s.offset)
      out("p", s:peek(1), s.eof)]])
    assert.are.equal(0, r.code, r.err)
    has(r.out, "p|hello|0\np|he|0\nl|hello|6\np|world|6\nr|world|11\np|nil|true\n")
  end)

  it("s:chunk(max) gives what is there now, never more than max", function()
    local r = over({ { "c", "abcdefg" }, { "c", "hij" } }, [[
      if dir == "server" then return end
      out("c", s:chunk(5)); out("c", s:chunk(5)); out("c", s:chunk(5)); out("c", s:chunk(5))]])
    assert.are.equal(0, r.code, r.err)
    has(r.out, "c|abcde\nc|fg\nc|hij\nc|nil\n")
    -- over the 20,000-byte body of /big.txt
    r = run({ ["t.lua"] = t_dissector([[
      if dir == "client" or s.session.id ~= 1 then return end
      repeat local l = s:line(1000) until l == ""
      local n, total, biggest = 0, 0, 0
      while true do
        local c = s:chunk(1000)
        if not c then break end
        n, total, biggest = n + 1, total + #c, math.max(biggest, #c)
      end
      out("chunks", n, total, biggest, s.offset)]]) }, SHOW, HTTP)
    has(r.out, "chunks|20|20000|1000|20189\n")
  end)

  it("s:skip(n) returns the count, s:skip() skips to the end and returns the total", function()
    local r = over({ { "c", "0123456789" }, { "c", "abcdefghij" }, { "c", "KLM" } }, [[
      if dir == "server" then return end
      out("s", s:skip(3), s.offset, s:read(2))
      out("s", s:skip(12), s.offset, s:read(1))
      out("s", s:skip(), s.offset, s.eof)
      out("s", s:skip(5), s:skip())]])
    assert.are.equal(0, r.code, r.err)
    has(r.out, "s|3|3|34\ns|12|17|h\ns|5|23|true\ns|0|0\n")
    -- skip(n) past the end: fewer
    r = over({ { "c", "0123456789" } }, [[
      if dir == "server" then return end
      out("s", s:skip(4), s:skip(100), s.offset)]])
    has(r.out, "s|4|6|10\n")
    -- the bodies of the HTTP sample, skipped after the head
    r = run({ ["t.lua"] = t_dissector([[
      if dir == "client" then return end
      repeat local l = s:line(1000) until l == ""
      out("body", s.session.id, s:skip(), s.offset)]]) }, SHOW, HTTP)
    has(r.out, "body|0|19|204\n")
    has(r.out, "body|1|20000|20189\n")
    has(r.out, "body|2|335|520\n")
    has(r.out, "body|3|19|204\n")
  end)

  it("s:skip_line() skips through the newline, however long; nil at the end", function()
    local r = over({ { "c", string.rep("x", 3000) }, { "c", string.rep("y", 3000) .. "\nnext\ntail" } }, [[
      if dir == "server" then return end
      out("k", s:skip_line(), s.offset)
      out("k", s:line(10))
      out("k", s:skip_line(), s.offset, s.eof)]])
    assert.are.equal(0, r.code, r.err)
    has(r.out, "k|6001|6001\nk|next\nk|nil|" .. (6001 + 5 + 4) .. "|true\n")
  end)

  it("s:ts() is the capture time of the next unread byte", function()
    -- packets: SYN 1.001, SYN-ACK 1.002, ACK 1.003, then 1.004, 1.005, ...
    local r = over({ { "c", "a\nb" }, { "c", "c\nd" }, { "c", "e\n" } }, [[
      if dir == "server" then return end
      local function ts() return ("%.3f"):format(s:ts()) end
      out("t", s:line(10), ts())
      out("t", s:line(10), ts())
      out("t", s:line(10), ts())]])
    assert.are.equal(0, r.code, r.err)
    has(r.out, "t|a|1.004\nt|bc|1.005\nt|de|1.006\n")
  end)

  it("s:ts() of bytes kept from a middle segment", function()
    local r = over({ { "c", "x" }, { "c", "y" }, { "c", "z" } }, [[
      if dir == "server" then return end
      local function ts() return ("%.3f"):format(s:ts()) end
      s:peek(3)
      out("t", s:read(1), ts())
      out("t", s:read(1), ts())]])
    assert.are.equal(0, r.code, r.err)
    has(r.out, "t|x|1.005\nt|y|1.006\n")
  end)

  it("s:ts() on the HTTP sample lies between the first and the last packet", function()
    local r = run({ ["t.lua"] = t_dissector([[
      while true do
        local ts = s:ts()
        local l = s:line(100000)
        if not l then break end
        out("ts", ("%.6f"):format(ts))
      end]]) }, SHOW .. [[
local lo, hi = math.huge, -math.huge
on("packet", function(p) lo = math.min(lo, p.ts); hi = math.max(hi, p.ts) end)
on("done", function() print(("range|%.6f|%.6f"):format(lo, hi)) end)]], HTTP)
    assert.are.equal(0, r.code, r.err)
    local range = records(r.out, "range|")[1]
    local lo, hi = tonumber(range[2]), tonumber(range[3])
    local ts = records(r.out, "ts|")
    assert.is_true(#ts > 40)
    for _, t in ipairs(ts) do
      local v = tonumber(t[2])
      assert.is_true(v >= lo and v <= hi, ("%s outside %s..%s"):format(t[2], range[2], range[3]))
    end
  end)

  it("s.session is the session; reads outside the dissector's coroutine raise", function()
    local r = run({ ["t.lua"] = t_dissector([[
      if dir == "server" then return end
      out("session", s.session.id, s.session.proto, s.session.server_port, tostring(s))
      local ok, err = pcall(function()
        return coroutine.wrap(function() return s:line(100) end)()
      end)
      out("nested", ok, err)
      emit("t.stream", s)
      out("still", s:line(100))]]) }, SHOW .. [[
local kept = {}
on("t.stream", function(s) kept[#kept + 1] = s end)
on("tcp.end", function(ses)
  for _, s in ipairs(kept) do print("outside|" .. tostring(select(2, pcall(s.read, s, 1)))) end
  kept = {}
end)]], HTTP)
    assert.are.equal(0, r.code, r.err)
    has(r.out, "session|0|tcp|18080|stream (client, offset 0)\n")
    has(r.out, "session|3|tcp|18080|")
    assert.are.equal(4, count(r.out,
      "line: the stream can be read only by its dissector's own coroutine\n"))
    assert.are.equal(4, count(r.out, "nested|false|"))
    assert.are.equal(4, count(r.out,
      "outside|read: the stream can be read only by its dissector's own coroutine\n"))
    has(r.out, "still|GET /index.html HTTP/1.1\n")
    has(r.out, "still|GET /missing HTTP/1.1\n")
  end)

  it("s.resync is true on both sides of a session picked up mid-stream", function()
    local r = over({ midstream = true, { "c", "GET x\n" }, { "s", "OK\n" }, { "c", "two\n" } }, [[
      out("start", dir, s.resync, s.session.midstream, s:line(100), s:line(100))]])
    assert.are.equal(0, r.code, r.err)
    has(r.out, "start|client|true|true|GET x|two\n")
    has(r.out, "start|server|true|true|OK|nil\n")
  end)

  it("reads check their arguments", function()
    local r = over({ { "c", "abc\n" } }, [[
      if dir == "server" then return end
      local function try(f, ...) out("try", select(2, pcall(f, s, ...))) end
      try(s.read, 16 * 1024 * 1024 + 1)
      try(s.line, -1)
      try(s.chunk, 0)
      try(s.read_until, "", 10)
      try(s.skip, -2)
      out("left", s:line(10))]])
    assert.are.equal(0, r.code, r.err)
    has(r.out, "try|read: maximum 16777217 is outside 0..16777216\n")
    has(r.out, "try|line: maximum -1 is outside 0..16777216\n")
    has(r.out, "try|chunk: maximum must be at least 1\n")
    has(r.out, "try|read_until: empty delimiter\n")
    has(r.out, "try|skip: negative length -2\n")
    has(r.out, "left|abc\n")
  end)

  it("a stream function that yields by itself is stopped with a message", function()
    local r = run({ ["t.lua"] = t_dissector([[
      if dir == "server" then return end
      out("before", s.session.id)
      coroutine.yield()
      out("after", s.session.id)]]) }, SHOW, HTTP)
    assert.are.equal(4, count(r.out, "before|"))
    hasnt(r.out, "after|")
    assert.are.equal(1, count(r.err, "error in dissector t (stream): the stream function yielded outside a stream read"))
    assert.are.equal(4, #records(r.out, "error|t|client|nil|the stream function yielded outside a stream read|"))
    assert.are.equal(4, stats_of(r.out).errors)
    assert.are.equal(1, r.code)
  end)
end)

describe("dissector errors", function()
  it("are reported once, fire dissector.error per session, and leave the rest running", function()
    local r = run({ ["t.lua"] = t_dissector([[
      local l = s:line(1000)
      if dir == "server" then error("boom in session " .. s.session.id) end
      out("client", s.session.id, l)]]) }, SHOW .. [[on("tcp.end", function(s) print("end|" .. s.id) end)]], HTTP)
    assert.are.equal(1, r.code)
    assert.are.equal(1, count(r.err, "lunatap: "))
    has(r.err, "error in dissector t (stream): ")
    has(r.err, "boom in session 0")
    for id = 0, 3 do
      assert.is_truthy(r.out:find(("error|t|server|nil|[^|\n]*boom in session %d|%d\n"):format(id, id)), r.out)
      has(r.out, "end|" .. id .. "\n")
    end
    has(r.out, "client|1|GET /big.txt HTTP/1.1\n")
    has(r.out, "client|3|GET /index.html HTTP/1.1\n")
    local st = stats_of(r.out)
    assert.are.equal(4, st.errors)
    assert.are.equal(0, st.limits)
    assert.are.equal(4, st.lua_errors)
    assert.are.equal(48, st.packets)
  end)

  it("an error in one session leaves the other sessions' dissection alone", function()
    local r = run({ ["t.lua"] = t_dissector([[
      if s.session.id == 1 and dir == "client" then error("only session 1") end
      out("line", s.session.id, dir, s:line(1000))]]) }, SHOW, HTTP)
    assert.are.equal(1, r.code)
    for _, id in ipairs({ 0, 2, 3 }) do
      has(r.out, ("line|%d|client|GET "):format(id))
      has(r.out, ("line|%d|server|HTTP/1.0 "):format(id))
    end
    -- the dissector stops for both directions of session 1
    hasnt(r.out, "line|1|")
    assert.are.equal(1, #records(r.out, "error|t|client|nil|"))
    assert.are.equal(1, stats_of(r.out).errors)
  end)

  it("s:limit raises a named limit: dissector.error has info.limit", function()
    local r = over({ { "c", "hello\n" } }, [[
      if dir == "server" then return end
      s:limit("frame_size", 4096)]])
    assert.is_truthy(r.out:find("error|t|client|frame_size|[^|\n]*frame_size: limit of 4096 reached|0\n"), r.out)
    local st = stats_of(r.out)
    assert.are.equal(1, st.limits)
    assert.are.equal(0, st.errors)
  end)

  it("the instruction budget stops an endless stream function and the run ends", function()
    local r = run({ ["t.lua"] = t_dissector([[
      local l = s:line(1000)
      if dir == "server" and s.session.id == 1 then while true do end end
      out("line", s.session.id, dir)]]) }, SHOW, HTTP, { "--lua-budget", "100k" })
    assert.are.equal(1, r.code)
    has(r.err, "error in dissector t (stream): instruction budget exceeded (limit 100000 instructions")
    has(r.out, "error|t|server|nil|instruction budget exceeded")
    has(r.out, "line|1|client\n")
    hasnt(r.out, "line|1|server")
    has(r.out, "line|3|server\n")
    has(r.out, "stats|")
    assert.are.equal(1, stats_of(r.out).errors)
  end)

  it("a failing detect is reported once and takes no session", function()
    local r = run({ ["d.lua"] = [[
dissector { name = "t", detect = function(buf, dir) error("detect fails") end,
  stream = function(s, dir) emit("t.out", "stream ran") end }]] }, SHOW, HTTP)
    assert.are.equal(1, r.code)
    assert.are.equal(1, count(r.err, "lunatap: "))
    has(r.err, "error in dissector t (detect): ")
    has(r.err, "detect fails")
    hasnt(r.out, "stream ran")
    local st = stats_of(r.out)
    assert.are.equal(0, st.sessions)
    assert.are.equal(8, st.lua_errors) -- each side of each session asked once
    has(r.out, "error|t|client|nil|")
  end)

  it("a failing datagram function stops for that session and fires dissector.error", function()
    local r = run({ ["u.lua"] = [[
dissector { name = "u", events = { "t.out" }, udp_ports = { 18081 },
  datagram = function(buf, ses, dir)
    emit("t.out", "dgram " .. buf:bytes())
    if buf:bytes() == "PING 0" then error("bad datagram") end
  end }]] }, SHOW, UDP)
    assert.are.equal(1, r.code)
    has(r.out, "dgram ping 0\ndgram PING 0\nerror|u|server|nil|")
    hasnt(r.out, "dgram ping 1")
    assert.are.equal(1, count(r.err, "error in dissector u (datagram): "))
    has(r.err, "bad datagram")
    assert.are.equal(1, stats_of(r.out).errors)
  end)
end)

describe("dissector state and UDP", function()
  it("state is one table per session, shared by both directions", function()
    local r = run({ ["t.lua"] = t_dissector([[
      local l = s:line(1000)
      if dir == "client" then state.request = l end
      out("state", s.session.id, dir, tostring(state), tostring(state.request))]]) }, SHOW, HTTP)
    assert.are.equal(0, r.code, r.err)
    local by_session = {}
    for _, f in ipairs(records(r.out, "state|")) do
      by_session[f[2]] = by_session[f[2]] or {}
      by_session[f[2]][f[3]] = { tbl = f[4], request = f[5] }
    end
    local seen = {}
    for id = 0, 3 do
      local s = by_session[tostring(id)]
      assert.is_truthy(s and s.client and s.server, r.out)
      assert.are.equal(s.client.tbl, s.server.tbl)
      assert.is_nil(seen[s.client.tbl])
      seen[s.client.tbl] = true
      assert.are.equal(s.client.request, s.server.request) -- the server saw what the client stored
    end
    assert.are.equal("GET /big.txt HTTP/1.1", by_session["1"].server.request)
  end)

  it("a datagram dissector receives (buf, session, dir) for each datagram on its port", function()
    local r = run({ ["u.lua"] = [[
dissector { name = "u", events = { "t.out" }, udp_ports = { 18081 },
  datagram = function(buf, ses, dir)
    emit("t.out", table.concat({ "dgram", tostring(buf), buf:bytes(), ses.proto, ses.id, ses.server_port, dir }, "|"))
  end }]] }, SHOW, UDP)
    assert.are.equal(0, r.code, r.err)
    has(r.out, table.concat({
      "dgram|buffer (6 bytes)|ping 0|udp|0|18081|client",
      "dgram|buffer (6 bytes)|PING 0|udp|0|18081|server",
      "dgram|buffer (6 bytes)|ping 1|udp|0|18081|client",
      "dgram|buffer (6 bytes)|PING 1|udp|0|18081|server",
      "dgram|buffer (6 bytes)|ping 2|udp|0|18081|client",
      "dgram|buffer (6 bytes)|PING 2|udp|0|18081|server",
    }, "\n") .. "\n")
    assert.are.equal(1, stats_of(r.out).sessions)
  end)
end)

describe("gaps", function()
  it("fire dissector.gap with info.missing and restart the stream with s.resync", function()
    local r = over({
      { "c", "one\ntw" }, { "s", "ok\n" }, { "c", "XYZ", drop = true }, { "c", "three\nfour\n" },
    }, [[
      out("start", dir, s.resync, s.offset)
      while true do
        local l = s:line(100)
        if not l then break end
        out("line", dir, l)
      end
      out("end", dir)]])
    assert.are.equal(0, r.code, r.err)
    has(r.out, table.concat({
      "start|client|false|0", "line|client|one",
      "start|server|false|0", "line|server|ok",
    }, "\n"))
    has(r.out, "gap|t|client|3|3 bytes missing: resynchronising|0\n")
    has(r.out, "start|client|true|")
    has(r.out, "line|client|three\nline|client|four\nend|client\n")
    hasnt(r.out, "line|client|tw")
    local st = stats_of(r.out)
    assert.are.equal(1, st.gaps)
    assert.are.equal(0, st.errors)
  end)

  it("a gap inside an s:skip(n) is skipped: no dissector.gap, and the skip returns n", function()
    local r = over({
      { "c", "LEN 10\n0123" }, { "c", "456", drop = true }, { "c", "789next\n" },
    }, [[
      if dir == "server" then return end
      out("start", s.resync)
      out("head", s:line(100))
      out("skip", s:skip(10), s.offset)
      out("line", s:line(100))]])
    assert.are.equal(0, r.code, r.err)
    has(r.out, "tcp.gap|client|3\n") -- there was a hole
    hasnt(r.out, "gap|t|")
    has(r.out, "start|false\nhead|LEN 10\n")
    has(r.out, "skip|10|17\nline|next\n")
    assert.are.equal(0, stats_of(r.out).gaps)
    -- and in s:skip() to the end
    r = over({ { "c", "abc" }, { "c", "defg", drop = true }, { "c", "hi" } }, [[
      if dir == "server" then return end
      out("skip", s:read(1), s:skip())]])
    has(r.out, "tcp.gap|client|4\n")
    hasnt(r.out, "gap|t|")
    has(r.out, "skip|a|8\n")
  end)

  it("a gap reaching past the end of a skip restarts the stream", function()
    local r = over({
      { "c", "LEN 5\n01" }, { "c", "23456", drop = true }, { "c", "more\n" },
    }, [[
      if dir == "server" then return end
      out("start", s.resync)
      out("head", s:line(100))
      out("skip", s:skip(5))
      out("after", s:line(100))]])
    assert.are.equal(0, r.code, r.err)
    has(r.out, "gap|t|client|5|5 bytes missing: resynchronising|0\n")
    hasnt(r.out, "skip|5")
    -- the stream function starts again from the top, after the hole
    has(r.out, "start|true\nhead|more\n")
    assert.are.equal(1, stats_of(r.out).gaps)
  end)

  it("a segment dropped from the HTTP sample (editcap) makes a gap in that session only", function()
    if (h.capture("command -v editcap") or "") == "" then
      pending("editcap (wireshark-common) is not installed")
    end
    -- frame 4 is session 0's 89-byte request
    local base = os.tmpname()
    local cut = base .. ".pcap"
    made[#made + 1] = base
    made[#made + 1] = cut
    sh(("editcap %s %s 4 >/dev/null"):format(h.quote(HTTP), h.quote(cut)))
    local r = run({ ["t.lua"] = t_dissector([[
      out("start", s.session.id, dir, s.resync)
      out("line", s.session.id, dir, s:line(1000))]]) }, SHOW, cut)
    assert.are.equal(0, r.code, r.err)
    has(r.out, "tcp.gap|client|89\n")
    -- session 0's client never sent anything else: no restart, the gap is given
    -- up before its reader ever started
    hasnt(r.out, "line|0|client")
    has(r.out, "line|0|server|HTTP/1.0 200 OK\n")
    has(r.out, "line|1|client|GET /big.txt HTTP/1.1\n")
  end)

  it("a datagram comes with its capture time, which session.last already shows", function()
    local r = run({ ["u.lua"] = [[
dissector { name = "u", udp_ports = { 18081 }, events = { "u." },
  datagram = function(buf, session, dir, ts)
    emit("u.dgram", ("%.6f|%.6f|%s|%d"):format(ts, session.last, dir, #buf))
  end }]] }, [[
on("packet", function(pkt) print(("packet|%.6f"):format(pkt.ts)) end)
on("u.dgram", function(line) print("dgram|" .. line) end)]], UDP)
    assert.are.equal(0, r.code, r.err)
    has(r.out, "packet|1795324379.945279\ndgram|1795324379.945279|1795324379.945279|client|6\n" ..
               "packet|1795324379.945366\ndgram|1795324379.945366|1795324379.945366|server|6\n")
  end)
end)
