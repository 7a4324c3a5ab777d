//! One call of a Lua script, written straight into its `EVALSHA` command.
//!
//! redis-rs's `ScriptInvocation` keeps every key and argument in a vector of its own and copies
//! them all into the command when it is sent: about 3,000 instructions for a new session's
//! call, of some 45,000 that a request through this store costs the client. The keys come
//! first here, so each argument is written once, where it is sent. A server that does not
//! know the script yet (`NOSCRIPT`, after a restart or a `SCRIPT FLUSH`) is given it, and the
//! call is sent again, as `ScriptInvocation` does.

use std::io::Write as _;

use redis::aio::ConnectionLike;
use redis::{Cmd, ErrorKind, RedisResult, RedisWrite, Script, ServerErrorKind, ToRedisArgs, Value};

use super::codec::{Fields, DATA};

/// Arguments a call is given room for up front: `EVALSHA`, the hash, the key count, and as
/// many as a new session's creation passes (its TTLs, token hash and fields).
const ARGS_AHEAD: usize = 16;
/// Bytes of arguments a call is given room for up front: a new session's record, user agent
/// included, fits.
const BYTES_AHEAD: usize = 512;

/// A script and the keys and arguments of one call.
pub(super) struct ScriptCall<'s> {
    script: &'s Script,
    cmd: Cmd,
}

impl<'s> ScriptCall<'s> {
    /// A call of `script` on `keys` (its `KEYS`); [`arg`](Self::arg) adds its `ARGV`.
    pub(super) fn new(script: &'s Script, keys: &[&str]) -> Self {
        // Room for a new record's call: growing the command's buffers argument by argument
        // cost more than writing the arguments.
        let mut cmd = Cmd::with_capacity(ARGS_AHEAD + keys.len(), BYTES_AHEAD);
        cmd.arg("EVALSHA").arg(script.get_hash()).arg(keys.len());
        for key in keys {
            cmd.arg(*key);
        }
        Self { script, cmd }
    }

    /// Adds an argument (the script's next `ARGV`).
    pub(super) fn arg<T: ToRedisArgs>(&mut self, arg: T) -> &mut Self {
        self.cmd.arg(arg);
        self
    }

    /// Sends the call on `con`, loading the script first if the server does not know it.
    pub(super) async fn run<C: ConnectionLike>(&self, con: &mut C) -> RedisResult<Value> {
        match self.cmd.query_async(con).await {
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                self.script.load_async(con).await?;
                self.cmd.query_async(con).await
            }
            reply => reply,
        }
    }
}

/// A record's fields as the script's arguments, each name and value written once, where it
/// is sent.
impl Fields for ScriptCall<'_> {
    fn field(&mut self, name: &str, value: &str) {
        self.arg(name).arg(value);
    }
    fn data_field(&mut self, key: &str, value: &str) {
        self.arg(DataField(key)).arg(value);
    }
}

/// The field of application data key `key` as one argument, without a string of its own.
pub(super) struct DataField<'a>(pub(super) &'a str);

impl ToRedisArgs for DataField<'_> {
    fn write_redis_args<W: ?Sized + RedisWrite>(&self, out: &mut W) {
        let mut arg = out.writer_for_next_arg();
        // Writing into the command's own buffer cannot fail.
        let _ = arg.write_all(DATA.as_bytes());
        let _ = arg.write_all(self.0.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::super::codec::{self, tests::sample};
    use super::*;

    /// Every field reaches the script as [`codec::encode`] lists it, in the same order: the
    /// data fields written in place carry their prefix.
    #[test]
    fn fields_written_in_place_are_the_encoded_fields() {
        let script = Script::new("return 1");
        let record = sample();
        let mut in_place = ScriptCall::new(&script, &["k"]);
        codec::encode_into(&record, &mut in_place);
        let mut listed = ScriptCall::new(&script, &["k"]);
        for (field, value) in codec::encode(&record) {
            listed.arg(field).arg(value);
        }
        let packed = in_place.cmd.get_packed_command();
        assert_eq!(packed, listed.cmd.get_packed_command());
        let text = String::from_utf8_lossy(&packed);
        assert!(text.contains("\r\nd:k:{x}\"é\r\n"), "{text}");
    }
}
