//! The Lua scripts: each one runs atomically. Reads (`load`, listing) never run a script: a
//! script costs the server several times a plain command, most of all when it returns a hash.
//!
//! Every script but [`CREATE_STANDALONE`] and [`ROTATE_STANDALONE`] touches only the keys passed
//! in `KEYS`, all in one slot, so it runs unchanged on Redis Cluster. Timestamps are passed as
//! decimal strings and written back as received: Lua numbers are doubles, exact up to 2^53 ms
//! (year 287,396), and are only used for comparisons and TTL arithmetic, which is formatted
//! with `%d` so Redis never sees an exponent. Fields are written `CHUNK` at a time, as Lua's
//! `unpack` is limited by its stack.

use std::sync::LazyLock;

use redis::Script;

/// Creates a record unless one is stored under this token hash.
///
/// `KEYS[1]` record; `ARGV[1]` TTL (ms); `ARGV[2..]` field, value pairs.
/// Returns 1, or 0 when the record exists.
pub(super) static CREATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 2, #ARGV, 200 do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 199, #ARGV)))
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
",
    )
});

/// Creates a session on a single server in one round trip: refuses (0) if the record or the
/// id index exists, else writes the record with its TTL and the id index with its own.
///
/// `KEYS[1]` record, `KEYS[2]` id index (different slots: standalone only). `ARGV`: 1 record
/// TTL (ms); 2 id index TTL (ms); 3 token hash hex; 4.. field, value pairs.
pub(super) static CREATE_STANDALONE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if not redis.call('SET', KEYS[2], ARGV[3], 'NX', 'PX', ARGV[2]) then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('DEL', KEYS[2])
  return 0
end
for i = 4, #ARGV, 200 do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 199, #ARGV)))
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
",
    )
});

/// The patch arguments shared by [`PATCH`] and [`ROTATE_STANDALONE`]: `ARGV` 1 now (ms);
/// 2 user op ('' keep, '-' clear, '=' set); 3 user; 4 `last_seen_at` or ''; 5 `idle_expires_at`
/// or ''; 6 `expires_at` or ''; 7 TTL (ms) for a record already past its deadline; 8 longest
/// TTL (ms); 9 '1' to report (below) or ''; then, from `FIRST`, triples: 's' or 'd', field,
/// value ('' for 'd').
///
/// Applies them to the hash `rec` in order, as few `HSET`/`HDEL` calls as the order allows,
/// and moves the TTL when a deadline moved.
const PATCH_BODY: &str = r"
local pending, kind = {}, nil
local function flush()
  if #pending == 0 then return end
  local cmd = kind == 's' and 'HSET' or 'HDEL'
  for i = 1, #pending, 200 do
    redis.call(cmd, rec, unpack(pending, i, math.min(i + 199, #pending)))
  end
  pending = {}
end
local function put(k, field, value)
  if kind ~= k then flush() end
  kind = k
  pending[#pending + 1] = field
  if k == 's' then pending[#pending + 1] = value end
end
if ARGV[2] == '-' then put('d', 'u') elseif ARGV[2] == '=' then put('s', 'u', ARGV[3]) end
local en, xn
if ARGV[4] ~= '' or ARGV[5] ~= '' or ARGV[6] ~= '' then
  local m = redis.call('HGET', rec, 'm')
  if m and #m >= 64 then
    local e = ARGV[6] ~= '' and ARGV[6] or string.sub(m, 1, 16)
    local x = ARGV[5] ~= '' and ARGV[5] or string.sub(m, 17, 32)
    local l = ARGV[4] ~= '' and ARGV[4] or string.sub(m, 33, 48)
    put('s', 'm', e .. x .. l .. string.sub(m, 49))
    en, xn = tonumber(e), tonumber(x)
  end
end
for i = FIRST, #ARGV, 3 do put(ARGV[i], ARGV[i + 1], ARGV[i + 2]) end
flush()
if (ARGV[5] ~= '' or ARGV[6] ~= '') and en and xn then
  local ttl = math.min(en, xn) - tonumber(ARGV[1])
  if ttl <= 0 then ttl = tonumber(ARGV[7]) end
  ttl = math.min(ttl, tonumber(ARGV[8]))
  redis.call('PEXPIRE', rec, string.format('%d', ttl))
end
";

/// What a patch reports when `ARGV[9]` is '1': `{id, has_user, user, expires_at}`; else 1.
const PATCH_REPORT: &str = r"
if ARGV[9] ~= '1' then return 1 end
local r = redis.call('HMGET', rec, 'm', 'u')
local m = r[1] or ''
return {string.sub(m, 65, 86), r[2] and 1 or 0, r[2] or '', string.sub(m, 1, 16)}
";

/// The Lua condition that the record `key` was ended (kept for listing only): such a record
/// is never patched, rotated or sealed.
fn ended(key: &str) -> String {
    format!("redis.call('HEXISTS', {key}, 'e') == 1")
}

/// Applies a patch to the record stored under a token hash, if there is one and it was not
/// ended (its existence under this key is the compare-and-set: a rotation moves it away, a
/// delete removes it, an end marks it).
///
/// `KEYS[1]` record; `ARGV` as [`PATCH_BODY`], triples from 10. Returns false when there is
/// no record, else the report.
pub(super) static PATCH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "local rec = KEYS[1]\nif redis.call('EXISTS', rec) == 0 or {} then return false end\n{}{}",
        ended("rec"),
        PATCH_BODY.replace("FIRST", "10"),
        PATCH_REPORT
    ))
});

/// Sets data keys of the record stored under a token hash, if there is one and it was not
/// ended: the patch of a request that changes its data and nothing else (no user, deadline or
/// terms, no key removed), which most writes are. It does what [`PATCH`] does for such a patch
/// with less Lua: no deadline or user handling and no report.
///
/// `KEYS[1]` record; `ARGV` field, value pairs (a field given twice takes its last value, as
/// `HSET` does). Returns false when there is no record, else 1.
pub(super) static PATCH_DATA: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"
local rec = KEYS[1]
if redis.call('EXISTS', rec) == 0 or {} then return false end
for i = 1, #ARGV, 200 do
  redis.call('HSET', rec, unpack(ARGV, i, math.min(i + 199, #ARGV)))
end
return 1
",
        ended("rec")
    ))
});

