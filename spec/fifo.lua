-- Runs lunatap reading a FIFO that the test keeps open, so it is still
-- running while the test sends signals or waits for wall-clock timers.

local h = require("helper")

local M = {}

local q = h.quote

-- Shell functions the plans use: `ready` waits until lunatap catches
-- SIGUSR1 (its handlers are installed), `stats_until N` sends SIGUSR1 until
-- a statistics line says received=N.
local SHELL_LIB = [[
ready() {
  for i in $(seq 200); do
    m=$(awk '/^SigCgt/ { print $2 }' /proc/$p/status 2>/dev/null)
    [ -n "$m" ] && [ $(( 0x$m & 0x200 )) -ne 0 ] && return 0
    sleep 0.05
  done
  return 1
}
stats_until() {
  for i in $(seq 200); do
    kill -USR1 $p
    sleep 0.05
    grep -q "received=$1 " "$err" && return 0
  done
  return 1
}
]]

-- Runs lunatap on a FIFO fed with `first` (bytes), then, once the file
-- $go exists, `second`, then held open for 30 s. `plan` is shell code run
-- while lunatap runs ($p is its pid). Returns out, err, code, and the
-- seconds from the plan's `mark` call to lunatap's exit.
function M.run(args, first, second, plan)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir " .. q(dir)))
  local f1, f2 = dir .. "/first", dir .. "/second"
  local w = assert(io.open(f1, "wb")); w:write(first); w:close()
  w = assert(io.open(f2, "wb")); w:write(second or ""); w:close()
  local quoted = {}
  for i, a in ipairs(args) do quoted[i] = q(a) end
  local script = SHELL_LIB .. ([[
dir=%s; fifo=$dir/in; err=$dir/err; go=$dir/go
mkfifo $fifo
( cat $dir/first; while [ ! -e $go ]; do sleep 0.05; done; cat $dir/second; sleep 30 ) > $fifo &
feeder=$!
%s -r $fifo %s > $dir/out 2> $err &
p=$!
( sleep 60; kill -KILL $p ) 2>/dev/null &
watchdog=$!
mark() { date +%%s.%%N > $dir/mark; }
%s
wait $p
echo $? > $dir/rc
date +%%s.%%N > $dir/end
kill $watchdog $feeder 2>/dev/null
pkill -P $feeder 2>/dev/null
true
]]):format(q(dir), q(h.bin), table.concat(quoted, " "), plan)
  local sh = dir .. "/plan.sh"
  w = assert(io.open(sh, "wb")); w:write(script); w:close()
  os.execute("bash " .. q(sh))
  local function read(name)
    local fh = io.open(dir .. "/" .. name, "rb")
    if not fh then return nil end
    local s = fh:read("a")
    fh:close()
    return s
  end
  local r = { out = read("out") or "", err = read("err") or "", code = tonumber(read("rc") or "") }
  local mark, ended = tonumber(read("mark") or ""), tonumber(read("end") or "")
  r.seconds = mark and ended and ended - mark
  os.execute("rm -rf " .. q(dir))
  return r
end

return M
