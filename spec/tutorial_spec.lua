-- The dissector of docs/tutorial-dissector.md, run as the tutorial runs it:
-- docs/examples/dissectors/tlv.lua loaded with -L over the capture that
-- samples/gen_tutorial.py writes, with docs/examples/tlv_show.lua handling
-- its events. The tutorial shows the files themselves, so the spec checks
-- that its code blocks are exactly these files.

local h = require("helper")

local DIR = h.root .. "/docs/examples/dissectors"
local DISSECTOR = DIR .. "/tlv.lua"
local SHOW = h.root .. "/docs/examples/tlv_show.lua"
local TUTORIAL = h.root .. "/docs/tutorial-dissector.md"

local function make_capture()
  local path = os.tmpname() .. ".pcap"
  assert(os.execute(("python3 %s/samples/gen_tutorial.py %s"):format(h.quote(h.root), h.quote(path))),
    "samples/gen_tutorial.py failed")
  return path
end

-- Prints "done" with counters once the engine finished.
local PROBE = [[on("done", function(st)
  print("done", st.packets, st.dissector_sessions, st.dissector_errors, st.lua_errors)
end)]]

describe("the tutorial's TLV dissector", function()
  local pcap = make_capture()
  local probe = h.tmpfile(PROBE, ".lua")
  teardown(function()
    os.remove(pcap)
    os.remove(probe)
  end)

  it("is under 40 lines", function()
    assert.is_true(#h.lines(h.slurp(DISSECTOR)) < 40)
  end)

  it("is the code the tutorial shows, with its script", function()
    local doc = h.slurp(TUTORIAL)
    h.has(doc, "```lua\n" .. h.slurp(DISSECTOR) .. "```\n")
    h.has(doc, "```lua\n" .. h.slurp(SHOW) .. "```\n")
  end)

  it("decodes the messages, reports the bad ones, and goes on", function()
    local r = h.run({ "-L", DIR, "-r", pcap, SHOW, probe }, { limit = 60 })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("", r.err)
    assert.are.same({
      "0\tclient\tv1\tname=sensor-7 reading=21.5 9=..",
      "0\tserver\tv1\tnote=ok",
      "1\tclient\terror\tlayout tlv_item: field value: needs 200 bytes at offset 5, the buffer has 10",
      "1\tclient\tv1\tnote=after the bad one",
      "2\tclient\tv2\tname=sensor-8 reading=19.0",
      "3\tclient\terror\ttlv: 3 bytes after the last item",
      "4\tclient\terror\tlayout tlv: field count: needs 1 bytes at offset 1, the buffer has 1",
      "done\t7\t5\t0\t0",
    }, h.lines(r.out))
  end)

  it("costs nothing when no script handles its events", function()
    local r = h.run({ "-L", DIR, "-r", pcap, probe })
    assert.are.equal(0, r.code, r.err)
    assert.are.same({ "done\t7\t0\t0\t0" }, h.lines(r.out))
  end)

  it("takes only its port", function()
    local r = h.run({ "-L", DIR, "-r", h.samples .. "/udp-echo.pcap", SHOW, probe })
    assert.are.equal(0, r.code, r.err)
    assert.are.same({ "done\t6\t0\t0\t0" }, h.lines(r.out))
  end)

  it("agrees with tshark on the datagrams it reads #tshark", function()
    local tshark = h.capture("command -v tshark")
    if not tshark or tshark == "" then return end
    -- the capture itself: tshark sees six datagrams to the port and one
    -- back, with good IP and UDP checksums
    local out = h.capture(("tshark -n -r %s -o udp.check_checksum:TRUE -o ip.check_checksum:TRUE " ..
      "-T fields -e udp.dstport -e udp.checksum.status -e ip.checksum.status 2>/dev/null"):format(h.quote(pcap)))
    local to_port, good = 0, 0
    for port, u, i in out:gmatch("(%d+)\t(%S+)\t(%S+)\n") do
      if port == "9999" then to_port = to_port + 1 end
      if u == "1" and i == "1" then good = good + 1 end  -- 1: good
    end
    assert.are.equal(6, to_port)
    assert.are.equal(7, good)
  end)
end)
