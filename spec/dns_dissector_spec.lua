-- The DNS dissector against the ground truth of samples/dns-features.pcap
-- (written by samples/gen_dns.py), and the fields of docs/dns.md one by one.

local h = require("helper")
local decode = require("json_decode")

local function features()
  local pcap, truth = h.samples .. "/dns-features.pcap", h.samples .. "/dns-features.truth.json"
  local f = io.open(pcap, "rb")
  if f then
    f:close()
    return pcap, truth
  end
  pcap, truth = os.tmpname() .. ".pcap", os.tmpname() .. ".json"
  assert(os.execute(("python3 %s/gen_dns.py features %s %s"):format(h.quote(h.samples), h.quote(pcap),
    h.quote(truth))), "samples/gen_dns.py failed")
  return pcap, truth
end

-- One JSON line per message with the fields the truth has.
local EVENTS = [[
local function datas(list)
  local t = {}
  for i, r in ipairs(list) do t[i] = r.data end
  return t
end
local function show(m, s)
  print(json({ transport = m.transport, ts = m.ts, id = m.id, qr = m.flags.qr, qname = m.qname,
               qtype = m.qtype, rcode = m.rcode, answers = datas(m.answers),
               authority = datas(m.authority), tc = m.flags.tc, latency = m.latency,
               query_id = m.query and m.query.id, retries = m.retries and #m.retries,
               session = s.id, proto = s.proto },
             { "transport", "ts", "id", "qr", "qname", "qtype", "rcode", "answers", "authority", "tc",
               "latency", "query_id", "retries", "session", "proto" },
             { latency = true, query_id = true, retries = true }))
end
on("dns.query", show)
on("dns.response", show)
on("dns.error", function(e) print(json({ error = e.message })) end)
on("done", function(st) print(json({ done = st.dissector_errors })) end)
]]

local function run(script, pcap)
  local r = h.script(script, pcap)
  assert.are.equal(0, r.code, r.err)
  assert.are.equal("", r.err)
  return r.out
end

