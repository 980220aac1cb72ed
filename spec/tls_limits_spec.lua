-- Hostile and broken TLS: every case ends in a tls.error event naming the
-- problem, the engine stays alive ("done" runs, exit status 0), and a good
-- session after it (port 8443, found by the heuristic) is still decoded.
-- Captures are built here with spec/pcap_build.lua.

local h = require("helper")
local pcap_build = require("pcap_build")

local pack = string.pack

local function v8(s) return pack(">s1", s) end
local function v16(s) return pack(">s2", s) end
local function v24(s) return pack(">I3", #s) .. s end
local function record(ctype, body, len) return pack(">BI2I2", ctype, 0x0301, len or #body) .. body end
local function ext(t, data) return pack(">I2I2", t, #data) .. data end
local function sni(name) return ext(0, v16("\0" .. v16(name))) end

-- A ClientHello handshake message; opts.exts: the extension bytes,
-- opts.ext_len: a lying extension-list length, opts.len: a lying length.
local function client_hello(opts)
  local exts = opts.exts or (sni(opts.sni or "ok.example.com") .. ext(16, v16(v8("h2"))))
  local block = pack(">I2", opts.ext_len or #exts) .. exts
  local body = "\3\3" .. ("r"):rep(32) .. v8("") .. v16("\19\1\192\47") .. v8("\0") .. block
  return pack(">B", 1) .. pack(">I3", opts.len or #body) .. body
end

local function with_next(parts)
  local bad = pcap_build.tcp_session(parts, { port = 443 })
  local good = pcap_build.tcp_session({
    { "client", record(22, client_hello({ sni = "next.example.com" })) },
  }, { port = 8443 })
  return bad .. good:sub(25)
end

local WATCH = [[
on("tls.client_hello", function(m, s) print("hello", s.id, tostring(m.sni), tostring(m.error)) end)
on("tls.error", function(e, s)
  print("error", s.id, e.direction, tostring(e.limit), tostring(e.offset), e.message)
end)
on("done", function(st) print("done", st.lua_errors, st.dissector_errors) end)
]]

local function watch(bytes)
  local pcap = h.tmpfile(bytes, ".pcap")
  local r = h.script(WATCH, pcap)
  os.remove(pcap)
  assert.are.equal(0, r.code, r.err)
  assert.are.equal("", r.err)
  h.has(r.out, "done\t0\t0\n")
  h.has(r.out, "hello\t1\tnext.example.com\tnil\n")
  return r.out
end

local many = {}
for i = 1, 200 do many[i] = ext(1000 + i, "") end

local CASES = {
  { "a record longer than the data before FIN",
    { { "client", record(22, client_hello({}), 3000) } },
    "error\t0\tclient\tnil\t0\tstream ended inside a handshake record of 3000 bytes at offset 0\n" },
  { "a record over 2^14 + 2048 bytes",
    { { "client", record(22, client_hello({}), 20000) } },
    "error\t0\tclient\trecord_length\t0\trecord of 20000 bytes at offset 0 is over the limit of 18432 bytes\n" },
  { "a ClientHello longer than its record and the stream",
    { { "client", record(22, client_hello({ len = 500 })) } },
    "error\t0\tclient\tnil\t5\tstream ended inside a handshake message of 500 bytes at offset 5 (" },
  { "a handshake message over 64 KiB",
    { { "client", record(22, client_hello({ len = 100000 })) } },
    "error\t0\tclient\thandshake_size\t5\thandshake message client_hello of 100000 bytes at offset 5 is over the limit of 65536 bytes\n" },
  { "an extension list longer than its record",
    { { "client", record(22, client_hello({ ext_len = 400 })) } },
    "error\t0\tclient\tnil\t52\textension list at offset 43: layout tls_extensions: field data: needs 400 bytes at offset 45, the buffer has " },
  { "an SNI whose inner length overruns",
    { { "client", record(22, client_hello({ exts = ext(0, v16("\0\0\200abc")) })) } },
    "error\t0\tclient\tnil\t54\textension server_name at offset 45: server_name list at offset 0: layout tls_server_name: field name: needs 200 bytes" },
  { "more than 128 extensions",
    { { "client", record(22, client_hello({ exts = table.concat(many) })) } },
    "error\t0\tclient\textensions\t" },
  { "a zero-length record",
    { { "client", record(22, "") .. record(22, client_hello({ sni = "after.example.com" })) } },
    "error\t0\tclient\tnil\t0\tzero-length handshake record at offset 0\n" },
  { "bytes that are not a record after the hello",
    { { "client", record(22, client_hello({})) .. "GET / HTTP/1.1\r\n\r\n" } },
    "\tnot a TLS record at offset " },
}

describe("TLS bad input", function()
  for _, c in ipairs(CASES) do
    it(c[1] .. " ends in tls.error; the engine goes on", function()
      local out = watch(with_next(c[2]))
      h.has(out, c[3])
      assert.are.equal(1, h.count(out, "error\t"))
    end)
  end

  it("the hello before a zero-length record's successor is still decoded", function()
    local out = watch(with_next({ { "client", record(22, "") .. record(22, client_hello({ sni = "after.example.com" })) } }))
    h.has(out, "hello\t0\tafter.example.com\tnil\n")
  end)

  it("a hello with a broken extension is emitted with what was decoded and its error", function()
    local out = watch(with_next({ { "client", record(22, client_hello({ exts = sni("a.example") .. ext(0, v16("\0\0\200abc")) })) } }))
    h.has(out, "hello\t0\ta.example\textension server_name at offset ")
  end)

  it("a hello split over many one-byte records stops at the records limit", function()
    local ch, parts = client_hello({}), {}
    for i = 1, #ch do parts[i] = record(22, ch:sub(i, i)) end
    local out = watch(with_next({ { "client", table.concat(parts) } }))
    if #ch > 256 then
      h.has(out, "\thandshake_records\t")
    else
      h.has(out, "hello\t0\tok.example.com\tnil\n")
    end
  end)

  it("wire decoders raise tables with a message for short input", function()
    local r = h.script([[
local wire = require("lunatap.tls_wire")
local ok, e = pcall(wire.server_hello, buffer("\3\3"))
print("sh", ok, e.message)
local ok2, e2 = pcall(wire.certificate, buffer("\0\0\9\0\0\3ab"), false)
print("cert", ok2, e2.message)
print("alerts", #wire.alerts(buffer("\2\40\1\0")), select(2, wire.alerts(buffer("\2"))))
print("names", wire.version_name(0x7f17), wire.version_name(0x0305), wire.cipher_name(0x2a2a), wire.extension_name(0xfafa))
]], h.samples .. "/udp-echo.pcap")
    assert.are.equal(0, r.code, r.err)
    h.has(r.out, "sh\tfalse\tServerHello at offset 0: layout tls_server_hello: field random: needs 32 bytes at offset 2, the buffer has 2\n")
    h.has(r.out, "cert\tfalse\tcertificate_list at offset 0: layout tls_vector24: field data: needs 9 bytes at offset 3, the buffer has 8\n")
    h.has(r.out, "alerts\t2\t1\n")
    h.has(r.out, "names\tTLS 1.3 draft 23\t0x0305\tGREASE\tgrease\n")
  end)
end)
