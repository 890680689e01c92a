"""The Lua scripts: every change that must not race (a state transition, claiming a lead or a
callback attempt, creating an escalation) is one script, so it is one round trip and atomic.
Each touches the keys it is handed (KEYS) plus, in TRANSITION, TELL and CLAIM_CALLBACK, keys built
from the prefix (or the parts of a key) the caller passes from `keys`; and the outbox's drain timer
(OUTBOX) only when the timers are on the same Redis."""

from telephony.lifecycle import FINAL_CALLBACK_STATUSES, FINAL_STATES


def _lua_set(values: tuple[str, ...]) -> str:
    return "{" + ", ".join(f"['{v}'] = true" for v in values) + "}"


# The outbox (issue 29): the domain events of a change, written by the script that makes it, so a
# process dying after the change loses none of what should follow from it. `cfg` (JSON, one
# argument) names the organisation's outbox stream and, when the timers' sorted set is on this
# same Redis (Store.timers_beside), the timer due now that drains it: then asking for the drain is
# this same round trip too. Each event is one stream entry, its fields as `event` (JSON).
OUTBOX = """
local function to_outbox(cfg, events)
  if #events == 0 then return 0 end
  for _, e in ipairs(events) do
    redis.call('XADD', cfg.outbox, '*', 'event', cjson.encode(e))
  end
  if cfg.timer then
    redis.call('HSET', cfg.timer.calls, cfg.timer.member, cfg.timer.payload)
    redis.call('ZADD', cfg.timer.zset, cfg.timer.due, cfg.timer.member)
    redis.call('PUBLISH', cfg.timer.wake, cfg.timer.member)
  end
  return #events
end
"""

# The change stream the consoles read, and (R-NOTE-3) the archive told of every change to an
# escalation that is finished (or whose callback is: lifecycle.finished), as a `record_changed`
# event in the outbox, whichever script made the change: what Store.on_change did after it.
# Returns {stream id, events written to the outbox}.
TELL = (
    OUTBOX
    + f"""
local FINAL_STATES = {_lua_set(tuple(FINAL_STATES))}
local FINAL_CALLBACK_STATUSES = {_lua_set(tuple(FINAL_CALLBACK_STATUSES))}
"""
    + """
local function tell(events_key, kept, kind, ident, cfg)
  local id = redis.call('XADD', events_key, 'MAXLEN', '~', kept, '*', 'kind', kind, 'id', ident)
  redis.call('PUBLISH', events_key, id)
  if cfg == nil or (kind ~= 'escalation' and kind ~= 'callback') then return {id, 0} end
  local prefix = string.sub(events_key, 1, #events_key - #'events')
  local esc_id = ident
  if kind == 'callback' then
    esc_id = redis.call('HGET', prefix .. 'callback:' .. ident, 'escalation_id') or ''
  end
  if esc_id == '' then return {id, 0} end
  local got = redis.call('HMGET', prefix .. 'escalation:' .. esc_id, 'state', 'callback_id')
  if not got[1] then return {id, 0} end
  local finished = FINAL_STATES[got[1]] ~= nil
  if not finished and got[2] then
    local status = redis.call('HGET', prefix .. 'callback:' .. got[2], 'status')
    finished = status and FINAL_CALLBACK_STATUSES[status] ~= nil
  end
  if not finished then return {id, 0} end
  return {id, to_outbox(cfg, {{event = 'record_changed', escalation_id = esc_id}})}
end
"""
)

ADVANCE_CALL_STATUS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local cur = tonumber(redis.call('HGET', KEYS[1], 'status_rank') or '-1')
if tonumber(ARGV[2]) <= cur then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'status_rank', ARGV[2])
return 1
"""

# KEYS: the escalation, its timeline (one slot: keys.py); the escalation's id is read from its
# key, never passed as a key (Redis Cluster routes a script by every key it is given).
# ARGV: the timeline entry ('' none), the state sets' prefix, cfg (JSON: the outbox and its
# drain as in OUTBOX, the change stream `events` and `kept`, the `finished` index and `at`), the
# number of moves, then per move (source, target, its events as JSON), then (field, value) pairs
# ('' deletes). The move made, its change told to the consoles, a final state entered in the
# finished index, and its domain events in the outbox: one round trip.
# Returns {1, source, events written} or {0, the state that stopped it}.
TRANSITION = (
    TELL
    + """
