-- scripts/tls_trace.lua over samples/tls-features.pcap and a bad-input
-- capture: the text lines, --json, --no-color, --help.

local h = require("helper")
local decode = require("json_decode")
local pcap_build = require("pcap_build")

local function trace(pcap, ...)
  local r = h.run({ "-r", pcap, "tls_trace", ... })
  assert.are.equal(0, r.code, r.err)
  assert.are.equal("", r.err)
  return r.out
end

describe("tls_trace", function()
  local pcap = h.samples .. "/tls-features.pcap"

  it("prints one line per connection", function()
    local out = trace(pcap, "--no-color")
    local lines = h.lines(out)
    assert.are.equal(9, #lines)
    assert.are.equal("22:13:20.007000 10.0.0.1:40000 -> 10.0.0.2:443 sni=www.example.com alpn=h2,http/1.1 -> h2 version=TLS 1.2 -> TLS 1.2 cipher=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 alerts: client encrypted", lines[1])
    assert.are.equal("22:13:20.095000 10.0.0.1:40001 -> 10.0.0.2:443 sni=api.example.com alpn=h2,http/1.1 -> - version=TLS 1.3 -> TLS 1.3 cipher=TLS_AES_128_GCM_SHA256", lines[2])
    h.has(lines[4], "[2001:db8::1]:40003 -> [2001:db8::2]:443 sni=v6.example.com ")
    assert.are.equal("22:13:20.317000 10.0.0.1:40004 -> 10.0.0.2:443 sni=alert.example.com alpn=http/1.1 -> - version=TLS 1.2 -> - cipher=- [no ServerHello] alerts: server fatal handshake_failure", lines[5])
    h.has(lines[6], "10.0.0.1:40005 -> 10.0.0.2:8443 sni=alt.example.com ")
    h.has(lines[7], "sni=hrr.example.com alpn=h2,http/1.1 -> - version=TLS 1.3 -> TLS 1.3 cipher=TLS_AES_128_GCM_SHA256 [hello retry]")
    h.has(lines[8], "sni=- alpn=- -> - version=TLS 1.2 -> TLS 1.2 ")
    h.has(lines[9], "version=TLS 1.0 -> TLS 1.0 cipher=TLS_RSA_WITH_AES_128_CBC_SHA [sslv2 hello]")
    h.hasnt(out, "\27[")
  end)

  it("--json: one object per connection in a fixed key order", function()
    local lines = h.lines(trace(pcap, "--json"))
    assert.are.equal(9, #lines)
    assert.are.equal('{"event":"connection","ts":1700000000.007,"session":0,"client":"10.0.0.1:40000","server":"10.0.0.2:443","sni":"www.example.com","alpn_offered":["h2","http/1.1"],"alpn_chosen":["h2"],"version_offered":"TLS 1.2","version_chosen":"TLS 1.2","cipher":"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256","cipher_code":49199,"hello_retry_request":false,"server_hello":true,"sslv2":false,"alerts":["client encrypted"],"errors":null,"client_app_bytes":120,"server_app_bytes":1200}', lines[1])
    local alert = decode(lines[5])
    assert.are.equal(false, alert.server_hello)
    assert.are.same({ "server fatal handshake_failure" }, alert.alerts)
    local hrr = decode(lines[7])
    assert.are.equal(true, hrr.hello_retry_request)
    assert.are.equal(1900, hrr.server_app_bytes)
  end)

  it("lists errors and escapes bytes from the wire", function()
    local name = "evil\27[31m.example"
    local body = "\3\3" .. ("r"):rep(32) .. "\0" .. "\0\2\19\1" .. "\1\0"
    local exts = string.pack(">I2I2", 0, #name + 5) .. string.pack(">I2", #name + 3) .. "\0" .. string.pack(">s2", name)
    body = body .. string.pack(">s2", exts)
    local ch = "\1" .. string.pack(">I3", #body) .. body
    local bytes = pcap_build.tcp_session({ { "client", string.pack(">BI2s2", 22, 0x0301, ch) .. "\22\3\3\0\0" } }, { port = 443 })
    local path = h.tmpfile(bytes, ".pcap")
    local out = trace(path, "--no-color")
    os.remove(path)
    h.has(out, "sni=evil\\x1b[31m.example ")
    h.has(out, "[no ServerHello] error: client: zero-length handshake record at offset ")
    h.hasnt(out, "\27")
  end)

  it("--help lists the options", function()
    local r = h.run({ "-r", pcap, "tls_trace", "--help" })
    assert.are.equal(0, r.code)
    h.has(r.out, "--json")
    h.has(r.out, "--no-color")
  end)
end)
