-- A terminal for the REPL specs: lunatap runs in a detached tmux session
-- (a real pseudo-terminal), the spec types into it with send-keys and
-- reads the screen, scrollback included, with capture-pane.

local H = require("helper")

local M = {}
M.__index = M

local counter = 0

function M.available()
  return os.execute("command -v tmux >/dev/null 2>&1") == true
end

local function tmux(args)
  return H.capture("tmux " .. args .. " 2>&1")
end

--- Starts `cmd` (a command: program and arguments, already quoted) in a
-- fresh 120x40 terminal. opts.env: environment variables for it;
-- opts.dir: the directory it starts in.
function M.start(cmd, opts)
  opts = opts or {}
  counter = counter + 1
  local name = ("lt%d_%d"):format(math.random(1, 1e9), counter)
  local env = {}
  for k, v in pairs(opts.env or {}) do env[#env + 1] = k .. "=" .. H.quote(v) end
  table.sort(env)
  -- The pane stays after lunatap exits, so its last words can be read.
  local line = ("cd %s && env %s %s; echo \"[exit $?]\"; sleep 60")
               :format(H.quote(opts.dir or "."), table.concat(env, " "), cmd)
  tmux(("new-session -d -s %s -x 120 -y 40 %s"):format(name, H.quote(line)))
  local self = setmetatable({ name = name }, M)
  return self
end

--- Types `text` literally, then Enter unless opts.no_enter.
function M:type(text, opts)
  tmux(("send-keys -t %s -l %s"):format(self.name, H.quote(text)))
  if not (opts and opts.no_enter) then self:key("Enter") end
end

--- Presses keys by tmux's names ("Tab", "C-c", "C-d", "Up").
function M:key(...)
  for _, k in ipairs({ ... }) do
    tmux(("send-keys -t %s %s"):format(self.name, k))
  end
end

--- The whole screen with its scrollback, trailing blank lines removed.
function M:screen()
  local s = tmux(("capture-pane -p -J -S -3000 -t %s"):format(self.name)) or ""
  return (s:gsub("%s+$", ""))
end

local function sleep(sec)
  os.execute(("sleep %.3f"):format(sec))
end
M.sleep = sleep

--- Waits until the screen contains `plain` (found `count` times, default
-- 1) and returns the screen; fails with the screen after `timeout` s.
function M:wait_for(plain, timeout, count)
  local deadline = os.time() + (timeout or 10)
  local screen
  repeat
    screen = self:screen()
    local n, at = 0, 1
    while true do
      local s, e = screen:find(plain, at, true)
      if not s then break end
      n, at = n + 1, e + 1
    end
    if n >= (count or 1) then return screen end
    sleep(0.05)
  until os.time() > deadline
  error(("timed out waiting for %q; the screen:\n%s"):format(plain, screen), 2)
end

--- Types `line` and waits for its answer on the next line; the screen.
function M:ask(line, answer, timeout)
  self:type(line)
  return self:wait_for(line .. "\n" .. answer, timeout)
end

--- The text after the last occurrence of `mark` on the screen.
function M:after(mark)
  local screen = self:screen()
  local last
  local at = 1
  while true do
    local s, e = screen:find(mark, at, true)
    if not s then break end
    last, at = e, e + 1
  end
  return last and screen:sub(last + 1) or screen
end

function M:close()
  tmux("kill-session -t " .. self.name)
end

return M
