"""The Lua scripts: every change that must not race (a state transition, claiming a lead or a
callback attempt, creating an escalation) is one script, so it is one round trip and atomic.
Each touches the keys it is handed (KEYS) plus, in TRANSITION, FINISH_FIELDS and CLAIM_CALLBACK,
keys built from the prefix (or the parts of a key) the caller passes from `keys`."""

ADVANCE_CALL_STATUS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local cur = tonumber(redis.call('HGET', KEYS[1], 'status_rank') or '-1')
if tonumber(ARGV[2]) <= cur then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'status_rank', ARGV[2])
return 1
"""

# KEYS: the escalation, its timeline (one slot: keys.py); the escalation's id is read from its
# key, never passed as a key (Redis Cluster routes a script by every key it is given).
TRANSITION = """
local esc_id = string.match(KEYS[1], ':escalation:(.*)$')
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {0, ''} end
local target = false
local n = 4
for i = 1, tonumber(ARGV[3]) do
  if ARGV[n] == state then target = ARGV[n + 1] end
  n = n + 2
end
if not target then return {0, state} end
if target ~= state then
  redis.call('HSET', KEYS[1], 'state', target)
  redis.call('SREM', ARGV[2] .. state, esc_id)
  redis.call('SADD', ARGV[2] .. target, esc_id)
end
while n + 1 <= #ARGV do
  if ARGV[n + 1] == '' then redis.call('HDEL', KEYS[1], ARGV[n])
  else redis.call('HSET', KEYS[1], ARGV[n], ARGV[n + 1]) end
  n = n + 2
end
if ARGV[1] ~= '' then redis.call('RPUSH', KEYS[2], ARGV[1]) end
return {1, state}
"""

CREATE_ESCALATION = """
if ARGV[1] ~= '' then
  local existing = redis.call('GET', ARGV[1])
  if existing then return {'replay', existing} end
end
local open = redis.call('GET', KEYS[2])
if open then return {'open', open} end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[4], 'escalation', ARGV[2])
if ARGV[1] ~= '' then redis.call('SET', ARGV[1], ARGV[2], 'EX', 86400) end
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('SADD', ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
return {'created', ARGV[2]}
"""

# Before an escalation is made, in one round trip: the call, its open escalation and the
# escalation an idempotency key already made (ARGV[1], '' for none). The create script above
# decides again atomically; this read only answers a repeat (409, replay) without writing.
CALL_FOR_ESCALATION = """
local replay = ''
if ARGV[1] ~= '' then replay = redis.call('GET', ARGV[1]) or '' end
return {redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2]) or '', replay}
"""

CLAIM_PERSON = """
local cur = redis.call('GET', KEYS[1]) or ARGV[2]
if cur ~= 'available' then return 0 end
redis.call('SET', KEYS[1], 'busy')
redis.call('SET', KEYS[2], ARGV[1])
return 1
"""

RELEASE_PERSON = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
if redis.call('GET', KEYS[1]) == 'busy' then redis.call('SET', KEYS[1], 'available') end
return 1
"""

# KEYS: the callback, events. ARGV: attempt, claimed at, 'dial' (or '': only the claim), events
# kept, the callback's id, the timeline key's head and tail, timeline entry ('' none), then the
# status a claimed callback is in and the statuses it may be claimed from (the lifecycle's).
CLAIM_CALLBACK = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 0 end
local diallable = false
for i = 10, #ARGV do if ARGV[i] == status then diallable = true end end
if not diallable then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0') ~= tonumber(ARGV[1]) - 1 then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[9], 'attempts', ARGV[1], 'claimed_at', ARGV[2], 'lead_call_sid', '', 'caller_call_sid', '', 'tried', '[]', 'ringing', '')
if ARGV[3] == 'dial' then
  redis.call('HINCRBY', KEYS[1], 'window_attempts', 1)
  local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'kind', 'callback', 'id', ARGV[5])
  redis.call('PUBLISH', KEYS[2], id)
  local esc_id = redis.call('HGET', KEYS[1], 'escalation_id') or ''
  if esc_id ~= '' and ARGV[8] ~= '' then
    redis.call('RPUSH', ARGV[6] .. esc_id .. ARGV[7], ARGV[8])
    id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'kind', 'escalation', 'id', esc_id)
    redis.call('PUBLISH', KEYS[2], id)
  end
  return redis.call('HGETALL', KEYS[1])
