-- lunatap repl: the interactive prompt, driven through a real terminal
-- (tmux) as a user would: typing, Tab, Ctrl-C, Ctrl-D, the screen read
-- back. Standard input from a pipe covers the same evaluation without a
-- terminal. Live tests capture on lo and need root (CI runs as root).

local H = require("helper")
local T = require("tmux")

local HTTP = H.samples .. "/http-features.pcap"
local tmpdir = H.tmpdir

--- The REPL in a terminal with its own HOME (so its own history file).
local function repl(args, home)
  home = home or tmpdir()
  local quoted = {}
  for i, a in ipairs(args) do quoted[i] = H.quote(a) end
  local t = T.start(("%s repl %s"):format(H.quote(H.bin), table.concat(quoted, " ")),
                    { dir = H.root, env = { HOME = home, XDG_STATE_HOME = "" } })
  t.home = home
  t:wait_for("help() lists the functions")
  return t
end

local piped = H.repl_piped

describe("repl without a terminal", function()
  it("shows values of expressions, runs statements, keeps going after errors", function()
    local r = piped('1+1\nlocal x = 5 print("x is", x)\n"a\\0b", 2.5, nil\nerror("boom")\n' ..
                    'x = {1, 2}\n#x\n', { "-r", HTTP })
    assert.are.equal(0, r.code, r.err)
    local l = H.lines(r.out)
    assert.are.equal("lunatap repl: reading " .. HTTP ..
                     " (paused: step(n) or run()); help() lists the functions, Ctrl-D or exit() ends",
                     l[1])
    assert.are.equal("2", l[2])
    assert.are.equal("x is\t5", l[3])
    assert.are.equal('"a\\0b"', l[4])
    assert.are.equal("2.5", l[5])
    assert.are.equal("nil", l[6])
    assert.are.equal("2", l[7])
    assert.truthy(r.err:find("stdin:1: boom\nstack traceback:", 1, true), r.err)
    -- Ctrl-D (the end of input) ends with the statistics line
    assert.truthy(r.err:find("lunatap: stats: received=0 ", 1, true), r.err)
  end)

  it("waits for the rest of an unfinished chunk, as lua.c does", function()
    local r = piped("function twice(a)\n  return a * 2\nend\ntwice(21)\nt = {\n 'x',\n}\nt[1]\n")
    assert.are.equal(0, r.code, r.err)
    local l = H.lines(r.out)
    assert.are.same({ "42", '"x"' }, { l[2], l[3] })
    assert.are.equal("", r.err:gsub("lunatap: stats:[^\n]*\n", ""))
  end)

  it("reports a syntax error with its line and goes on", function()
    local r = piped("x = = 1\n3\n")
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.err:find("stdin:1: unexpected symbol near '='", 1, true), r.err)
    assert.are.equal("3", H.lines(r.out)[2])
  end)

  it("runs a file only when asked: step(n) reads n packets, run() the rest", function()
    local r = piped('n = 0 on("packet", function() n = n + 1 end)\nn\nstep(3)\nn\nrun()\n', { "-r", HTTP })
    assert.are.equal(0, r.code, r.err)
    local l = H.lines(r.out)
    assert.are.equal("0", l[2])
    -- the three packets, one line each, as tcpdump -nn shows them
    local tz = H.capture("date -d @1700000000 +%H:%M:%S"):gsub("%s+$", "")
    assert.are.same({
      tz .. ".000000 IPv4 10.0.0.1:40000 > 10.0.0.2:80 TCP [S] seq 1426216961 win 65535 len 0",
      tz .. ".003000 IPv4 10.0.0.2:80 > 10.0.0.1:40000 TCP [SA] seq 457654553 ack 1426216962 win 65535 len 0",
      tz .. ".005000 IPv4 10.0.0.1:40000 > 10.0.0.2:80 TCP [A] seq 1426216962 ack 457654554 win 65535 len 0",
    }, { l[3], l[4], l[5] })
    assert.are.equal("3", l[6], r.out) -- after the three packets' lines
    assert.truthy(r.out:find("-- end of capture: 276 packets read, 276 passed the filter", 1, true), r.out)
  end)

  it("last(n) and pkt are kept copies of the latest packets, oldest first", function()
    local r = piped('last(1)\n#last(5)\nstep(3)\n#last(5)\ntostring(last(1)[1])\n' ..
                    'last(2)[1].tcp.flags, last(2)[2].tcp.flags\npkt.tcp.flags\nstats().last_kept\n' ..
                    'pkt = 7\npkt\nlast(-1)\n', { "-r", HTTP })
    assert.are.equal(0, r.code, r.err)
    local l = H.lines(r.out)
    assert.are.same({ "{}", "0" }, { l[2], l[3] })
    assert.are.same({ "3", '"packet (kept)"', '"SA"', '"A"', '"A"', "3", "7" },
                    { table.unpack(l, 7, 13) })
    assert.truthy(r.err:find("bad argument #1 to 'last' (a count of 0 or more)", 1, true), r.err)
  end)

  it("step() past the end, a bad count, and a stopped capture are errors, not the end", function()
    local r = piped('step(0)\nstep("x")\nrun()\n"still here"\nstep(1)\nresume()\n', { "-r", HTTP })
    assert.are.equal(0, r.code, r.err)
    assert.truthy(r.err:find("bad argument #1 to 'step' (a count from 1 to 1000000000)", 1, true), r.err)
    assert.truthy(r.err:find("bad argument #1 to 'step' (number expected, got string)", 1, true), r.err)
    assert.truthy(r.out:find('"still here"', 1, true), r.out)
    assert.truthy(r.err:find("the capture has ended (276 packets read)", 1, true), r.err)
  end)

  it("the REPL runs under the sandbox and its limits", function()
    local r = piped('io\nos.execute\nwhile true do end\n"after"\n', { "--lua-budget", "1M" })
    assert.are.equal(0, r.code, r.err)
    local l = H.lines(r.out)
    assert.are.same({ "nil", "nil" }, { l[2], l[3] })
    assert.truthy(r.err:find("instruction budget exceeded (limit 1000000 instructions", 1, true), r.err)
    assert.truthy(r.out:find('"after"', 1, true))
  end)

  it("load(file) runs a script whose handlers stay; load(chunk) is still Lua's", function()
    local script = H.tmpfile('count = 0 on("packet", function() count = count + 1 end)\n' ..
                             'on("done", function(st) print("script saw", count) end)\n', ".lua")
    local broken = H.tmpfile("this is not lua", ".lua")
    local r = piped(('load(%q)\nload("return 1 + 1")()\nload(%q)\nload("/nonexistent.lua")\nrun()\n')
                    :format(script, broken), { "-r", HTTP })
    os.remove(script)
    os.remove(broken)
    assert.are.equal(0, r.code, r.err)
    local l = H.lines(r.out)
    assert.are.same({ "true", "2" }, { l[2], l[3] })
    assert.truthy(r.out:find("script saw\t276", 1, true), r.out)
    assert.truthy(r.err:find("syntax error near 'is'", 1, true), r.err)
    assert.truthy(r.err:find("/nonexistent.lua", 1, true), r.err)
  end)

  it("filter() shows the expression in force; a bad one is refused and the old one stays", function()
    local r = piped('filter()\nfilter("tcp port 9")\nfilter("port nonsense")\nfilter()\n' ..
                    'run()\nfilter("")\nfilter()\n', { "-r", HTTP, "-f", "tcp" })
    assert.are.equal(0, r.code, r.err)
    local l = H.lines(r.out)
    -- filter(expr) shows nothing; the failed one left "tcp port 9" in force
    assert.are.same({ '"tcp"', '"tcp port 9"' }, { l[2], l[3] })
    assert.truthy(r.err:find("stdin:1: filter: bad filter expression 'port nonsense' for link type " ..
                             "EN10MB: unknown port 'nonsense'", 1, true), r.err)
    assert.truthy(r.out:find("-- end of capture: 276 packets read, 0 passed the filter", 1, true), r.out)
    assert.are.equal("nil", l[#l])
  end)

  it("works without any capture", function()
    local r = piped("2^10\nstep()\n")
    assert.are.equal(0, r.code, r.err)
    assert.are.equal("1024.0", H.lines(r.out)[2])
    assert.truthy(r.err:find("no capture: start the REPL with -r FILE or -i IFACE", 1, true), r.err)
  end)

  it("--history belongs to repl", function()
    local r = H.run({ "--history", "/tmp/x", "-r", HTTP })
    assert.are.equal(2, r.code)
    assert.are.equal("lunatap: --history and --no-history are options of 'lunatap repl'\n", r.err)
  end)
end)

describe("repl in a terminal", function()
  if not T.available() then
    it("skipped: tmux is not installed", function() end)
    return
  end

  it("a multi-line function definition works", function()
    local t = repl({ "-r", HTTP })
    t:type("function add(a, b)")
    t:wait_for("\n>>")
    t:type("return a + b")
    t:type("end")
    local s = t:ask("add(40, 2)", "42")
    assert.truthy(s:find("> function add(a, b)\n>> return a + b\n>> end\n> add(40, 2)\n42", 1, true), s)
    t:close()
  end)

  it("Ctrl-C stops `while true do end` and the prompt comes back; Ctrl-C at the prompt clears the line", function()
    -- limits far away, so only the Ctrl-C can stop it
    local t = repl({ "--lua-time", "600000", "--lua-budget", "1000G", "-r", HTTP })
    t:type("while true do end")
    T.sleep(0.5)
    local t0 = os.time()
    t:key("C-c")
    local s = t:wait_for("interrupted\nstack traceback:")
    assert.is_true(os.time() - t0 <= 3)
    t:type("half a line", { no_enter = true })
    t:key("C-c")
    t:type("'prompt is back'")
    s = t:wait_for('"prompt is back"')
    assert.truthy(s:find("> half a line^C\n> 'prompt is back'\n", 1, true), s)
    t:ask("stats().lua_interrupts", "1")
    t:close()
  end)

  it("Ctrl-D ends with the statistics and exit status 0; history survives a restart", function()
    local home = tmpdir()
    local t = repl({ "-r", HTTP }, home)
    t:type("marker = 'from the first run'")
    t:type("step(2)")
    t:key("C-d")
    local s = t:wait_for("[exit 0]")
    assert.truthy(s:find("lunatap: stats: received=2 decoded=2", 1, true), s)
    t:close()
    local f = assert(io.open(home .. "/.local/state/lunatap/history"))
    local hist = f:read("a")
    f:close()
    assert.are.equal("marker = 'from the first run'\nstep(2)\n", hist)
    t = repl({ "-r", HTTP }, home)
    t:key("Up", "Up")
    s = t:wait_for("> marker = 'from the first run'")
    t:key("Enter")
    t:type("exit()")
    t:wait_for("[exit 0]")
    t:close()
  end)

  it("Tab completes a packet's fields: pkt.tc becomes pkt.tcp, pkt.tcp.dp pkt.tcp.dport", function()
    local t = repl({ "-r", HTTP })
    t:type("step(1)")
    t:wait_for("10.0.0.1:40000 > 10.0.0.2:80")
    t:type("pkt.tc", { no_enter = true })
    t:key("Tab")
    t:wait_for("> pkt.tcp")
    t:type(".dp", { no_enter = true })
    t:key("Tab")
    t:key("Enter")
    local s = t:wait_for("> pkt.tcp.dport\n80")
    -- several candidates: the common part, then the list on a second Tab
    t:type("pkt.tcp.s", { no_enter = true })
    t:key("Tab")
    s = t:wait_for("sport")
    assert.truthy(s:find("seq", 1, true) and s:find("syn", 1, true), s)
    t:close()
  end)

  it("Ctrl-C stops a handler that runs away; capture and the prompt go on", function()
    local t = repl({ "--lua-time", "600000", "--lua-budget", "1000G", "-r", HTTP })
    t:type('n = 0 on("packet", function() n = n + 1 if n == 2 then while true do end end end)')
    t:type("run()")
    T.sleep(0.5)
    t:key("C-c")
    t:wait_for("interrupted")
    t:wait_for("-- end of capture: 276 packets read")
    t:ask("n", "276")
    t:ask("stats().lua_interrupts", "1")
    t:close()
  end)

  it("output from a handler never garbles the line being typed", function()
    local t = repl({ "-r", HTTP })
    t:type('on("http.request", function(r) print("REQUEST " .. r.uri) end)')
    t:type("run()")
    t:wait_for("-- end of capture")
    t:type("half typed", { no_enter = true })
    T.sleep(0.3)
    local s = t:screen()
    assert.truthy(s:find("REQUEST /", 1, true), s)
    -- the prompt and the partial line were redrawn after the output
    assert.truthy(s:match("passed the filter\n> half typed$"), s)
    t:close()
  end)
end)

describe("repl on live traffic", function()
  if not H.live_in_terminal(it, T) then return end
  local function have(cmd) return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true end

  local server, port
  setup(function()
    port = 18000 + math.random(0, 999)
    local dir = tmpdir()
    server = dir
    os.execute(("cd %s && (python3 -m http.server %d --bind 127.0.0.1 >/dev/null 2>&1 & echo $! > pid)")
               :format(H.quote(dir), port))
    os.execute("sleep 0.7")
  end)
  teardown(function()
    os.execute(("kill $(cat %s/pid) 2>/dev/null"):format(H.quote(server)))
  end)

  local function get(path)
    os.execute(("curl -s -o /dev/null http://127.0.0.1:%d%s"):format(port, path))
  end

  it("a handler added at the prompt prints the requests as they come; off() stops it", function()
    if not have("curl") then pending("curl is not installed") return end
    local t = repl({ "-i", "lo", "-f", "tcp port " .. port })
    t:type('h = on("http.request", function(r) print("LIVE " .. r.method .. " " .. r.uri) end)')
    t:ask("h", "1")
    get("/first")
    get("/second")
    t:wait_for("LIVE GET /second")
    -- the latest packet, kept: its summary line and its layers
    t:type("last(1)")
    local shown = t:wait_for(">,\n}")
    assert.truthy(shown:find("last%(1%)\n{\n  <%d%d:%d%d:%d%d%.%d+ IPv4 127%.0%.0%.1:%d+ > 127%.0%.0%.1:%d+ TCP %[%u+%]"),
                  shown)
    t:type("pkt")
    shown = t:wait_for("  tcp: ack")
    assert.truthy(shown:find("\n  ip: df = ", 1, true), shown)
    t:ask("off(h)", "true")
    get("/third")
    T.sleep(0.5)
    t:type("pause()")
    get("/while-paused")
    T.sleep(0.5)
    local s = t:ask("stats().discarded_paused > 0", "true")
    assert.falsy(s:find("LIVE GET /third", 1, true), s)
    t:type("exit()")
    t:wait_for("[exit 0]")
    t:close()
  end)
end)
