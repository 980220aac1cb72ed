-- filter(expr) on a live capture (docs/repl.md, docs/live.md): the capture
-- helper compiles the new expression and swaps the kernel's filter, driven
-- through `lunatap repl -i lo` in a terminal (tmux). UDP datagrams to two
-- ports show which filter is in force: a handler counts them per port.
-- Needs root (CI runs as root); without it the tests say why they skip.

local H = require("helper")
local T = require("tmux")


describe("filter() on a live capture", function()
  if not H.live_in_terminal(it, T) then return end

  local tmpdir = H.tmpdir

  -- Sends n datagrams to 127.0.0.1:port (nobody listens: each is one
  -- packet on lo, and an ICMP "port unreachable" the filters never pass).
  local function send(port, n)
    local cmd = ("for i in $(seq %d); do printf x > /dev/udp/127.0.0.1/%d; done"):format(n, port)
    assert(os.execute("bash -c " .. H.quote(cmd) .. " 2>/dev/null") or true)
  end

  -- Asks the REPL for `expr` until it prints `want` (a tostring'd value,
  -- on a line of its own after "@"), for packets that may still be on
  -- their way; fails with the screen after `timeout` seconds.
  local asked = 0
  local function shows(t, expr, want, timeout)
    local deadline = os.time() + (timeout or 10)
    local screen
    repeat
      asked = asked + 1
      local mark = ("@%d "):format(asked)
      t:type(("print(%q .. tostring(%s))"):format(mark, expr))
      local ok, s = pcall(t.wait_for, t, "\n" .. mark, 3)
      screen = ok and s or t:screen()
      local line = "\n" .. mark .. want
      local i = screen:find(line, 1, true)
      if i then
        local after = screen:sub(i + #line, i + #line)
        if after == "" or after == "\n" then return screen end
      end
      T.sleep(0.2)
    until os.time() > deadline
    error(("timed out waiting for %s to be %s; the screen:\n%s"):format(expr, want, screen), 2)
  end

  local P1 = 41000 + math.random(0, 499)
  local P2 = P1 + 500

  it("swaps the kernel filter: only the new port's packets come, a bad expression leaves the old one, \"\" removes it", function()
    local t = T.start(("%s repl -i lo -f %s"):format(H.quote(H.bin), H.quote("udp port " .. P1)),
                      { dir = H.root, env = { HOME = tmpdir(), XDG_STATE_HOME = "" } })
    t:wait_for("help() lists the functions")
    t:type("n = {}")
    t:type(("on('packet', function(p) local d = p.udp and p.udp.dport; " ..
            "if d == %d or d == %d then n[d] = (n[d] or 0) + 1 end end)"):format(P1, P2))
    t:type(("function counts() return (n[%d] or 0) .. '/' .. (n[%d] or 0) end"):format(P1, P2))
    shows(t, "filter()", "udp port " .. P1)

    -- -f at start: P1 only. The P2 datagrams go first, so once the P1 ones
    -- are counted a P2 one would have been too.
    send(P2, 3)
    send(P1, 3)
    shows(t, "counts()", "3/0")

    -- filter(): the helper installs the new one; P2 only from now on
    t:type(("filter('udp port %d')"):format(P2))
    shows(t, "filter()", "udp port " .. P2)
    send(P1, 3)
    send(P2, 3)
    shows(t, "counts()", "3/3")

    -- a bad expression is an error naming it; the filter in force stays
    t:type("filter('udp port nonsense')")
    local s = t:wait_for("filter: bad filter expression 'udp port nonsense'")
    assert.truthy(s:find("unknown port 'nonsense'", 1, true), s)
    shows(t, "filter()", "udp port " .. P2)
    send(P1, 2)
    send(P2, 2)
    shows(t, "counts()", "3/5")
    -- the P1 datagrams sent since the swap never reached the engine: the
    -- kernel's filter turned them away, not the engine's
    shows(t, "stats().filtered", "0")

    -- "" removes it: both ports
    t:type("filter('')")
    shows(t, "filter()", "nil")
    send(P1, 2)
    send(P2, 2)
    shows(t, "counts()", "5/7")

    -- nothing was lost on the way: every frame read passed (the engine
    -- filters again only frames already on their way at a change)
    shows(t, "stats().dropped_handoff", "0")
    t:type("exit()")
    t:wait_for("[exit 0]")
    t:close()
  end)

  it("an expression over 65535 bytes is refused before it reaches the helper", function()
    local t = T.start(("%s repl -i lo -f %s"):format(H.quote(H.bin), H.quote("udp port " .. P1)),
                      { dir = H.root, env = { HOME = tmpdir(), XDG_STATE_HOME = "" } })
    t:wait_for("help() lists the functions")
    t:type("ok, e = pcall(filter, ('x'):rep(70000))")
    shows(t, "e", "filter: the expression is 70000 bytes; at most 65535 are accepted live")
    shows(t, "filter()", "udp port " .. P1)
    t:type("exit()")
    t:wait_for("[exit 0]")
    t:close()
  end)

  it("a helper that has ended: filter() says so", function()
    local t = T.start(("%s repl -i lo"):format(H.quote(H.bin)),
                      { dir = H.root, env = { HOME = tmpdir(), XDG_STATE_HOME = "" } })
    t:wait_for("help() lists the functions")
    -- the helper is lunatap-capture, a child of lunatap; stop it (SIGSTOP)
    -- so it neither reads the request nor closes its sockets
    local pane = H.capture(("tmux display -p -t %s '#{pane_pid}'"):format(t.name)):match("%d+")
    local lunatap = (H.capture("pgrep -P " .. pane .. " -x lunatap") or ""):match("%d+")
    local pid = lunatap and (H.capture("pgrep -P " .. lunatap .. " -x lunatap-capture") or ""):match("%d+")
    if not pid then
      t:close()
      pending("could not find the capture helper's pid")
      return
    end
    os.execute("kill -STOP " .. pid)
    local t0 = os.time()
    t:type("ok, e = pcall(filter, 'udp')")
    shows(t, "e", "filter: the capture helper did not answer within 3 s", 15)
    assert.is_true(os.time() - t0 >= 2)
    shows(t, "filter()", "nil")
    os.execute("kill -CONT " .. pid)
    -- its late answer to that request is skipped; the next one is answered
    t:type("filter('udp port " .. P2 .. "')")
    shows(t, "filter()", "udp port " .. P2)
    t:type("exit()")
    t:wait_for("[exit 0]")
    t:close()
  end)
end)
