-- Signals (docs/cli.md): SIGINT and SIGTERM end a run as the end of input
-- does ("done" runs, -w files are complete, the exit status is the usual
-- one); a second one exits at once (130 for SIGINT); SIGUSR1 prints one
-- statistics line on stderr and the run goes on. lunatap reads from a FIFO
-- the test keeps open, so it is still running when the signals come.

local h = require("helper")
local build = require("pcap_build")

local fifo = require("fifo")

local function script(text)
  return h.tmpfile(text, ".lua")
end

local times = {}
for i = 1, 6 do times[i] = 100 + i end
local PCAP = build.udp_at(times)
local FIRST = PCAP:sub(1, 24 + 3 * 116)   -- the file header and 3 frames
local SECOND = PCAP:sub(24 + 3 * 116 + 1) -- 3 more

local COUNT = [[
on("packet", function(pkt) print("pkt", pkt.ts) end)
on("done", function(st) print("done", st.received, st.decoded) end)]]

describe("signals", function()
  it("SIGUSR1 prints a statistics line with fresh numbers, and the capture goes on", function()
    local sp = script(COUNT)
    local r = fifo.run({ sp }, FIRST, SECOND, [[
ready && stats_until 3 && touch $go && stats_until 6 && kill -INT $p]])
    os.remove(sp)
    assert.are.equal(0, r.code, r.err)
    h.has(r.err, "lunatap: stats: received=3 decoded=3 truncated=0 invalid=0 sessions=1 "
      .. "session_evictions=0 reassembly_mem=0 lua_mem=")
    h.has(r.err, " dropped_kernel=0 dropped_interface=0 dropped_handoff=0\n")
    h.has(r.err, "lunatap: stats: received=6 decoded=6 ")
    for i = 1, 6 do h.has(r.out, ("pkt\t%d.0\n"):format(100 + i)) end
    h.has(r.out, "done\t6\t6\n")
  end)

  for _, sig in ipairs({ "INT", "TERM" }) do
    it("SIG" .. sig .. " ends the run as the end of input does: done runs, -w is complete, status 0", function()
      local sp = script(COUNT .. [[

on("udp.end", function(s) print("udp.end", s.id) end)]])
      local wfile = os.tmpname()
      local r = fifo.run({ "-w", wfile, sp }, FIRST, SECOND, "ready && stats_until 3 && mark && kill -" .. sig .. " $p")
      os.remove(sp)
      assert.are.equal(0, r.code, r.err)
      assert.are.equal("pkt\t101.0\npkt\t102.0\npkt\t103.0\nudp.end\t0\ndone\t3\t3\n", r.out)
      h.hasnt(r.err, "interrupted again")
      h.hasnt(r.err, "truncated dump")
      h.hasnt(r.err, "after ")
      assert.is_true(r.seconds < 5, "took " .. tostring(r.seconds) .. " s to stop")
      local back = h.run({ "-r", wfile, "simple_capture", "--epoch" })
      os.remove(wfile)
      assert.are.equal(0, back.code, back.err)
      assert.are.equal(3, #h.lines(back.out))
    end)
  end

  it("a second SIGINT while finishing exits at once with status 130", function()
    local sp = script([[
on("done", function()
  local t = os.clock()
  while os.clock() - t < 20 do end
end)]])
    local r = fifo.run({ "--lua-time", "60000", "--lua-budget", "1000G", sp }, FIRST, SECOND, [[
ready && stats_until 3 && kill -INT $p && sleep 0.5 && mark && kill -INT $p]])
    os.remove(sp)
    assert.are.equal(130, r.code, r.err)
    h.has(r.err, "lunatap: interrupted again, exiting at once\n")
    assert.is_true(r.seconds < 5, "took " .. tostring(r.seconds) .. " s to exit")
  end)

  it("a signal is handled promptly while a large file is read", function()
    -- 200,000 frames; a packet handler makes reading them take seconds
    -- (about 200 million VM instructions in all).
    local many = {}
    for i = 1, 200000 do many[i] = 1000 + i / 1000 end
    local big = build.udp_at(many, { payload = 18 })
    local sp = script([[
local n = 0
on("packet", function(pkt) for i = 1, 1000 do n = n + i end end)
on("done", function(st) print("done", st.received) end)]])
    local r = fifo.run({ sp }, big, "", [[
ready && sleep 0.5 && mark && kill -INT $p]])
    os.remove(sp)
    assert.are.equal(0, r.code, r.err)
    local got = tonumber(r.out:match("^done\t(%d+)\n$"))
    assert.is_truthy(got, r.out)
    assert.is_true(got > 0 and got < 200000, "received " .. tostring(got))
    assert.is_true(r.seconds < 2, "took " .. tostring(r.seconds) .. " s to stop")
  end)
end)
