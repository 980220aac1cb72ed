-- DNS against tshark, for the DNS captures in samples/ and the shared
-- captures whose MANIFEST.tsv category is dns or whose note counts DNS
-- messages: every message's id, direction, question names and types, and
-- the A, AAAA and CNAME data of all its records, compared as multisets per
-- capture. spec/tshark_dns.lua runs both sides; docs/dns.md explains each
-- difference listed in KNOWN.
--
-- Tagged "tshark": CI runs it in the normal build only.

local cmp = require("tshark_dns")
local keyset = require("keyset")

-- Decode-as options tshark needs besides those the manifest note gives.
local DECODE_AS = {
  ["dns-features.pcap"] = { "tcp.port==8053,dns" },
}

-- Differences explained, per capture: how many messages (keys) are only in
-- tshark's view and only in lunatap's, and why. The spec fails when the
-- counts change either way.
local NOT_DECODED = "lunatap does not decode this link layer or tunnel (as in tcp_streams_spec)"
local IN_ICMP = "tshark also decodes the DNS message quoted inside an ICMP port-unreachable error; lunatap does not dissect ICMP payloads"
local KNOWN = {
  ["dns_dns-badlabel.pcap"] = { tshark = 1, lunatap = 1,
    why = "the question's name is over 1,025 bytes of text: tshark shows \"<Name too long>\" and reads on, lunatap stops the message at the name_length limit (dns.error) and has no question" },
  ["dns_dns_over_tcp.pcapng"] = { tshark = 0, lunatap = 1,
    why = "frame 4 repeats frame 1's segment 51 years later: the session timed out in between, so lunatap reads it again in a new session; tshark calls it a retransmission" },
  ["dns_dns_udp_8053.pcap"] = { tshark = 2, lunatap = 0,
    why = "DNS on UDP port 8053: tshark decodes it, lunatap's DNS takes UDP port 53 only (UDP has no heuristic detection in the framework)" },
  ["icmp_icmp-destunreach-udp.pcap"] = { tshark = 1, lunatap = 0, why = IN_ICMP },
  ["ipv6_v6.pcap"] = { tshark = 1, lunatap = 0, why = IN_ICMP },
  ["sll_KakaoTalk_chat.pcap"] = { tshark = 1, lunatap = 0, why = IN_ICMP },
  ["malformed_LINKTYPE_IPV4_invalid.pcap"] = { tshark = 1, lunatap = 0,
    why = "an IPv6 packet in a LINKTYPE_IPV4 file: lunatap marks it invalid (version 6), tshark decodes it" },
  ["malformed_rtp-seg-fault-1.pcapng"] = { tshark = 1, lunatap = 0,
    why = "the UDP length (17) is shorter than the datagram: lunatap takes the 9 bytes the UDP header claims (a truncated header, dns.error), tshark decodes the 2,199 bytes after it" },
  ["null_NullLoopback.pcap"] = { tshark = 1, lunatap = 0,
    why = "the DNS frame has a NULL header lunatap's decoder does not recognise (it shows \"link type 0\")" },
  ["null_null_loopback.pcap"] = { tshark = 1, lunatap = 0,
    why = "the DNS frame has a NULL header lunatap's decoder does not recognise (it shows \"link type 0\")" },
  ["malformed_ndpi-fuzz-2006-06-26-2594.pcap"] = { tshark = 22, lunatap = 14,
    why = "fuzzed: names with extended label types (0x40, 0x80) end the message in lunatap (dns.error) where tshark writes \"<Unknown extended label>\" and reads on; and DNS that tshark follows onto ports other than 53 or past bad UDP lengths" },
  ["malformed_ndpi-malformed_dns.pcap"] = { tshark = 4, lunatap = 4,
    why = "the second question's name is too long: tshark shows \"<Name too long>\" and reads the answers, lunatap stops the message there (dns.error)" },
  ["tunnel_gre-over-udp-4754.pcap"] = { tshark = 4, lunatap = 0, why = NOT_DECODED .. ": GRE in UDP" },
  ["tunnel_gre-sample.pcap"] = { tshark = 4, lunatap = 0, why = NOT_DECODED .. ": GRE" },
  ["tunnel_ndpi-vxlan.pcap"] = { tshark = 8, lunatap = 0, why = NOT_DECODED .. ": VXLAN" },
  ["wifi_radiotap.pcap"] = { tshark = 2, lunatap = 0, why = NOT_DECODED .. ": 802.11" },
  ["wifi_wlanmon.pcap"] = { tshark = 2, lunatap = 0, why = NOT_DECODED .. ": 802.11" },
}

local function check(path, name, decode_as)
  local d = cmp.compare(path, decode_as)
  assert(#d.errors == 0, name .. ": lunatap failed:\n  " .. table.concat(d.errors, "\n  "))
  local known = KNOWN[name] or { tshark = 0, lunatap = 0 }
  if #d.only.tshark ~= known.tshark or #d.only.lunatap ~= known.lunatap then
    local lines = cmp.describe(d)
    table.insert(lines, 1, ("%d messages only in tshark (KNOWN: %d), %d only in lunatap (KNOWN: %d)")
      :format(#d.only.tshark, known.tshark, #d.only.lunatap, known.lunatap))
    error(name .. " differs from tshark:\n  " .. table.concat(lines, "\n  "), 0)
  end
end

describe("DNS against tshark #tshark", function()
  keyset.each_capture(it, "^dns.*%.pcapn?g?$", cmp.manifest_captures, check, DECODE_AS)
end)
