-- Test helpers shared by the busted specs: run lunatap as a user would and
-- look at what it printed and how it exited.
--
-- LUNATAP_BIN names the binary under test (default build/lunatap), so the
-- same specs run against the normal and the sanitizer build.

local luassert = require("luassert")

local M = {}

M.root = os.getenv("LUNATAP_ROOT") or "."
M.bin = os.getenv("LUNATAP_BIN") or (M.root .. "/build/lunatap")
M.samples = M.root .. "/samples"
M.shared = os.getenv("LUNATAP_SHARED_PCAPS") or (M.root .. "/../shared/pcaps")

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.quote = shell_quote

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end
M.slurp = slurp

--- Writes `text` to a fresh temporary file and returns its path.
function M.tmpfile(text, suffix)
  local path = os.tmpname() .. (suffix or "")
  local f = assert(io.open(path, "wb"))
  f:write(text or "")
  f:close()
  return path
end

--- A fresh empty directory.
function M.tmpdir()
  return (assert(M.capture("mktemp -d")):gsub("%s+$", ""))
end

--- `lunatap repl --no-history` reading `commands` from a pipe, with the
-- extra arguments `args`: { out, err, code }.
function M.repl_piped(commands, args)
  local cmds = M.tmpfile(commands)
  local all = { "repl", "--no-history" }
  for _, a in ipairs(args or {}) do all[#all + 1] = a end
  local r = M.run(all, { prefix = "cat " .. shell_quote(cmds), limit = 60 })
  os.remove(cmds)
  return r
end

--- Runs lunatap with the argument list `args` (strings, quoted here).
-- opts.stdin: a file to feed on standard input; opts.prefix: a command
-- piped into it; opts.limit: seconds before SIGKILL (a hang then shows as
-- exit status 137 instead of stopping the suite). Returns a table
-- { out = stdout, err = stderr, code = exit status }.
function M.run(args, opts)
  opts = opts or {}
  local quoted = {}
  for i, a in ipairs(args) do quoted[i] = shell_quote(a) end
  local out, err = os.tmpname(), os.tmpname()
  local limit = opts.limit and ("timeout -s KILL %d "):format(opts.limit) or ""
  local cmd = ("%s%s %s >%s 2>%s"):format(limit, shell_quote(M.bin), table.concat(quoted, " "), out, err)
  if opts.stdin then cmd = cmd .. " <" .. shell_quote(opts.stdin) end
  if opts.prefix then cmd = opts.prefix .. " | " .. cmd end
  local ok, how, code = os.execute(cmd)
  local r = { out = slurp(out), err = slurp(err), code = how == "exit" and code or 128 + code }
  os.remove(out)
  os.remove(err)
  return r
end

--- Runs the Lua source `script` (a string) over `pcap` with extra lunatap
-- options before the script and script options after it.
function M.script(script, pcap, before, after)
  local path = M.tmpfile(script, ".lua")
  local args = {}
  for _, a in ipairs(before or {}) do args[#args + 1] = a end
  if pcap then
    args[#args + 1] = "-r"
    args[#args + 1] = pcap
  end
  args[#args + 1] = path
  for _, a in ipairs(after or {}) do args[#args + 1] = a end
  local r = M.run(args)
  os.remove(path)
  return r
end

--- Lines of a string, without their newlines.
function M.lines(s)
  local t = {}
  for line in s:gmatch("([^\n]*)\n") do t[#t + 1] = line end
  return t
end

--- True when the shared real captures are present.
function M.have_shared()
  local f = io.open(M.shared .. "/MANIFEST.tsv", "r")
  if f then f:close() return true end
  return false
end

--- Declares one busted test per capture, with the spec's own `it`:
-- `check(path, name)` for every capture in samples/ and, when present, in
-- the shared folder and its malformed/ part (a skipped test says so when
-- it is absent).
function M.each_capture(it, check)
  for _, name in ipairs(M.ls(M.samples, "%.pcapn?g?$")) do
    it(name, function() check(M.samples .. "/" .. name, name) end)
  end
  if not M.have_shared() then
    it("skipped: " .. M.shared .. " is absent", function() end)
    return
  end
  for _, dir in ipairs({ M.shared, M.shared .. "/malformed" }) do
    for _, name in ipairs(M.ls(dir, "%.p?cap[n]?g?$")) do
      it(name, function() check(dir .. "/" .. name, name) end)
    end
  end
end

--- Output of a shell command (stdout), or nil when it failed to start.
function M.capture(cmd)
  local p = io.popen(cmd, "r")
  if not p then return nil end
  local s = p:read("a")
  p:close()
  return s
end

--- True when running as root (live capture on lo needs it).
function M.is_root()
  return (M.capture("id -u") or ""):match("^0%s") ~= nil
end

--- For a describe block that captures on lo in a terminal: false (after a
-- test saying why, made with busted's `it`) without root or without tmux.
function M.live_in_terminal(it, tmux)
  if not M.is_root() then
    it("skipped: live capture on lo needs root (CI runs as root)", function() end)
    return false
  end
  if not tmux.available() then
    it("skipped: tmux is not installed", function() end)
    return false
  end
  return true
end

--- Files in a directory matching a Lua pattern, sorted.
function M.ls(dir, pattern)
  local s = M.capture("ls -1 " .. shell_quote(dir) .. " 2>/dev/null") or ""
  local t = {}
  for name in s:gmatch("[^\n]+") do
    if not pattern or name:match(pattern) then t[#t + 1] = name end
  end
  table.sort(t)
  return t
end

--- Like run, but kills lunatap after `seconds`.
function M.run_limited(seconds, args, opts)
  local o = { limit = seconds }
  for k, v in pairs(opts or {}) do o[k] = v end
  return M.run(args, o)
end

--- Asserts that `s` contains the plain text `plain` (or does not).
--- Paths of samples/http-features.pcap and its ground truth. They are
-- committed; a checkout without them gets them made (the generator is
-- deterministic).
function M.http_features()
  local pcap, truth = M.samples .. "/http-features.pcap", M.samples .. "/http-features.truth.json"
  local f, g = io.open(pcap, "rb"), io.open(truth, "rb")
  if f then f:close() end
  if g then g:close() end
  if not (f and g) then
    pcap, truth = os.tmpname() .. ".pcap", os.tmpname() .. ".json"
    assert(os.execute(("python3 %s/gen_http.py features %s %s"):format(shell_quote(M.samples),
      shell_quote(pcap), shell_quote(truth))), "samples/gen_http.py failed")
  end
  return pcap, truth
end

--- How many times the plain string `plain` occurs in `s`.
function M.count(s, plain)
  local n, i = 0, 1
  while true do
    local a, b = s:find(plain, i, true)
    if not a then return n end
    n, i = n + 1, b + 1
  end
end

function M.has(s, plain)
  luassert.is_truthy(s:find(plain, 1, true), ("expected to find %q in:\n%s"):format(plain, s))
end

function M.hasnt(s, plain)
  luassert.is_falsy(s:find(plain, 1, true), ("did not expect %q in:\n%s"):format(plain, s))
end

return M
