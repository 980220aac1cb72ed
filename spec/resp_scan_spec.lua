-- lunatap.resp_scan (engine/lresp.c): the C reader of common RESP messages
-- takes a message only when all of it is there in the common shape, and
-- otherwise consumes nothing, so resp.lua reads it from the same byte. A
-- probe dissector on port 7777 calls it on crafted streams (small limits:
-- lines of 64 bytes, bulks of 16, 4 elements) and reports what it took,
-- or where it left the stream and the bytes left there.

local h = require("helper")
local build = require("pcap_build")

local PROBE = [[
local scan = require("lunatap.resp_scan")
local function show(v)
  if type(v) ~= "table" then return tostring(v) end
  local t = {}
  for i, x in ipairs(v) do t[i] = show(x) end
  return "[" .. table.concat(t, ",") .. "]"
end
dissector {
  name = "probe", tcp_ports = { 7777 }, events = { "probe." },
  stream = function(s, dir)
    while true do
      local a, b, c, d
      if dir == "client" then a, b, c = scan.command(s, 64, 16, 4)
      else a, b, c, d = scan.reply(s, 64, 16, 4) end
      if a == nil then
        local rest = s:peek(8)
        if rest then emit("probe.left", { dir = dir, offset = s.offset, rest = rest }, s.session) end
        s:skip()
        return
      end
      if dir == "client" then
        emit("probe.took", { dir = dir, text = show(a), ts = b, offset = c }, s.session)
      else
        emit("probe.took", { dir = dir, text = a .. " " .. show(b), ts = c, offset = d }, s.session)
      end
    end
  end,
}
-- command_record: the same command as the dissector's record
dissector {
  name = "probe_record", tcp_ports = { 7778 }, events = { "probe." },
  stream = function(s, dir)
    while true do
      local cmd, ts, offset = scan.command_record(s, 64, 16, 4)
      if cmd == nil then s:skip() return end
      assert(ts == cmd.ts)
      emit("probe.took", { dir = dir, text = cmd.name .. " " .. show(cmd.args), ts = cmd.ts, offset = offset },
           s.session)
    end
  end,
}
]]

local SHOW = [[
on("probe.took", function(r) print("took", r.dir, r.text, ("%.3f"):format(r.ts), r.offset) end)
on("probe.left", function(r) print("left", r.dir, r.offset, (r.rest:gsub("\r", "\\r"):gsub("\n", "\\n"))) end)
on("done", function(st) print("done", st.lua_errors, st.dissector_errors) end)
]]

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. h.quote(dir)))
local f = assert(io.open(dir .. "/probe.lua", "w"))
f:write(PROBE)
f:close()

-- parts: { {side, bytes}, ... }; bytewise: every byte its own segment
local function probe(parts, bytewise, port)
  if bytewise then
    local split = {}
    for _, p in ipairs(parts) do
      for i = 1, #p[2] do split[#split + 1] = { p[1], p[2]:sub(i, i) } end
    end
    parts = split
  end
  local pcap = h.tmpfile(build.tcp_session(parts, { port = port or 7777 }), ".pcap")
  local show = h.tmpfile(SHOW, ".lua")
  local r = h.run_limited(60, { "-L", dir, "-r", pcap, show })
  os.remove(pcap)
  os.remove(show)
  assert.are.equal(0, r.code, r.err)
  h.hasnt(r.err, "Sanitizer")
  h.has(r.out, "done\t0\t0\n")
  return h.lines(r.out)
end

local function client(bytes, bytewise) return probe({ { "client", bytes } }, bytewise) end

-- what `run(bytes)` printed: the stream left at offset 0, its first bytes unread
local function assert_left(side, run, bytes)
  local want = (bytes:sub(1, 8):gsub("\r", "\\r"):gsub("\n", "\\n"))
  assert.are.same({ "left\t" .. side .. "\t0\t" .. want, "done\t0\t0" }, run(bytes), bytes)
end
local function server(bytes)
  local l = probe({ { "client", "*1\r\n$4\r\nPING\r\n" }, { "server", bytes } })
  assert.are.equal("took\tclient\t[PING]\t1700000000.003\t0", table.remove(l, 1))
  return l
end