/// Rotates on a single server in one atomic step: moves the record from the old token hash
/// to the new one, applies the patch, and points the id index at the new hash.
///
/// `KEYS[1]` old record, `KEYS[2]` new record (different slots: standalone only). `ARGV` as
/// [`PATCH_BODY`], then 10 the key prefix, 11 the new token hash hex, 12 how long (ms) the id
/// index outlives the absolute deadline; triples from 13. The id index key is computed, not
/// passed. Returns false when there is no old record (or it was ended), -1 when the new one
/// exists (nothing changed), else the report.
pub(super) static ROTATE_STANDALONE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 or {} then return false end
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
redis.call('RENAME', KEYS[1], KEYS[2])
local rec = KEYS[2]
{}
local m = redis.call('HGET', rec, 'm')
if m and #m >= 86 then
  local cover = tonumber(ARGV[8])
  local e = tonumber(string.sub(m, 1, 16))
  if e then cover = math.min(math.max(e - tonumber(ARGV[1]), tonumber(ARGV[7])), cover) end
  redis.call('SET', ARGV[10] .. '{{' .. string.sub(m, 65, 86) .. '}}:i', ARGV[11], 'PX',
    string.format('%d', cover + tonumber(ARGV[12])))
end
{}",
        ended("KEYS[1]"),
        PATCH_BODY.replace("FIRST", "13"),
        PATCH_REPORT
    ))
});

/// First step of a rotation on a cluster: seals the record (renames it within its slot, so the
/// old token is dead at once and no update can land on it) and returns its fields.
///
/// `KEYS[1]` record, `KEYS[2]` sealed record. Returns false when there is no record (or it
/// was ended), else the `HGETALL` of the sealed record.
pub(super) static SEAL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 or {} then return false end
redis.call('RENAME', KEYS[1], KEYS[2])
return redis.call('HGETALL', KEYS[2])
",
        ended("KEYS[1]")
    ))
});

/// Undoes [`SEAL`] when the rotation cannot go on, unless the session was revoked meanwhile
/// (then the sealed record is deleted). `KEYS[1]` sealed record, `KEYS[2]` record.
/// Returns 1 when restored.
pub(super) static UNSEAL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HEXISTS', KEYS[1], 'r') == 1 then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('RENAME', KEYS[1], KEYS[2])
return 1
",
    )
});

/// Last step of a rotation on a cluster: drops the sealed record. `KEYS[1]` sealed record.
/// Returns 0 if the session was revoked while sealed (the new record must then go), else 1.
pub(super) static FINISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local revoked = redis.call('HEXISTS', KEYS[1], 'r')
redis.call('DEL', KEYS[1])
return 1 - revoked
",
    )
});

