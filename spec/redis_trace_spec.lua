-- scripts/redis_trace.lua: the node_pcap-style text lines, --tcp-verbose,
-- --json, escaping and cutting of values, usage errors.

local h = require("helper")
local build = require("pcap_build")
local decode = require("json_decode")

local PCAP

setup(function()
  PCAP = h.tmpfile(build.tcp_session({
    { "server", "+hello\r\n" },
    { "client", "*3\r\n$3\r\nSET\r\n$3\r\nk\1y\r\n$100\r\n" .. ("x"):rep(100) .. "\r\n" },
    { "server", "+OK\r\n" },
    { "client", "SUBSCRIBE news\r\n" },
    { "server", "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n" },
    { "client", "*1\r\n@\r\n" },
  }, { port = 6379 }), ".pcap")
end)

teardown(function() os.remove(PCAP) end)

local function trace(args)
  local all = { "-r", PCAP, "redis_trace" }
  for _, a in ipairs(args) do all[#all + 1] = a end
  local r = h.run(all)
  assert.are.equal(0, r.code, r.err)
  return r.out
end

describe("redis_trace", function()
  it("prints n/total CMD [args] -> reply latency, pushes, orphans, errors and the TCP end", function()
    assert.are.equal(
      "22:13:20.003000 10.0.0.2:6379 -> 10.0.0.1:40000 (reply with no command) -> hello\n" ..
      "22:13:20.005000 10.0.0.2:6379 -> 10.0.0.1:40000 1/1 set [k\\x01y, " .. ("x"):rep(64) ..
      "...(100 bytes)] -> OK 1.000ms\n" ..
      "22:13:20.007000 10.0.0.2:6379 -> 10.0.0.1:40000 2/2 subscribe [news] -> [subscribe, news, 1] 1.000ms\n" ..
      "22:13:20.007000 10.0.0.2:6379 -> 10.0.0.1:40000 push message news hi\n" ..
      "22:13:20.008000 10.0.0.1:40000 -> 10.0.0.2:6379 redis error (client): command argument 1 is not a bulk string (type byte 0x40)\n" ..
      "22:13:20.010000 10.0.0.1:40000 -> 10.0.0.2:6379 TCP end 0.010s 2 commands 200.00 req/sec\n",
      trace({}))
  end)

  it("--tcp-verbose adds the TCP start of Redis connections", function()
    local out = trace({ "--tcp-verbose", "--no-color" })
    assert.are.equal("22:13:20.000000 10.0.0.1:40000 -> 10.0.0.2:6379 TCP start\n", h.lines(out)[1] .. "\n")
    h.hasnt(out, "\27[")
  end)

  it("--json: one object per record, values whole and typed", function()
    local recs = {}
    for _, line in ipairs(h.lines(trace({ "--json" }))) do recs[#recs + 1] = decode(line) end
    assert.are.equal(6, #recs)
    assert.are.same({ "reply", "command", "command", "push", "error", "end" },
      { recs[1].event, recs[2].event, recs[3].event, recs[4].event, recs[5].event, recs[6].event })
    assert.are.equal("hello", recs[1].reply)
    local set = recs[2]
    assert.are.same({ "SET", "k\1y", ("x"):rep(100) }, set.args)
    assert.are.same({ 1, 1, "SET", "simple", "OK" }, { set.index, set.total, set.name, set.reply_type, set.reply })
    assert.is_true(math.abs(set.latency - 0.001) < 1e-6)
    assert.are.same({ "subscribe", "news", 1 }, recs[3].reply)
    assert.is_true(recs[3].inline)
    assert.are.same({ "message", "news", "hi" }, { recs[4].kind, recs[4].channel, recs[4].payload })
    assert.are.equal("client", recs[5].direction)
    assert.are.same({ 2, "10.0.0.1:40000" }, { recs[6].commands, recs[6].client })
  end)

  it("rejects an unknown option with status 2", function()
    local r = h.run({ "-r", PCAP, "redis_trace", "--bogus" })
    assert.are.equal(2, r.code)
    h.has(r.err, "redis_trace: unknown option '--bogus'")
  end)
end)
