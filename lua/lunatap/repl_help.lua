-- lunatap.repl_help: the texts help(name) shows at the REPL's prompt, one
-- per function, name -> text. The first line of each is the usage and what
-- the function does in a few words; help() lists those first lines.
--
-- The texts follow docs/repl.md ("Functions") for the REPL's own functions
-- and docs/scripting.md ("Globals", "Timers", "Packets") for the script API:
-- when one of those pages changes, change the text here too.

return {
  -- capture control (docs/repl.md)
  pause = [=[
pause(): stops the capture
Reading a file, nothing more is read. Live, packets go on being read from
the capture helper (so the kernel does not drop them) and are discarded,
counted in stats().discarded_paused.]=],

  resume = [=[
resume(): reads on after pause() or step()
Reading a file, it reads to the end or until pause(); live, packets are
handled again as they come. An error once the capture has ended.]=],

  run = [=[
run(): the same as resume()
Reading a file it reads to the end (or until pause()); the next command
waits until the file pauses or ends.]=],

  step = [=[
step([n]): lets n more packets through (default 1), shows each, then pauses
n is from 1 to 10^9. Reading a file, the n packets are read before the next
prompt (Ctrl-C stops early); live, they show as they come. Each packet is
shown on one line as lunatap.repl's summary(pkt) writes it: step(3).]=],

  filter = [=[
filter([expr]): the BPF filter in force, or replaces it with expr
Without an argument, the expression in force (nil for none). With one,
replaces it: live, the helper compiles it and swaps the kernel's filter,
and packets already on their way are filtered again by the engine; reading
a file, it applies from the next packet. filter("") removes it. A bad
expression is an error naming it, and the old filter stays:
filter("tcp port 443").]=],

  -- looking (docs/repl.md, docs/scripting.md)
  pkt = [=[
pkt: the latest packet (a kept copy), unless you assign pkt yourself
It reads like the pkt a "packet" handler receives (pkt.ip.src,
pkt.tcp.flags) and stays valid: pkt.ip.src.]=],

  last = [=[
last([n]): the latest n packets that passed the filter (default 1), oldest first
Kept copies that stay valid after their handlers returned. The REPL keeps
the latest 1,000 packets within 16 MiB (stats().last_kept,
stats().last_evicted): last(5)[1].tcp.flags.]=],

  sessions = [=[
sessions([max]): the open sessions (default at most 100), most recently active first
The same session objects handlers receive: sessions()[1].client.]=],

  stats = [=[
stats(): a table of the engine's counters
packets, bytes, passed, filtered, truncated, invalid, sessions, lua_mem,
lua_errors, ... (docs/scripting.md "Statistics"); in the REPL also
discarded_paused, last_kept and last_evicted: stats().packets.]=],

  -- events and timers (docs/scripting.md)
  on = [=[
on(event, fn): calls fn for every event; returns a handle for off
Handlers of one event run in the order they were registered, across
scripts in command-line order. Events: "start", "packet" (pkt), "done"
(stats), the session events (tcp.*, udp.*) and the dissectors' (http.*,
dns.*, tls.*, redis.*, ...): h = on("http.request", function(r) print(r.uri) end).]=],

  off = [=[
off(handle): removes a handler; returns true if there was one
handle is what on() returned: off(h).]=],

  emit = [=[
emit(event, ...): calls the handlers of event (any name) with the values given
Dissectors use it to publish records: emit("my.event", 1, "two").]=],

  wants = [=[
wants(event): true when some handler is registered for event
A dissector skips work nobody will see: if wants("http.body") then ... end.]=],

  every = [=[
every(seconds, fn): calls fn(ts) every seconds (at least 0.001); returns a timer handle
ts is the time the call was due. Reading a file the clock is capture time,
live (and with --clock wall) the system clock. handle:cancel() stops it.]=],

  after = [=[
after(seconds, fn): calls fn(ts) once, seconds (0 or more) from now; returns a timer handle
On the run's clock, as every(); handle:cancel() stops it if still pending.]=],

  stop = [=[
stop(): stops reading after the packet being handled, as -c does
Sessions still open end, then "done" runs.]=],

  dissector = [=[
dissector(spec): registers a dissector
See docs/dissectors.md.]=],

  -- output and data (docs/scripting.md)
  print = [=[
print(...): writes its arguments, tostring-ed and tab-separated, and a newline
To lunatap's buffered standard output (flushed after every line on a
terminal). Subject to --max-output.]=],

  json = [=[
json(value [, keys [, optional]]): encodes a Lua value as one line of JSON
With keys, an object with those keys in that order (a nil value is null,
or left out when optional[key] is true): json({ src = pkt.ip.src }).]=],

  print_json = [=[
print_json(value [, keys [, optional]]): print(json(value, keys, optional))
Writes the line straight to the output, without making it a Lua string
first: print_json(rec, { "event", "ts" }).]=],

  buffer = [=[
buffer(string): makes a buffer over a string's bytes
For testing dissectors and parsing bytes a script built itself; it never
expires: buffer("\1\2"):u16(0).]=],

  output_is_tty = [=[
output_is_tty(): true when standard output is a terminal
Scripts colour their output only then.]=],

  open_file = [=[
open_file(path [, mode]): opens a file under the directory --allow-write grants
mode "w", "a" or "x"; without --allow-write DIR it raises (docs/sandbox.md).]=],

  options = [=[
options(spec): parses this script's own command-line options
Returns a table with one field per option (docs/scripting.md "Script options").]=],

  arg = [=[
arg: this script's arguments
arg[0] is the script's name, arg[1..n] what followed it on the command line.]=],

  require = [=[
require(name): loads a Lua module from lunatap's lua/ and dissectors/ directories or a -L directory
require("lunatap.introspect"), require("lunatap.repl"), require("lunatap.layout"), ...]=],

  -- the session (docs/repl.md)
  load = [=[
load(path): runs a script file as if it were given on the command line
With its own environment; its handlers stay. Returns true, or raises with
the reason. A string that is not a path ending in .lua goes to Lua's own
load: load("scripts/tcp_trace.lua").]=],

  help = [=[
help([fn]): the functions grouped by what they do; help(on) or help("filter") the text of one]=],

  exit = [=[
exit(): ends the session as Ctrl-D does
The sessions still open end, "done" handlers run and a statistics line is
printed on standard error.]=],
}
