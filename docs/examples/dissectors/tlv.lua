-- tlv.lua: a small type-length-value protocol on UDP port 9999.
-- Load it with: lunatap -L docs/examples/dissectors -r tlv.pcap docs/examples/tlv_show.lua
local L = require("lunatap.layout")

-- One item: a type byte, a 16-bit length, then that many bytes of value.
local item = L.struct("tlv_item", {
  L.enum(L.u8("type"), { [1] = "name", [2] = "reading", [3] = "note" }),
  L.u16("length"),
  L.bytes("value", "length"),
})

-- A message: a version byte, an item count, then the items.
local message = L.struct("tlv", {
  L.u8("version"),
  L.u8("count"),
  L.array("items", "count", item),
})

dissector {
  name = "tlv",
  udp_ports = { 9999 },
  datagram = function(buf, session, dir)
    -- A bad datagram is reported and skipped; the next one is read afresh.
    local ok, msg, used = pcall(message.parse, message, buf)
    if ok and used < #buf then
      ok, msg = false, ("tlv: %d bytes after the last item"):format(#buf - used)
    end
    if ok then
      emit("tlv.message", msg, session, dir)
    else
      emit("tlv.error", { message = msg, direction = dir }, session)
    end
  end,
}