end
return 1
"""

# A callback's lead claimed for this attempt and the callback told who is being rung, before
# Twilio is asked (R-CB-8: the sweeper looks for that person's call): one round trip where
# four were (issue 19). A person not available is not noted as tried (the callback's `tried`):
# they are rung later in the attempt if free by then.
# KEYS: the person's presence and holder, the callback, events. ARGV: holder (the callback's
# id), default presence, tried (JSON), ringing since, events kept, the person's id.
# Returns {1, 'busy'} when claimed, else {0, the presence that stopped it}.
CLAIM_CALLBACK_LEAD = """
local cur = redis.call('GET', KEYS[1]) or ARGV[2]
local claimed = cur == 'available'
local id
if claimed then
  redis.call('SET', KEYS[1], 'busy')
  redis.call('SET', KEYS[2], ARGV[1])
  id = redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[5], '*', 'kind', 'presence', 'id', ARGV[6])
  redis.call('PUBLISH', KEYS[4], id)
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  if claimed then
    redis.call('HSET', KEYS[3], 'tried', ARGV[3], 'ringing', ARGV[6], 'ringing_since', ARGV[4])
  else
    redis.call('HSET', KEYS[3], 'ringing', '')
  end
  id = redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[5], '*', 'kind', 'callback', 'id', ARGV[1])
  redis.call('PUBLISH', KEYS[4], id)
end
if claimed then return {1, 'busy'} end
return {0, cur}
"""

# A leg we dialled saved and its escalation or callback pointed at it in one step (its answer
# webhook never finds the one without the other), the consoles told, and with it, when given,
# the entry on the escalation's timeline that says so: one round trip where four were.
# KEYS: the leg, the record, events, the timeline (the record again when no entry).
# ARGV: kind, id, events kept, leg field count, timeline entry ('' none), escalation id, then
# the leg's (field, value) pairs, then the record's.
LINK_LEG = """
local n = tonumber(ARGV[4])
if n > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 7, 6 + 2 * n)) end
if #ARGV > 6 + 2 * n then redis.call('HSET', KEYS[2], unpack(ARGV, 7 + 2 * n, #ARGV)) end
local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'kind', ARGV[1], 'id', ARGV[2])
redis.call('PUBLISH', KEYS[3], id)
if ARGV[5] ~= '' then
  redis.call('RPUSH', KEYS[4], ARGV[5])
  id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'kind', 'escalation', 'id', ARGV[6])
  redis.call('PUBLISH', KEYS[3], id)
end
return 1
"""

CLAIM_SWEEPER = """
local due = redis.call('GET', KEYS[1])
if due and tonumber(due) and tonumber(due) >= tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', 86400)
return 1
"""

COMPARE_AND_SET = """
local cur = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if cur ~= ARGV[2] then return 0 end
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[3] ~= '' then redis.call('RPUSH', KEYS[2], ARGV[3]) end
return 1
"""

SAVE_CALL = """
local created = redis.call('HSETNX', KEYS[1], 'call_sid', ARGV[1])
for i = 4, #ARGV, 2 do redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSETNX', KEYS[1], 'status_rank', '-1')
if created == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'kind', 'call', 'id', ARGV[1])
redis.call('PUBLISH', KEYS[2], id)
return created
"""

UPDATE_AND_TELL = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'kind', ARGV[1], 'id', ARGV[2])
redis.call('PUBLISH', KEYS[2], id)
return 1
"""

