-- TCP sessions against tshark, for every capture in samples/ and (when
-- present) ../shared/pcaps: the same streams with the same endpoints in
-- tshark's tcp.stream numbering, and per stream and direction the same
-- bytes through "tcp.data" as `tshark -o tcp.reassemble_out_of_order:TRUE
-- -z follow,tcp,raw,N`. spec/tshark_tcp.lua holds the comparison and the
-- rules that explain differences by design (tshark stopping at a hole
-- nobody acknowledged, zeros for bytes the capture cut off, overlapping
-- segments with different bytes). Captures listed in KNOWN differ for the
-- reason given; docs/testing.md keeps the same list.
--
-- Tagged "tshark": CI runs it in the normal build only (it checks results,
-- and the sanitizer build already runs every capture through the tracker).

local h = require("helper")
local cmp = require("tshark_tcp")

local KNOWN = {
  -- tunnels lunatap does not decapsulate yet: tshark finds TCP inside
  ["tunnel_4in6.pcap"] = "IPv4 in IPv6",
  ["tunnel_gre-over-udp-4754.pcap"] = "GRE in UDP",
  ["tunnel_gre-sample.pcap"] = "GRE",
  ["tunnel_gso-ipv4-vxlan-ipv4.pcap"] = "VXLAN",
  ["tunnel_ndpi-vxlan.pcap"] = "VXLAN",
  ["tunnel_vxlan-encapsulated-http.pcap"] = "VXLAN",
  ["vlan_mixed-vlan-mpls.pcap"] = "MPLS",
  ["wifi_80211http.pcap"] = "802.11 link layer",
  -- idle timeouts on capture time (tshark has none)
  ["dns_dns_over_tcp.pcapng"] = "packets years apart: the idle timeout ends the session",
  ["pcapng_pcapng-example.pcapng"] = "a stream with packets years apart (timestamps from two eras)",
  ["malformed_smb_data_print-segv.pcap"] = "a packet stamped 2038 after one from 2016",
  -- IP reassembly policy
  ["frag4_fragmented-4.pcap"] = "overlapping fragments with different bytes: first wins (tshark: lowest offset)",
  ["frag4_ip_fragmented_garbage.pcap"] = "313 fragments per datagram, over the 256-fragment limit",
  -- capture files
  ["malformed_bgp_mp_reach_nlri-oobr.pcap"] = "a record longer than the file's snapshot length: libpcap cuts it to 1,024 bytes, tshark reads all 2,674",
}

-- Retransmission counts that differ, by rule (docs/testing.md): lunatap
-- counts a segment whose data (or FIN) lies wholly before the next byte
-- expected, and a SYN repeated with its ISN; tshark also flags segments
-- that only partly repeat old bytes, and judges some by ACKs and timing
-- (its "spurious" and "out-of-order" verdicts), and sees TCP in tunnels.
local KNOWN_RETX = {
  ["dns_dns_over_tcp.pcapng"] = "the repeat falls in a second session after an idle timeout",
  ["frag6_ipv6-http-atomic-frag.pcap"] = "the repeated segment is an IPv6 atomic fragment, which defrag refuses",
  ["http_206_example_c.pcap"] = "a repeated SYN-ACK: one more retransmission here",
  ["http_http-packets.pcap"] = "tshark flags segments that only partly repeat old bytes",
  ["large_cip.pcap"] = "partial repeats and port scans answered by repeated SYN-ACKs",
  ["large_many-protocols.pcap"] = "partial repeats; TCP in tunnels",
  ["large_pcapplusplus-example.pcap"] = "partial repeats",
  ["large_teams.pcap"] = "partial repeats",
  ["large_wechat.pcap"] = "partial repeats",
  ["tcp_reassembly.pcap"] = "overlapping retransmissions with other bytes: partial repeats",
  ["tcp_syn_retransmit_with_ts.pcap"] = "a repeated SYN counted as a SYN retry and its repeat as well",
  ["tcp_zeek-206_example_b.pcap"] = "tshark calls repeats after a hole out-of-order, lunatap retransmissions",
  ["wifi_80211http.pcap"] = "802.11 is not decoded",
  ["malformed_ndpi-fuzz-2006-06-26-2594.pcap"] = "fuzzed capture: tshark's ACK-based verdicts (spurious, acked but not captured)",
}

local function check(path, name)
  local diffs, retx_ours, retx_tshark = cmp.compare(path)
  if KNOWN[name] then
    assert(#diffs > 0, name .. " now agrees with tshark: remove it from KNOWN")
  else
    assert(#diffs == 0, name .. " differs from tshark:\n  " .. table.concat(diffs, "\n  "))
  end
  if KNOWN_RETX[name] then
    assert(retx_ours ~= retx_tshark, name .. " retransmissions now agree: remove it from KNOWN_RETX")
  else
    assert(retx_ours == retx_tshark, ("%s: %s retransmissions, tshark %s"):format(
      name, tostring(retx_ours), tostring(retx_tshark)))
  end
end

describe("TCP sessions against tshark #tshark", function()
  if not h.capture("command -v tshark") or h.capture("command -v tshark") == "" then
    it("skipped: tshark is not installed", function() end)
    return
  end
  h.each_capture(it, check)
end)
