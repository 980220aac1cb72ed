-- WebSocket framing (RFC 6455) over one direction of an upgraded session.
-- Used by the HTTP dissector once a 101 response accepted the upgrade.
--
-- Events: "websocket.frame" per frame, "websocket.message" per whole
-- message (fragments joined) and per control frame, "websocket.close" per
-- close frame. Payload bytes reach Lua only when a script handles
-- "websocket.message" or "websocket.close"; otherwise they are skipped in C.

local M = {}

M.MAX_PAYLOAD = 1024 * 1024        -- bytes of a message kept in msg.data
M.MAX_FRAME = 1 << 53              -- larger length fields are a limit hit

local OPCODES = {
  [0] = "continuation", [1] = "text", [2] = "binary",
  [8] = "close", [9] = "ping", [10] = "pong",
}
M.OPCODES = OPCODES

local unpack = string.unpack

local function unmask(data, key, offset)
  if not key or data == "" then return data end
  return require("lunatap.codec").unmask(data, key, offset)
end

-- Reads a frame header; nil at the end of the stream.
local function read_header(s)
  local h = s:read(2)
  if not h then return nil end
  local b0, b1 = h:byte(1, 2)
  local f = {
    fin = b0 & 0x80 ~= 0,
    rsv = (b0 >> 4) & 7,
    opcode = b0 & 0x0f,
    masked = b1 & 0x80 ~= 0,
    len = b1 & 0x7f,
  }
  if f.len == 126 then
    local ext = s:read(2)
    if not ext then return nil end
    f.len = unpack(">I2", ext)
  elseif f.len == 127 then
    local ext = s:read(8)
    if not ext then return nil end
    local hi, lo = unpack(">I4I4", ext)
    if hi >= (M.MAX_FRAME >> 32) then
      s:limit("ws_frame", M.MAX_FRAME)
    end
    f.len = (hi << 32) | lo
  end
  if f.masked then
    f.key = s:read(4)
    if not f.key then return nil end
  end
  return f
end

-- Reads (up to `keep` bytes of) the payload and skips the rest; returns the
-- unmasked bytes kept (or nil when none were wanted) and whether the stream
-- ended inside the payload.
local function read_payload(s, f, keep)
  if keep <= 0 then
    return nil, s:skip(f.len) < f.len
  end
  local n = math.min(keep, f.len)
  local data = s:read(n)
  if not data then return nil, true end
  local cut = false
  if f.len > n then cut = s:skip(f.len - n) < f.len - n end
  return unmask(data, f.key, 0), cut
end

local function close_fields(rec, data)
  if data and #data >= 2 then
    rec.code = unpack(">I2", data)
    rec.reason = data:sub(3)
  else
    rec.reason = ""
  end
end

--- Runs the frame loop for direction `dir` ("client" or "server") until the
-- stream ends. `session` is the session the events are emitted with.
function M.run(s, dir, session)
  local message       -- the data message being assembled from fragments
  local want_data = wants("websocket.message") or wants("websocket.close")
  while true do
    local ts = s:peek(1) and s:ts()
    local f = read_header(s)
    if not f then return end
    local control = f.opcode >= 8
    local keep = 0
    if want_data then
      if control then
        keep = 125 + 2
      else
        keep = M.MAX_PAYLOAD - (message and message.kept or 0)
      end
    end
    local data, cut = read_payload(s, f, keep)
    emit("websocket.frame", {
      from = dir, opcode = f.opcode, fin = f.fin, masked = f.masked,
      len = f.len, rsv = f.rsv, ts = ts,
    }, session)
    if cut then return end
    if control then
      local rec = { from = dir, opcode = f.opcode, len = f.len, data = data or "",
                    frames = 1, ts = ts, truncated = false }
      if f.opcode == 8 then
        local close = { from = dir, ts = ts }
        close_fields(close, data)
        rec.code, rec.reason = close.code, close.reason
        emit("websocket.message", rec, session)
        emit("websocket.close", close, session)
      else
        emit("websocket.message", rec, session)
      end
    else
      if f.opcode ~= 0 or not message then
        -- A new message (a continuation with nothing to continue starts one too).
        message = { from = dir, opcode = f.opcode, len = 0, parts = {}, kept = 0,
                    frames = 0, ts = ts, truncated = false, compressed = f.rsv & 4 ~= 0 }
      end
      message.len = message.len + f.len
      message.frames = message.frames + 1
      if data then
        message.parts[#message.parts + 1] = data
        message.kept = message.kept + #data
      end
      if message.kept < message.len then message.truncated = true end
      if f.fin then
        message.data = table.concat(message.parts)
        message.parts, message.kept = nil, nil
        emit("websocket.message", message, session)
        message = nil
      end
    end
  end
end

return M
