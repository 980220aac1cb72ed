-- TLS against tshark, for samples/tls-features.pcap and the shared
-- captures whose MANIFEST.tsv category is tls or whose note lists tls:
-- every ClientHello's SNI, ALPN list, cipher suites and supported_versions
-- and every ServerHello's cipher, chosen version and ALPN, compared as
-- multisets per capture (spec/tshark_tls.lua runs both sides). docs/tls.md
-- explains each difference listed in KNOWN.
--
-- Tagged "tshark": CI runs it in the normal build only.

local cmp = require("tshark_tls")
local keyset = require("keyset")

-- Decode-as options tshark needs besides those the manifest note gives.
local DECODE_AS = {
  ["tls-features.pcap"] = { "tcp.port==8443,tls" },
}

-- Differences explained, per capture: hellos only in tshark's view and
-- only in lunatap's. The spec fails when the counts change either way.
local CONNECT = "TLS inside an HTTP CONNECT tunnel: the HTTP dissector owns the session and skips the tunnel's bytes; tshark hands them to TLS"
local KNOWN = {
  ["http_connect-with-header.pcap"] = { tshark = 2, lunatap = 0, why = CONNECT },
  ["http_http_connect.pcap"] = { tshark = 2, lunatap = 0, why = CONNECT },
  ["pcapng_pcapng-example.pcapng"] = { tshark = 2, lunatap = 0,
    why = "MySQL on port 3306 switching to TLS after its SSL request (a STARTTLS): the session starts with MySQL bytes, so the TLS heuristic does not take it; STARTTLS is out of scope" },
  ["tunnel_ndpi-vxlan.pcap"] = { tshark = 4, lunatap = 0,
    why = "lunatap does not decode VXLAN (as in tcp_streams_spec)" },
}

local function check(path, name, decode_as)
  local d = cmp.compare(path, decode_as)
  assert(#d.errors == 0, name .. ": lunatap failed:\n  " .. table.concat(d.errors, "\n  "))
  local known = KNOWN[name] or { tshark = 0, lunatap = 0 }
  if #d.only.tshark ~= known.tshark or #d.only.lunatap ~= known.lunatap then
    local lines = cmp.describe(d)
    table.insert(lines, 1, ("%d hellos only in tshark (KNOWN: %d), %d only in lunatap (KNOWN: %d)")
      :format(#d.only.tshark, known.tshark, #d.only.lunatap, known.lunatap))
    error(name .. " differs from tshark:\n  " .. table.concat(lines, "\n  "), 0)
  end
end

describe("TLS against tshark #tshark", function()
  keyset.each_capture(it, "^tls.*%.pcapn?g?$", cmp.manifest_captures, check, DECODE_AS)
end)
