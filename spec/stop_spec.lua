-- stop() (docs/scripting.md): a script ends reading as -c does; open
-- sessions still end and "done" runs with the counters so far.

local h = require("helper")

local HTTP = h.samples .. "/http-loopback.pcap"

local function run(script, extra)
  local sp = h.tmpfile(script, ".lua")
  local args = { "-r", HTTP }
  for _, a in ipairs(extra or {}) do args[#args + 1] = a end
  args[#args + 1] = sp
  local r = h.run_limited(30, args)
  os.remove(sp)
  return r
end

describe("stop()", function()
  it("called from a packet handler ends reading after that packet", function()
    local r = run([[
local n = 0
on("packet", function() n = n + 1; if n == 3 then stop() end end)
on("tcp.end", function(ses) print("end", ses.id) end)
on("done", function(st) print("done", st.packets, n) end)]])
    assert.are.equal(0, r.code, r.err)
    h.has(r.out, "end\t0\ndone\t3\t3\n")
  end)

  it("called while starting reads nothing, and done still runs", function()
    local r = run([[
on("start", function() stop() end)
on("packet", function() print("packet") end)
on("done", function(st) print("done", st.packets) end)]])
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("done\t0\n", r.out)
  end)

  it("is what -c does: the same counters either way", function()
    local show = [[on("done", function(st) print(st.packets, st.tcp_sessions) end)]]
    local by_c = run(show, { "-c", "5" })
    local by_stop = run([[
local n = 0
on("packet", function() n = n + 1; if n == 5 then stop() end end)
]] .. show)
    assert.are.equal(0, by_c.code, by_c.err)
    assert.are.equal(by_c.out, by_stop.out)
  end)
end)
