-- scripts/dns_trace.lua over samples/dns-features.pcap and a bad-input
-- capture: the text lines, --json, the unanswered queries at the end.

local h = require("helper")
local decode = require("json_decode")

local GEN = h.root .. "/samples/gen_dns.py"

local function trace(pcap, ...)
  local r = h.run({ "-r", pcap, "dns_trace", ... })
  assert.are.equal(0, r.code, r.err)
  assert.are.equal("", r.err)
  return r.out
end

describe("dns_trace", function()
  local pcap = h.samples .. "/dns-features.pcap"

  it("prints one line per query/response pair with answers and latency", function()
    local out = trace(pcap, "--no-color")
    h.has(out, "22:13:20.002000 10.0.0.1:40000 -> 10.0.0.2:53 A www.example.com -> NOERROR 192.0.2.1, 192.0.2.2 (14.0 ms)\n")
    h.has(out, " AAAA v6.example.com -> NOERROR CNAME edge.example.com, 2001:db8::1, 2001:db8:0:1::5, 2001:db8:1:2:3:4:5:6 (14.0 ms)\n")
    h.has(out, " A nope.example.com -> NXDOMAIN - (14.0 ms)\n")
    h.has(out, " NS . -> NOERROR a.root-servers.net, b (14.0 ms)\n")
    h.has(out, " TXT big.example.com -> NOERROR - truncated (14.0 ms)\n")
    h.has(out, "10.0.0.1:40002 -> 10.0.0.2:8053 A alt.example.com -> NOERROR 198.51.100.7 (13.0 ms)\n")
    h.has(out, "[2001:db8::1]:40003 -> [2001:db8::2]:53 AAAA six.example.com -> NOERROR 2001:db8::6 (14.0 ms)\n")
    -- the retransmitted query is answered by the one response
    h.has(out, " A retry.example.com -> NOERROR 192.0.2.14 (1034.0 ms)\n")
    assert.are.equal(1, h.count(out, "retry.example.com"))
    h.hasnt(out, "\27[")
    -- unanswered at the end, after every pair
    assert.is_truthy(out:match("unanswered queries:\n22:13:20%.218000 10%.0%.0%.1:40000 %-> 10%.0%.0%.2:53 A silent%.example%.com\n$"), out)
    assert.are.equal(18 + 2, #h.lines(out))
  end)

  it("--json: one object per line in a fixed key order", function()
    local out = trace(pcap, "--json")
    local lines = h.lines(out)
    assert.are.equal(19, #lines)
    assert.is_truthy(lines[1]:match('^{"event":"response","ts":[%d.]+,"session":0,"transport":"udp","client":"10.0.0.1:40000","server":"10.0.0.2:53","id":4097,"qtype":"A","qname":"www.example.com","rcode":"NOERROR","answers":%[{"name":"www.example.com","type":"A","ttl":300,"data":"192.0.2.1"},'), lines[1])
    for _, line in ipairs(lines) do assert.are.equal("table", type(decode(line)), line) end
    local last = decode(lines[#lines])
    assert.are.equal("unanswered", last.event)
    assert.are.equal("silent.example.com", last.qname)
    local tcp = decode(lines[15])
    assert.are.equal("tcp", tcp.transport)
    assert.are.equal("AAAA", tcp.qtype)
    assert.is_true(math.abs(tcp.latency - 0.020) < 1e-6)
  end)

  it("reports a malformed message on its own line and goes on", function()
    local bad = os.tmpname() .. ".pcap"
    assert(os.execute(("python3 %s case pointer_loop_tcp %s"):format(h.quote(GEN), h.quote(bad))))
    local out = trace(bad, "--no-color")
    local js = trace(bad, "--json")
    os.remove(bad)
    h.has(out, "10.0.0.1:40000 -> 10.0.0.2:53 malformed: answer 1 at offset 30: name at offset 30: pointer at offset 32 to 30 does not point backwards (a loop)\n")
    h.has(out, " A same.example.com -> NOERROR 192.0.2.200 (10.0 ms)\n")
    h.has(out, " A next.example.com -> NOERROR 192.0.2.200 (7.0 ms)\n")
    h.has(js, '{"event":"error","ts":')
    h.has(js, '"transport":"tcp","client":"10.0.0.1:40000","server":"10.0.0.2:53","id":47825,"message":"answer 1 at offset 30:')
  end)

  it("--help lists the options", function()
    local r = h.run({ "-r", pcap, "dns_trace", "--help" })
    assert.are.equal(0, r.code)
    h.has(r.out, "--json")
    h.has(r.out, "--no-color")
  end)
end)
