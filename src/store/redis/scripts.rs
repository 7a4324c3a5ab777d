//! The Lua scripts: each one runs atomically on the slot of its first key.
//!
//! Every script but [`LOAD_STANDALONE`] and the standalone form of [`PATCH`] touches only the
//! keys passed in `KEYS`, all in one slot, so it runs unchanged on Redis Cluster. Timestamps are
//! passed as decimal strings and written back as received: Lua numbers are doubles, exact up to
//! 2^53 ms (year 287,396), and are only used for comparisons and TTL arithmetic, which is
//! formatted with `%d` so Redis never sees an exponent.

use std::sync::LazyLock;

use redis::Script;

/// Creates a session record unless one with this id exists.
///
/// `KEYS[1]` record; `ARGV[1]` TTL (ms); `ARGV[2..]` field, value pairs.
/// Returns 1, or 0 when the record exists.
/// Creates a session on a single server in one round trip: refuses (0) if the record exists,
/// refuses (-1) if the token index is taken, else claims the index and writes every field, both
/// with the TTL. `KEYS[1]` token index, `KEYS[2]` record (different slots: standalone only).
/// `ARGV`: 1 TTL (ms); 2 the public id; 3.. field, value pairs.
pub(super) static CREATE_STANDALONE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if not redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[1]) then return -1 end
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return 1
",
    )
});

pub(super) static CREATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
",
    )
});

/// Applies a patch to a record whose stored token hash is the expected one, optionally swapping
/// the token hash (rotation): the compare-and-set that makes `update` and `rotate` safe.
///
/// `KEYS[1]` is the record, or, in the standalone form (`ARGV[11]` = the key prefix), the token
/// index through which the record is found, in the same call.
///
/// `ARGV`: 1 expected token hash hex; 2 new token hash hex or ''; 3 now (ms); 4 user op ('' keep,
/// '-' clear, '=' set); 5 user; 6 `last_seen_at` or ''; 7 `idle_expires_at` or '';
/// 8 `expires_at` or ''; 9 TTL (ms) for a record already past its deadline; 10 longest TTL (ms);
/// 11 prefix or ''; 12.. triples: 's' or 'd', field, value ('' for 'd').
///
/// Returns false when the record is gone or holds another token; otherwise
/// `{id or '', pttl, had_user, previous_user, has_user, user, expires_at}`.
pub(super) static PATCH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local rec = KEYS[1]
local id = ''
if ARGV[11] ~= '' then
  id = redis.call('GET', KEYS[1])
  if not id then return false end
  rec = ARGV[11] .. '{' .. id .. '}:s'
end
if redis.call('HGET', rec, 't') ~= ARGV[1] then return false end
local prev = redis.call('HGET', rec, 'u')
if ARGV[2] ~= '' then redis.call('HSET', rec, 't', ARGV[2]) end
if ARGV[4] == '-' then
  redis.call('HDEL', rec, 'u')
elseif ARGV[4] == '=' then
  redis.call('HSET', rec, 'u', ARGV[5])
end
if ARGV[6] ~= '' then redis.call('HSET', rec, 'l', ARGV[6]) end
local moved = false
if ARGV[7] ~= '' then redis.call('HSET', rec, 'x', ARGV[7]); moved = true end
if ARGV[8] ~= '' then redis.call('HSET', rec, 'e', ARGV[8]); moved = true end
for i = 12, #ARGV, 3 do
  if ARGV[i] == 's' then
    redis.call('HSET', rec, ARGV[i + 1], ARGV[i + 2])
  else
    redis.call('HDEL', rec, ARGV[i + 1])
  end
end
local e = redis.call('HGET', rec, 'e')
if moved then
  local en = tonumber(e)
  local xn = tonumber(redis.call('HGET', rec, 'x'))
  if en and xn then
    local ttl = math.min(en, xn) - tonumber(ARGV[3])
    if ttl <= 0 then ttl = tonumber(ARGV[9]) end
    ttl = math.min(ttl, tonumber(ARGV[10]))
    redis.call('PEXPIRE', rec, string.format('%d', ttl))
  end
end
local pttl = redis.call('PTTL', rec)
if ARGV[11] ~= '' and moved and pttl > 0 then
  redis.call('PEXPIRE', KEYS[1], pttl)
end
local cur = redis.call('HGET', rec, 'u')
return {id, pttl, prev and 1 or 0, prev or '', cur and 1 or 0, cur or '', e or ''}
",
    )
});

/// Deletes a record if it matches a condition.
///
/// `KEYS[1]` record; `ARGV[1]` mode: 'i' any, 't' token hash is `ARGV[2]`, 'u' user is
/// `ARGV[2]`, 'x' past its deadline at `ARGV[2]` (ms; unreadable deadlines count as past).
/// Returns false when nothing was deleted, otherwise `{token_hash_hex or '', has_user, user}`.
pub(super) static DELETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local f = redis.call('HMGET', KEYS[1], 't', 'u', 'e', 'x')
local mode = ARGV[1]
if mode == 't' and f[1] ~= ARGV[2] then return false end
if mode == 'u' and f[2] ~= ARGV[2] then return false end
if mode == 'x' then
  local e, x = tonumber(f[3]), tonumber(f[4])
  if e and x and math.min(e, x) > tonumber(ARGV[2]) then return false end
end
redis.call('DEL', KEYS[1])
return {f[1] or '', f[2] and 1 or 0, f[2] or ''}
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

/// Standalone only: resolves a token index and reads the record in one round trip. It reads a
/// key it computes (not passed in `KEYS`), which Redis Cluster would refuse.
///
/// `KEYS[1]` token index; `ARGV[1]` prefix. Returns false, or `{id, HGETALL of the record}`.
pub(super) static LOAD_STANDALONE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local id = redis.call('GET', KEYS[1])
if not id then return false end
return {id, redis.call('HGETALL', ARGV[1] .. '{' .. id .. '}:s')}
",
    )
});
