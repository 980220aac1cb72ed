-- tlv_show.lua: one line per TLV message or error.
local function text(s) return (s:gsub("[^\32-\126]", ".")) end

on("tlv.message", function(msg, session, dir)
  local items = {}
  for _, it in ipairs(msg.items) do
    items[#items + 1] = ("%s=%s"):format(it.type_name or it.type, text(it.value))
  end
  print(session.id, dir, "v" .. msg.version, table.concat(items, " "))
end)

on("tlv.error", function(err, session)
  print(session.id, err.direction, "error", err.message)
end)
