-- Hostile and broken RESP: every case ends in a redis.error event, the
-- engine stays alive ("done" runs, exit status 0) and a later session in
-- the same capture is still decoded and paired. Captures are built here
-- (spec/pcap_build.lua): the bad session on port 6379, then a good one.

local h = require("helper")
local build = require("pcap_build")

local WATCH = [[
on("redis.command", function(c, s) print("command", s.id, c.name, #c.args) end)
on("redis.reply", function(r, s)
  print("reply", s.id, r.type, r.command and r.command.name or "-", tostring(r.truncated))
end)
on("redis.error", function(e, s)
  print("error", s.id, e.direction, tostring(e.limit), e.message)
end)
on("done", function(st) print("done", st.lua_errors, st.dissector_errors) end)
]]

local GOOD = build.tcp_session({ { "client", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n" }, { "server", "$1\r\nv\r\n" } },
  { port = 6379, client_port = 40001, start = 1700000100 })

local function watch(parts)
  local pcap = h.tmpfile(build.join(build.tcp_session(parts, { port = 6379 }), GOOD), ".pcap")
  local script = h.tmpfile(WATCH, ".lua")
  local r = h.run_limited(60, { "-r", pcap, script })
  os.remove(pcap)
  os.remove(script)
  assert.are.equal(0, r.code, r.err)
  h.hasnt(r.err, "Sanitizer")
  h.has(r.out, "done\t0\t0\n")
  -- the later session
  h.has(r.out, "command\t1\tGET\t2\nreply\t1\tbulk\tGET\tnil\n")
  return r.out
end

describe("Redis bad input", function()
  it("RESP nested 100,000 deep stops at the depth limit", function()
    local out = watch({ { "client", "*1\r\n$4\r\nPING\r\n" }, { "server", ("*1\r\n"):rep(100000) .. ":1\r\n" } })
    h.has(out, "error\t0\tserver\tdepth\taggregates nested more than 128 deep\n")
    h.hasnt(out, "reply\t0")
    -- a client may send only flat arrays of bulk strings (as redis requires)
    local client = watch({ { "client", ("*1\r\n"):rep(100000) .. ":1\r\n" } })
    h.has(client, "error\t0\tclient\tnil\tcommand argument 1 is not a bulk string (type byte 0x2a)\n")
  end)

  it("a bulk length of 2^62 is refused before anything is read", function()
    local out = watch({ { "client", "*2\r\n$3\r\nGET\r\n$4611686018427387904\r\nabc\r\n" } })
    h.has(out, "error\t0\tclient\tbulk_length\tbulk length 4611686018427387904 over the limit of 536870912\n")
  end)

  it("an inline command of 1 MB hits the line limit; the next line is read", function()
    local out = watch({ { "client", ("A"):rep(1 << 20) .. "\r\nPING\r\n" }, { "server", "+PONG\r\n" } })
    h.has(out, "error\t0\tclient\tline\t")
    h.has(out, "command\t0\tPING\t1\nreply\t0\tsimple\tPING\tnil\n")
  end)

  it("a reply past the element limit is kept in part and flagged", function()
    local items = {}
    for i = 1, 20001 do items[i] = ":" .. i .. "\r\n" end
    local out = watch({ { "client", "*1\r\n$6\r\nLRANGE\r\n" }, { "server", "*20001\r\n" .. table.concat(items) } })
    h.has(out, "reply\t0\tarray\tLRANGE\ttrue\n")
    h.has(out, "error\t0\tserver\telements\treply of over 20000 elements: the rest was read but not kept\n")
  end)

  it("a command of over 20,000 arguments keeps the first 20,000, is flagged and still pairs", function()
    local args = { "*20002\r\n$4\r\nMSET\r\n" }
    for i = 1, 20001 do args[#args + 1] = "$1\r\nk\r\n" end
    local out = watch({ { "client", table.concat(args) .. "*1\r\n$4\r\nPING\r\n" },
                        { "server", "+OK\r\n+PONG\r\n" } })
    h.has(out, "command\t0\tMSET\t20000\n")
    h.has(out, "error\t0\tclient\telements\tcommand of over 20000 arguments: the rest were read but not kept\n")
    h.has(out, "command\t0\tPING\t1\nreply\t0\tsimple\tMSET\tnil\nreply\t0\tsimple\tPING\tnil\n")
  end)

  it("over 10,000 commands waiting for replies: the oldest are given up, once reported", function()
    local out = watch({ { "client", ("*1\r\n$4\r\nPING\r\n"):rep(10001) } })
    assert.are.equal(1, h.count(out, "\tpending_commands\t"))
    h.has(out, "error\t0\tclient\tpending_commands\tover 10000 commands waiting for replies")
  end)

  local MALFORMED = {
    { "a length that is not a number", "*x\r\n", 'bad array length "x"' },
    { "a negative count other than -1", "*-5\r\n", "negative array count -5", "server" },
    { "a bulk not followed by CR LF", "*1\r\n$3\r\nGETxx\r\n", "bulk of 3 bytes not followed by CR LF" },
    { "a command argument that is not a bulk string", "*1\r\n@1\r\n", "command argument 1 is not a bulk string (type byte 0x40)" },
    { "unbalanced quotes in an inline command", "SET k \"v\r\n", "inline command: unbalanced quotes" },
  }
  for _, c in ipairs(MALFORMED) do
    it(c[1] .. " is a protocol error", function()
      local side = c[4] or "client"
      local out = watch({ { side, c[2] } })
      h.has(out, ("error\t0\t%s\tnil\t%s\n"):format(side, c[3]))
    end)
  end

  it("a server line that is not RESP stops that direction only", function()
    local out = watch({ { "client", "PING\r\nPING\r\n" }, { "server", "+PONG\r\nnot RESP\r\n" } })
    h.has(out, "reply\t0\tsimple\tPING\tnil\n")
    h.has(out, "error\t0\tserver\tnil\tunknown RESP type byte 0x6e\n")
    assert.are.equal(2, h.count(out, "command\t0\tPING"))
  end)

  it("an error names the offset where its message starts, after messages read in C", function()
    local pcap = h.tmpfile(build.tcp_session({
      { "client", "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n:3\r\n" },
      { "server", "+PONG\r\n$-1\r\n+OK\r\n%zz\r\n" } }, { port = 6379 }), ".pcap")
    local script = h.tmpfile([[
on("redis.error", function(e) print("error", e.direction, e.offset, e.message) end)
on("redis.reply", function(r) print("reply", r.type) end)
]], ".lua")
    local r = h.run_limited(60, { "-r", pcap, script })
    os.remove(pcap)
    os.remove(script)
    assert.are.equal(0, r.code, r.err)
    assert.are.same({ "error\tclient\t34\tcommand argument 1 is not a bulk string (type byte 0x3a)",
                      "reply\tsimple", "reply\tnull", "reply\tsimple",
                      "error\tserver\t17\tbad map length \"zz\"" }, h.lines(r.out))
  end)
end)