local esc_id = string.match(KEYS[1], ':escalation:(.*)$')
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {0, ''} end
local target, events = false, '[]'
local n = 5
for i = 1, tonumber(ARGV[4]) do
  if ARGV[n] == state then target = ARGV[n + 1]; events = ARGV[n + 2] end
  n = n + 3
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
local cfg = cjson.decode(ARGV[3])
if FINAL_STATES[target] then redis.call('ZADD', cfg.finished, cfg.at, esc_id) end
tell(cfg.events, cfg.kept, 'escalation', esc_id, nil)
return {1, state, to_outbox(cfg, cjson.decode(events))}
"""
)

# KEYS: the escalation, the call's open escalation, the escalations index, the call, the
# escalation's timeline. ARGV: idempotency key ('' none), escalation id, its state's set, created
# at, cfg (JSON: the outbox as in OUTBOX, the change stream `events` and `kept`, the timeline's
# first `entries`, the call's keys to `persist` (it may outlive the call: a callback days later),
# and the escalation's `raised` events), then the escalation's (field, value) pairs. One round
# trip: the escalation, its first story, the consoles told, EscalationRaised in the outbox.
CREATE_ESCALATION = (
    TELL
    + """
if ARGV[1] ~= '' then
  local existing = redis.call('GET', ARGV[1])
  if existing then return {'replay', existing} end
end
local open = redis.call('GET', KEYS[2])
if open then return {'open', open} end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[4], 'escalation', ARGV[2])
if ARGV[1] ~= '' then redis.call('SET', ARGV[1], ARGV[2], 'EX', 86400) end
for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('SADD', ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
local cfg = cjson.decode(ARGV[5])
for _, key in ipairs(cfg.persist) do redis.call('PERSIST', key) end
for _, entry in ipairs(cfg.entries) do redis.call('RPUSH', KEYS[5], entry) end
tell(cfg.events, cfg.kept, 'escalation', ARGV[2], nil)
to_outbox(cfg, cfg.raised)
return {'created', ARGV[2]}
"""
)

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
# ARGV 7 is cfg (TELL); returns the events written to the outbox (a record_changed).
LINK_LEG = (
    TELL
    + """
local n = tonumber(ARGV[4])
local cfg = cjson.decode(ARGV[7])
if n > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 8, 7 + 2 * n)) end
if #ARGV > 7 + 2 * n then redis.call('HSET', KEYS[2], unpack(ARGV, 8 + 2 * n, #ARGV)) end
local written = tell(KEYS[3], ARGV[3], ARGV[1], ARGV[2], cfg)[2]
if ARGV[5] ~= '' then
  redis.call('RPUSH', KEYS[4], ARGV[5])
  written = written + tell(KEYS[3], ARGV[3], 'escalation', ARGV[6], cfg)[2]
end
return written
"""
)

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

# KEYS: the record, events, and (when cfg has an `entry`) the escalation's timeline. ARGV: kind,
# id, events kept, cfg (TELL, '' for none; `entry`: a timeline entry written with the fields),
# then (field, value) pairs. Returns 0 for no such record, else 1 + the events written to the outbox.
UPDATE_AND_TELL = (
    TELL
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local cfg = nil
if ARGV[4] ~= '' then cfg = cjson.decode(ARGV[4]) end
if cfg and cfg.entry then redis.call('RPUSH', KEYS[3], cfg.entry) end
return 1 + tell(KEYS[2], ARGV[3], ARGV[1], ARGV[2], cfg)[2]
"""
)

# ARGV: kind, id, events kept, cfg (TELL, '' for none). Returns {stream id, events written}.
CHANGED = (
    TELL
    + """
local cfg = nil
if ARGV[4] ~= '' then cfg = cjson.decode(ARGV[4]) end
return tell(KEYS[1], ARGV[3], ARGV[1], ARGV[2], cfg)
"""
)

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

# A drain claims an outbox entry only while it is still there: one that read it before another
# drain finished it (and cleared its handlers' marks) does not run them again. KEYS: the outbox,
# the claim. ARGV: the entry id, the claim's seconds.
CLAIM_OUTBOX_ENTRY = """
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return 0 end
if redis.call('SET', KEYS[2], 1, 'NX', 'EX', ARGV[2]) then return 1 end
return 0
"""
