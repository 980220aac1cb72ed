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

-- -c, --max-bytes and --duration over a capture made here: UDP frames of
-- exactly 100 bytes at known times.
describe("stop conditions", function()
  local build = require("pcap_build")
  local pcap
  local times = { 100, 100.5, 100.999999, 101, 101.5, 102 }

  setup(function()
    pcap = h.tmpfile(build.udp_at(times), ".pcap")
  end)
  teardown(function() os.remove(pcap) end)

  -- Runs with `opts` and returns the packet times seen and "done"'s counters.
  local function seen(opts, filter)
    local sp = h.tmpfile([[
on("packet", function(pkt) print(("%.6f"):format(pkt.ts)) end)
on("done", function(st) print("done", st.packets, st.passed, st.passed_bytes) end)]], ".lua")
    local args = { "-r", pcap }
    if filter then args[#args + 1] = "-f"; args[#args + 1] = filter end
    for _, a in ipairs(opts) do args[#args + 1] = a end
    args[#args + 1] = sp
    local r = h.run_limited(30, args)
    os.remove(sp)
    assert.are.equal(0, r.code, r.err)
    return r.out
  end

  it("--max-bytes stops after the packet that reaches the total", function()
    assert.are.equal("100.000000\n100.500000\n100.999999\ndone\t3\t3\t300\n", seen({ "--max-bytes", "300" }))
    assert.are.equal("100.000000\n100.500000\n100.999999\ndone\t3\t3\t300\n", seen({ "--max-bytes", "299" }))
    assert.are.equal("100.000000\n100.500000\n100.999999\n101.000000\ndone\t4\t4\t400\n",
      seen({ "--max-bytes", "301" }))
    assert.are.equal("100.000000\ndone\t1\t1\t100\n", seen({ "--max-bytes", "1" }))
  end)

  it("--max-bytes takes k, M, G suffixes and counts only what passed the filter", function()
    assert.are.equal(6, h.count("\n" .. seen({ "--max-bytes", "1k" }), "\n1"))
    assert.are.equal("done\t6\t0\t0\n", seen({ "--max-bytes", "100" }, "tcp"))
  end)

  it("--duration is capture time since the first packet; the end of the window is outside", function()
    assert.are.equal("100.000000\n100.500000\n100.999999\ndone\t3\t3\t300\n", seen({ "--duration", "1" }))
    assert.are.equal("100.000000\n100.500000\ndone\t2\t2\t200\n", seen({ "--duration", "0.999999" }))
    assert.are.equal("100.000000\n100.500000\n100.999999\ndone\t3\t3\t300\n",
      seen({ "--duration", "0.9999991" }))
    assert.are.equal("100.000000\n100.500000\n100.999999\n101.000000\n101.500000\ndone\t5\t5\t500\n",
      seen({ "--duration", "2" }))
    assert.are.equal(6, h.count("\n" .. seen({ "--duration", "3600" }), "\n1"))
  end)

  it("the first condition met wins", function()
    assert.are.equal("100.000000\n100.500000\ndone\t2\t2\t200\n", seen({ "-c", "2", "--duration", "10" }))
    assert.are.equal("100.000000\ndone\t1\t1\t100\n", seen({ "--max-bytes", "50", "-c", "4" }))
  end)

  it("bad values are usage errors naming the option", function()
    for _, case in ipairs({
      { { "--max-bytes", "0" }, "lunatap: --max-bytes: '0' is out of range (give a positive number of bytes)" },
      { { "--max-bytes", "-5" }, "lunatap: --max-bytes: '-5' is not a valid amount" },
      { { "--max-bytes", "12q" }, "lunatap: --max-bytes: '12q' is not a valid amount" },
      { { "--duration", "0" }, "lunatap: --duration: '0' is out of range (give seconds, more than 0 and at most 315360000)" },
      { { "--duration", "-1" }, "lunatap: --duration: '-1' is out of range" },
      { { "--duration", "nan" }, "lunatap: --duration: 'nan' is out of range" },
      { { "--duration", "1e12" }, "lunatap: --duration: '1e12' is out of range" },
      { { "--duration", "5s" }, "lunatap: --duration: '5s' is not a number of seconds" },
      { { "--duration" }, "lunatap: option '--duration' needs an argument" },
    }) do
      local args = { "-r", pcap }
      for _, a in ipairs(case[1]) do args[#args + 1] = a end
      local r = h.run(args)
      assert.are.equal(2, r.code, table.concat(case[1], " "))
      h.has(r.err, case[2])
      assert.are.equal("", r.out)
    end
  end)
end)
