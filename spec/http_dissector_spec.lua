-- The HTTP and WebSocket dissector's records (docs/http.md) against the
-- ground truth of samples/http-features.pcap (written by gen_http.py when
-- it made the capture), and the API details a handler relies on.

local h = require("helper")
local J = require("json_decode")
local build = require("pcap_build")

local FEATURES, TRUTH = h.http_features()

-- Every record as one JSON line; bodies hashed (asked for with want_bodies).
local DUMP = [[
local codec = require("lunatap.codec")
if arg[1] == "bodies" then require("lunatap.http").want_bodies() end
local function hash(b) return b and codec.sha256(b) or nil end
on("http.request", function(r, s)
  print(json{ e = "request", session = s.id, method = r.method, uri = r.uri, version = r.version,
    body_len = r.body_len, sha = hash(r.body), ts = r.ts, end_ts = r.end_ts, index = r.index,
    has_body = r.body ~= nil, from = r.from })
end)
on("http.response", function(r, s)
  print(json{ e = "response", session = s.id, status = r.status, reason = r.reason,
    version = r.version, body_len = r.body_len, sha = hash(r.body), chunked = r.chunked or false,
    trailer = r.trailers and r.trailers["x-checksum"] or false, ts = r.ts, end_ts = r.end_ts,
    request = r.request and r.request.index or false, latency = r.latency or false,
    interim = r.interim or false, has_body = r.body ~= nil, from = r.from })
end)
on("websocket.frame", function(f, s)
  print(json{ e = "frame", session = s.id, from = f.from, opcode = f.opcode, fin = f.fin,
    masked = f.masked, len = f.len })
end)
on("websocket.message", function(m, s)
  if m.opcode == 8 then return end
  print(json{ e = "message", session = s.id, from = m.from, opcode = m.opcode, len = m.len,
    frames = m.frames, sha = codec.sha256(m.data) })
end)
on("websocket.close", function(c, s)
  print(json{ e = "close", session = s.id, from = c.from, code = c.code, reason = c.reason })
end)
]]

local function dump(pcap, bodies)
  local r = h.script(DUMP, pcap, nil, { bodies and "bodies" or "plain" })
  assert.are.equal(0, r.code, r.err)
  assert.are.equal("", r.err)
  local by = {}
  for _, rec in ipairs(J.lines(r.out)) do
    local k = rec.e .. " " .. rec.session
    by[k] = by[k] or {}
    table.insert(by[k], rec)
  end
  return by
end

local function close_to(want, got, what)
  assert(type(got) == "number" and math.abs(want - got) < 1e-4,
         ("%s: want %s, got %s"):format(what, tostring(want), tostring(got)))
end

local function truth()
  return J.decode(h.slurp(TRUTH)).sessions
end

