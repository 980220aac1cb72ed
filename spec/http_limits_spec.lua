-- Hostile and broken HTTP: every case ends in an event, the engine stays
-- alive ("done" runs, exit status 0), and what follows the bad part on the
-- same connection is still read. The captures are made at test time by
-- samples/gen_http.py (see `gen_http.py list`).

local h = require("helper")

local GEN = h.root .. "/samples/gen_http.py"

local function make(case)
  local path = os.tmpname() .. ".pcap"
  local ok = os.execute(("python3 %s case %s %s"):format(h.quote(GEN), case, h.quote(path)))
  assert(ok, "gen_http.py case " .. case .. " failed")
  return path
end

-- Prints every HTTP event as one line; "done" proves the engine lived.
local WATCH = [[
local http = require("lunatap.http")
if arg[1] == "bodies" then http.want_bodies() end
on("http.request", function(r, s)
  print("request", r.method, r.uri, r.body_len, tostring(r.incomplete))
end)
on("http.response", function(r, s)
  print("response", r.status, r.body_len, r.request and r.request.uri or "-",
        tostring(r.incomplete), r.body and #r.body or "-", tostring(r.body_truncated))
end)
on("http.error", function(e, s)
  print("error", e.direction, tostring(e.limit), tostring(e.fatal), e.message)
end)
on("websocket.open", function(ws, s) print("websocket.open") end)
on("done", function(st)
  print("done", st.lua_errors, st.dissector_errors, st.lua_mem_peak)
end)
]]

local function watch(case, bodies, before)
  local pcap = make(case)
  local r = h.script(WATCH, pcap, before, { bodies and "bodies" or "headers" })
  os.remove(pcap)
  assert.are.equal(0, r.code, r.err)
  assert.are.equal("", r.err)
  local done = r.out:match("done\t(%d+)\t(%d+)\t(%d+)\n")
  assert.is_truthy(done, "the engine did not reach done:\n" .. r.out)
  return r.out, tonumber(r.out:match("done\t%d+\t%d+\t(%d+)"))
end

describe("HTTP bad input", function()
  it("a 1 MB header line is a limit, and the next request is read", function()
    local out = watch("huge_header_line")
    h.has(out, "error\tclient\tline\tnil\tline: no end of line within")
    h.has(out, "request\tGET\t/after\t0\tnil\n")
    h.has(out, "response\t200\t6\t/after\t")
  end)

  it("100,000 headers stop at 1,024, and the next request is read", function()
    local out = watch("many_headers")
    h.has(out, "error\tclient\theaders\tnil\theaders: limit of 1024 reached")
    h.has(out, "request\tGET\t/after\t0\tnil\n")
    h.has(out, "response\t200\t6\t/after\t")
  end)

  it("an endless chunked body ends with the session, marked incomplete", function()
    local out = watch("endless_chunked")
    local len = tonumber(out:match("response\t200\t(%d+)\t/[^\t]*\ttrue\t"))
    assert.is_truthy(len, out)
    assert.is_true(len > 5000000)
  end)

  it("an endless chunked body kept for scripts stops at --max-body", function()
    local out, peak = watch("endless_chunked", true, { "--max-body", "100000" })
    h.has(out, "\ttrue\t100000\ttrue\n")
    assert.is_true(peak < 64 * 1024 * 1024, "Lua memory peak " .. peak)
  end)

  it("a chunk size of 2^63 is a fatal limit for that direction", function()
    local out = watch("chunk_2p63")
    h.has(out, "error\tserver\tchunk_size\ttrue\t")
    h.hasnt(out, "response\t")
  end)

  it("a gzip bomb decodes only up to --max-body", function()
    local out, peak = watch("gzip_bomb", true, { "--max-body", "1048576" })
    h.has(out, "\tnil\t1048576\ttrue\n")
    assert.is_true(peak < 64 * 1024 * 1024, "Lua memory peak " .. peak)
  end)

  it("a gzip bomb nobody asked to decode is only counted", function()
    local out = watch("gzip_bomb")
    assert.is_truthy(out:match("response\t200\t%d+\t/[^\t]*\tnil\t%-\tnil\n"), out)
  end)

  it("a body with neither length nor close ends with the capture", function()
    local out = watch("no_length_no_close")
    h.has(out, "response\t200\t3000\t")
  end)

  it("garbage in a keep-alive connection is reported and skipped", function()
    local out = watch("garbage_keepalive")
    h.has(out, "request\tGET\t/first\t")
    h.has(out, "error\tclient\tnil\tnil\t")
    h.has(out, "request\tGET\t/second\t0\tnil\n")
    h.has(out, "response\t200\t3\t/second\t")
  end)

  it("a hole inside a request body is skipped; the next request pairs", function()
    local out = watch("gap_then_request")
    h.has(out, "request\tPOST\t/upload\t5000\tnil\n")
    h.has(out, "response\t200\t7\t/upload\t")
    h.has(out, "response\t200\t6\t/after\t")
  end)

  it("a WebSocket frame claiming 2^63 bytes is a fatal limit", function()
    local out = watch("ws_2p63")
    h.has(out, "websocket.open\n")
    h.has(out, "error\tserver\tws_frame\ttrue\t")
  end)
end)
