-- lunatap.repl, the Lua half of `lunatap repl`: format(v, opts), summary(pkt),
-- complete(env, before, pos) and help(v, env), run by scripts over captures
-- (the module is a plain module: scripts require it as the REPL does).
-- Summaries are checked field by field against tcpdump -nn -tt -S.

local h = require("helper")

local HTTP = h.samples .. "/http-features.pcap"
local UDP = h.samples .. "/udp-echo.pcap"
local LOOP = h.samples .. "/http-loopback.pcap"

local PRELUDE = [[
local R = require("lunatap.repl")
local I = require("lunatap.introspect")
local function list(t) return table.concat(t, ",") end
]]

-- Runs `body` over `pcap`; requires a clean run; the output's lines.
local function run(body, pcap, before)
  local r = h.script(PRELUDE .. body, pcap or UDP, before)
  assert.are.equal("", r.err)
  assert.are.equal(0, r.code)
  return h.lines(r.out)
end

local function have(cmd)
  return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true
end

local function clock(sec, usec)
  return os.date("%H:%M:%S", sec) .. (".%06d"):format(usec)
end

---------------------------------------------------------------------------
-- a capture of packets the samples lack: IPv6 TCP, ICMP echo, ARP, a non-IP
-- ethertype, a later IP fragment, a UDP datagram and a truncated TCP header

local function mac(s) return (s:gsub("(%x%x):?", function(x) return string.char(tonumber(x, 16)) end)) end
local function ip4(s)
  local a, b, c, d = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  return string.char(tonumber(a), tonumber(b), tonumber(c), tonumber(d))
end
local V6A = "\32\1\13\184" .. ("\0"):rep(11) .. "\1" -- 2001:db8::1
local V6B = "\32\1\13\184" .. ("\0"):rep(11) .. "\2" -- 2001:db8::2
local M1, M2 = mac("02:00:00:00:00:01"), mac("02:00:00:00:00:02")

