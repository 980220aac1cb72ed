-- The TLS dissector against the ground truth of samples/tls-features.pcap
-- (written by samples/gen_tls.py), and the fields of docs/tls.md.

local h = require("helper")
local decode = require("json_decode")

local function features()
  local pcap, truth = h.samples .. "/tls-features.pcap", h.samples .. "/tls-features.truth.json"
  local f = io.open(pcap, "rb")
  if f then
    f:close()
    return pcap, truth
  end
  pcap, truth = os.tmpname() .. ".pcap", os.tmpname() .. ".json"
  assert(os.execute(("python3 %s/gen_tls.py features %s %s"):format(h.quote(h.samples), h.quote(pcap),
    h.quote(truth))), "samples/gen_tls.py failed")
  return pcap, truth
end

-- One JSON line per session, when it ends, with the truth's fields.
local SESSIONS = [[
local by = {}
local function get(s) by[s] = by[s] or { alerts = {}, certificates = {}, hrr = false, server_hello = false } return by[s] end
on("tls.client_hello", function(h, s)
  local c = get(s)
  c.sni, c.alpn_offered, c.version_offered, c.sslv2 = h.sni, h.alpn, h.version, h.sslv2
end)
on("tls.server_hello", function(h, s)
  local c = get(s)
  if h.hello_retry_request then c.hrr = true return end
  c.server_hello, c.version_chosen, c.cipher, c.cipher_code, c.alpn_chosen = true, h.version, h.cipher_name, h.cipher, h.alpn
end)
on("tls.alert", function(a, s)
  if not a.encrypted then
    local t = get(s).alerts
    t[#t + 1] = json({ direction = a.direction, level = a.level_name, description = a.description_name })
  end
end)
on("tls.certificate", function(c, s) get(s).certificates = c.lengths end)
on("tls.error", function(e, s) print(json({ error = e.message })) end)
on("tcp.end", function(s)
  local c = by[s]
  if not c then return end
  print(json({ session = s.id, client = s.client, server = s.server, sni = c.sni, alpn_offered = c.alpn_offered,
               alpn_chosen = c.alpn_chosen, version_offered = c.version_offered, version_chosen = c.version_chosen,
               cipher = c.cipher, cipher_code = c.cipher_code, hrr = c.hrr, server_hello = c.server_hello,
               alerts = c.alerts, certificates = c.certificates, sslv2 = c.sslv2 },
             { "session", "client", "server", "sni", "alpn_offered", "alpn_chosen", "version_offered",
               "version_chosen", "cipher", "cipher_code", "hrr", "server_hello", "alerts", "certificates", "sslv2" },
             { sslv2 = true }))
end)
on("done", function(st) print(json({ done = st.dissector_errors })) end)
]]

local function run(script, pcap)
  local r = h.script(script, pcap)
  assert.are.equal(0, r.code, r.err)
  assert.are.equal("", r.err)
  return r.out
end

-- JSON null (decode.null) and an empty list both mean "none".
local function empty_to_nil(t)
  if t == decode.null or (type(t) == "table" and next(t) == nil) then return nil end
  return t
end

describe("TLS dissector", function()
  local pcap, truth_path = features()
  local truth = decode(h.slurp(truth_path)).sessions

  it("decodes every session of tls-features.pcap as its truth says", function()
    local got = {}
    for _, line in ipairs(h.lines(run(SESSIONS, pcap))) do got[#got + 1] = decode(line) end
    assert.are.same({ done = 0 }, table.remove(got))
    assert.are.equal(#truth, #got)
    for i, t in ipairs(truth) do
      local g = got[i]
      local where = ("session %d"):format(t.session)
      assert.are.equal(t.session, g.session, where)
      assert.are.equal(t.client, g.client, where)
      assert.are.equal(t.server, g.server, where)
      for _, k in ipairs({ "sni", "version_offered", "version_chosen", "cipher", "cipher_code", "hrr", "server_hello" }) do
        assert.are.equal(empty_to_nil(t[k]), empty_to_nil(g[k]), where .. ": " .. k)
      end
      assert.are.same(empty_to_nil(t.alpn_offered), empty_to_nil(g.alpn_offered), where .. ": alpn_offered")
      assert.are.same(empty_to_nil(t.alpn_chosen), empty_to_nil(g.alpn_chosen), where .. ": alpn_chosen")
      local alerts = {}
      for j, a in ipairs(g.alerts) do alerts[j] = decode(a) end
      assert.are.same(t.alerts, alerts, where .. ": alerts")
      assert.are.same(t.certificates, empty_to_nil(g.certificates) or {}, where .. ": certificates")
      assert.are.equal(t.sslv2 or nil, empty_to_nil(g.sslv2), where .. ": sslv2")
    end
  end)

  it("gives the ClientHello's fields in wire order", function()
    local out = run([[
on("tls.client_hello", function(h, s)
  if s.id ~= 1 then return end
  local ext = {}
  for i, e in ipairs(h.extensions) do ext[i] = e.name .. "/" .. e.type .. "/" .. e.length end
  print("ext", table.concat(ext, " "))
  print("ciphers", table.concat(h.ciphers, ","), table.concat(h.cipher_names, ","))
  print("versions", table.concat(h.supported_versions, ","), h.version, h.version_code, h.legacy_version, h.legacy_version_name)
  print("groups", table.concat(h.groups, ","), table.concat(h.group_names, ","), table.concat(h.key_share_groups, ","))
  print("sig", table.concat(h.sig_algs, ","), table.concat(h.sig_alg_names, ","))
  print("misc", #h.random, #h.session_id, table.concat(h.compression, ","), table.concat(h.ec_point_formats, ","),
        h.direction, h.offset, h.ts)
end)
on("tls.server_hello", function(h, s)
  if s.id ~= 6 then return end
  print("sh", tostring(h.hello_retry_request), h.version, h.cipher, h.key_share_group, h.random:sub(1, 8), h.compression)
end)
]], pcap)
    h.has(out, "ext\tserver_name/0/20 ec_point_formats/11/2 supported_groups/10/6 signature_algorithms/13/8 application_layer_protocol_negotiation/16/14 supported_versions/43/7 key_share/51/38\n")
    h.has(out, "ciphers\t4865,4866,49199,47\tTLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_RSA_WITH_AES_128_CBC_SHA\n")
    h.has(out, "versions\t14906,772,771\tTLS 1.3\t772\t771\tTLS 1.2\n")
    h.has(out, "groups\t29,23\tx25519,secp256r1\t29\n")
    h.has(out, "sig\t1027,2052,1025\tecdsa_secp256r1_sha256,rsa_pss_rsae_sha256,rsa_pkcs1_sha256\n")
    h.has(out, "misc\t64\t64\t0\t0\tclient\t5\t1700000000.095\n")
    h.has(out, "sh\ttrue\tTLS 1.3\t4865\t29\tcf21ad74\t0\n")
    h.has(out, "sh\tfalse\tTLS 1.3\t4865\t29\t")
  end)

  it("counts encrypted records per direction and says where encryption starts", function()
    local out = run([[
on("tls.stream_end", function(e, s)
  print(s.id, e.direction, e.records, e.handshake_messages, e.app_records, e.app_bytes, tostring(e.encrypted),
        tostring(e.encrypted_offset), tostring(e.change_cipher_spec))
end)
on("tls.alert", function(a, s) print("alert", s.id, a.direction, tostring(a.encrypted), tostring(a.level), tostring(a.description)) end)
]], pcap)
    -- TLS 1.2: the client's CCS at 235 + 6; its Finished and close_notify are encrypted
    h.has(out, "0\tclient\t6\t2\t1\t120\ttrue\t241\ttrue\n")
    h.has(out, "0\tserver\t5\t3\t2\t1200\ttrue\t")
    h.has(out, "alert\t0\tclient\ttrue\tnil\tnil\n")
    -- TLS 1.3: the server encrypts right after its ServerHello, the dummy CCS changes nothing
    h.has(out, "1\tserver\t4\t1\t2\t1900\ttrue\t127\ttrue\n")
    h.has(out, "alert\t4\tserver\tfalse\t2\t40\n")
    h.has(out, "8\tclient\t0\t0\t0\t0\tfalse\tnil\tfalse\n")
  end)
end)
