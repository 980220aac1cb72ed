-- scripts/http_trace.lua as a user runs it: the lines it prints for the
-- loopback capture, its --json records checked against the ground truth of
-- samples/http-features.pcap (samples/http-features.truth.json), every
-- filter and its -ignore variant, --headers, --show-header, --bodies,
-- --tcp-verbose, colour only on a terminal, and usage errors.

local h = require("helper")
local build = require("pcap_build")
local J = require("json_decode")

local has, hasnt = h.has, h.hasnt
local LOOPBACK = h.samples .. "/http-loopback.pcap"
local FEATURES, TRUTH = h.http_features()
local truth = J.decode(h.slurp(TRUTH))

local function trace(pcap, ...)
  local r = h.run({ "-r", pcap, "http_trace", ... })
  return r
end

-- Runs http_trace --json; returns the decoded records (asserting exit 0 and
-- a silent stderr).
local function records(pcap, ...)
  local r = trace(pcap, "--json", ...)
  assert.are.equal("", r.err)
  assert.are.equal(0, r.code)
  return J.lines(r.out)
end

local function of_event(recs, event)
  local out = {}
  for _, r in ipairs(recs) do
    if r.event == event then out[#out + 1] = r end
  end
  return out
end

local function near(want, got, what)
  assert(type(got) == "number", what .. ": expected a number, got " .. tostring(got))
  assert(math.abs(want - got) < 2e-6, ("%s: expected %.6f, got %.6f"):format(what, want, got))
end

local function null(v) return v == J.null end

local OPCODES = { [0] = "continuation", [1] = "text", [2] = "binary", [9] = "ping", [10] = "pong" }

-- Capture time as http_trace prints it (UTC).
local function clock(t)
  local sec = math.floor(t)
  return ("%s.%06d"):format(os.date("!%H:%M:%S", sec), math.floor((t - sec) * 1e6 + 0.5) % 1000000)
end

-- The truth's session holding the request for `uri`, and that request.
local function truth_request(uri)
  for _, s in ipairs(truth.sessions) do
    for _, q in ipairs(s.requests) do
      if q.uri == uri then return s, q end
    end
  end
  error("no request for " .. uri .. " in the truth")
end

-- Captures built for one case (spec/pcap_build.lua).
local function pcap_of(parts, port)
  return h.tmpfile(build.tcp_session(parts, { port = port }), ".pcap")
end

local function response_text(status, headers, body)
  local lines = { "HTTP/1.1 " .. status }
  for _, kv in ipairs(headers) do lines[#lines + 1] = kv end
  lines[#lines + 1] = "Content-Length: " .. #body
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. body
end

------------------------------------------------------------------------

describe("http_trace", function()
  describe("human output", function()
    it("prints each request and response of the loopback capture", function()
      local r = trace(LOOPBACK)
      assert.are.equal(0, r.code)
      assert.are.equal("", r.err)
      local lines = h.lines(r.out)
      assert.are.same({
        "05:12:56.666302 127.0.0.1:39168 -> 127.0.0.1:18080 #1 GET /index.html HTTP/1.1",
        "  Host: 127.0.0.1:18080",
        "  User-Agent: curl/7.88.1",
        "05:12:56.671222 127.0.0.1:39168 <- 127.0.0.1:18080 #1 200 OK 19 bytes 4.9 ms",
        "  Content-type: text/html",
      }, { table.unpack(lines, 1, 5) })
      has(r.out, "127.0.0.1:39172 <- 127.0.0.1:18080 #1 200 OK 20000 bytes 0.8 ms")
      has(r.out, "127.0.0.1:39184 <- 127.0.0.1:18080 #1 404 File not found 335 bytes 0.9 ms")
      has(r.out, "05:12:56.691379 [::1]:50804 -> [::1]:18080 #1 GET /index.html HTTP/1.1")
      local requests, responses = 0, 0
      for _, l in ipairs(lines) do
        if l:find(" -> .* #%d+ ") then requests = requests + 1 end
        if l:find(" <%- .* #%d+ ") then responses = responses + 1 end
      end
      assert.are.equal(4, requests)
      assert.are.equal(4, responses)
    end)

    it("prints every request, response and WebSocket message of the features capture", function()
      local r = trace(FEATURES)
      assert.are.equal(0, r.code)
      for _, s in ipairs(truth.sessions) do
        for _, q in ipairs(s.requests) do
          local line = ("%s %s -> %s #%d %s %s %s"):format(clock(q.ts), s.client, s.server, q.index,
            q.method, q.uri, q.version)
          if q.body_len > 0 then line = line .. (" %d bytes"):format(q.body_len) end
          has(r.out, line .. "\n")
        end
        for _, res in ipairs(s.responses) do
          has(r.out, ("%s %s <- %s #%d %d %s %d bytes %.1f ms\n"):format(clock(res.ts), s.client,
            s.server, res.request, res.status, res.reason, res.body_len, res.latency * 1000))
        end
        if s.websocket then
          has(r.out, (" %s <> %s #1 websocket open /chat\n"):format(s.client, s.server))
          for _, m in ipairs(s.websocket.messages) do
            local arrow = m.from == "client" and "->" or "<-"
            if m.opcode == 8 then
              local reason = m.reason ~= "" and " " .. m.reason or ""
              has(r.out, (" %s %s %s websocket close %d%s\n"):format(s.client, arrow, s.server, m.code, reason))
            else
              has(r.out, (" %s %s %s websocket %s %d bytes\n"):format(s.client, arrow, s.server,
                OPCODES[m.opcode], m.len))
            end
          end
        end
      end
    end)

    it("shows a response without a request as #? and no latency", function()
      local pcap = pcap_of({ { "server", response_text("200 OK", { "Content-Type: text/plain" }, "hi\n") } })
      local r = trace(pcap)
      os.remove(pcap)
      has(r.out, "10.0.0.1:40000 <- 10.0.0.2:80 #? 200 OK 3 bytes\n")
    end)

    it("escapes control characters from the wire", function()
      local pcap = pcap_of({
        { "client", "GET /a\27[2J HTTP/1.1\r\nHost: x\27]0;pwned\7\r\n\r\n" },
        { "server", response_text("200 O\27K", { "Content-Type: text/plain" }, "a\27[31mb\n") },
      })
      local r = trace(pcap, "--bodies")
      os.remove(pcap)
      hasnt(r.out, "\27")
      hasnt(r.out, "\7")
      has(r.out, "GET /a\\x1b[2J HTTP/1.1")
      has(r.out, "  Host: x\\x1b]0;pwned\\x07")
      has(r.out, "200 O\\x1bK 8 bytes")
      has(r.out, "  | a\\x1b[31mb")
    end)
  end)

  describe("--json", function()
    it("matches the features capture's ground truth", function()
      local recs = records(FEATURES)
      local reqs, ress = of_event(recs, "request"), of_event(recs, "response")
      local by_session = {}
      for _, r in ipairs(recs) do
        assert.is_string(r.event)
        assert.is_number(r.session)
        assert.is_number(r.ts)
        local t = by_session[r.session] or { request = {}, response = {} }
        by_session[r.session] = t
        if t[r.event] then table.insert(t[r.event], r) end
      end
      local nreq, nres = 0, 0
      for _, s in ipairs(truth.sessions) do
        local got = by_session[s.index]
        assert(got, "no records for session " .. s.index .. " (" .. s.name .. ")")
        assert.are.equal(#s.requests, #got.request, s.name .. ": requests")
        assert.are.equal(#s.responses, #got.response, s.name .. ": responses")
        for i, want in ipairs(s.requests) do
          local r = got.request[i]
          local what = ("%s request %d"):format(s.name, i)
          assert.are.equal(s.client, r.client, what)
          assert.are.equal(s.server, r.server, what)
          assert.are.equal(want.index, r.index, what)
          assert.are.equal(want.method, r.method, what)
          assert.are.equal(want.uri, r.uri, what)
          assert.are.equal(want.version, r.version, what)
          assert.are.equal(want.body_len, r.body_len, what)
          assert.are.equal("lunatap-gen/1.0", r.user_agent, what)
          assert.is_string(r.host, what)
          assert.is_nil(r.incomplete, what)
          assert.is_nil(r.headers, what)
          near(want.ts, r.ts, what .. " ts")
        end
        for i, want in ipairs(s.responses) do
          local r = got.response[i]
          local what = ("%s response %d"):format(s.name, i)
          assert.are.equal(want.status, r.status, what)
          assert.are.equal(want.reason, r.reason, what)
          assert.are.equal(want.version, r.version, what)
          assert.are.equal(want.body_len, r.body_len, what)
          assert.are.equal(want.request, r.index, what)
          local req = s.requests[want.request]
          assert.are.equal(req.method, r.method, what)
          assert.are.equal(req.uri, r.uri, what)
          near(want.ts, r.ts, what .. " ts")
          near(want.latency, r.latency, what .. " latency")
          assert.is_truthy(r.content_type ~= nil, what .. ": content_type is written (null when absent)")
        end
        nreq, nres = nreq + #s.requests, nres + #s.responses
      end
      assert.are.equal(nreq, #reqs)
      assert.are.equal(nres, #ress)
    end)

    it("has the WebSocket open, messages and closes of the truth", function()
      local recs = records(FEATURES)
      local ws
      for _, s in ipairs(truth.sessions) do
        if s.websocket then ws = s end
      end
      local open = of_event(recs, "websocket.open")
      assert.are.equal(1, #open)
      assert.are.equal(ws.index, open[1].session)
      assert.are.equal("/chat", open[1].uri)
      assert.are.equal(1, open[1].index)
      local msgs, closes = of_event(recs, "websocket.message"), of_event(recs, "websocket.close")
      local want_msgs, want_closes = {}, {}
      for _, m in ipairs(ws.websocket.messages) do
        if m.opcode == 8 then
          want_closes[#want_closes + 1] = { from = m.from, code = m.code, reason = m.reason }
        else
          want_msgs[#want_msgs + 1] = { from = m.from, opcode = m.opcode, len = m.len }
        end
      end
      local got_msgs, got_closes = {}, {}
      for i, m in ipairs(msgs) do
        assert.are.equal(ws.index, m.session)
        got_msgs[i] = { from = m.from, opcode = m.opcode, len = m.len }
      end
      for i, c in ipairs(closes) do got_closes[i] = { from = c.from, code = c.code, reason = c.reason } end
      assert.are.same(want_msgs, got_msgs)
      assert.are.same(want_closes, got_closes)
    end)

    it("writes index, method, uri and latency as null for a response without a request", function()
      local pcap = pcap_of({ { "server", response_text("200 OK", { "Content-Type: text/plain" }, "hi\n") } })
      local r = trace(pcap, "--json")
      os.remove(pcap)
      local recs = J.lines(r.out)
      assert.are.equal(1, #recs)
      local res = recs[1]
      assert.are.equal("response", res.event)
      assert.is_true(null(res.index) and null(res.method) and null(res.uri) and null(res.latency))
      assert.are.equal(200, res.status)
      assert.are.equal("text/plain", res.content_type)
    end)

    it("marks a message cut off by the end of the session incomplete", function()
      local pcap = pcap_of({
        { "client", "GET /cut HTTP/1.1\r\nHost: x\r\n\r\n" },
        { "server", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this" },
      })
      local recs = records(pcap)
      os.remove(pcap)
      local res = of_event(recs, "response")[1]
      assert.is_true(res.incomplete)
      assert.are.equal(9, res.body_len)
      assert.is_nil(of_event(recs, "request")[1].incomplete)
    end)

    it("adds a headers object with --headers", function()
      local recs = records(LOOPBACK, "--headers")
      local req, res = of_event(recs, "request")[1], of_event(recs, "response")[1]
      assert.are.same({ host = "127.0.0.1:18080", accept = "*/*", ["user-agent"] = "curl/7.88.1" },
        req.headers)
      assert.are.equal("19", res.headers["content-length"])
      assert.are.equal("text/html", res.headers["content-type"])
    end)
  end)

  describe("filters", function()
    -- { session, index } of the requests shown, and of the requests the
    -- responses shown answer.
    local function shown(...)
      local recs = records(FEATURES, ...)
      local reqs, ress = {}, {}
      for _, r in ipairs(recs) do
        if r.event == "request" then reqs[#reqs + 1] = r.session .. "#" .. r.index .. " " .. r.uri end
        if r.event == "response" then ress[#ress + 1] = r end
      end
      return reqs, ress, recs
    end

    -- Every response shown answers a request shown, and every response of
    -- a shown request (per the truth) is shown.
    local function responses_follow(reqs, ress)
      local shown_req = {}
      for _, k in ipairs(reqs) do shown_req[k:match("^%S+")] = true end
      local want = 0
      for _, s in ipairs(truth.sessions) do
        for _, res in ipairs(s.responses) do
          if shown_req[s.index .. "#" .. res.request] then want = want + 1 end
        end
      end
      for _, r in ipairs(ress) do
        assert.is_true(shown_req[r.session .. "#" .. r.index] == true,
          "response to an unshown request: " .. r.session .. "#" .. tostring(r.index))
      end
      assert.are.equal(want, #ress)
    end

    local function uris(reqs)
      local t = {}
      for i, k in ipairs(reqs) do t[i] = k:match(" (.*)$") end
      return t
    end

    it("--method keeps exact methods in any case, and is repeatable", function()
      local reqs, ress = shown("--method", "post")
      assert.are.same({ "/upload", "/ingest", "/form" }, uris(reqs))
      responses_follow(reqs, ress)
      reqs = shown("--method", "HEAD", "--method", "CONNECT")
      assert.are.same({ "/big.bin", "example.com:443" }, uris(reqs))
      assert.are.same({}, (shown("--method", "GE")))
    end)

    it("--method-ignore drops methods", function()
      local reqs, ress = shown("--method-ignore", "GET", "--method-ignore", "head")
      assert.are.same({ "/upload", "example.com:443", "/ingest", "/form" }, uris(reqs))
      responses_follow(reqs, ress)
    end)

    it("--host and --host-ignore match a substring of Host in any case", function()
      local reqs, ress = shown("--host", "EXAMPLE.COM:31600")
      assert.are.same({ "/status" }, uris(reqs))
      responses_follow(reqs, ress)
      reqs = shown("--host", "2001:db8", "--host", ":31600")
      assert.are.same({ "/status", "/api/items" }, uris(reqs))
      reqs, ress = shown("--host-ignore", "www.example.com")
      assert.are.same({ "example.com:443", "/api/items" }, uris(reqs))
      responses_follow(reqs, ress)
    end)

    it("--url and --url-ignore match a substring of the URI in any case", function()
      local reqs, ress = shown("--url", ".GZ")
      assert.are.same({ "/text.gz", "/text-chunked.gz" }, uris(reqs))
      responses_follow(reqs, ress)
      reqs, ress = shown("--url-ignore", ".txt", "--url-ignore", "/")
      assert.are.same({ "example.com:443" }, uris(reqs))
      responses_follow(reqs, ress)
    end)

    it("--user-agent and --user-agent-ignore match a substring of User-Agent", function()
      local all = shown()
      local reqs = shown("--user-agent", "LUNATAP-GEN")
      assert.are.same(all, reqs)
      local _, ress, recs = shown("--user-agent-ignore", "lunatap-gen")
      assert.are.same({}, recs)
      assert.are.same({}, ress)
      local r = records(LOOPBACK, "--user-agent", "curl/7")
      assert.are.equal(8, #r)
      assert.are.same({}, records(LOOPBACK, "--user-agent", "wget"))
      assert.are.same({}, records(LOOPBACK, "--user-agent-ignore", "CURL"))
    end)

    it("combines options: all must match, no -ignore may", function()
      local reqs, ress = shown("--method", "GET", "--url", ".txt", "--url-ignore", "/a.")
      assert.are.same({ "/b.txt", "/legacy.txt", "/data.txt" }, uris(reqs))
      responses_follow(reqs, ress)
    end)

    it("shows a 100 Continue sent before its request was complete", function()
      local reqs, ress = shown("--url", "/upload")
      assert.are.same({ "/upload" }, uris(reqs))
      assert.are.equal(2, #ress)
      assert.are.same({ 100, 201 }, { ress[1].status, ress[2].status })
    end)

    it("WebSocket traffic follows its upgrade request", function()
      local _, _, recs = shown("--url", "/chat")
      assert.are.equal(1, #of_event(recs, "websocket.open"))
      assert.is_true(#of_event(recs, "websocket.message") > 0)
      _, _, recs = shown("--url-ignore", "/chat")
      assert.are.equal(0, #of_event(recs, "websocket.open"))
      assert.are.equal(0, #of_event(recs, "websocket.message"))
      assert.are.equal(0, #of_event(recs, "websocket.close"))
    end)

    it("hides responses without a request when a filter is in use", function()
      local pcap = pcap_of({ { "server", response_text("200 OK", {}, "hi\n") } })
      local r = trace(pcap, "--url", "/")
      os.remove(pcap)
      assert.are.equal("", r.out)
    end)
  end)

  describe("headers and bodies", function()
    it("--headers prints every header in the order sent", function()
      local r = trace(LOOPBACK, "--headers")
      has(r.out, "HTTP/1.1\n  Host: 127.0.0.1:18080\n  User-Agent: curl/7.88.1\n  Accept: */*\n")
      has(r.out, "  Server: SimpleHTTP/0.6 Python/3.11.7\n")
    end)

    it("--show-header adds headers whose name matches a pattern, in any case", function()
      local r = trace(FEATURES, "--show-header", "ETAG", "--show-header", "^accept%-")
      has(r.out, "  ETag: \"gz-20k-v1\"\n")
      has(r.out, "  Accept-Encoding: gzip, deflate\n")
      hasnt(r.out, "  Accept: */*")
      hasnt(r.out, "  Content-Length:")
      r = trace(FEATURES, "--show-header", "^%a+$")
      has(r.out, "  Location: http://www.example.com/new\n")
      hasnt(r.out, "  Content-Type: text/plain\n  Content-Length")
    end)

    it("--bodies prints text bodies, decoded, and skips binary ones", function()
      local r = trace(FEATURES, "--bodies")
      assert.are.equal(0, r.code)
      has(r.out, "  body, 16 bytes:\n  | {\"status\":\"ok\"}\n")
      has(r.out, "  body, 7028 bytes of image/png not shown\n")
      has(r.out, "  body, 2000 bytes of application/octet-stream not shown\n")
      has(r.out, "  body, 20000 bytes:\n  | 00000 ")       -- gzip, decoded
      has(r.out, "  | <html><body>not found</body></html>\n")
      has(r.out, "websocket text 5 bytes\n  | hello\n")
    end)

    it("--bodies --json adds the text body", function()
      local recs = records(FEATURES, "--bodies")
      local found
      for _, r in ipairs(recs) do
        if r.event == "response" and r.uri == "/status" then found = r end
        if r.event == "response" and r.uri == "/logo.png" then assert.is_nil(r.body) end
      end
      assert.are.equal('{"status":"ok"}\n', found.body)
    end)
  end)

  describe("--tcp-verbose", function()
    it("adds TCP lines for sessions with HTTP shown", function()
      local s = truth_request("/data.txt")
      local r = trace(FEATURES, "--tcp-verbose", "--url", "/data.txt")
      local lines = h.lines(r.out)
      local pair = s.client .. " -> " .. s.server
      assert.is_truthy(lines[1]:match("^%d%d:%d%d:%d%d%.%d%d%d%d%d%d (.*) tcp start$") == pair, lines[1])
      has(r.out, pair .. " tcp retransmission from server, seq ")
      has(r.out, pair .. " tcp end (closed) after ")
      assert.is_truthy(lines[#lines]:find(pair .. " tcp end", 1, true))
      for _, l in ipairs(lines) do
        assert.is_truthy(l:find(s.client, 1, true) or l:match("^  "), "another session: " .. l)
      end
      hasnt(r.out, "/form")
    end)

    it("writes tcp.* records with --json", function()
      local recs = records(FEATURES, "--tcp-verbose", "--url", "/status")
      local events = {}
      for i, r in ipairs(recs) do events[i] = r.event end
      assert.are.same({ "tcp.start", "request", "response", "tcp.end" }, events)
      assert.are.equal("closed", recs[4].state)
      assert.are.equal(truth_request("/status").index, recs[4].session)
    end)
  end)

  describe("colour", function()
    -- Runs under a pseudo-terminal (util-linux script), so stdout is a TTY.
    local function on_tty(...)
      local args = { h.quote(h.bin), "-r", h.quote(LOOPBACK), "http_trace" }
      for _, a in ipairs({ ... }) do args[#args + 1] = h.quote(a) end
      return h.capture("script -qec " .. h.quote(table.concat(args, " ")) .. " /dev/null 2>&1")
    end

    it("is used on a terminal, and never with --no-color or into a pipe", function()
      if (h.capture("command -v script") or "") == "" then
        pending("util-linux script is not installed")
        return
      end
      has(on_tty(), "\27[")
      local plain = on_tty("--no-color")
      has(plain, "GET /index.html")
      hasnt(plain, "\27[")
      hasnt(trace(LOOPBACK).out, "\27[")
      hasnt(trace(LOOPBACK, "--no-color").out, "\27[")
    end)
  end)

  describe("usage", function()
    it("--help lists the options and exits 0", function()
      local r = trace(LOOPBACK, "--help")
      assert.are.equal(0, r.code)
      for _, o in ipairs({ "--method M", "--method-ignore M", "--host H", "--host-ignore H", "--url U",
                           "--url-ignore U", "--user-agent UA", "--user-agent-ignore UA", "--headers",
                           "--show-header PATTERN", "--bodies", "--tcp-verbose", "--no-color", "--json" }) do
        has(r.out, "  " .. o .. " ")
      end
    end)

    it("an unknown option, a missing value or a bad pattern exits 2 with one line", function()
      for _, args in ipairs({ { "--bogus" }, { "--method" }, { "--headers=yes" },
                              { "--show-header", "[a" } }) do
        local r = trace(LOOPBACK, table.unpack(args))
        assert.are.equal(2, r.code, table.concat(args, " "))
        assert.are.equal("", r.out)
        assert.is_truthy(r.err:match("^lunatap: http_trace: [^\n]+\n$"), r.err)
      end
    end)
  end)
end)
