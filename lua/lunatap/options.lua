-- lunatap.options: command-line options that scripts declare for themselves.
--
--   local opt = options {
--     summary = "One line per packet, in the spirit of tcpdump -nn.",
--     { "--json", help = "print one JSON object per line" },
--     { "--max", arg = "N", type = "number", default = 10, help = "stop after N" },
--   }
--   if opt.json then ... end        -- "--max-lines" is read as opt.max_lines
--
-- Types: "flag" (default; true when given), "string", "number", "list"
-- (repeatable, a table of strings). `--name=value` and `--name value` both
-- work. -h/--help prints the help and ends the run with status 0; a bad
-- option ends it with status 2 and a one-line message.
--
-- A script's own checks of option values end the run the same way, while
-- its main chunk runs:
--   require("lunatap.options").usage_error("--dir: must be a relative path")

local M = {}

local function exit_request(kind, text)
  error({ lunatap_exit = kind, text = text }, 0)
end

local function key_of(name)
  return (name:gsub("^%-%-?", ""):gsub("%-", "_"))
end

local function describe(spec)
  local d = spec[1]
  if spec.arg then d = d .. " " .. spec.arg end
  return d
end

local function help_text(script, decl)
  local lines = {}
  local usage = decl.usage or "[options]"
  lines[#lines + 1] = ("usage: lunatap [lunatap options] %s %s"):format(script, usage)
  if decl.summary then
    lines[#lines + 1] = ""
    lines[#lines + 1] = decl.summary
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Options:"
  local width = 10
  for _, spec in ipairs(decl) do
    width = math.max(width, #describe(spec))
  end
  for _, spec in ipairs(decl) do
    local help = spec.help or ""
    if spec.default ~= nil and spec.type ~= "flag" then
      help = ("%s (default %s)"):format(help, tostring(spec.default))
    end
    lines[#lines + 1] = ("  %-" .. width .. "s  %s"):format(describe(spec), help)
  end
  lines[#lines + 1] = ("  %-" .. width .. "s  %s"):format("-h, --help", "show this help")
  if decl.epilog then
    lines[#lines + 1] = ""
    lines[#lines + 1] = decl.epilog
  end
  return table.concat(lines, "\n") .. "\n"
end

local function check_decl(decl)
  local by_name = {}
  for i, spec in ipairs(decl) do
    if type(spec) ~= "table" or type(spec[1]) ~= "string" or not spec[1]:match("^%-%-?%w") then
      error(("options: entry %d must be a table whose first value is the option name"):format(i), 3)
    end
    spec.type = spec.type or (spec.arg and "string" or "flag")
    if spec.type ~= "flag" and spec.type ~= "string" and spec.type ~= "number" and spec.type ~= "list" then
      error(("options: %s has unknown type %q"):format(spec[1], spec.type), 3)
    end
    by_name[spec[1]] = spec
    if spec.short then by_name[spec.short] = spec end
  end
  return by_name
end

local function convert(script, spec, value)
  if spec.type == "number" then
    local n = tonumber(value)
    if not n then
      exit_request("usage", ("%s expects a number, got '%s' (see 'lunatap %s --help')")
        :format(spec[1], value, script))
    end
    return n
  end
  return value
end

--- Parses the script's arguments `args` (arg[0] = script name) by `decl`.
function M.parse(args, decl)
  local script = args[0] or "script"
  local by_name = check_decl(decl)
  local out, rest = {}, {}
  for _, spec in ipairs(decl) do
    local k = key_of(spec[1])
    if spec.type == "list" then
      out[k] = {}
    elseif spec.type == "flag" then
      out[k] = spec.default or false
    else
      out[k] = spec.default
    end
  end
  local i = 1
  while args[i] do
    local a = args[i]
    if a == "-h" or a == "--help" then
      exit_request("help", help_text(script, decl))
    end
    local name, inline = a:match("^(%-%-?[^=]+)=(.*)$")
    name = name or a
    local spec = by_name[name]
    if not spec then
      if a:sub(1, 1) == "-" or not decl.args then
        exit_request("usage", ("unknown option '%s' (see 'lunatap %s --help')"):format(a, script))
      end
      rest[#rest + 1] = a
    elseif spec.type == "flag" then
      if inline then
        exit_request("usage", ("%s takes no value"):format(name))
      end
      out[key_of(spec[1])] = true
    else
      local value = inline
      if not value then
        i = i + 1
        value = args[i]
        if value == nil then
          exit_request("usage", ("%s needs a value: %s"):format(name, describe(spec)))
        end
      end
      local k = key_of(spec[1])
      if spec.type == "list" then
        out[k][#out[k] + 1] = value
      else
        out[k] = convert(script, spec, value)
      end
    end
    i = i + 1
  end
  out.args = rest
  return out
end

--- Ends the run with status 2 and `text` on stderr, as a bad option does.
-- Only from a script's main chunk (later, it is an error like any other).
function M.usage_error(text)
  exit_request("usage", text)
end

return M
