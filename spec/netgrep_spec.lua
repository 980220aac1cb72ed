-- netgrep: matches in one packet and across TCP segments (--stream), -i,
-- -v, -x, -n, UDP, the printed endpoints, JSON, bounded state and bad
-- options; then, tagged "tshark", the frames that match against tshark's
-- `tcp.payload contains` / `udp.payload contains` on the samples and on the
-- shared HTTP and DNS captures.

local h = require("helper")
local build = require("pcap_build")
local decode = require("json_decode")

local LOOPBACK = h.samples .. "/http-loopback.pcap"
local UDP_ECHO = h.samples .. "/udp-echo.pcap"

-- The server's answers in udp-echo.pcap, as both modes print them.
local PING_HEADERS = {
  "05:12:59.945366 UDP 127.0.0.1:18081 -> 127.0.0.1:54319 #2 6 bytes",
  "05:12:59.945417 UDP 127.0.0.1:18081 -> 127.0.0.1:54319 #4 6 bytes",
  "05:12:59.945446 UDP 127.0.0.1:18081 -> 127.0.0.1:54319 #6 6 bytes",
}

local function netgrep(pcap, args, before)
  local a = {}
  for _, v in ipairs(before or {}) do a[#a + 1] = v end
  a[#a + 1] = "-r"
  a[#a + 1] = pcap
  a[#a + 1] = "netgrep"
  for _, v in ipairs(args) do a[#a + 1] = v end
  local r = h.run(a, { limit = 60 })
  return r
end

-- Runs netgrep and expects success without messages.
local function ok(pcap, args, before)
  local r = netgrep(pcap, args, before)
  assert.are.equal(0, r.code, r.err)
  assert.are.equal("", r.err)
  return r.out
end

local tmp = {}
local function capture(bytes)
  local path = h.tmpfile(bytes, ".pcap")
  tmp[#tmp + 1] = path
  return path
end

-- One pcap of several sessions built by pcap_build (each on its own server
-- port, so each is its own session; each one's clock starts again at
-- 1700000000).
local function sessions(list)
  local out = {}
  for i, s in ipairs(list) do
    local pcap = build.tcp_session(s.parts, { port = s.port })
    out[i] = i == 1 and pcap or pcap:sub(25)
  end
  return capture(table.concat(out))
end

-- Headers (first lines) of the records in human output.
local function headers(out)
  local t = {}
  for _, l in ipairs(h.lines(out)) do
    if l:sub(1, 1) ~= " " then t[#t + 1] = l end
  end
  return t
end

teardown(function()
  for _, p in ipairs(tmp) do os.remove(p) end
end)

describe("netgrep", function()
  describe("packet by packet", function()
    it("prints each packet whose payload contains the pattern, with its endpoints", function()
      local out = ok(LOOPBACK, { "HTTP/1.0" })
      assert.are.same({
        "05:12:56.671222 TCP 127.0.0.1:18080 -> 127.0.0.1:39168 [PA] #6 185 bytes",
        "05:12:56.672777 TCP 127.0.0.1:18080 -> 127.0.0.1:39172 [PA] #18 189 bytes",
        "05:12:56.682754 TCP 127.0.0.1:18080 -> 127.0.0.1:39184 [PA] #30 185 bytes",
        "05:12:56.691989 TCP [::1]:18080 -> [::1]:50804 [PA] #42 185 bytes",
      }, headers(out))
      h.has(out, "\n  HTTP/1.0 200 OK..Server: SimpleHTTP/0.6 Python/3.11.7..Date: ")
      h.has(out, "\n  HTTP/1.0 404 File not found..Server: ")
    end)

    it("matches UDP datagrams", function()
      local out = ok(UDP_ECHO, { "PING" })
      assert.are.same(PING_HEADERS, headers(out))
      h.has(out, "#2 6 bytes\n  PING 0\n")
    end)

    it("-i ignores case", function()
      assert.are.equal(3, #headers(ok(UDP_ECHO, { "ping" })))
      assert.are.equal(6, #headers(ok(UDP_ECHO, { "-i", "PiNg" })))
      assert.are.equal(6, #headers(ok(UDP_ECHO, { "--ignore-case", "-E", "P%a+G %d" })))
    end)

    it("-v prints the packets with a payload that do not match", function()
      local out = ok(UDP_ECHO, { "-v", "ping" })
      assert.are.same({ "#2", "#4", "#6" }, (function()
        local t = {}
        for n in out:gmatch("(#%d+) 6 bytes") do t[#t + 1] = n end
        return t
      end)())
      -- empty segments (handshakes, ACKs) have nothing to grep
      local all = headers(ok(LOOPBACK, { "-v", "html" }))
      assert.are.equal(6, #all)
      for _, l in ipairs(all) do assert.is_falsy(l:find(" 0 bytes$"), l) end
    end)

    it("-E takes a Lua pattern, -X hex bytes", function()
      assert.are.equal(4, #headers(ok(LOOPBACK, { "-E", "HTTP/1%.0 [24]0[04]" })))
      assert.are.equal(3, #headers(ok(UDP_ECHO, { "-X", "50 49 4e 47" })))
      assert.are.equal(3, #headers(ok(UDP_ECHO, { "-X", "0x50494E47" })))
      assert.are.equal(1, #headers(ok(UDP_ECHO, { "-X", "70:69:6e:67:20:31" })))
    end)

    it("-x prints a hexdump", function()
      local out = ok(UDP_ECHO, { "-x", "-n", "1", "ping" })
      assert.are.equal(
        "05:12:59.945279 UDP 127.0.0.1:54319 -> 127.0.0.1:18081 #1 6 bytes\n" ..
        "  0000  70 69 6e 67 20 30                                 ping 0\n", out)
      local big = ok(LOOPBACK, { "--hex", "-n", "1", "Content-Length: 19" })
      h.has(big, "\n  0000  48 54 54 50 2f 31 2e 30  20 32 30 30 20 4f 4b 0d  HTTP/1.0 200 OK.\n" ..
                   "  0010  0a 53 65 72 76 65 72 3a  20 53 69 6d 70 6c 65 48  .Server: SimpleH\n")
    end)

    it("-n stops reading after COUNT records; the run still ends normally", function()
      local probe = h.tmpfile([[on("done", function(st) print("done", st.packets) end)]], ".lua")
      local r = h.run({ "-r", UDP_ECHO, "netgrep", "-i", "-n", "2", "ping", probe })
      os.remove(probe)
      assert.are.equal(0, r.code, r.err)
      assert.are.same({ "#1", "#2" }, { r.out:match("(#1) 6 bytes.-(#2) 6 bytes") })
      assert.are.equal(2, h.count(r.out, " UDP "))
      h.has(r.out, "done\t2\n")
      assert.are.equal(1, #headers(ok(LOOPBACK, { "-n", "1", "--stream", "HTTP" })))
    end)

    it("--byline keeps line breaks", function()
      local out = ok(LOOPBACK, { "--byline", "-n", "1", "404" })
      h.has(out, "\n  HTTP/1.0 404 File not found\n  Server: SimpleHTTP/0.6 Python/3.11.7\n")
    end)

    it("control bytes and DEL reach the terminal as dots", function()
      local pcap = capture(build.tcp_session({ { "client", "evil\27]0;pwned\7\127\200 end" } }))
      local out = ok(pcap, { "evil" })
      h.has(out, "\n  evil.]0;pwned... end\n")
      h.hasnt(out, "\27")
    end)
  end)

  describe("--stream", function()
    local split = sessions({
      { port = 80, parts = { { "client", "GET /se" }, { "client", "cret HTTP/1.1\r\n\r\n" },
                             { "server", "HTTP/1.1 200 OK\r\n\r\nno secrets here" } } },
      { port = 81, parts = { { "client", "xab" }, { "client", "cd" }, { "client", "efz" } } },
    })

    it("finds a match split across two segments, which packet mode cannot", function()
      -- packet mode sees only the server's "no secrets here"
      local packets = headers(ok(split, { "secret" }))
      assert.are.equal(1, #packets)
      h.has(packets[1], "TCP 10.0.0.2:80 -> 10.0.0.1:40000 [PA] #6 ")
      local out = ok(split, { "--stream", "secret" })
      assert.are.same({
        "22:13:20.004000 TCP 10.0.0.1:40000 -> 10.0.0.2:80 session 0 client offset 5 len 6",
        "22:13:20.005000 TCP 10.0.0.2:80 -> 10.0.0.1:40000 session 0 server offset 22 len 6",
      }, headers(out))
      h.has(out, "\n  GET /secret HTTP/1.1....\n")
      h.has(out, "\n  HTTP/1.1 200 OK....no secrets here\n")
    end)

    it("finds a match spread over three segments", function()
      local out = ok(split, { "--stream", "abcdef" })
      assert.are.same({ "22:13:20.005000 TCP 10.0.0.1:40000 -> 10.0.0.2:81 session 1 client offset 1 len 6" },
                      headers(out))
      h.has(out, "\n  xabcdefz\n")
      assert.are.equal("", ok(split, { "abcdef" }))
    end)

    it("finds split matches with -i and with -E within --window", function()
      assert.are.equal(1, #headers(ok(split, { "--stream", "-i", "ABCDEF" })))
      assert.are.equal(2, #headers(ok(split, { "--stream", "-i", "SECRET" })))
      assert.are.equal(1, #headers(ok(split, { "--stream", "-E", "x%l+z" })))
      -- "xabcdefz" starts 5 bytes before the segment holding its end
      assert.are.equal(1, #headers(ok(split, { "--stream", "-E", "--window", "5", "--context", "0", "x%l+z" })))
      assert.are.equal(0, #headers(ok(split, { "--stream", "-E", "--window", "4", "--context", "0", "x%l+z" })))
    end)

    it("does not report a match twice or overlapping", function()
      local pcap = capture(build.tcp_session({ { "client", "aa" }, { "client", "a" }, { "client", "aaaa" } }))
      local offsets = {}
      for o in ok(pcap, { "--stream", "aa" }):gmatch("offset (%d+) len 2") do offsets[#offsets + 1] = o end
      assert.are.same({ "0", "2", "4" }, offsets)
      offsets = {}
      for o in ok(pcap, { "--stream", "-i", "AA" }):gmatch("offset (%d+) len 2") do offsets[#offsets + 1] = o end
      assert.are.same({ "0", "2", "4" }, offsets)
    end)

    it("shows --context bytes around the match, and -x a hexdump at stream offsets", function()
      h.has(ok(split, { "--stream", "--context", "2", "secret" }), "\n   /secret H\n")
      local out = ok(split, { "--stream", "-x", "--context", "0", "-n", "1", "secret" })
      h.has(out, "\n  0005  73 65 63 72 65 74                                 secret\n")
    end)

    it("-v prints the stream directions without a match when they end", function()
      local out = ok(split, { "--stream", "-v", "secret" })
      assert.are.same({ "22:13:20.008000 TCP 10.0.0.1:40000 -> 10.0.0.2:81 session 1 client: no match in 8 bytes" },
                      headers(out))
      h.has(out, ": no match in 8 bytes\n  xabcdefz\n")
    end)

    it("makes no match across a hole, and counts the missing bytes in offsets", function()
      local pcap = build.tcp_session({ { "client", "abc" }, { "client", "LOST" }, { "client", "def" },
                                       { "client", "xx secret" } })
      -- drop the 5th record (the "LOST" segment: never captured)
      local out, pos, i = { pcap:sub(1, 24) }, 25, 0
      while pos <= #pcap do
        local len = string.unpack("<I4", pcap, pos + 8)
        i = i + 1
        if i ~= 5 then out[#out + 1] = pcap:sub(pos, pos + 15 + len) end
        pos = pos + 16 + len
      end
      local holed = capture(table.concat(out))
      assert.are.equal("", ok(holed, { "--stream", "cd" }))
      local found = ok(holed, { "--stream", "secret" })
      h.has(found, " session 0 client offset 13 len 6\n  defxx secret\n")
      h.has(ok(holed, { "--stream", "-v", "zzz" }), "session 0 client: no match in 15 bytes\n")
    end)

    it("matches UDP per datagram", function()
      assert.are.same(PING_HEADERS, headers(ok(UDP_ECHO, { "--stream", "PING" })))
    end)

    it("keeps bounded state on a long stream", function()
      local parts = {}
      for i = 1, 3000 do parts[i] = { "client", ("%05d"):format(i) .. ("z"):rep(995) } end
      parts[1501][2] = "needle" .. parts[1501][2]:sub(7)
      local pcap = capture(build.tcp_session(parts))
      local probe = h.tmpfile([[on("done", function(st) print("peak", st.lua_mem_peak) end)]], ".lua")
      for _, flags in ipairs({ { "--stream" }, { "--stream", "-i" }, { "--stream", "-E" } }) do
        local args = { "-r", pcap, "netgrep" }
        for _, f in ipairs(flags) do args[#args + 1] = f end
        args[#args + 1] = "needle"
        args[#args + 1] = probe
        local r = h.run(args)
        assert.are.equal(0, r.code, r.err)
        h.has(r.out, "session 0 client offset 1500000 len 6\n")
        local peak = tonumber(r.out:match("peak\t(%d+)"))
        -- the stream is 3 MB; netgrep's share of the peak is a few tens of kB
        assert.is_true(peak < 2 * 1024 * 1024, table.concat(flags, " ") .. ": Lua memory peak " .. peak)
      end
      os.remove(probe)
    end)

    it("drops a session's state when it ends", function()
      local list = {}
      for s = 1, 100 do
        local parts = {}
        for i = 1, 40 do parts[i] = { "client", ("%03d%05d"):format(s, i) .. ("z"):rep(992) } end
        list[s] = { port = 1000 + s, parts = parts }
      end
      local pcap = sessions(list)
      local probe = h.tmpfile([[on("done", function(st) print("peak", st.lua_mem_peak) end)]], ".lua")
      -- a 64 kB window keeps each session's whole 40 kB stream while it lasts:
      -- 4 MB if they were kept after their end
      local r = h.run({ "-r", pcap, "netgrep", "--stream", "-E", "-v", "--window", "65536", "--context", "0",
                        "needle", probe })
      os.remove(probe)
      assert.are.equal(0, r.code, r.err)
      assert.are.equal(100, h.count(r.out, ": no match in 40000 bytes\n"))
      local peak = tonumber(r.out:match("peak\t(%d+)"))
      assert.is_true(peak < 2 * 1024 * 1024, "Lua memory peak " .. peak)
    end)
  end)

  describe("--json", function()
    it("prints one object per packet", function()
      local recs = decode.lines(ok(UDP_ECHO, { "--json", "-x", "-n", "1", "ping" }))
      assert.are.same({ { ts = recs[1].ts, frame = 1, proto = "udp", src = "127.0.0.1", sport = 54319,
                          dst = "127.0.0.1", dport = 18081, len = 6, payload = "ping 0", hex = "70696e672030" } },
                      recs)
      local tcp = decode(ok(LOOPBACK, { "--json", "-n", "1", "HTTP/1.0" }))
      assert.are.equal("PA", tcp.flags)
      assert.are.equal(6, tcp.frame)
    end)

    it("prints one object per stream match and per -v stream direction", function()
      local pcap = sessions({ { port = 80, parts = { { "client", "GET /se" }, { "client", "cret\r\n\1\255" } } } })
      local rec = decode(ok(pcap, { "--json", "--stream", "--context", "4", "secret" }))
      assert.is_true(math.abs(rec.ts - 1700000000.004) < 1e-6, tostring(rec.ts))
      assert.are.same({ ts = rec.ts, frame = 5, proto = "tcp", session = 0, direction = "client",
                        src = "10.0.0.1", sport = 40000, dst = "10.0.0.2", dport = 80, offset = 5, len = 6,
                        match = "secret", before = "ET /", after = "\r\n\1\u{ff}" }, rec)
    end)
  end)

  describe("usage errors (exit 2, one line, nothing printed)", function()
    local cases = {
      { {}, "a PATTERN is required" },
      { { "" }, "empty PATTERN" },
      { { "a", "b" }, "one PATTERN only; also got 'b'" },
      { { "-X", "zz" }, "-X: not hex: 'zz'" },
      { { "-X", "abc" }, "-X: odd number of hex digits in 'abc'" },
      { { "-X", "" }, "empty PATTERN" },
      { { "-n", "0", "x" }, "-n: must be a whole number from 1 up, got 0" },
      { { "-n", "2.5", "x" }, "-n: must be a whole number from 1 up, got 2.5" },
      { { "-n", "many", "x" }, "--max-matches expects a number, got 'many'" },
      { { "-n" }, "-n needs a value" },
      { { "-E", "(", }, "-E: bad Lua pattern '(': unfinished capture" },
      { { "-E", "a*" }, "-E: 'a*' matches the empty string" },
      { { "-E", "-X", "41" }, "-E and -X cannot be used together" },
      { { "--stream", "-E", "^GET" }, "--stream: a pattern anchored with '^'" },
      { { "--context", "4097", "x" }, "--context: must be a whole number from 0 to 4096" },
      { { "--window", "-1", "x" }, "--window: must be a whole number from 0 to 65536" },
      { { "--bogus", "x" }, "unknown option '--bogus'" },
      { { ("y"):rep(4097) }, "PATTERN is 4097 bytes; at most 4096" },
    }
    for _, c in ipairs(cases) do
      it(table.concat(c[1], " "):sub(1, 40) .. " -> " .. c[2], function()
        local r = netgrep(UDP_ECHO, c[1])
        assert.are.equal(2, r.code, r.err)
        assert.are.equal("", r.out)
        h.has(r.err, "lunatap: netgrep: " .. c[2])
        assert.are.equal(1, h.count(r.err, "\n"), r.err)
      end)
    end

    it("--help exits 0 and names every option", function()
      local r = netgrep(UDP_ECHO, { "--help" })
      assert.are.equal(0, r.code)
      for _, o in ipairs({ "--ignore-case", "--invert", "--lua-pattern", "--hex-pattern", "--hex", "--byline",
                           "--max-matches", "--stream", "--context", "--window", "--no-color", "--json" }) do
        h.has(r.out, "  " .. o)
      end
    end)
  end)
end)

------------------------------------------------------------------------
-- Against tshark: the frames whose TCP or UDP payload contains the
-- pattern. One tshark run per capture; the pattern depends on the
-- capture's category.

local TSHARK_PATTERN = {
  http = { args = { "HTTP/1.1" }, filter = '"HTTP/1.1"' },
  dns = { args = { "-X", "c00c" }, filter = "c0:0c" },   -- a name pointer to the question
}

-- Differences explained, per capture (the spec fails on any other, and
-- when a listed one disappears).
local KNOWN = {
  ["dns_dns-edns-ecs.pcap"] = "IP fragments: tshark matches a reassembled datagram in the frame of its " ..
    "last fragment; netgrep's packet mode greps packets as captured (the first fragment's part of the UDP " ..
    "payload), as ngrep does. --stream sees the reassembled datagram and agrees (checked below).",
}

-- Frame numbers, and those of UDP frames, that tshark's filter keeps.
local function tshark_frames(path, filter)
  local expr = ("tcp.payload contains %s or udp.payload contains %s"):format(filter, filter)
  local out = h.capture(("tshark -n -r %s -Y %s -T fields -e frame.number -e udp.srcport 2>/dev/null")
    :format(h.quote(path), h.quote(expr)))
  local all, udp = {}, {}
  for n, port in out:gmatch("(%d+)\t?([^\n]*)\n") do
    all[#all + 1] = tonumber(n)
    if port ~= "" then udp[#udp + 1] = tonumber(n) end
  end
  return all, udp
end

local function netgrep_frames(path, args, before)
  local a = { "--json" }
  for _, v in ipairs(args) do a[#a + 1] = v end
  local out = ok(path, a, before)
  local t = {}
  for n in out:gmatch('"frame":(%d+)') do t[#t + 1] = tonumber(n) end
  return t
end

local function same_frames(name, want, got)
  local a, b = table.concat(want, " "), table.concat(got, " ")
  assert(a == b, ("%s: tshark frames [%s]\n netgrep frames [%s]"):format(name, a, b))
end

local function check_shared(path, name, p)
  local all, udp = tshark_frames(path, p.filter)
  local got = netgrep_frames(path, p.args)
  if KNOWN[name] then
    assert(table.concat(all, " ") ~= table.concat(got, " "),
      name .. " now agrees with tshark: remove it from KNOWN")
  else
    same_frames(name, all, got)
  end
  if #udp > 0 then
    local s = { "--stream" }
    for _, v in ipairs(p.args) do s[#s + 1] = v end
    same_frames(name .. " (--stream, UDP)", udp, netgrep_frames(path, s, { "-f", "udp" }))
  end
end

describe("netgrep against tshark #tshark", function()
  local tshark = h.capture("command -v tshark")
  if not tshark or tshark == "" then
    it("skipped: tshark is not installed", function() end)
    return
  end

  local function filtered(path, expr)
    local out = h.capture(("tshark -n -r %s -Y %s -T fields -e frame.number 2>/dev/null")
      :format(h.quote(path), h.quote(expr)))
    local t = {}
    for n in out:gmatch("%d+") do t[#t + 1] = tonumber(n) end
    return t
  end

  it("http-loopback.pcap: HTTP/1.0, -i content-type, -v html", function()
    same_frames("HTTP/1.0", filtered(LOOPBACK, 'tcp.payload contains "HTTP/1.0"'),
                netgrep_frames(LOOPBACK, { "HTTP/1.0" }))
    same_frames("-i", filtered(LOOPBACK, 'tcp.payload matches "(?i)content-type"'),
                netgrep_frames(LOOPBACK, { "-i", "content-type" }))
    same_frames("-v", filtered(LOOPBACK, 'tcp.payload and !(tcp.payload contains "html")'),
                netgrep_frames(LOOPBACK, { "-v", "html" }))
  end)

  it("udp-echo.pcap: PING, -i ping", function()
    same_frames("PING", filtered(UDP_ECHO, 'udp.payload contains "PING"'), netgrep_frames(UDP_ECHO, { "PING" }))
    same_frames("-i", filtered(UDP_ECHO, 'udp.payload matches "(?i)ping"'), netgrep_frames(UDP_ECHO, { "-i", "ping" }))
  end)

  if not h.have_shared() then
    it("skipped: " .. h.shared .. " is absent", function() end)
    return
  end
  local manifest = io.open(h.shared .. "/MANIFEST.tsv", "r")
  for line in manifest:lines() do
    local name, category = line:match("^([^\t]+)\t([^\t]+)")
    local p = TSHARK_PATTERN[category]
    if p then
      it(name, function() check_shared(h.shared .. "/" .. name, name, p) end)
    end
  end
  manifest:close()
end)
