-- Memory pressure on the host's own allocations: when scripts fill the Lua
-- memory cap, the engine still pushes event arguments (sessions, packets,
-- buffers), reports errors and builds the "done" statistics without a Lua
-- panic. Before this was handled, a refused allocation outside protected
-- mode aborted lunatap (exit 134) and lost all buffered output.

local h = require("helper")

describe("memory pressure", function()
  it("scripts that fill the cap fail cleanly while events keep coming", function()
    local r = h.script([[
local keep = {}
on("tcp.start", function(s) keep[#keep + 1] = string.rep("s", 400000) end)
on("tcp.data", function(s, dir, b) keep[#keep + 1] = string.rep("x", 400000) end)
on("packet", function(p) keep[#keep + 1] = string.rep("y", 400000) end)
on("done", function(st)
  print("done", st.packets, st.lua_memory_errors > 0, st.sessions_total)
end)
]], h.samples .. "/http-loopback.pcap", { "--lua-mem", "8M" })
    assert.are.equal(1, r.code, r.err)
    h.has(r.out, "done\t48\ttrue\t4")
    h.has(r.err, "Lua memory limit reached")
  end)
end)