describe("DNS dissector", function()
  local pcap, truth_path = features()
  local truth = decode(h.slurp(truth_path)).messages

  it("decodes every message of dns-features.pcap as its truth says", function()
    local got = {}
    for _, line in ipairs(h.lines(run(EVENTS, pcap))) do got[#got + 1] = decode(line) end
    local done = table.remove(got)
    assert.are.same({ done = 0 }, done)
    assert.are.equal(#truth, #got)
    for i, t in ipairs(truth) do
      local g = got[i]
      local where = ("message %d (id %d)"):format(i, t.id)
      assert.are.equal(t.transport, g.transport, where)
      assert.are.equal(t.id, g.id, where)
      assert.are.equal(t.qr, g.qr, where)
      assert.are.equal(t.qname, g.qname, where)
      assert.are.equal(t.qtype, g.qtype, where)
      assert.are.equal(t.rcode, g.rcode, where)
      assert.are.same(t.answers, g.answers, where)
      if t.authority then assert.are.same(t.authority, g.authority, where) end
      assert.are.equal(t.tc or false, g.tc, where)
      assert.is_true(math.abs(t.ts - g.ts) < 1e-5, where .. ": ts " .. g.ts .. " vs " .. t.ts)
    end
  end)

  it("pairs responses with queries by id and question, with latency", function()
    local got = {}
    for _, line in ipairs(h.lines(run(EVENTS, pcap))) do got[#got + 1] = decode(line) end
    local queries = {}
    for i, t in ipairs(truth) do
      local g = got[i]
      if not t.qr then
        queries[t.id] = queries[t.id] or t
      else
        assert.are.equal(t.id, g.query_id, "response " .. t.id)
        local q = queries[t.id]
        assert.is_true(math.abs(g.latency - (t.ts - q.ts)) < 1e-5, "latency of " .. t.id)
      end
    end
    -- the retransmitted query: the response pairs with the first copy and
    -- answers the second too
    for _, g in ipairs(got) do
      if g.id == 0x100E and g.qr then
        assert.are.equal(1, g.retries)
        assert.is_true(g.latency > 1.0)
      end
    end
  end)

  it("fills the record fields of docs/dns.md", function()
    local out = run([[
local seen = {}
on("dns.response", function(m, s)
  for _, sec in ipairs({ m.answers, m.authority, m.additional }) do
    for _, r in ipairs(sec) do
      local t = r.type
      if t == "MX" then print("MX", r.name, r.ttl, r.class, r.preference, r.exchange)
      elseif t == "SRV" then print("SRV", r.priority, r.weight, r.port, r.target)
      elseif t == "SOA" then print("SOA", r.mname, r.rname, r.serial, r.refresh, r.retry, r.expire, r.minimum)
      elseif t == "TXT" then print("TXT", #r.strings, r.strings[1], r.strings[2])
      elseif t == "OPT" and not seen[m.id] then
        seen[m.id] = true
        local e = m.edns
        print("OPT", m.id, e.udp_size, e.version, e.extended_rcode, tostring(e.dnssec_ok), #e.options,
              e.options[1] and e.options[1].name, e.options[1] and e.options[1].data)
      elseif t == "TYPE65534" then print("RAW", r.type_code, r.rdlength, r.data)
      end
    end
  end
  if m.id == 0x1001 then
    local f = m.flags
    print("FLAGS", tostring(f.qr), tostring(f.rd), tostring(f.ra), tostring(f.aa), f.opcode, m.opcode,
          m.rcode_code, m.qclass, m.questions[1].type_code, m.qdcount, m.ancount, m.arcount, m.size)
  end
  if m.id == 0x1009 then print("EXT", m.rcode, m.rcode_code) end
end)
print(json(buffer("x")))
]], pcap)
    h.has(out, "MX\texample.com\t300\tIN\t10\tmail.example.com\n")
    h.has(out, "SRV\t10\t60\t5060\tsip.example.com\n")
    h.has(out, "SOA\tns1.example.com\thostmaster.example.com\t2024010101\t7200\t900\t1209600\t300\n")
    h.has(out, "TXT\t2\tv=spf1 -all\ttwo \"q\n")
    h.has(out, "OPT\t4097\t1232\t0\t0\ttrue\t1\tCOOKIE\t000102030405060708090a0b0c0d0e0f1011121314151617\n")
    h.has(out, "EXT\tBADVERS\t16\n")
    h.has(out, "RAW\t65534\t3\t\\# 3 0102ff\n")
    h.has(out, "FLAGS\ttrue\ttrue\ttrue\tfalse\t0\tQUERY\t0\tIN\t1\t1\t2\t1\t")
  end)

  it("gives the query's EDNS options and a json() of whole messages", function()
    local out = run([[
on("dns.query", function(m)
  if m.id == 0x1001 then
    for _, o in ipairs(m.edns.options) do print(o.code, o.name, o.data) end
  end
end)
on("dns.response", function(m)
  if m.id == 0x1002 then print(json(m)) end
end)
]], pcap)
    h.has(out, "10\tCOOKIE\t0001020304050607\n")
    h.has(out, "8\tCLIENT_SUBNET\t00011800c00002\n")
    local line = out:match("(%b{})\n$")
    local m = decode(line)
    assert.are.equal("v6.example.com", m.query.qname)
    assert.are.equal("CNAME", m.answers[1].type)
    assert.are.equal(60, m.answers[1].ttl)
  end)

  it("takes DNS over TCP on another port by its first bytes", function()
    local out = run([[
on("dns.query", function(m, s) if m.transport == "tcp" then print(m.id, s.server_port) end end)
]], pcap)
    h.has(out, tostring(0x3001) .. "\t8053\n")
    h.has(out, tostring(0x2002) .. "\t53\n")
  end)

  it("costs nothing without a DNS handler", function()
    -- no packet hook, no datagram calls: a handful of start/done calls
    -- however many packets (dns-features.pcap has 57)
    local out = run([[on("done", function(st) print(st.dissector_sessions, st.lua_calls, st.packets) end)]], pcap)
    local sessions, calls, packets = out:match("^(%d+)\t(%d+)\t(%d+)\n$")
    assert.are.equal("0", sessions)
    assert.is_true(tonumber(calls) < 10 and tonumber(packets) > 50, out)
  end)
end)
