-- The sandbox of a script's Lua state (see sandbox.rs): read-only tables
-- as proxies, globals that raise on unknown names, and the base
-- functions that could see through a proxy wrapped so they cannot.
local globals, backing, phase = ...
local error, tostring, type = backing.error, backing.tostring, backing.type
local raw_rawset, raw_rawget, raw_next = backing.rawset, backing.rawget, backing.next
local raw_setmetatable, raw_loadstring = backing.setmetatable, backing.loadstring
local READONLY = "Attempt to modify a readonly table"

-- proxy -> the table it shows
local shown = raw_setmetatable({}, { __mode = "k" })

local function readonly()
  error(READONLY, 2)
end

local function protect(table, index)
  local proxy = {}
  local meta = { __index = index or table, __newindex = readonly }
  local shown_meta = {}
  raw_setmetatable(shown_meta, { __index = meta, __newindex = readonly })
  shown[shown_meta] = meta
  meta.__metatable = shown_meta
  raw_setmetatable(proxy, meta)
  shown[proxy] = table
  return proxy
end

local function lookup(_, name)
  local value = phase.current[name]
  if value == nil then
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
  end
  return value
end

local global_meta = { __index = lookup, __newindex = readonly }
local shown_global_meta = raw_setmetatable({}, { __index = global_meta, __newindex = readonly })
shown[shown_global_meta] = global_meta
global_meta.__metatable = shown_global_meta
raw_setmetatable(globals, global_meta)
shown[globals] = backing

backing.rawset = function(table, key, value)
  if shown[table] ~= nil then
    error(READONLY, 0)
  end
  return raw_rawset(table, key, value)
end
backing.rawget = function(table, key)
  local inner = shown[table]
  if inner ~= nil then
    return raw_rawget(inner, key)
  end
  return raw_rawget(table, key)
end
backing.setmetatable = function(table, meta)
  if shown[table] ~= nil then
    error(READONLY, 0)
  end
  return raw_setmetatable(table, meta)
end
local function next(table, key)
  local inner = shown[table]
  if inner ~= nil then
    return raw_next(inner, key)
  end
  return raw_next(table, key)
end
backing.next = next
backing.pairs = function(table)
  return next, table, nil
end
-- Precompiled chunks are refused, as Redis's Lua refuses to undump them.
backing.loadstring = function(text, name)
  if type(text) == "string" and text:byte(1) == 27 then
    return nil, "binary chunks are not allowed"
  end
  return raw_loadstring(text, name)
end

return protect