describe("HTTP dissector on http-features.pcap", function()
  local sessions, got, plain

  setup(function()
    sessions = truth()
    got = dump(FEATURES, true)
    plain = dump(FEATURES, false)
  end)

  it("finds every request with its fields, in order", function()
    for _, s in ipairs(sessions) do
      local mine = got["request " .. s.index] or {}
      assert.are.equal(#s.requests, #mine, s.name)
      for i, want in ipairs(s.requests) do
        local r = mine[i]
        local where = ("%s request %d"):format(s.name, i)
        assert.are.same({ want.method, want.uri, want.version, want.body_len, want.index, "client" },
                        { r.method, r.uri, r.version, r.body_len, r.index, r.from }, where)
        close_to(want.ts, r.ts, where .. " ts")
        if s.name == "retransmit-reorder" then
          -- end_ts is when the message was complete: the segment that
          -- filled the hole came after the one holding the last byte.
          assert.is_true(r.end_ts >= want.end_ts, where .. " end_ts")
        else
          close_to(want.end_ts, r.end_ts, where .. " end_ts")
        end
      end
    end
  end)

  it("finds every response, paired, with latency and decoded bodies", function()
    for _, s in ipairs(sessions) do
      local mine = got["response " .. s.index] or {}
      assert.are.equal(#s.responses, #mine, s.name)
      for i, want in ipairs(s.responses) do
        local r = mine[i]
        local where = ("%s response %d (%d)"):format(s.name, i, want.status)
        assert.are.same({ want.status, want.reason, want.version, want.body_len },
                        { r.status, r.reason, r.version, r.body_len }, where)
        assert.are.equal(want.decoded_sha256, r.sha, where .. " decoded body")
        assert.are.equal(want.request or false, r.request, where .. " pairing")
        assert.are.equal(want.chunked or false, r.chunked, where .. " chunked")
        if want.trailers then assert.are.equal(want.trailers["X-Checksum"], r.trailer, where) end
        close_to(want.ts, r.ts, where .. " ts")
        if want.latency then close_to(want.latency, r.latency, where .. " latency") end
        assert.are.equal(want.status >= 100 and want.status < 200 and want.status ~= 101,
                         r.interim, where .. " interim")
      end
    end
  end)

  it("decodes request bodies too", function()
    for _, s in ipairs(sessions) do
      for i, want in ipairs(s.requests) do
        local r = got["request " .. s.index][i]
        assert.are.equal(want.decoded_sha256, r.sha, s.name .. " request " .. i)
      end
    end
  end)

  it("keeps bodies only when a script asks", function()
    for _, recs in pairs(plain) do
      for _, r in ipairs(recs) do
        if r.has_body ~= nil then assert.is_false(r.has_body) end
      end
    end
  end)

  it("reads WebSocket frames and messages both ways", function()
    for _, s in ipairs(sessions) do
      if s.websocket then
        local frames = got["frame " .. s.index]
        assert.are.equal(#s.websocket.frames, #frames)
        for i, want in ipairs(s.websocket.frames) do
          local f = frames[i]
          assert.are.same({ want.from, want.opcode, want.fin, want.masked, want.len },
                          { f.from, f.opcode, f.fin, f.masked, f.len }, "frame " .. i)
        end
        local msgs = got["message " .. s.index]
        local want_msgs = {}
        for _, m in ipairs(s.websocket.messages) do
          if m.opcode ~= 8 then want_msgs[#want_msgs + 1] = m end
        end
        assert.are.equal(#want_msgs, #msgs)
        for i, want in ipairs(want_msgs) do
          local m = msgs[i]
          assert.are.same({ want.from, want.opcode, want.len, want.frames, want.sha256 },
                          { m.from, m.opcode, m.len, m.frames, m.sha }, "message " .. i)
        end
        local closes = got["close " .. s.index]
        assert.are.same({ "client", 1000, "bye" }, { closes[1].from, closes[1].code, closes[1].reason })
        assert.are.same({ "server", 1000 }, { closes[2].from, closes[2].code })
      end
    end
  end)
end)

describe("HTTP dissector API", function()
  local function run(parts, script, after)
    local pcap = h.tmpfile(build.tcp_session(parts), ".pcap")
    local r = h.script(script, pcap, nil, after)
    os.remove(pcap)
    assert.are.equal(0, r.code, r.err)
    return r.out
  end

  local REQ = "GET /x HTTP/1.1\r\nHost: a\r\nX-Dup: one\r\nx-dup: two\r\nContent-Type: Text/Plain\r\n\r\n"
  local RES = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nhello world"

  it("looks headers up in any case, joins repeats, and keeps them in order", function()
    local out = run({ { "client", REQ }, { "server", RES } }, [[
on("http.request", function(r)
  print(r.headers["content-type"], r.headers["CONTENT-TYPE"], r.headers["X-DUP"])
  for i, kv in ipairs(r:header_list()) do print(i, kv[1], kv[2]) end
end)
on("http.response", function(r) print(r.headers["set-cookie"], r.body_len) end)]])
    h.has(out, "Text/Plain\tText/Plain\tone, two\n")
    h.has(out, "1\tHost\ta\n2\tX-Dup\tone\n3\tx-dup\ttwo\n4\tContent-Type\tText/Plain\n")
    h.has(out, "a=1, b=2\t11\n")
  end)

  it("streams body bytes with http.body before the message's own event", function()
    local chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    local out = run({ { "client", "GET / HTTP/1.1\r\n\r\n" }, { "server", chunked } }, [[
on("http.body", function(msg, s, chunk) print("body", msg.status, chunk) end)
on("http.response", function(r) print("response", r.status, r.body_len, r.chunked) end)]])
    h.has(out, "body\t200\thello\nbody\t200\t world\nresponse\t200\t11\ttrue\n")
  end)

  it("gives a 100 Continue as interim, then pairs the final response", function()
    local out = run({
      { "client", "POST /up HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n" },
      { "server", "HTTP/1.1 100 Continue\r\n\r\n" },
      { "client", "abc" },
      { "server", "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n" },
    }, [[
on("http.request", function(r) print("request", r.method, r.body_len) end)
on("http.response", function(r)
  print("response", r.status, tostring(r.interim), r.request and r.request.uri)
end)]])
    h.has(out, "response\t100\ttrue\t/up\nrequest\tPOST\t3\nresponse\t201\tnil\t/up\n")
  end)

  it("has no body for HEAD, and a body ended by close otherwise", function()
    local out = run({
      { "client", "HEAD /a HTTP/1.1\r\n\r\nGET /b HTTP/1.0\r\n\r\n" },
      { "server", "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" },
      { "server", "HTTP/1.0 200 OK\r\n\r\nuntil the end" },
    }, [[on("http.response", function(r) print(r.request.uri, r.body_len, tostring(r.incomplete)) end)]])
    h.has(out, "/a\t0\tnil\n/b\t13\tnil\n")
  end)

  it("gives up the oldest of more than 10,000 unanswered requests", function()
    local reqs = {}
    for i = 1, 10005 do reqs[i] = ("GET /%d HTTP/1.1\r\n\r\n"):format(i) end
    local all, parts = table.concat(reqs), {}
    for i = 1, #all, 1400 do parts[#parts + 1] = { "client", all:sub(i, i + 1399) } end
    parts[#parts + 1] = { "server", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" }
    local out = run(parts, [[
local n = 0
on("http.request", function() n = n + 1 end)
on("http.response", function(r) print("response", n, r.request and r.request.uri) end)]])
    h.has(out, "response\t10005\t/6\n")
  end)
end)