describe("resp_scan", function()
  it("takes commands whole, with the first byte's time and offset", function()
    local cmds = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$0\r\n\r\n$16\r\n0123456789abcdef\r\n"
    assert.are.same({ "took\tclient\t[GET,k]\t1700000000.003\t0",
                      "took\tclient\t[SET,,0123456789abcdef]\t1700000000.003\t20", "done\t0\t0" },
                    client(cmds))
    -- one byte a segment: it waits, and the time is the first byte's
    local l = client(cmds, true)
    assert.are.same("took\tclient\t[GET,k]\t1700000000.003\t0", l[1])
    assert.are.same("took\tclient\t[SET,,0123456789abcdef]\t1700000000.023\t20", l[2])
  end)

  it("command_record makes the dissector's record: args, the name upper-cased, the time", function()
    local cmds = "*2\r\n$3\r\nget\r\n$1\r\nk\r\n*1\r\n$4\r\nPiNg\r\n*1\r\n$3\r\nDEL\r\n*1\r\n$2\r\n\0x\r\n"
    assert.are.same({ "took\tclient\tGET [get,k]\t1700000000.003\t0",
                      "took\tclient\tPING [PiNg]\t1700000000.003\t20",
                      "took\tclient\tDEL [DEL]\t1700000000.003\t34",
                      "took\tclient\t\0X [\0x]\t1700000000.003\t47", "done\t0\t0" },
                    probe({ { "client", cmds } }, false, 7778))
  end)

  it("leaves every other command where it starts", function()
    local cases = {
      "*2\r\n$3\r\nGET\r\n$17\r\n0123456789abcdefg\r\n", -- a bulk over bulk_keep
      "*5\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n", -- over 4 elements
      "*1\r\n$+3\r\nGET\r\n", "*1\r\n$ 3\r\nGET\r\n", "*+1\r\n$3\r\nGET\r\n", -- signs, blanks
      "*1\r\n$3\nGET\r\n", "*1\n$3\r\nGET\r\n", -- bare LF
      "*1\r\n$3\r\nGETX\r\n", "*1\r\n$3\r\nGET\n", -- no CR LF after the bulk
      "*1\r\n:3\r\n", "*0\r\n", "*-1\r\n", "PING\r\n", ":1\r\n", "\r\n",
      "*1\r\n$1234567890123456789\r\n", -- 19 digits
      "*2\r\n$3\r\nGET\r\n", -- the stream ends first
    }
    for _, bytes in ipairs(cases) do assert_left("client", client, bytes) end
  end)

  it("takes the common replies and leaves the others", function()
    local took = {
      ["+OK\r\n"] = "simple OK", ["-ERR no\r\n"] = "error ERR no", [":42\r\n"] = "integer 42",
      [":-7\r\n"] = "integer -7", ["$3\r\nabc\r\n"] = "bulk abc", ["$0\r\n\r\n"] = "bulk ",
      ["$-1\r\n"] = "null nil", ["*-1\r\n"] = "null nil", ["*0\r\n"] = "array []",
      ["*4\r\n$1\r\na\r\n$-1\r\n:5\r\n+x\r\n"] = "array [a,false,5,x]",
    }
    for bytes, text in pairs(took) do
      assert.are.same({ "took\tserver\t" .. text .. "\t1700000000.004\t0", "done\t0\t0" }, server(bytes), bytes)
    end
    local left = { "*1\r\n*1\r\n:1\r\n", "%1\r\n+a\r\n:1\r\n", "_\r\n", ":1.5\r\n", ":+1\r\n", "#t\r\n",
                   "*5\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n", "$17\r\n0123456789abcdefg\r\n", "$-2\r\n",
                   "+" .. ("a"):rep(70) .. "\r\n", "+OK\n", "$3\r\nabcd\r\n", "*2\r\n:1\r\n" }
    for _, bytes in ipairs(left) do assert_left("server", server, bytes) end
  end)

  it("is read by its dissector's coroutine only", function()
    local script = h.tmpfile('local scan = require("lunatap.resp_scan")\n' ..
                             'print(pcall(scan.command, nil, 1, 1, 1))\n', ".lua")
    local r = h.run({ "-r", h.samples .. "/udp-echo.pcap", "-c", "1", script })
    os.remove(script)
    assert.are.equal(0, r.code, r.err)
    h.has(r.out, "false\t")
    h.has(r.out, "lunatap.stream expected")
  end)
end)