/// Deletes a record if it matches a condition; a revocation (modes 'i', 'u') that finds the
/// record sealed by a rotation in flight marks it revoked instead, and the rotation then drops
/// the session when it finishes.
///
/// `KEYS[1]` record, `KEYS[2]` sealed record (same slot). `ARGV[1]` mode: 't' any (delete by
/// token), 'i' any (revocation), 'u' user is `ARGV[3]`, 'x' past its deadline, or ended, at
/// `ARGV[3]` (ms; unreadable deadlines count as past); `ARGV[2]` the public id it must hold, or ''.
/// Returns false when nothing matched, otherwise `{id, has_user, user}`.
pub(super) static DELETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local mode = ARGV[1]
local function fields(key)
  local r = redis.call('HMGET', key, 'm', 'u', 'e')
  local m = r[1] or ''
  return string.sub(m, 65, 86), r[2], tonumber(string.sub(m, 1, 16)),
    tonumber(string.sub(m, 17, 32)), tonumber(string.sub(r[3] or '', 1, 16))
end
local function matches(id, user)
  if ARGV[2] ~= '' and id ~= ARGV[2] then return false end
  if mode == 'u' and user ~= ARGV[3] then return false end
  return true
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  local id, user, e, x, ended = fields(KEYS[1])
  if not matches(id, user) then return false end
  if mode == 'x' and e and x then
    local stop = math.min(e, x)
    if ended then stop = math.min(stop, ended) end
    if stop > tonumber(ARGV[3]) then return false end
  end
  redis.call('DEL', KEYS[1])
  return {id, user and 1 or 0, user or ''}
end
if (mode == 'i' or mode == 'u') and redis.call('EXISTS', KEYS[2]) == 1 then
  local id, user = fields(KEYS[2])
  if not matches(id, user) then return false end
  redis.call('HSET', KEYS[2], 'r', '1')
  return {id, user and 1 or 0, user or ''}
end
return false
",
    )
});

/// Marks a record ended (retention), if it matches as for [`DELETE`] and is not ended yet, and
/// gives it the TTL of the retention period; a revocation that finds the record sealed by a
/// rotation in flight marks it revoked as [`DELETE`] does (the rotation then drops it).
///
/// `KEYS[1]` record, `KEYS[2]` sealed record (same slot). `ARGV[1]` mode 't', 'i' or 'u' and
/// `ARGV[2]`, `ARGV[3]` as for [`DELETE`]; `ARGV[4]` the end field's value; `ARGV[5]` the TTL
/// (ms). Returns false when nothing matched, 0 when the record was ended already, otherwise
/// `{id, has_user, user}`.
pub(super) static END: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local mode = ARGV[1]
local function matches(id, user)
  if ARGV[2] ~= '' and id ~= ARGV[2] then return false end
  if mode == 'u' and user ~= ARGV[3] then return false end
  return true
end
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 and (i == 1 or mode ~= 't') then
    local r = redis.call('HMGET', key, 'm', 'u', 'e')
    local id, user = string.sub(r[1] or '', 65, 86), r[2]
    if not matches(id, user) then return false end
    if i == 2 then
      redis.call('HSET', key, 'r', '1')
    elseif r[3] then
      return 0
    else
      redis.call('HSET', key, 'e', ARGV[4])
      redis.call('PEXPIRE', key, ARGV[5])
    end
    return {id, user and 1 or 0, user or ''}
  end
end
return false
",
    )
});

/// Deletes an id index if it still names this token hash. `KEYS[1]` id index; `ARGV[1]` hex.
pub(super) static UNLINK_ID: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
",
    )
});

/// Adds a public id to a user index, scored by the server's clock, and makes sure the index
/// lives at least as long as the session can.
///
/// `KEYS[1]` user index; `ARGV[1]` id; `ARGV[2]` TTL (ms) the index must at least have.
/// The TTL is only ever raised, so it covers every member.
pub(super) static INDEX_USER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = string.format('%d', t[1] * 1000 + math.floor(t[2] / 1000))
local fresh = redis.call('EXISTS', KEYS[1]) == 0
redis.call('ZADD', KEYS[1], now, ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if fresh or (ttl >= 0 and ttl < tonumber(ARGV[2])) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
",
    )
});

/// Removes ids from a user index, but only those indexed more than a margin ago by the
/// server's clock: an id that a create, update or rotate in flight has just indexed (before
/// writing its record) is never pruned, so the index never loses a live session.
///
/// `KEYS[1]` user index; `ARGV[1]` margin (ms); `ARGV[2..]` ids. Returns how many were removed.
pub(super) static PRUNE_USER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local cutoff = t[1] * 1000 + math.floor(t[2] / 1000) - tonumber(ARGV[1])
local n = 0
for i = 2, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) <= cutoff then
    redis.call('ZREM', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n
",
    )
});
