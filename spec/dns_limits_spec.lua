-- Hostile and broken DNS: every case ends in a dns.error event, the engine
-- stays alive ("done" runs, exit status 0), the next message of the same
-- session is still decoded and paired, and so is a later session. The
-- captures are made at test time by samples/gen_dns.py (`gen_dns.py
-- list`): a good exchange, the bad response, a good exchange in the same
-- session, then one in a new UDP session.

local h = require("helper")
local pcap_build = require("pcap_build")

local GEN = h.root .. "/samples/gen_dns.py"

local function make(case)
  local path = os.tmpname() .. ".pcap"
  assert(os.execute(("python3 %s case %s %s"):format(h.quote(GEN), case, h.quote(path))),
    "gen_dns.py case " .. case .. " failed")
  return path
end

local WATCH = [[
on("dns.query", function(m, s) print("query", s.proto, s.id, m.qname) end)
on("dns.response", function(m, s)
  print("response", s.proto, s.id, m.id, tostring(m.qname), m.query and m.query.qname or "-", tostring(m.error))
end)
on("dns.error", function(e, s)
  print("error", e.transport, e.direction, tostring(e.limit), tostring(e.offset), e.message)
end)
on("done", function(st) print("done", st.lua_errors, st.dissector_errors) end)
]]

local function watch(pcap)
  local r = h.script(WATCH, pcap)
  assert.are.equal(0, r.code, r.err)
  assert.are.equal("", r.err)
  h.has(r.out, "done\t0\t0\n")
  return r.out
end

local CASES = {
  { "pointer_loop", nil, "answer 1 at offset 30: name at offset 30: pointer at offset 32 to 30 does not point backwards (a loop)" },
  { "labels_300", "name_labels", "question 1 at offset 12: name at offset 12 has more than 255 labels" },
  { "name_2000", "name_length", "question 1 at offset 12: name at offset 12 is longer than 1025 bytes" },
  { "rdlength_past_end", nil, "answer 1 at offset 31: record data of 400 bytes at offset 43 runs past the end of the message (47 bytes)" },
  { "truncated_header", nil, "truncated header: 6 bytes, a header takes 12" },
  { "counts_too_large", nil, "answer 2 of 40 at offset 47: the message ends (47 bytes)" },
}

describe("DNS bad input", function()
  for _, c in ipairs(CASES) do
    for _, transport in ipairs({ "udp", "tcp" }) do
      it(("%s over %s ends in dns.error; the engine goes on"):format(c[1], transport), function()
        local pcap = make(c[1] .. "_" .. transport)
        local out = watch(pcap)
        os.remove(pcap)
        h.has(out, ("error\t%s\tserver\t%s\t"):format(transport, tostring(c[2])))
        h.has(out, c[3] .. "\n")
        -- same session, after the bad message
        h.has(out, ("response\t%s\t0\t2562\tsame.example.com\tsame.example.com\tnil\n"):format(transport))
        -- a new session after it
        h.has(out, ("response\tudp\t%d\t2563\tnext.example.com\tnext.example.com\tnil\n")
          :format(transport == "udp" and 1 or 0))
        assert.are.equal(1, h.count(out, "error\t"))
      end)
    end
  end

  local function query(id, name)
    local labels = {}
    for l in name:gmatch("[^.]+") do labels[#labels + 1] = string.char(#l) .. l end
    local m = string.pack(">I2I2I2I2I2I2", id, 0x0100, 1, 0, 0, 0) .. table.concat(labels) .. "\0\0\1\0\1"
    return m
  end
  local function answer(id, name)
    local m = query(id, name)
    return string.pack(">I2I2", id, 0x8180) .. m:sub(5, 6) .. "\0\1" .. m:sub(9)
      .. "\192\12\0\1\0\1\0\0\0\60\0\4\1\2\3\4"
  end
  local function framed(m) return string.pack(">s2", m) end

  it("more than 1,000 waiting queries: the oldest are given up, once reported", function()
    local parts, queries = {}, {}
    for i = 1, 1001 do queries[#queries + 1] = framed(query(i, "q" .. i .. ".example")) end
    parts[1] = { "client", table.concat(queries) }
    parts[2] = { "server", framed(answer(1, "q1.example")) .. framed(answer(1001, "q1001.example")) }
    local pcap = h.tmpfile(pcap_build.tcp_session(parts, { port = 53 }), ".pcap")
    local out = watch(pcap)
    os.remove(pcap)
    h.has(out, "error\ttcp\tclient\tpending_queries\tnil\tmore than 1000 queries waiting for a response: the oldest are no longer paired\n")
    assert.are.equal(1, h.count(out, "error\t"))
    h.has(out, "response\ttcp\t0\t1\tq1.example\t-\tnil\n")
    h.has(out, "response\ttcp\t0\t1001\tq1001.example\tq1001.example\tnil\n")
  end)

  it("a stream ending inside a message is reported", function()
    local pcap = h.tmpfile(pcap_build.tcp_session({
      { "client", framed(query(7, "ok.example")) },
      { "server", framed(answer(7, "ok.example")) .. "\0\200\1\2\3" },
    }, { port = 53 }), ".pcap")
    local out = watch(pcap)
    os.remove(pcap)
    h.has(out, "response\ttcp\t0\t7\tok.example\tok.example\tnil\n")
    h.has(out, "error\ttcp\tserver\tnil\t")
    h.has(out, "stream ended inside a message of 200 bytes")
  end)

  it("names: forward pointers, label types, cut-off pointers, escapes", function()
    local r = h.script([[
local wire = require("lunatap.dns_wire")
local function try(bytes)
  local ok, a, b = pcall(wire.name, buffer(bytes), 0)
  if ok then print("name", a, b) else print("error", a.message, tostring(a.limit), a.offset) end
end
try("\3abc\0")
try("\0")
try("\1a\192\4\0\0")                -- forward pointer
try("\1a\64")                       -- extended label type 0x40
try("\1a\192")                      -- pointer cut off
try("\5a.b\\\1\0")                  -- a dot, a backslash, a control byte
try("\2ab\2cd\0\1x\192\0")          -- (at 0) then a second name pointing back
local ok, err = pcall(wire.name, buffer("\2ab\2cd\0\1x\192\0"), 7)
print("back", ok, err)
local m, e = wire.parse(buffer("\0\1\0\0"))
print("parse", tostring(m), e.message)
]], h.samples .. "/udp-echo.pcap")
    assert.are.equal(0, r.code, r.err)
    h.has(r.out, "name\tabc\t5\n")
    h.has(r.out, "name\t.\t1\n")
    h.has(r.out, "error\tname at offset 0: pointer at offset 2 to 4 does not point backwards (a loop)\tnil\t2\n")
    h.has(r.out, "error\tname at offset 0: label type 0x40 at offset 2 is not supported\tnil\t2\n")
    h.has(r.out, "error\tname at offset 0: pointer at offset 2 cut off by the end\tnil\t2\n")
    h.has(r.out, "name\ta\\.b\\\\\\001\t7\n")
    h.has(r.out, "back\ttrue\tx.ab.cd\n")
    h.has(r.out, "parse\tnil\ttruncated header: 4 bytes, a header takes 12\n")
  end)
end)
