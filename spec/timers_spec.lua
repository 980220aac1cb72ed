-- every() and after() (docs/scripting.md, "Timers"): on capture time when
-- reading a file, fired before the first packet at or past their deadline,
-- in deadline order; on wall time with --clock wall. Captures are made here
-- with known timestamps, so every firing time is asserted exactly.

local h = require("helper")
local build = require("pcap_build")
local fifo = require("fifo")

local function capture(times)
  return h.tmpfile(build.udp_at(times), ".pcap")
end

-- Runs `script` over a capture of packets at `times`.
local function run(script, times, opts)
  local pcap = capture(times)
  local r = h.script(script, pcap, opts)
  os.remove(pcap)
  return r
end

local PKT = [[on("packet", function(p) print("pkt", p.ts) end)
]]

describe("timers on capture time", function()
  it("fire before the first packet at or past their deadline, with the time they were due", function()
    local r = run(PKT .. [[
every(1, function(ts) print("every", ts) end)
after(0.5, function(ts) print("after", ts) end)]], { 100, 100.5, 101, 103.2, 103.5, 110 })
    assert.are.equal(0, r.code, r.err)
    -- every(1) from 100: due 101, 102, ...; 104..109 are due only once the
    -- packet at 110 comes, and all of them fire then.
    local want = { "pkt\t100.0", "after\t100.5", "pkt\t100.5", "every\t101.0", "pkt\t101.0",
      "every\t102.0", "every\t103.0", "pkt\t103.2", "pkt\t103.5" }
    for t = 104, 110 do want[#want + 1] = "every\t" .. t .. ".0" end
    want[#want + 1] = "pkt\t110.0"
    assert.are.same(want, h.lines(r.out))
  end)

  it("count from the packet, or the timer, that made them", function()
    local r = run([[
on("packet", function(p)
  if p.ts == 200.25 then
    after(1, function(ts)
      print("from packet", ts)
      after(0.5, function(ts2) print("from timer", ts2) end)
    end)
  end
end)]], { 200, 200.25, 202, 203 })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("from packet\t201.25\nfrom timer\t201.75\n", r.out)
  end)

  it("due at the same time fire in the order they were made; different periods interleave", function()
    local r = run([[
every(2, function(ts) print("b2", ts) end)
every(1, function(ts) print("a1", ts) end)
after(2, function(ts) print("c", ts) end)]], { 10, 14.5 })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("a1\t11.0\nb2\t12.0\na1\t12.0\nc\t12.0\na1\t13.0\nb2\t14.0\na1\t14.0\n", r.out)
  end)

  it("an every far behind fires once per period up to 1,000 times, then skips and keeps its phase", function()
    local r = run([[
local n, first, last = 0
every(1, function(ts) n = n + 1; first = first or ts; last = ts end)
on("packet", function(p) print("pkt", p.ts, n, first, last) end)
on("done", function(st) print("done", st.timers_fired, st.timers_skipped, st.timers) end)]],
      { 100, 5100.5, 5101 })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("pkt\t100.0\t0\tnil\tnil\n"
      .. "pkt\t5100.5\t1000\t101.0\t1100.0\n"      -- 101..1100 fired, 1101..5100 skipped
      .. "pkt\t5101.0\t1001\t101.0\t5101.0\n"      -- the phase is kept: 5101
      .. "done\t1001\t4000\t1\n", r.out)
  end)

  it("not due by the end of input never fire; done runs and counts them pending", function()
    local r = run(PKT .. [[
after(5, function(ts) print("late", ts) end)
every(3, function(ts) print("every", ts) end)
on("done", function(st) print("done", st.timers, st.timers_fired) end)]], { 1, 2, 4.5 })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("pkt\t1.0\npkt\t2.0\nevery\t4.0\npkt\t4.5\ndone\t2\t1\n", r.out)
  end)

  it("with no packet at all, nothing fires", function()
    local r = run([[
after(0, function() print("fired") end)
on("done", function(st) print("done", st.timers) end)]], {})
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("done\t1\n", r.out)
  end)

  it("handle:cancel() stops a timer, also from inside its own call; false once it is over", function()
    local r = run([[
local a = after(10, function() print("never") end)
local e
e = every(1, function(ts) print("every", ts); if ts == 3 then print("self", e:cancel()) end end)
local done_after = after(0.5, function() end)
on("packet", function(p)
  if p.ts == 2 then print("cancel", a:cancel(), a:cancel(), tostring(a):match("^timer %d+$") ~= nil) end
  if p.ts == 5 then print("fired after", done_after:cancel(), "cancelled every", e:cancel()) end
end)
on("done", function(st) print("done", st.timers) end)]], { 1, 2, 5 })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("every\t2.0\ncancel\ttrue\tfalse\ttrue\nevery\t3.0\nself\ttrue\n"
      .. "fired after\tfalse\tcancelled every\tfalse\ndone\t0\n", r.out)
  end)

  it("stop() in a timer ends reading before the packet that woke it", function()
    local r = run(PKT .. [[
after(1, function() stop() end)
on("done", function(st) print("done", st.received) end)]], { 1, 1.5, 2, 3 })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("pkt\t1.0\npkt\t1.5\ndone\t2\n", r.out)
  end)

  it("after stop(), no timer fires, not even one due in the same turn", function()
    local r = run(PKT .. [[
after(1, function() print("first") stop() end)
after(1, function() print("second") end)
every(0.25, function() print("every") end)
on("done", function(st) print("done", st.timers_fired) end)]], { 1, 1.5, 2, 3 })
    assert.are.equal(0, r.code, r.err)
    -- at 2.0 "first" (made first) fires before "second" and the every;
    -- its stop() leaves them unfired and packet 2.0 unread
    assert.are.equal("pkt\t1.0\nevery\nevery\npkt\t1.5\nevery\nfirst\ndone\t4\n", r.out)
  end)
end)

describe("timers: bad use", function()
  local function try(call)
    local r = run(([[
local ok, err = pcall(function() return %s end)
print(ok, err)]]):format(call), { 1 })
    assert.are.equal(0, r.code, r.err)
    return r.out
  end

  it("refuses periods and delays out of range, with the value given", function()
    h.has(try("every(0, print)"), ": every: the period must be from 0.001 to 315360000.0 seconds (got 0.0)\n")
    h.has(try("every(-1, print)"), "every: the period must be from 0.001 to 315360000.0 seconds (got -1.0)\n")
    h.has(try("every(0.0001, print)"), "(got 0.0001)\n")
    h.has(try("every(1/0, print)"), "(got inf)\n")
    h.has(try("every(0/0, print)"), "every: the period must be")
    h.has(try("after(-0.5, print)"), ": after: the delay must be from 0 to 315360000.0 seconds (got -0.5)\n")
    h.has(try("after(4e8, print)"), "after: the delay must be from 0 to 315360000.0 seconds")
  end)

  it("refuses what is not a number or not a function", function()
    h.has(try("every(1)"), "bad argument #2 to 'every' (function expected, got no value)")
    h.has(try("every(1, 'print')"), "bad argument #2 to 'every' (function expected, got string)")
    h.has(try("after('soon', print)"), "bad argument #1 to 'after' (number expected, got string)")
    h.has(try("every(nil, print)"), "bad argument #1 to 'every' (number expected, got nil)")
  end)

  it("caps pending timers at 1,024; one that fired or was cancelled makes room", function()
    local r = run([[
local handles = {}
for i = 1, 1024 do handles[i] = after(100, function() end) end
print(pcall(every, 1, function() end))
handles[1]:cancel()
print(type(every(1, function() end)))
print(pcall(after, 1, function() end))
on("done", function(st) print("done", st.timers) end)]], { 1 })
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("false\tevery: too many timers (limit 1024 pending)\nuserdata\n"
      .. "false\tafter: too many timers (limit 1024 pending)\ndone\t1024\n", r.out)
  end)

  it("a failing timer is reported like a failing handler and cancelled after 10 in a row", function()
    local path = h.tmpfile([[
local n = 0
every(1, function(ts) n = n + 1; error("tick " .. ts) end)
after(0.5, function() local t = {} ; return t.x.y end)
on("done", function(st) print("done", n, st.lua_errors, st.timers) end)]], ".lua")
    local times = {}
    for i = 0, 20 do times[#times + 1] = 100 + i end
    local pcap = capture(times)
    local r = h.run({ "-r", pcap, path })
    os.remove(pcap)
    assert.are.equal(1, r.code, r.err)
    assert.are.equal("done\t10\t11\t0\n", r.out)
    h.has(r.err, "lunatap: " .. path .. ": error in every: " .. path .. ":2: tick 101.0\n")
    h.has(r.err, "lunatap: " .. path .. ": error in after: " .. path .. ":3: attempt to index a nil value (field 'x')\n")
    h.has(r.err, "lunatap: " .. path .. ": every(1) timer cancelled after 10 failures in a row\n")
    assert.are.equal(1, h.count(r.err, "error in every"))
    os.remove(path)
  end)

  it("a timer that loops is stopped by the callback budget and the run goes on", function()
    local r = run(PKT .. [[
after(0.5, function() while true do end end)]], { 1, 2 }, { "--lua-budget", "1M" })
    assert.are.equal(1, r.code, r.err)
    assert.are.equal("pkt\t1.0\npkt\t2.0\n", r.out)
    h.has(r.err, "error in after: instruction budget exceeded")
  end)

  it("--clock takes capture or wall only", function()
    local r = h.run({ "--clock", "cpu", "-r", "x.pcap" })
    assert.are.equal(2, r.code)
    h.has(r.err, "lunatap: --clock: 'cpu' is not a clock (give capture or wall)\n")
  end)
end)

describe("timers on wall time (--clock wall)", function()
  it("fire while a pipe brings no packets, and the run ends on SIGINT", function()
    local sp = h.tmpfile([[
local t0 = os.time()
local n = 0
every(0.2, function(ts) n = n + 1 end)
after(0.3, function(ts) print("after", math.abs(ts - t0) < 5) end)
on("packet", function(p) print("pkt", p.ts) end)
on("done", function(st) print("done", n >= 3, st.timers_fired >= 4) end)]], ".lua")
    local pcap = build.udp_at({ 100 })
    local r = fifo.run({ "--clock", "wall", sp }, pcap, "", [[
ready && sleep 1.5 && kill -INT $p]])
    os.remove(sp)
    assert.are.equal(0, r.code, r.err)
    -- The capture's own time (100) plays no part: ts is the system clock.
    assert.are.equal("pkt\t100.0\nafter\ttrue\ndone\ttrue\ttrue\n", r.out)
  end)
end)

describe("session timeouts on capture time", function()
  it("an end handler sees its own session among those ended in stats()", function()
    local r = run([[
on("udp.end", function(s) local st = stats() print("udp.end", s.id, st.session_timeouts, st.sessions) end)
on("done", function(st) print("done", st.session_timeouts) end)]], { 100, 200 })
    assert.are.equal(0, r.code, r.err)
    -- the session of 100 times out (30 s) as the packet of 200 comes, before
    -- that packet's session exists; an ending session is no longer active
    assert.are.equal("udp.end\t0\t1\t0\nudp.end\t1\t1\t0\ndone\t1\n", r.out)
  end)
end)

describe("session timeouts on wall time (--clock wall)", function()
  it("end an idle session on the system clock while no packet comes (32 s)", function()
    local sp = h.tmpfile([[
on("udp.end", function(s) print("udp.end", s.id) end)
on("done", function(st) print("done", st.session_timeouts, st.sessions) end)]], ".lua")
    -- One UDP datagram stamped now: a new UDP session times out after 30 s.
    local r = fifo.run({ "--clock", "wall", sp }, build.udp_at({ os.time() }), "", [[
ready && sleep 32 && kill -INT $p]])
    os.remove(sp)
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("udp.end\t0\ndone\t1\t0\n", r.out)
  end)
end)