local function eth(etype, payload) return M2 .. M1 .. string.pack(">I2", etype) .. payload end
local function ipv4(proto, payload, opts)
  opts = opts or {}
  return string.pack(">BBI2I2I2BBI2", 0x45, 0, 20 + #payload, opts.id or 1, opts.frag or 0x4000, 64, proto, 0)
    .. ip4(opts.src or "10.0.0.1") .. ip4(opts.dst or "10.0.0.2") .. payload
end
local function ipv6(nh, payload)
  return string.pack(">I4I2BB", 0x60000000, #payload, nh, 64) .. V6A .. V6B .. payload
end
local function tcp(sport, dport, seq, ack, flags, win, data)
  return string.pack(">I2I2I4I4BBI2I2I2", sport, dport, seq, ack, 5 << 4, flags, win, 0, 0) .. (data or "")
end

local FRAMES = {
  eth(0x86dd, ipv6(6, tcp(443, 51000, 1000, 2001, 0x12, 28800))),         -- SYN-ACK
  eth(0x0800, ipv4(1, string.pack(">BBI2I2I2", 8, 0, 0, 7, 3) .. ("x"):rep(56))), -- echo request
  eth(0x0806, string.pack(">I2I2BBI2", 1, 0x0800, 6, 4, 1) .. M1 .. ip4("10.0.0.1")
      .. ("\0"):rep(6) .. ip4("10.0.0.2")),                                 -- who-has
  eth(0x0806, string.pack(">I2I2BBI2", 1, 0x0800, 6, 4, 2) .. M2 .. ip4("10.0.0.2")
      .. M1 .. ip4("10.0.0.1")),                                            -- reply
  eth(0x88cc, ("\0"):rep(46)),                                              -- LLDP
  eth(0x0800, ipv4(17, ("y"):rep(24), { id = 77, frag = 0x2000 | 185 })),    -- a later fragment, MF
  eth(0x0800, ipv4(17, string.pack(">I2I2I2I2", 5353, 53, 8 + 5, 0) .. "hello")),
  eth(0x0800, ipv4(6, tcp(40000, 80, 1, 0, 0x02, 1024, "")), nil),          -- cut below
}

local function pcap_of(frames, cut)
  local parts = { string.pack("<I4I2I2i4I4I4I4", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1) }
  for i, f in ipairs(frames) do
    local data = f
    if cut and cut[i] then data = f:sub(1, cut[i]) end
    parts[#parts + 1] = string.pack("<I4I4I4I4", 1700000100 + i, i * 1000, #data, #f) .. data
  end
  return table.concat(parts)
end

local MIXED
setup(function()
  MIXED = h.tmpfile(pcap_of(FRAMES, { [8] = 14 + 20 + 10 }), ".pcap")
end)
teardown(function() os.remove(MIXED) end)

---------------------------------------------------------------------------

local function summaries(pcap, n)
  return run(([[
local n = 0
on("packet", function(pkt)
  n = n + 1
  if n <= %d then print(R.summary(pkt)) end
end)
]]):format(n), pcap)
end

local function tcpdump(pcap, n)
  local out = h.capture(("tcpdump -nn -tt -S -r %s 2>/dev/null | head -%d"):format(h.quote(pcap), n))
  return h.lines(out)
end

-- The fields of a TCP or UDP line of tcpdump -nn -tt -S, in our terms.
local function tcpdump_fields(line)
  local sec, usec, rest = line:match("^(%d+)%.(%d+) (.*)$")
  local f = { time = clock(tonumber(sec), tonumber(usec)) }
  local v, src, sport, dst, dport, what = rest:match("^(IP6?) (%S+)%.(%d+) > (%S+)%.(%d+): (.*)$")
  f.v, f.src, f.sport, f.dst, f.dport = v == "IP6" and "IPv6" or "IPv4", src, sport, dst, dport
  if what:match("^Flags") then
    f.proto = "TCP"
    f.flags = what:match("Flags %[([^%]]*)%]"):gsub("%.", "A")
    f.seq = what:match("seq (%d+)")
    f.ack = what:match("ack (%d+)")
    f.win = what:match("win (%d+)")
    f.len = what:match("length (%d+)")
  else
    f.proto = "UDP"
    f.len = what:match("length (%d+)")
  end
  return f
end

local function our_fields(line)
  local f = {}
  local rest
  f.time, f.v, rest = line:match("^(%d%d:%d%d:%d%d%.%d+) (IPv%d) (.*)$")
  assert(rest, "not a summary: " .. line)
  local src, sport, dst, dport, tail = rest:match("^%[?([^%]]-)%]?:(%d+) > %[?([^%]]-)%]?:(%d+) (.*)$")
  f.src, f.sport, f.dst, f.dport = src, sport, dst, dport
  f.proto = tail:match("^(%u+)")
  f.flags = tail:match("%[(%a+)%]")
  f.seq = tail:match("seq (%d+)")
  f.ack = tail:match("ack (%d+)")
  f.win = tail:match("win (%d+)")
  f.len = tail:match("len (%d+)$")
  return f
end

describe("repl summary", function()
  it("the first packets of each sample read as tcpdump -nn -tt -S reads them, field by field", function()
    if not have("tcpdump") then pending("tcpdump is not installed") return end
    for _, pcap in ipairs({ HTTP, UDP, LOOP }) do
      local ours, theirs = summaries(pcap, 8), tcpdump(pcap, 8)
      assert.is_true(#ours >= 6, pcap)
      assert.are.equal(#theirs, #ours)
      for i = 1, #ours do
        local want, got = tcpdump_fields(theirs[i]), our_fields(ours[i])
        -- tcpdump leaves seq out of a segment without data, SYN or FIN
        if not want.seq then got.seq = nil end
        assert.are.same(want, got, pcap .. " packet " .. i .. ":\n" .. theirs[i] .. "\n" .. ours[i])
      end
    end
  end)

  it("writes the documented line exactly (TCP with and without ack, UDP)", function()
    local t0 = clock(1700000000, 0)
    assert.are.same({
      t0 .. " IPv4 10.0.0.1:40000 > 10.0.0.2:80 TCP [S] seq 1426216961 win 65535 len 0",
      clock(1700000000, 3000) .. " IPv4 10.0.0.2:80 > 10.0.0.1:40000 TCP [SA] seq 457654553 ack 1426216962 win 65535 len 0",
    }, summaries(HTTP, 2))
    local udp = summaries(UDP, 1)[1]
    assert.are.equal(clock(1795324379, 945279) .. " IPv4 127.0.0.1:54319 > 127.0.0.1:18081 UDP len 6", udp)
  end)

  it("IPv6, ICMP, ARP, other ethertypes, fragments and truncated headers each have their line", function()
    local got = summaries(MIXED, #FRAMES)
    local function t(i) return clock(1700000100 + i, i * 1000) .. " " end
    assert.are.same({
      t(1) .. "IPv6 [2001:db8::1]:443 > [2001:db8::2]:51000 TCP [SA] seq 1000 ack 2001 win 28800 len 0",
      t(2) .. "IPv4 10.0.0.1 > 10.0.0.2 ICMP type 8 code 0 id 7 seq 3 len 64",
      t(3) .. "ARP who-has 10.0.0.2 tell 10.0.0.1 len 42",
      t(4) .. "ARP reply 10.0.0.2 is-at 02:00:00:00:00:02 len 42",
      t(5) .. "02:00:00:00:00:01 > 02:00:00:00:00:02 ethertype 0x88cc len 60",
      t(6) .. "IPv4 10.0.0.1 > 10.0.0.2 frag id 77 off 1480 MF proto 17 len 58",
      t(7) .. "IPv4 10.0.0.1:5353 > 10.0.0.2:53 UDP len 5",
      t(8) .. "IPv4 10.0.0.1 > 10.0.0.2 proto 6 len 54 [tcp: truncated header]",
    }, got)
  end)

  it("agrees with tcpdump on the built capture's addresses, ids and lengths", function()
    if not have("tcpdump") then pending("tcpdump is not installed") return end
    local td = tcpdump(MIXED, #FRAMES)
    assert.truthy(td[1]:find("IP6 2001:db8::1.443 > 2001:db8::2.51000: Flags [S.], seq 1000, ack 2001, win 28800, length 0", 1, true), td[1])
    assert.truthy(td[2]:find("IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 7, seq 3, length 64", 1, true), td[2])
    assert.truthy(td[3]:find("ARP, Request who-has 10.0.0.2 tell 10.0.0.1", 1, true), td[3])
    assert.truthy(td[4]:find("ARP, Reply 10.0.0.2 is-at 02:00:00:00:00:02", 1, true), td[4])
    assert.truthy(td[6]:find("IP 10.0.0.1 > 10.0.0.2: ip-proto-17", 1, true), td[6])
    assert.truthy(td[7]:find("IP 10.0.0.1.5353 > 10.0.0.2.53: ", 1, true), td[7])
  end)

  it("never raises: an expired packet, a kept one, and things that are not packets", function()
    local out = run([[
local stash, kept, live
on("packet", function(pkt)
  if not stash then stash, kept, live = pkt, I.keep(pkt), R.summary(pkt) end
end)
on("done", function()
  print(R.summary(stash))
  print(R.summary(kept) == live)
  print(R.summary("x"), R.summary(nil), R.summary(kept.ip))
end)
]], HTTP)
    assert.are.same({ "<expired packet>", "true", "not a packet: x\tnot a packet: nil\tnot a packet: ip (kept)" }, out)
  end)
end)

---------------------------------------------------------------------------

describe("repl format", function()
  local function fmt(expr, opts)
    local out = run(("print(R.format(%s%s))"):format(expr, opts and (", " .. opts) or ""))
    return table.concat(out, "\n")
  end

  it("shows numbers, strings, nil and booleans as Lua would write them", function()
    assert.are.equal("2", fmt("1 + 1"))
    assert.are.equal("2.5", fmt("2.5"))
    assert.are.equal("1024.0", fmt("2^10"))
    assert.are.equal("nil", fmt("nil"))
    assert.are.equal("false", fmt("false"))
    assert.are.equal('"a\\0b"', fmt('"a\\0b"'))
    -- control bytes as escapes, newline as \n, a digit after an escape safe
    assert.are.equal('"l1\\nl2\\t\\r\\1\\0012\\127 \\"q\\" \\\\"', fmt('"l1\\nl2\\t\\r\\1\\0012\\127 \\"q\\" \\\\"'))
  end)

  it("sorts keys: the array part first, numbers, then strings, then the rest", function()
    assert.are.equal('{1, 2, [2.5] = 0, [5] = "f", a = 1, ["end"] = 2, ["x y"] = 3, [true] = 4}',
                     fmt('{1, 2, [5] = "f", [2.5] = 0, a = 1, ["x y"] = 3, ["end"] = 2, [true] = 4}'))
    assert.are.equal("{}", fmt("{}"))
  end)

  it("nests to opts.depth (3), shows cycles, and cuts items (40) with the count left out", function()
    assert.are.equal("{1, {2, {3, {...}}}}", fmt("{1, {2, {3, {4, {5}}}}}"))
    assert.are.equal("{1, {...}}", fmt("{1, {2}}", "{ depth = 1 }"))
    assert.are.equal("{self = <cycle>, x = 1}", fmt("(function() local t = { x = 1 } t.self = t return t end)()"))
    assert.are.equal("{1, 2, 3, ... 97 more}",
                     fmt("(function() local t = {} for i = 1, 100 do t[i] = i end return t end)()", "{ items = 3 }"))
    local long = fmt("(function() local t = {} for i = 1, 100 do t[i] = i * 1000 end return t end)()")
    local l = h.lines(long .. "\n")
    assert.are.equal("{", l[1])
    assert.are.equal("  1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000, 11000, 12000,", l[2])
    assert.are.equal("  33000, 34000, 35000, 36000, 37000, 38000, 39000, 40000,", l[#l - 2])
    assert.are.equal("  ... 60 more", l[#l - 1])
    assert.are.equal("}", l[#l])
  end)

  it("breaks long tables over lines and stops at opts.lines (200)", function()
    local out = fmt('{ a = ("x"):rep(50), b = { c = ("y"):rep(60) } }')
    assert.are.equal('{\n  a = "' .. ("x"):rep(50) .. '",\n  b = {c = "' .. ("y"):rep(60) .. '"},\n}', out)
    local cut = h.lines(fmt("(function() local t = {} for i = 1, 40 do t['k' .. i] = i end return t end)()",
                            "{ lines = 5 }") .. "\n")
    assert.are.same({ "{", "  k1 = 1,", "  k10 = 10,", "  k11 = 11,", "... (cut at 5 lines)" }, cut)
    local full = h.lines(fmt("(function() local t = {} for i = 1, 400 do t['k' .. i] = { i } end return t end)()",
                             "{ items = 1000 }") .. "\n")
    assert.are.equal(200, #full)
    assert.are.equal("... (cut at 200 lines)", full[200])
  end)

  it("a big table costs what is shown: a million items, 50,000 keys (past 10,000: table order)", function()
    assert.are.equal("{1, 2, ... 999998 more}",
                     fmt("(function() local t = {} for i = 1, 1000000 do t[i] = i end return t end)()",
                         "{ items = 2 }"))
    local out = fmt("(function() local t = {} for i = 1, 50000 do t['k' .. i] = i end return t end)()",
                    "{ items = 2 }")
    local a, b, more = out:match("^{k(%d+) = (%d+), k%d+ = %d+, %.%.%. (%d+) more}$")
    assert.are.equal(a, b, out)
    assert.are.equal("49998", more)
    -- 10,000 keys are still sorted
    assert.are.equal("{k1 = 1, k10 = 10, ... 9998 more}",
                     fmt("(function() local t = {} for i = 1, 10000 do t['k' .. i] = i end return t end)()",
                         "{ items = 2 }"))
  end)

  it("names functions found in opts.env, else tostring", function()
    assert.are.equal("function: on", fmt("on", "{ env = _G }"))
    assert.are.equal("function: string.format", fmt("string.format", "{ env = _G }"))
    assert.truthy(fmt("on"):match("^function: "))
  end)

  it("shows a buffer as a hexdump like hexdump -C, capped by opts.lines", function()
    local bytes = "GET / HTTP/1.1\r\nHost: a\r\n\r\n\0\1\2\255"
    local out = fmt(("buffer(%q)"):format(bytes))
    local l = h.lines(out .. "\n")
    assert.are.equal("buffer (" .. #bytes .. " bytes)", l[1])
    if have("hexdump") then
      local f = h.tmpfile(bytes)
      local want = h.capture("hexdump -C " .. h.quote(f))
      os.remove(f)
      assert.are.equal(want, table.concat(l, "\n", 2) .. "\n")
    end
    local cut = h.lines(fmt("buffer(('z'):rep(100))", "{ lines = 3 }") .. "\n")
    assert.are.same({ "buffer (100 bytes)", "00000000  7a 7a 7a 7a 7a 7a 7a 7a  7a 7a 7a 7a 7a 7a 7a 7a  |zzzzzzzzzzzzzzzz|",
                      "... 84 more bytes" }, cut)
  end)

  it("shows a packet as its summary and one line per layer; a session as tostring and its fields", function()
    local out = run([[
local n = 0
on("packet", function(pkt)
  n = n + 1
  if n == 2 then print(R.format(pkt)) print(R.format(I.keep(pkt)) == R.format(pkt)) end
end)
local first
on("tcp.start", function(s) first = first or s end)
on("done", function() print(R.format(first)) end)
]], HTTP)
    assert.are.equal(clock(1700000000, 3000) ..
      " IPv4 10.0.0.2:80 > 10.0.0.1:40000 TCP [SA] seq 457654553 ack 1426216962 win 65535 len 0", out[1])
    assert.are.equal("  packet: caplen = 58, data = buffer (58 bytes), ifindex = 0, invalid = false, len = 58, " ..
      "linktype = 1, payload = buffer (0 bytes), truncated = false, ts = 1700000000.003, ts_nsec = 3000000, " ..
      "ts_sec = 1700000000", out[2])
    assert.are.equal('  eth: dst = "02:00:00:00:00:01", src = "02:00:00:00:00:02", type = 2048, vlans = {}', out[3])
    assert.are.equal('  ip: df = true, dst = "10.0.0.1", flags = "DF", frag = 0, fragment = false, hlen = 20, ' ..
      'hlim = 64, id = 16666, len = 44, mf = false, proto = 6, src = "10.0.0.2", tos = 0, ttl = 64, version = 4', out[4])
    assert.are.equal('  tcp: ack = 1426216962, ack_raw = 1426216962, csum = 56862, cwr = false, dport = 40000, ' ..
      'ece = false, fin = false, flags = "SA", hlen = 24, len = 0, options = {mss = 1460, sack_permitted = false}, ' ..
      'psh = false, rst = false, seq = 457654553, sport = 80, syn = true, urg = false, urp = 0, win = 65535', out[5])
    assert.are.equal("true", out[6])
    assert.are.equal("tcp session 0 10.0.0.1:40000 > 10.0.0.2:80", out[7])
    assert.are.equal("  bytes = ", out[8]:match("^  bytes = "))
    assert.are.equal('  client = "10.0.0.1:40000"', out[9])
    assert.are.equal('  state = "closed"', out[#out - 1])
    assert.are.equal("  syn_retries = 0", out[#out])
  end)

  it("an expired packet, layer or buffer shows as such, inside tables too", function()
    local out = run([[
local p, ip, pay
on("packet", function(pkt) if not p then p, ip, pay = pkt, pkt.ip, pkt.payload end end)
on("done", function()
  print(R.format(p)) print(R.format(ip)) print(R.format(pay)) print(R.format({ p, ip }))
end)
]], UDP)
    assert.are.same({ "<expired packet>", "<expired ip>", "<expired buffer>", "{<expired packet>, <expired ip>}" }, out)
  end)

  it("refuses bad options with the reason", function()
    local out = run([[
print(select(2, pcall(R.format, 1, "x")))
print(select(2, pcall(R.format, 1, { depth = 0 })))
print(select(2, pcall(R.format, 1, { lines = 2.5 })))
]])
    assert.are.equal("format: options must be a table, got string", out[1]:match("format: .*"))
    assert.are.equal("format: opts.depth must be an integer of 1 or more, got 0", out[2]:match("format: .*"))
    assert.are.equal("format: opts.lines must be an integer of 1 or more, got 2.5", out[3]:match("format: .*"))
  end)
end)

---------------------------------------------------------------------------

describe("repl complete", function()
  local COMPLETE = [[
local kept, stale
on("packet", function(pkt)
  stale = stale or pkt
  if pkt.tcp and not kept then kept = I.keep(pkt) end
end)
local function env_with(p)
  local env = { print = print, pairs = pairs, string = string, s = "text", t = setmetatable({ go = print, n = 1 },
                { __index = { inherited = print, value = 2 } }), nothing = nil, num = 5, buf = buffer("ab") }
  return setmetatable(env, { __index = function(_, k) if k == "pkt" then return p end end })
end
local function show(env, before) print(before, list(R.complete(env, before, #before))) end
on("done", function()
  local env = env_with(kept)
]]

  it("names, fields, methods and packet fields; the word is the trailing name", function()
    local out = run(COMPLETE .. [[
  for _, b in ipairs({ "pri", "x = pri", "print(string.fo", "pkt.tc", "pkt.tcp.dp", "pkt.tcp.options.ms",
                       "s:up", "s.le", "t.", "t:", "buf:he", "pk", "whi" }) do show(env, b) end
end)
]], LOOP)
    assert.are.same({
      "pri\tprint",
      "x = pri\tprint",
      "print(string.fo\tstring.format",
      "pkt.tc\tpkt.tcp",
      "pkt.tcp.dp\tpkt.tcp.dport",
      "pkt.tcp.options.ms\tpkt.tcp.options.mss",
      "s:up\ts:upper",
      "s.le\ts.len",
      "t.\tt.go,t.inherited,t.n,t.value",
      "t:\tt:go,t:inherited",
      "buf:he\tbuf:hex",
      "pk\tpkt",
      "whi\twhile",
    }, out)
  end)

  it("gives nothing, and raises nothing, for unknown names, paths through nil, numbers and expired packets", function()
    local out = run(COMPLETE .. [[
  for _, b in ipairs({ "zzz", "nothing.x", "nothing.x.y", "num.x", "num:x", "t.n.x", "", "x = ", "1.5", "a..b",
                       "t:go.x", "pkt:tc" }) do show(env, b) end
  local old = env_with(stale)
  show(old, "pkt.tc")
  show(old, "pkt.ip.sr")
  show(env_with(nil), "pk")
  print(list(R.complete(nil, "pri", 3)), list(R.complete(env, nil, 0)), list(R.complete(env, 42)))
  print(list(R.complete(env, "pri and more", 3)))
end)
]], LOOP)
    assert.are.same({
      "zzz\t", "nothing.x\t", "nothing.x.y\t", "num.x\t", "num:x\t", "t.n.x\t", "\t", "x = \t", "1.5\t", "a..b\t",
      "t:go.x\t", "pkt:tc\t",
      "pkt.tc\t", "pkt.ip.sr\t",
      "pk\t",
      "\t\t",
      "print",
    }, out)
  end)

  it("a UDP packet offers udp, not tcp", function()
    local out = run(COMPLETE:gsub("pkt.tcp and not kept", "not kept") .. [[
  show(env, "pkt.")
end)
]], UDP)
    assert.are.same({ "pkt.\tpkt.caplen,pkt.data,pkt.eth,pkt.ifindex,pkt.invalid,pkt.ip,pkt.len,pkt.linktype," ..
                      "pkt.payload,pkt.truncated,pkt.ts,pkt.ts_nsec,pkt.ts_sec,pkt.udp" }, out)
  end)
end)

---------------------------------------------------------------------------

-- Function names in the first column of a table in a doc section.
local function doc_names(path, section)
  local text = h.slurp(h.root .. "/" .. path)
  local body = text:match("\n## " .. section .. "\n(.-)\n## ")
  local names = {}
  for name in body:gmatch("\n| `([%a_]+)[%(`]") do names[#names + 1] = name end
  return names
end

describe("repl help", function()
  it("help() lists every function of docs/repl.md and docs/scripting.md, each with its first line", function()
    local out = run([[print(R.help(nil, _G))]])
    local text = table.concat(out, "\n")
    local names = doc_names("docs/repl.md", "Functions")
    for _, n in ipairs(doc_names("docs/scripting.md", "Globals")) do names[#names + 1] = n end
    assert.is_true(#names >= 25, #names)
    for _, name in ipairs(names) do
      assert.truthy(text:find("\n  " .. name .. "[%(:]"), name .. " is not listed:\n" .. text)
    end
    assert.truthy(text:find("\ncapture control:\n  pause(): stops the capture\n", 1, true), text)
  end)

  it("help(fn) finds the function's name in env; help(\"name\") the same text", function()
    local out = run([[
print((R.help(on, _G):match("^[^\n]*")))
print((R.help("filter", _G):match("^[^\n]*")))
print(R.help(on, _G) == R.help("on"))
print(R.help(string.format, _G))
print(R.help("nope", _G))
print(R.help(function() end, _G):match("^no help for function: "))
print(R.help({}, _G))
print(R.help(42))
]])
    assert.are.same({
      "on(event, fn): calls fn for every event; returns a handle for off",
      "filter([expr]): the BPF filter in force, or replaces it with expr",
      "true",
      "string.format: from Lua's standard library (see the Lua 5.4 reference manual)",
      "no help for nope; help() lists the functions",
      "no help for function: ",
      "no help for a table; help() lists the functions",
      "no help for 42; help() lists the functions",
    }, out)
  end)

  it("at the prompt: help() and help(step) print, and format names REPL functions it is given", function()
    local r = h.repl_piped('help(step)\nhelp("exit")\nhelp(nope)\n')
    assert.are.equal(0, r.code, r.err)
    local l = h.lines(r.out)
    assert.are.equal("step([n]): lets n more packets through (default 1), shows each, then pauses", l[2])
    assert.truthy(r.out:find("\nexit(): ends the session as Ctrl-D does\n", 1, true), r.out)
    -- help(nope): nope is nil, so the list
    assert.truthy(r.out:find("\nThe REPL's functions", 1, true), r.out)
  end)

  it("at the prompt, functions show by the names they have there, never as _", function()
    local r = h.repl_piped("on\nstring.format\nfunction twice(x) return 2 * x end\ntwice\n_\n")
    assert.are.equal(0, r.code, r.err)
    local l = h.lines(r.out)
    assert.are.same({ "function: on", "function: string.format", "function: twice", "function: twice" },
                    { l[2], l[3], l[4], l[5] })
  end)
end)