# KEYS[1] is the organisation's event stream, never touched: it only names the slot (Redis Cluster
# sends a script to the node of its first key), the keys built from ARGV[1] share it (keys.py).
# ARGV: the prefix, then (kind, id) of each record changed; returns (escalation id, its state,
# its callback's status) for each, flat.
FINISH_FIELDS = """
local out = {}
for i = 2, #ARGV, 2 do
  local esc_id = ARGV[i + 1]
  if ARGV[i] == 'callback' then
    esc_id = redis.call('HGET', ARGV[1] .. 'callback:' .. ARGV[i + 1], 'escalation_id') or ''
  end
  local state, status = '', ''
  if esc_id ~= '' then
    local got = redis.call('HMGET', ARGV[1] .. 'escalation:' .. esc_id, 'state', 'callback_id')
    state = got[1] or ''
    if got[2] then status = redis.call('HGET', ARGV[1] .. 'callback:' .. got[2], 'status') or '' end
  end
  table.insert(out, esc_id); table.insert(out, state); table.insert(out, status)
end
return out
"""

CHANGED = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'kind', ARGV[1], 'id', ARGV[2])
redis.call('PUBLISH', KEYS[1], id)
return id
"""

COUNT_FAILURE = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""

# The caller keyed their account (or ran out of tries): the call record made if the incoming
# webhook's was lost, the account kept, whether an agent is free noted (so the wait prompt is
# true), the consoles told, and the ring left to a worker as a timer due now, with the
# scheduler woken: one round trip, and the ring is in Redis before the caller hears a word.
# KEYS: call, events, timers, timer calls, the timers' wake channel, presence of each agent.
# ARGV: call sid, ttl, events kept, account ('' keeps it), timer key, due, timer payload,
#       then (field, value) pairs of a new call record, then '--', then each agent's default presence.
REACH_AGENT = """
local i, fields = 8, {}
while ARGV[i] ~= '--' do
  table.insert(fields, ARGV[i]); table.insert(fields, ARGV[i + 1]); i = i + 2
end
if redis.call('HSETNX', KEYS[1], 'call_sid', ARGV[1]) == 1 then
  for j = 1, #fields, 2 do redis.call('HSETNX', KEYS[1], fields[j], fields[j + 1]) end
  redis.call('HSETNX', KEYS[1], 'status_rank', '-1')
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'account', ARGV[4]) end
local free = 0
for k = 6, #KEYS do
  local presence = redis.call('GET', KEYS[k]) or ARGV[i + k - 5]
  if presence == 'available' then free = 1 end
end
redis.call('HSET', KEYS[1], 'agent_coming', free == 1 and 'true' or 'false')
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'kind', 'call', 'id', ARGV[1])
redis.call('PUBLISH', KEYS[2], id)
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[4], ARGV[5], ARGV[7])
  redis.call('ZADD', KEYS[3], ARGV[6], ARGV[5])
  redis.call('PUBLISH', KEYS[5], ARGV[5])
end
return free
"""

# Hold check-ins taken once each (R-HOLD-2), a batch's in one script (issue 19: one round trip
# for the check-ins one timer job runs): each only while its escalation is still holding in that
# round, and only the first time (its dedupe marker); its timeline entry and the consoles' change
# in the same script. Returns, per check-in, the fields it needs, or 0 when it is not to be made.
# KEYS: events, then per check-in its escalation, timeline and dedupe marker (one organisation's
# keys: on a cluster, one slot). ARGV: marker ttl, events kept, the number of holding states,
# those states, then per check-in its round, event JSON and escalation id.
TAKE_CHECK_INS = """
local states = tonumber(ARGV[3])
local out = {}
for i = 1, (#KEYS - 1) / 3 do
  local esc, timeline, marker = KEYS[3 * i - 1], KEYS[3 * i], KEYS[3 * i + 1]
  local a = 3 + states + 3 * (i - 1)
  local taken = 0
  local got = redis.call('HMGET', esc, 'state', 'hold_round', 'conference_sid', 'call_sid', 'caller_placement', 'hold_round_started_at')
  if got[1] and got[2] == ARGV[a + 1] then
    local holding = false
    for s = 4, 3 + states do if ARGV[s] == got[1] then holding = true end end
    if holding and redis.call('SET', marker, 1, 'NX', 'EX', ARGV[1]) then
      redis.call('RPUSH', timeline, ARGV[a + 2])
      local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'kind', 'escalation', 'id', ARGV[a + 3])
      redis.call('PUBLISH', KEYS[1], id)
      taken = {got[1], got[3] or '', got[4] or '', got[5] or '', got[6] or ''}
    end
  end
  out[i] = taken
end
return out
"""
